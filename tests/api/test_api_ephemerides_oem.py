"""Ephemerides over the API as in the CLI (issue 15): a CCSDS OEM makes a
satellite predictable with no TLE (passes and contacts inside its usable
span, a clear refusal outside it), OMM in KVN and XML, and each stored
ephemeris has priority, enabled and expiry (PATCH)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orbital.tle import parse_tle
from tests.orbital.oem_support import oem_kvn
from tests.support.omm import NOAA19_OMM_KVN as OMM_KVN
from tests.support.omm import omm_xml

from .conftest import FUNCUBE, NOAA19, NOW, TLE, World
from .helpers import contact_body

SPAN = timedelta(hours=12)
OEM_START = NOW - timedelta(minutes=10)


def _noaa19_oem(**kw: Any) -> str:
    (noaa19,) = [
        e for e in parse_tle(TLE.read_text().splitlines()).elements if e.norad_id == NOAA19
    ]
    n_states = int(SPAN.total_seconds() // 60) + 1
    return oem_kvn(noaa19, start=OEM_START, n_states=n_states, **kw)


def _post(world: World, text: str, path: str, who: str = "acme", **params: Any) -> Any:
    return world.client.post(
        path, params=params, content=text, headers={**world.as_(who), "Content-Type": "text/plain"}
    )


def _passes(world: World, hours: float = 24) -> list[dict[str, Any]]:
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=hours)).isoformat(),
            "min_elevation": 10,
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def _patch(world: World, ephemeris_id: int, body: dict[str, Any], who: str = "acme") -> Any:
    return world.client.patch(
        f"/satellites/{NOAA19}/ephemerides/{ephemeris_id}", json=body, headers=world.as_(who)
    )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_oem_only_satellite_gets_passes_and_contacts_inside_its_span(world: World) -> None:
    by_tle = _passes(world)
    tle_id = world.client.get(
        f"/satellites/{NOAA19}/ephemerides/in-force", headers=world.as_("acme")
    ).json()["id"]
    r = _post(world, _noaa19_oem(object_id="2009-005A"), f"/satellites/{NOAA19}/ephemerides")
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "CCSDS OEM (KVN)"
    (oem,) = r.json()["accepted"]
    span_end = OEM_START + SPAN
    assert oem["source_format"] == "oem" and oem["status"] == "ENABLED"
    assert _at(oem["expires_at"]) == span_end and _at(oem["epoch"]) == OEM_START
    assert f"OBJECT_ID = {NOAA19}\n" in oem["text"] and "2009-005A" in oem["text"]
    # The TLE disabled: the OEM is all the satellite has.
    r = _patch(world, tle_id, {"enabled": False})
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["status"]) == (False, "DISABLED")
    listing = world.client.get(f"/satellites/{NOAA19}/ephemerides", headers=world.as_("acme"))
    assert listing.json()["in_force_id"] == oem["id"]

    by_oem = _passes(world)
    inside = [p for p in by_tle if _at(p["los"]) <= span_end]
    assert len(inside) >= 2 and len(by_oem) == len(inside)
    for a, b in zip(inside, by_oem, strict=True):
        assert abs((_at(a["aos"]) - _at(b["aos"])).total_seconds()) < 0.1
        assert abs(a["max_elevation_deg"] - b["max_elevation_deg"]) < 0.01
    free = next(p for p in by_oem if p["duration_s"] >= 300)
    booked = world.client.post("/contacts", json=contact_body(free), headers=world.as_("acme"))
    assert booked.status_code == 201, booked.text
    assert _at(booked.json()["ephemeris_epoch"]) == OEM_START

    after = next(p for p in by_tle if _at(p["aos"]) > span_end and p["duration_s"] >= 300)
    refused = world.client.post("/contacts", json=contact_body(after), headers=world.as_("acme"))
    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"]
    assert "CCSDS OEM usable" in detail and "outside it" in detail, detail


def test_a_bad_oem_is_422_naming_the_format_and_the_line(world: World) -> None:
    text = _noaa19_oem().replace("REF_FRAME = EME2000", "REF_FRAME = TOD")
    for path in (f"/satellites/{NOAA19}/ephemerides", "/ephemerides"):
        r = _post(world, text, path)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["format"] == "CCSDS OEM (KVN)" and "CCSDS OEM (KVN)" in body["detail"]
        assert body["rejected"][0].startswith("line 8: REF_FRAME='TOD': OEM line 8: REF_FRAME")
        assert "TLE" not in body["detail"]


def test_a_multi_satellite_upload_takes_an_oem_by_its_norad_object_id(world: World) -> None:
    r = _post(world, _noaa19_oem(), "/ephemerides", priority=5, enabled=False)
    assert r.status_code == 201, r.text
    (noaa19,) = r.json()["satellites"]
    assert noaa19["norad_id"] == NOAA19
    (oem,) = noaa19["accepted"]
    assert (oem["priority"], oem["enabled"], oem["status"]) == (5, False, "DISABLED")
    assert noaa19["in_force_id"] != oem["id"]  # disabled: the TLE stays in force
    r = _post(world, _noaa19_oem(object_id="2009-005A"), "/ephemerides")
    assert r.status_code == 422
    assert "OBJECT_ID '2009-005A' is not a NORAD catalogue number" in r.json()["detail"]


def test_patch_changes_priority_and_expiry_and_refuses_what_it_cannot(world: World) -> None:
    r = _post(world, _noaa19_oem(), f"/satellites/{NOAA19}/ephemerides", priority=-5)
    (oem,) = r.json()["accepted"]
    r = _patch(
        world, oem["id"], {"priority": 7, "expires_at": (NOW + timedelta(hours=1)).isoformat()}
    )
    assert r.status_code == 200, r.text
    assert r.json()["priority"] == 7 and _at(r.json()["expires_at"]) == NOW + timedelta(hours=1)
    # An OEM's expiry never goes past its span: null means "its span's end".
    r = _patch(world, oem["id"], {"expires_at": None})
    assert _at(r.json()["expires_at"]) == OEM_START + SPAN
    assert _patch(world, oem["id"], {"enabled": "no"}).status_code == 422
    assert _patch(world, oem["id"], {"enable": False}).status_code == 422
    assert _patch(world, oem["id"], {"priority": None}).status_code == 422
    assert _patch(world, oem["id"], {"enabled": False}, who="globex").status_code == 404
    funcube = world.client.get(f"/satellites/{FUNCUBE}/ephemerides", headers=world.as_("globex"))
    other = funcube.json()["data"][0]["id"]
    assert _patch(world, other, {"enabled": False}).status_code == 404  # not NOAA 19's


def test_an_expired_ephemeris_is_listed_as_expired(world: World) -> None:
    r = _post(
        world,
        _noaa19_oem(),
        f"/satellites/{NOAA19}/ephemerides",
        expires_at=(NOW - timedelta(minutes=1)).isoformat(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["accepted"][0]["status"] == "EXPIRED"


def test_omm_in_kvn_and_xml_is_stored_with_its_format_named(world: World) -> None:
    for text, fmt in ((OMM_KVN, "CCSDS OMM (KVN)"), (omm_xml(OMM_KVN), "XML (CCSDS OMM)")):
        r = _post(world, text, "/ephemerides")
        assert r.status_code == 201, r.text
        assert r.json()["format"] == fmt
        (noaa19,) = r.json()["satellites"]
        assert noaa19["norad_id"] == NOAA19 and noaa19["accepted"][0]["source_format"] == "omm"


def test_an_oem_re_predicts_the_contacts_in_its_span_and_leaves_the_others(
    world: World,
) -> None:
    by_tle = _passes(world, hours=24)
    span_end = OEM_START + SPAN
    inside = next(p for p in by_tle if _at(p["los"]) < span_end and p["duration_s"] >= 300)
    after = next(p for p in by_tle if _at(p["aos"]) > span_end and p["duration_s"] >= 300)
    booked = []
    for p in (inside, after):
        r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
        assert r.status_code == 201, r.text
        booked.append(r.json())
    # The same orbit as an OEM, 20 s later: the pass inside its span moves.
    (noaa19,) = [
        e for e in parse_tle(TLE.read_text().splitlines()).elements if e.norad_id == NOAA19
    ]
    shifted = oem_kvn(noaa19, start=OEM_START, n_states=int(SPAN.total_seconds() // 60) + 1)
    lines = shifted.splitlines()
    for k, line in enumerate(lines):
        if line[:4].isdigit() and " " in line:  # a state vector: its epoch 20 s later
            stamp, rest = line.split(" ", 1)
            moved = _at(stamp + "+00:00") + timedelta(seconds=20)
            lines[k] = moved.strftime("%Y-%m-%dT%H:%M:%S.%f") + " " + rest
    shifted = "\n".join(lines).replace(
        f"START_TIME = {OEM_START.strftime('%Y-%m-%dT%H:%M:%S.%f')}",
        f"START_TIME = {(OEM_START + timedelta(seconds=20)).strftime('%Y-%m-%dT%H:%M:%S.%f')}",
    )
    shifted = shifted.replace(
        f"STOP_TIME = {span_end.strftime('%Y-%m-%dT%H:%M:%S.%f')}",
        f"STOP_TIME = {(span_end + timedelta(seconds=20)).strftime('%Y-%m-%dT%H:%M:%S.%f')}",
    )
    r = _post(world, shifted, f"/satellites/{NOAA19}/ephemerides", priority=9)
    assert r.status_code == 201, r.text
    assert r.json()["contacts_updated"] == 1
    moved, kept = (
        world.client.get(f"/contacts/{c['id']}", headers=world.as_("acme")).json() for c in booked
    )
    assert moved["state"] == kept["state"] == "SCHEDULED"
    assert abs((_at(moved["aos"]) - _at(booked[0]["aos"])).total_seconds() - 20) < 1
    assert (kept["aos"], kept["ephemeris_epoch"]) == (
        booked[1]["aos"],
        booked[1]["ephemeris_epoch"],
    )


def test_passes_wholly_outside_the_oem_span_are_refused_naming_it(world: World) -> None:
    r = _post(world, _noaa19_oem(), f"/satellites/{NOAA19}/ephemerides", priority=9)
    assert r.status_code == 201, r.text
    later = OEM_START + SPAN + timedelta(hours=1)
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": later.isoformat(),
            "end": (later + timedelta(hours=6)).isoformat(),
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 422, r.text
    assert "CCSDS OEM usable 2023-07-04T17:50:00Z..2023-07-05T05:50:00Z" in r.json()["detail"]
