"""Stations, antennas, maintenance, satellites and ephemerides, profiles,
plans, usage, metrics, readiness and request limits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from api.app import create_app
from groundstation.models import Contact
from groundstation.settings import Settings
from tests.prometheus_page import value

from .conftest import NOAA18, NOAA19, NOW, TLE, World
from .helpers import contact_body, first_free_pass


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with GET /metrics published (GS_METRICS_PUBLIC)."""
    return settings.model_copy(update={"metrics_public": True})


def test_admin_adds_a_station_with_an_antenna_and_maintenance(world: World) -> None:
    h = world.as_("admin")
    r = world.client.post(
        "/ground-stations",
        json={
            "id": "lisbon",
            "name": "Lisbon",
            "lat_deg": 38.7,
            "lon_deg": -9.1,
            "horizon_mask": [[0, 5], [180, 10]],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = world.client.post(
        "/ground-stations/lisbon/antennas",
        json={"id": "lis-1", "bands_hz": [[400e6, 450e6]], "setup_s": 30},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["station_id"] == "lisbon"
    r = world.client.post(
        "/ground-stations/lisbon/antennas/lis-1/maintenance",
        json={
            "start": (NOW + timedelta(hours=1)).isoformat(),
            "end": (NOW + timedelta(hours=2)).isoformat(),
            "reason": "feed swap",
        },
        headers=h,
    )
    assert r.status_code == 201
    station = world.client.get("/ground-stations/lisbon", headers=world.as_("scientist")).json()
    assert [a["id"] for a in station["antennas"]] == ["lis-1"]
    assert station["horizon_mask"] == [[0.0, 5.0], [180.0, 10.0]]
    listed = world.client.get(
        "/ground-stations/lisbon/antennas/lis-1/maintenance", headers=h
    ).json()
    assert [m["reason"] for m in listed["data"]] == ["feed swap"]
    assert (
        world.client.post(
            "/ground-stations",
            json={"id": "lisbon", "name": "x", "lat_deg": 0, "lon_deg": 0},
            headers=h,
        ).status_code
        == 409
    )
    # The antenna belongs to lisbon, not to svalbard.
    assert (
        world.client.get(
            "/ground-stations/svalbard/antennas/lis-1/maintenance", headers=h
        ).status_code
        == 404
    )


def test_bad_station_values_are_422_naming_field_and_value(world: World) -> None:
    r = world.client.post(
        "/ground-stations",
        json={"id": "x", "name": "x", "lat_deg": 91, "lon_deg": 0},
        headers=world.as_("admin"),
    )
    assert r.status_code == 422
    assert "body.lat_deg" in r.json()["detail"] and "91" in r.json()["detail"]
    r = world.client.post(
        "/ground-stations",
        json={"id": "x", "name": "x", "lat_deg": True, "lon_deg": 0},
        headers=world.as_("admin"),
    )
    assert r.status_code == 422


def test_maintenance_blocks_a_pass_and_booking_it_is_409(world: World) -> None:
    p = first_free_pass(world)
    r = world.client.post(
        "/ground-stations/svalbard/antennas/sv-uhf/maintenance",
        json={"start": p["aos"], "end": p["los"], "reason": "repair"},
        headers=world.as_("admin"),
    )
    assert r.status_code == 201
    again = first_free_pass(world, antenna_id="sv-uhf-2")
    assert again["aos"] == p["aos"]
    passes = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "min_elevation": 10,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=24)).isoformat(),
        },
        headers=world.as_("acme"),
    ).json()["data"]
    blocked = next(x for x in passes if x["aos"] == p["aos"])
    slot = next(a for a in blocked["antennas"] if a["antenna_id"] == "sv-uhf")
    assert not slot["free"] and slot["blocked_by"].startswith("maintenance")
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 409 and r.json()["type"].endswith("/maintenance")


BROKEN = "NOAA 19\n1 33591U 09005A   23185.67452503  .00000194  00000+0  12938-3 0  9990\n2 33591  99.1\n"


def test_ephemeris_upload_reports_each_record_and_the_one_in_force(world: World) -> None:
    text = TLE.read_text()
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides?priority=1",
        content=text + BROKEN,
        headers={**world.as_("acme"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert len(report["accepted"]) == 1 and report["accepted"][0]["priority"] == 1
    assert any("another satellite" in x and str(NOAA18) in x for x in report["rejected"])
    assert any(x.startswith("line ") for x in report["rejected"])
    history = world.client.get(
        f"/satellites/{NOAA19}/ephemerides", headers=world.as_("acme")
    ).json()
    assert history["count"] == 2
    assert history["in_force_id"] == report["accepted"][0]["id"]
    in_force = world.client.get(
        f"/satellites/{NOAA19}/ephemerides/in-force", headers=world.as_("acme")
    ).json()
    assert in_force["id"] == report["accepted"][0]["id"]


def test_upload_with_nothing_usable_is_422_listing_each_rejection(world: World) -> None:
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content=BROKEN,
        headers={**world.as_("acme"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 422
    assert r.json()["rejected"] and "line 3" in r.json()["rejected"][0]


def test_omm_json_upload_is_accepted(world: World) -> None:
    omm = [
        {
            "OBJECT_NAME": "NOAA 19", "OBJECT_ID": "2009-005A", "NORAD_CAT_ID": NOAA19, "EPOCH": "2023-07-04T16:11:18.962592",
            "MEAN_MOTION": 14.12963785, "ECCENTRICITY": 0.0013589, "INCLINATION": 99.1, "RA_OF_ASC_NODE": 200.0,
            "ARG_OF_PERICENTER": 334.4, "MEAN_ANOMALY": 25.6, "EPHEMERIS_TYPE": 0, "CLASSIFICATION_TYPE": "U",
            "ELEMENT_SET_NO": 999, "REV_AT_EPOCH": 7000, "BSTAR": 0.00012938, "MEAN_MOTION_DOT": 1.94e-6, "MEAN_MOTION_DDOT": 0,
        }
    ]  # fmt: skip
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content=json.dumps(omm),
        headers={**world.as_("acme"), "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert (
        len(r.json()["accepted"]) == 1 and r.json()["accepted"][0]["source_format"].lower() == "omm"
    )


def test_profiles_are_created_listed_and_replaced(world: World) -> None:
    h = world.as_("acme")
    r = world.client.post(
        "/mission-profiles",
        json={"id": "geo", "prepass_s": 300, "demod": {"eirp_dbw": -10}},
        headers=h,
    )
    assert r.status_code == 201, r.text
    replacement = {
        "min_viable_duration_s": 60,
        "prepass_s": 10,
        "postpass_s": 60,
        "min_elevation_deg": 20,
        "demod": {},
        "decode": {},
        "kafka_topic": "",
        "dataset_options": {},
        "vetting": {},
    }
    r = world.client.put("/mission-profiles/geo", json=replacement, headers=h)
    assert r.status_code == 200 and r.json()["prepass_s"] == 10
    assert r.json()["demod"]["eirp_dbw"] is None  # replaced: the override is gone
    ids = [p["id"] for p in world.client.get("/mission-profiles", headers=h).json()["data"]]
    assert ids == ["geo", "leo"]
    assert (
        world.client.put("/mission-profiles/none", json=replacement, headers=h).status_code == 404
    )


def test_plan_proposes_without_booking_and_commit_books_all(world: World) -> None:
    h = world.as_("acme")
    body = {
        "profile_id": "leo",
        "requests": [
            {
                "norad_id": NOAA19,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=8)).isoformat(),
                "max_passes": 2,
            },
            {
                "norad_id": NOAA18,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=8)).isoformat(),
                "max_passes": 2,
                "priority": 2,
            },
        ],
    }
    r = world.client.post("/plans", json=body, headers=h)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert 1 <= len(plan["proposed"]) <= 4 and plan["objective"] > 0
    assert world.client.get("/contacts", headers=h).json()["count"] == 0
    assert (
        world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("globex")).status_code
        == 404
    )
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=h)
    assert r.status_code == 200, r.text
    booked = r.json()["booked"]
    got = sorted((c["antenna_id"], datetime.fromisoformat(c["aos"])) for c in booked)
    want = sorted((p["antenna_id"], datetime.fromisoformat(p["aos"])) for p in plan["proposed"])
    assert len(got) == len(want)
    for (a1, t1), (a2, t2) in zip(got, want, strict=True):
        assert a1 == a2 and abs((t1 - t2).total_seconds()) < 1.0  # re-predicted at booking
    assert world.client.get("/contacts", params={"state": "SCHEDULED"}, headers=h).json()[
        "count"
    ] == len(plan["proposed"])


def test_plan_commit_books_none_when_one_window_was_taken_meanwhile(world: World) -> None:
    h = world.as_("acme")
    body = {
        "profile_id": "leo",
        "antenna_ids": ["sv-uhf"],
        "requests": [
            {
                "norad_id": NOAA19,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=12)).isoformat(),
                "max_passes": 3,
            }
        ],
    }
    plan = world.client.post("/plans", json=body, headers=h).json()
    assert len(plan["proposed"]) >= 2
    last = plan["proposed"][-1]
    r = world.client.post(
        "/contacts",
        json={
            "norad_id": NOAA19,
            "antenna_id": "sv-uhf",
            "profile_id": "leo",
            "start": last["aos"],
            "end": last["los"],
        },
        headers=world.as_("admin"),
    )
    assert r.status_code == 201
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=h)
    assert r.status_code == 409
    assert "nothing was booked" in r.json()["detail"]
    assert (
        world.client.get("/contacts", params={"state": "SCHEDULED"}, headers=h).json()["count"] == 1
    )


def test_usage_sums_booked_and_completed_minutes_per_tenant(world: World) -> None:
    p1 = first_free_pass(world)
    p2 = first_free_pass(world, skip=1)
    c1 = world.client.post("/contacts", json=contact_body(p1), headers=world.as_("acme")).json()
    world.client.post("/contacts", json=contact_body(p2), headers=world.as_("acme"))
    with world.session() as s:
        s.execute(update(Contact).where(Contact.id == c1["id"]).values(state="COMPLETED"))
        s.commit()
    minutes = [
        (datetime.fromisoformat(c["los"]) - datetime.fromisoformat(c["aos"])).total_seconds() / 60
        for c in world.client.get("/contacts", headers=world.as_("acme")).json()["data"]
    ]
    r = world.client.get("/usage", params={"month": "2023-07"}, headers=world.as_("admin")).json()
    acme = next(u for u in r["data"] if u["tenant"] == "acme")
    assert abs(acme["booked_minutes"] - sum(minutes)) < 0.01
    assert acme["contacts_booked"] == 2 and acme["contacts_completed"] == 1
    assert 0 < acme["used_minutes"] < acme["booked_minutes"]
    mine = world.client.get(
        "/usage", params={"month": "2023-07"}, headers=world.as_("globex")
    ).json()
    assert [(u["tenant"], u["booked_minutes"]) for u in mine["data"]] == [("globex", 0.0)]
    assert (
        world.client.get(
            "/usage", params={"month": "2023-13"}, headers=world.as_("acme")
        ).status_code
        == 422
    )


def test_metrics_expose_request_latency_and_contacts_by_state(world: World) -> None:
    world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    )
    text = world.client.get("/metrics").text
    assert value(text, "groundstation_contacts", state="SCHEDULED") == 1
    latency = "groundstation_http_request_duration_seconds"
    labels = {"method": "POST", "route": "/contacts", "status": "201"}
    assert value(text, f"{latency}_count", **labels) == 1
    assert value(text, f"{latency}_bucket", method="GET", route="/passes", status="200", le="+Inf")
    assert "# TYPE groundstation_frames_decoded_total counter" in text
    assert value(text, "groundstation_spool_depth_bytes") == 0


def test_readyz_is_503_naming_an_unreachable_broker(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"}))
    with TestClient(app) as client:
        r = client.get("/readyz")
    app.state.ctx.engine.dispose()
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok"
    assert "127.0.0.1:1" in r.json()["checks"]["broker"]


def test_oversized_upload_is_413_and_unknown_query_parameter_is_422(world: World) -> None:
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content="x" * (2 << 20),
        headers={**world.as_("acme"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = world.client.get("/contacts", params={"satelite": NOAA19}, headers=world.as_("acme"))
    assert r.status_code == 422 and "satelite" in r.json()["detail"]


def test_plan_request_spanning_more_than_two_weeks_is_422(world: World) -> None:
    body = {
        "profile_id": "leo",
        "requests": [
            {
                "norad_id": NOAA19,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(days=30)).isoformat(),
            }
        ],
    }
    r = world.client.post("/plans", json=body, headers=world.as_("acme"))
    assert r.status_code == 422 and "requests[0]" in r.json()["detail"]
