"""Mission profiles: owned by a tenant (or shared, admin-owned), typed and
validated on write (PUT replaces, PATCH merges), and stored rows that do not
validate (written before validation existed, or straight into the database)
never break a listing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text as sql
from sqlalchemy import update

from groundstation.models import MissionProfile, Satellite

from .conftest import NOAA19, World
from .helpers import contact_body, first_free_pass

FULL = {
    "min_viable_duration_s": 60,
    "prepass_s": 30,
    "postpass_s": 30,
    "min_elevation_deg": 15,
    "demod": {"eirp_dbw": -20},
    "decode": {},
    "kafka_topic": "acme.frames",
    "dataset_options": {"record_iq": True, "record_iq_max_s": 30},
    "vetting": {"good_min_frames_fraction": 0.8},
}


def _create(world: World, who: str, profile_id: str, **body: Any) -> dict[str, Any]:
    r = world.client.post(
        "/mission-profiles", json={"id": profile_id, **body}, headers=world.as_(who)
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _ids(world: World, who: str) -> list[str]:
    r = world.client.get("/mission-profiles", headers=world.as_(who))
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["data"]]


# ---------------------------------------------------------------- ownership


def test_an_operator_sees_its_own_and_shared_profiles_never_another_tenants(
    world: World,
) -> None:
    mine = _create(world, "acme", "acme-leo", prepass_s=30)
    assert mine["tenant"] == "acme"
    _create(world, "globex", "globex-leo")
    assert _ids(world, "acme") == ["acme-leo", "leo"]
    assert _ids(world, "globex") == ["globex-leo", "leo"]
    assert _ids(world, "admin") == ["acme-leo", "globex-leo", "leo"]
    h = world.as_("globex")
    assert world.client.get("/mission-profiles/acme-leo", headers=h).status_code == 404
    assert world.client.put("/mission-profiles/acme-leo", json=FULL, headers=h).status_code == 404
    r = world.client.patch("/mission-profiles/acme-leo", json={"prepass_s": 1}, headers=h)
    assert r.status_code == 404
    assert r.json()["detail"] == "mission profile 'acme-leo' does not exist"  # nothing else
    got = world.client.get("/mission-profiles/acme-leo", headers=world.as_("acme")).json()
    assert got["prepass_s"] == 30  # untouched


def test_a_shared_profile_is_read_only_to_operators_and_writable_by_admins(world: World) -> None:
    leo = world.client.get("/mission-profiles/leo", headers=world.as_("acme")).json()
    assert leo["tenant"] is None  # seeded by the inventory: shared
    for method in ("put", "patch"):
        body = FULL if method == "put" else {"prepass_s": 1}
        r = world.client.request(
            method, "/mission-profiles/leo", json=body, headers=world.as_("acme")
        )
        assert r.status_code == 403, r.text
        assert "shared" in r.json()["detail"]
    assert world.client.get("/mission-profiles/leo", headers=world.as_("globex")).json() == leo
    r = world.client.patch(
        "/mission-profiles/leo", json={"prepass_s": 90}, headers=world.as_("admin")
    )
    assert r.status_code == 200 and r.json()["prepass_s"] == 90


def test_profile_tenant_is_the_operators_own_and_an_admins_choice(world: World) -> None:
    r = world.client.post(
        "/mission-profiles", json={"id": "x", "tenant": "globex"}, headers=world.as_("acme")
    )
    assert r.status_code == 403 and "globex" in r.json()["detail"]
    assert _create(world, "admin", "for-globex", tenant="globex")["tenant"] == "globex"
    assert _create(world, "admin", "shared-2")["tenant"] is None
    assert "for-globex" in _ids(world, "globex") and "for-globex" not in _ids(world, "acme")


def test_booking_or_planning_with_another_tenants_profile_is_404(world: World) -> None:
    _create(world, "globex", "globex-leo")
    p = first_free_pass(world)
    body = {**contact_body(p), "profile_id": "globex-leo"}
    for who in ("acme", "admin"):  # the contact would be acme's: acme cannot use it
        r = world.client.post("/contacts", json=body, headers=world.as_(who))
        assert r.status_code == 404, r.text
        assert "globex-leo" in r.json()["detail"]
    plan = {
        "profile_id": "globex-leo",
        "requests": [{"norad_id": NOAA19, "start": p["aos"], "end": p["los"]}],
    }
    assert world.client.post("/plans", json=plan, headers=world.as_("acme")).status_code == 404
    assert world.client.get("/contacts", headers=world.as_("admin")).json()["count"] == 0
    _create(world, "acme", "acme-leo")
    r = world.client.post(
        "/contacts", json={**contact_body(p), "profile_id": "acme-leo"}, headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- PUT and PATCH


def test_put_replaces_the_whole_profile_and_an_omitted_field_is_422(world: World) -> None:
    h = world.as_("acme")
    _create(world, "acme", "geo", prepass_s=300, demod={"eirp_dbw": -10})
    r = world.client.put("/mission-profiles/geo", json={"prepass_s": 10}, headers=h)
    assert r.status_code == 422, r.text
    missing = {e["field"] for e in r.json()["errors"]}
    assert missing == {f"body.{k}" for k in FULL if k != "prepass_s"}
    assert world.client.get("/mission-profiles/geo", headers=h).json()["prepass_s"] == 300
    r = world.client.put("/mission-profiles/geo", json=FULL, headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["prepass_s"] == 30 and got["demod"]["eirp_dbw"] == -20
    assert got["dataset_options"] == {
        "record_iq": True,
        "record_iq_max_s": 30.0,
        "retention_days": None,
        "key_template": None,
    }
    assert world.client.put("/mission-profiles/none", json=FULL, headers=h).status_code == 404


def test_patch_changes_only_the_fields_sent_and_null_removes_a_setting(world: World) -> None:
    h = world.as_("acme")
    _create(world, "acme", "geo", **{k: v for k, v in FULL.items()})
    r = world.client.patch(
        "/mission-profiles/geo",
        json={"prepass_s": 45, "demod": {"losses_db": 2}},
        headers={**h, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["prepass_s"] == 45 and got["postpass_s"] == 30 and got["min_elevation_deg"] == 15
    assert got["demod"]["eirp_dbw"] == -20 and got["demod"]["losses_db"] == 2
    assert got["dataset_options"] == {
        "record_iq": True,
        "record_iq_max_s": 30.0,
        "retention_days": None,
        "key_template": None,
    }
    assert got["kafka_topic"] == "acme.frames"
    r = world.client.patch(
        "/mission-profiles/geo",
        json={"demod": {"eirp_dbw": None}, "dataset_options": {"record_iq_max_s": None}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["demod"]["eirp_dbw"] is None and r.json()["demod"]["losses_db"] == 2
    assert r.json()["dataset_options"] == {
        "record_iq": True,
        "record_iq_max_s": None,
        "retention_days": None,
        "key_template": None,
    }
    assert world.client.get("/mission-profiles/geo", headers=h).json() == r.json()


def test_patch_with_a_bad_value_is_422_and_changes_nothing(world: World) -> None:
    h = world.as_("acme")
    before = _create(world, "acme", "geo", prepass_s=300)
    r = world.client.patch(
        "/mission-profiles/geo", json={"prepass_s": 1, "demod": {"eirp_dbww": -3}}, headers=h
    )
    assert r.status_code == 422 and "eirp_dbww" in r.json()["detail"]
    assert world.client.get("/mission-profiles/geo", headers=h).json() == before


def test_openapi_documents_put_as_replace_and_patch_as_merge_patch(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    ops = spec["paths"]["/mission-profiles/{profile_id}"]
    assert "replace" in ops["put"]["description"].lower()
    assert "application/merge-patch+json" in ops["patch"]["requestBody"]["content"]
    schemas = spec["components"]["schemas"]
    put_ref = ops["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert set(schemas[put_ref.rsplit("/", 1)[-1]]["required"]) == set(FULL)


# ---------------------------------------------------------------- typed sections


@pytest.mark.parametrize(
    ("section", "value", "fields"),
    [
        ("demod", {"eirp_dbw": "abc"}, ["body.demod.eirp_dbw"]),
        (
            "dataset_options",
            {"record_iq": "yes", "record_iq_max_s": -5},
            ["body.dataset_options.record_iq", "body.dataset_options.record_iq_max_s"],
        ),
        ("dataset_options", {"record_iqq": True}, ["body.dataset_options.record_iqq"]),
        ("dataset_options", {"keep_raw_iq": True}, ["body.dataset_options.keep_raw_iq"]),
        ("demod", {"modulation": "bpsk"}, ["body.demod.modulation"]),
        ("decode", {"viterbi": "soft"}, ["body.decode.viterbi"]),
        ("demod", {"eirp_dbw": True}, ["body.demod.eirp_dbw"]),
    ],
    ids=["demod-string", "dataset-bad-values", "typo", "unconsumed-key", "demod-unknown",
         "decode-unknown", "demod-bool"],
)  # fmt: skip
def test_bad_or_unknown_profile_settings_are_422_naming_them_and_nothing_is_stored(
    world: World, section: str, value: dict[str, Any], fields: list[str]
) -> None:
    h = world.as_("acme")
    r = world.client.post("/mission-profiles", json={"id": "bad", section: value}, headers=h)
    assert r.status_code == 422, r.text
    assert sorted(e["field"] for e in r.json()["errors"]) == sorted(fields)
    for field in fields:
        assert field.rsplit(".", 1)[-1] in r.json()["detail"]
    assert world.client.get("/mission-profiles/bad", headers=h).status_code == 404


def test_openapi_documents_every_profile_section_with_its_keys(world: World) -> None:
    schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
    demod = schemas["DemodSettings"]
    assert demod["additionalProperties"] is False
    assert {"eirp_dbw", "g_over_t_db_k", "losses_db", "atmosphere_zenith_db",
            "oscillator_offset_hz"} <= set(demod["properties"])  # fmt: skip
    dataset = schemas["DatasetOptions"]
    assert dataset["additionalProperties"] is False
    assert set(dataset["properties"]) == {
        "record_iq",
        "record_iq_max_s",
        "retention_days",
        "key_template",
    }
    assert schemas["DecodeSettings"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"modulation": "gmsk"}, ["'gmsk'", "bpsk", "qpsk"]),
        ({"framing_profile": "ax25-g3ruh"}, ["'ax25-g3ruh'", "ccsds-bpsk-conv-rs", "by70-1"]),
        ({"modulation": "qpsk", "framing_profile": "ccsds-bpsk-rs"}, ["'qpsk'", "bpsk"]),
        ({"modulation": "qpsk"}, ["'qpsk'", "ccsds-bpsk-conv-rs"]),  # the default framing
    ],
    ids=["modulation", "framing", "mismatch", "mismatch-default-framing"],
)
def test_a_satellite_downlink_the_receiver_cannot_decode_is_refused_at_write(
    world: World, body: dict[str, Any], named: list[str]
) -> None:
    h = world.as_("acme")
    sat = {"norad_id": 99901, "name": "X", "downlink_freq_hz": 437e6, **body}
    r = world.client.post("/satellites", json=sat, headers=h)
    assert r.status_code == 422, r.text
    for text in named:
        assert text in r.json()["detail"]
    assert world.client.get("/satellites/99901", headers=h).status_code == 404
    ok = {**sat, "modulation": "qpsk", "framing_profile": "ccsds-qpsk-conv-rs-i5"}
    assert world.client.post("/satellites", json=ok, headers=h).status_code == 201


# ---------------------------------------------------------------- stored rows that do not validate


def test_a_stored_profile_that_does_not_validate_is_listed_with_its_problems_and_not_booked(
    world: World,
) -> None:
    with world.session() as s:
        s.execute(
            update(MissionProfile)
            .where(MissionProfile.id == "leo")
            .values(
                demod={"eirp_dbw": "abc", "losses_db": 2.0},
                dataset_options={"keep_raw_iq": True},
            )
        )
        s.commit()
    r = world.client.get("/mission-profiles", headers=world.as_("globex"))
    assert r.status_code == 200, r.text
    leo = r.json()["data"][0]
    assert leo["demod"]["losses_db"] == 2.0 and leo["demod"]["eirp_dbw"] is None
    problems = " | ".join(leo["problems"])
    assert "demod.eirp_dbw" in problems and "'abc'" in problems
    assert "dataset_options.keep_raw_iq" in problems
    p = first_free_pass(world)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/profile-settings")
    assert "demod.eirp_dbw" in r.json()["detail"]
    # Fixed with a patch (null removes the unknown key): problems gone, booking works.
    r = world.client.patch(
        "/mission-profiles/leo",
        json={"demod": {"eirp_dbw": -12}, "dataset_options": {"keep_raw_iq": None}},
        headers=world.as_("admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["problems"] == [] and r.json()["demod"]["losses_db"] == 2.0
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 201, r.text


def test_a_stored_satellite_the_receiver_cannot_decode_is_listed_and_not_booked(
    world: World,
) -> None:
    with world.session() as s:
        s.execute(update(Satellite).where(Satellite.norad_id == NOAA19).values(modulation="gmsk"))
        s.commit()
    p = first_free_pass(world)  # passes are still predicted
    r = world.client.get(f"/satellites/{NOAA19}", headers=world.as_("acme"))
    assert r.status_code == 200 and "'gmsk'" in " ".join(r.json()["problems"])
    listed = world.client.get("/satellites", headers=world.as_("admin")).json()["data"]
    assert [s["problems"] != [] for s in listed] == [False, True, False]  # by NORAD id
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 422 and "'gmsk'" in r.json()["detail"]
    assert r.json()["type"].endswith("/downlink")


def _nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


@pytest.mark.parametrize("depth", [300, 5000])
def test_a_poison_profile_stored_in_the_database_never_breaks_anyones_listing(
    world: World, depth: int
) -> None:
    text = '{"a": ' * depth + "{}" + "}" * depth  # written as text: no JSON encoder involved
    with world.session() as s:
        cast = "CAST(:demod AS json)" if s.get_bind().dialect.name == "postgresql" else ":demod"
        s.execute(
            sql(
                "INSERT INTO mission_profiles (id, min_viable_duration_s, prepass_s, postpass_s, "
                "min_elevation_deg, demod, decode, kafka_topic, dataset_options) VALUES "
                f"('poison', 60, 120, 60, 10, {cast}, '{{}}', '', '{{}}')"
            ),
            {"demod": text},
        )
        s.commit()
    for who in ("acme", "globex", "admin"):
        r = world.client.get("/mission-profiles", headers=world.as_(who))
        assert r.status_code == 200, r.text
        poison = next(p for p in r.json()["data"] if p["id"] == "poison")
        assert poison["problems"] and all(len(x) < 400 for x in poison["problems"])
        assert poison["problems"][0].startswith("demod")
    r = world.client.get("/mission-profiles/poison", headers=world.as_("acme"))
    assert r.status_code == 200 and r.json()["problems"]


def test_free_form_json_deeper_than_the_limit_is_422_naming_where_and_nothing_is_stored(
    world: World,
) -> None:
    h = world.as_("acme")
    r = world.client.post("/mission-profiles", json={"id": "deep", "demod": _nested(40)}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith("body.demod.a.a")
    assert "32" in r.json()["detail"]
    assert world.client.get("/mission-profiles/deep", headers=h).status_code == 404
    for depth in (40, 5000):
        r = world.client.post(
            f"/satellites/{NOAA19}/ephemerides",
            content=b"[" * depth + b"]" * depth,
            headers={**h, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "deep" in r.json()["detail"]
    r = world.client.post(
        "/mission-profiles",
        content=b'{"id": "deeper", "demod": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        headers={**h, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert world.client.get("/mission-profiles/deeper", headers=h).status_code == 404


def test_a_dataset_key_template_with_an_unknown_placeholder_is_422_naming_it(
    world: World,
) -> None:
    h = world.as_("acme")
    bad = {"key_template": "{satellite_id}/{yr}/{contact_id}/{sat}"}
    r = world.client.post(
        "/mission-profiles", json={"id": "bad", "dataset_options": bad}, headers=h
    )
    assert r.status_code == 422, r.text
    assert "{sat}, {yr}" in r.json()["detail"] and "{satellite_id}" in r.json()["detail"]
    assert [e["field"] for e in r.json()["errors"]] == ["body.dataset_options.key_template"]
    good = {"key_template": "{station}/{satellite_id}/{year}/{month}/{day}/{contact_id}"}
    made = _create(world, "acme", "keyed", dataset_options=good)
    assert made["dataset_options"]["key_template"] == good["key_template"]
