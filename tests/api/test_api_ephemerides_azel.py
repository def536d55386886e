"""Az/el ephemerides over the API (issue 15): a pointing table for one
station is stored, never in force, and a contact booked with it
(``ephemeris_id``) on that station follows it; on another station it is
refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from groundstation import inventory
from groundstation.prediction import orbital_station
from orbital.elements import ElementSet
from orbital.tle import parse_tle
from orbital.track import compute_track

from .conftest import NOAA19, TLE, World
from .helpers import contact_body, first_free_pass


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _noaa19() -> ElementSet:
    (noaa19,) = [
        e for e in parse_tle(TLE.read_text().splitlines()).elements if e.norad_id == NOAA19
    ]
    return noaa19


def _table(world: World, aos: datetime, los: datetime, station_id: str = "svalbard") -> str:
    """NOAA 19's look angles from svalbard every 10 s, 5 min either side of the pass."""
    (noaa19,) = [
        e for e in parse_tle(TLE.read_text().splitlines()).elements if e.norad_id == NOAA19
    ]
    with world.session() as s:
        station = orbital_station(
            inventory.get_station(s, station_id="svalbard"), min_elevation_deg=0
        )
    start = aos.replace(microsecond=0) - timedelta(minutes=5)
    track = compute_track(noaa19, station, start=start, end=los + timedelta(minutes=5), step_s=10)
    rows = [
        {"dt": float(t), "az": round(float(a), 6), "el": round(float(e), 6)}
        for t, a, e in zip(track.t_s, track.azimuth_deg, track.elevation_deg, strict=True)
    ]
    return json.dumps(
        {
            "groundStation": station_id,
            "angleUnit": "DEGREE_ANGLE",
            "azElSegmentList": [{"referenceEpoch": start.isoformat(), "azElList": rows}],
        }
    )


def _upload(world: World, text: str) -> Any:
    return world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content=text,
        headers={**world.as_("acme"), "Content-Type": "application/json"},
    )


def test_a_contact_booked_with_an_az_el_table_follows_it(world: World) -> None:
    p = first_free_pass(world)
    aos, los = _at(p["aos"]), _at(p["los"])
    listing = world.client.get(f"/satellites/{NOAA19}/ephemerides", headers=world.as_("acme"))
    in_force = listing.json()["in_force_id"]
    text = _table(world, aos, los)
    r = _upload(world, text)
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "AZ/EL JSON"
    (table,) = r.json()["accepted"]
    assert table["source_format"] == "azel" and table["status"] == "ENABLED"
    listing = world.client.get(f"/satellites/{NOAA19}/ephemerides", headers=world.as_("acme"))
    assert listing.json()["in_force_id"] == in_force  # a table is never in force

    body = {**contact_body(p), "ephemeris_id": table["id"]}
    booked = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert booked.status_code == 201, booked.text
    contact = booked.json()
    assert _at(contact["ephemeris_epoch"]) == _at(table["epoch"])
    track = world.client.get(
        f"/contacts/{contact['id']}/track", params={"step_s": 10}, headers=world.as_("acme")
    )
    assert track.status_code == 200, track.text
    # The table's rows are NOAA 19's angles every 10 s: between them, the
    # track is within 0.01 deg of NOAA 19's (its antenna follows the table).
    points = track.json()["data"]
    assert len(points) >= 60
    times = [_at(q["time"]) for q in points]
    with world.session() as s:
        station = orbital_station(
            inventory.get_station(s, station_id="svalbard"), min_elevation_deg=0
        )
    truth = compute_track(_noaa19(), station, times)
    d_el = np.array([q["elevation_deg"] for q in points]) - truth.elevation_deg
    d_az = (np.array([q["azimuth_deg"] for q in points]) - truth.azimuth_deg + 180) % 360 - 180
    assert float(np.max(np.abs(d_el))) < 0.01 and float(np.max(np.abs(d_az))) < 0.05


def test_an_az_el_table_cannot_point_another_stations_antenna(world: World) -> None:
    with world.session() as s:
        inventory.add_station(
            s, station_id="kiruna", name="Kiruna", lat_deg=67.86, lon_deg=20.96, alt_m=400.0
        )
        inventory.add_antenna(
            s, antenna_id="ki-uhf", station_id="kiruna", bands_hz=[(400e6, 450e6)]
        )
    p = first_free_pass(world)
    r = _upload(world, _table(world, _at(p["aos"]), _at(p["los"])))
    table_id = r.json()["accepted"][0]["id"]
    body = {**contact_body(p, antenna_id="ki-uhf"), "ephemeris_id": table_id}
    refused = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        f"ephemeris {table_id} is an az/el table for station svalbard; it cannot point an "
        "antenna of station kiruna"
    )


def test_a_table_for_an_unknown_station_is_refused_naming_the_known_ones(world: World) -> None:
    p = first_free_pass(world)
    r = _upload(world, _table(world, _at(p["aos"]), _at(p["los"]), station_id="atlantis"))
    assert r.status_code == 422
    assert r.json()["format"] == "AZ/EL JSON"
    assert "groundStation 'atlantis' is not a known station; known: svalbard" in r.json()["detail"]


def test_an_idempotency_key_replayed_with_another_ephemeris_is_refused(world: World) -> None:
    p = first_free_pass(world)
    r = _upload(world, _table(world, _at(p["aos"]), _at(p["los"])))
    table_id = r.json()["accepted"][0]["id"]
    headers = {**world.as_("acme"), "Idempotency-Key": "azel-1"}
    first = world.client.post("/contacts", json=contact_body(p), headers=headers)
    assert first.status_code == 201, first.text
    again = world.client.post(
        "/contacts", json={**contact_body(p), "ephemeris_id": table_id}, headers=headers
    )
    assert again.status_code == 422, again.text
    assert "idempotency" in again.json()["type"]
