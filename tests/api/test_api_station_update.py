"""PATCH /ground-stations/{id} (issue 15): admins change a station's name,
location, minimum elevation or horizon mask; a change of geometry
re-predicts its booked contacts (moved, or FAILED_TO_SCHEDULE naming the
change), and bad input is refused naming the value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .conftest import World
from .helpers import contact_body, first_free_pass

URL = "/ground-stations/svalbard"


def _book(world: World) -> dict[str, Any]:
    p = first_free_pass(world)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _contact(world: World, contact_id: str) -> dict[str, Any]:
    return dict(world.client.get(f"/contacts/{contact_id}", headers=world.as_("acme")).json())


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_moving_a_station_a_little_moves_its_booked_contact_with_the_reason(
    world: World,
) -> None:
    c = _book(world)
    station = world.client.get(URL, headers=world.as_("acme")).json()
    r = world.client.patch(
        URL, json={"lat_deg": station["lat_deg"] - 0.5}, headers=world.as_("admin")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lat_deg"] == station["lat_deg"] - 0.5
    assert (body["contacts_moved"], body["contacts_failed"]) == ([c["id"]], [])
    after = _contact(world, c["id"])
    assert after["state"] == "SCHEDULED"
    assert after["aos"] != c["aos"] or after["los"] != c["los"]
    assert abs((_at(after["aos"]) - _at(c["aos"])).total_seconds()) < 120
    assert "window moved (station svalbard changed (lat_deg))" in after["history"][-1]["reason"]
    assert after["version"] == c["version"] + 1
    # a rename moves nothing
    r = world.client.patch(URL, json={"name": "SvalSat II"}, headers=world.as_("admin"))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["contacts_moved"]) == ("SvalSat II", [])


def test_moving_a_station_away_from_its_passes_fails_its_contacts_naming_the_change(
    world: World,
) -> None:
    c = _book(world)
    r = world.client.patch(URL, json={"lat_deg": 0.0, "lon_deg": 0.0}, headers=world.as_("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["contacts_failed"] == [c["id"]]
    after = _contact(world, c["id"])
    assert after["state"] == "FAILED_TO_SCHEDULE"
    assert after["state_reason"].startswith("station svalbard changed (lat_deg, lon_deg): ")
    # the antenna is free again for that window
    again = world.client.get(URL, headers=world.as_("acme")).json()
    assert (again["lat_deg"], again["lon_deg"]) == (0.0, 0.0)


def test_a_horizon_mask_above_the_pass_fails_it(world: World) -> None:
    c = _book(world)
    mask = [[az, 85.0] for az in range(0, 360, 10)]
    r = world.client.patch(URL, json={"horizon_mask": mask}, headers=world.as_("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["horizon_mask"][0] == [0.0, 85.0]
    assert r.json()["contacts_failed"] == [c["id"]]
    assert "changed (horizon_mask)" in _contact(world, c["id"])["state_reason"]


def test_bad_station_changes_are_refused_naming_them(world: World) -> None:
    admin = world.as_("admin")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"lat_deg": 91}, 422, "lat_deg"),
        ({"lon_deg": "east"}, 422, "lon_deg"),
        ({"antennas": []}, 422, "antennas"),
        ({}, 422, "at least one"),
        ({"name": None}, 422, "none null"),
        ({"horizon_mask": [[0, 1, 2]]}, 422, "horizon_mask"),
    ]
    before = world.client.get(URL, headers=admin).json()
    for body, code, named in cases:
        r = world.client.patch(URL, json=body, headers=admin)
        assert (r.status_code, named in r.text) == (code, True), (body, r.text)
    assert world.client.get(URL, headers=admin).json() == before  # nothing stored
    assert world.client.patch(URL, json={"name": "x"}, headers=world.as_("acme")).status_code == 403
    r = world.client.patch("/ground-stations/nowhere", json={"name": "x"}, headers=admin)
    assert r.status_code == 404 and "nowhere" in r.text
