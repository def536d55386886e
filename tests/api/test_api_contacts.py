from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .conftest import NOAA19, NOW, World
from .helpers import first_free_pass


def reserve(world: World, p: dict[str, Any], who: str = "acme", **extra: Any) -> Any:
    body = {
        "norad_id": NOAA19,
        "antenna_id": "sv-uhf",
        "profile_id": "leo",
        "start": p["aos"],
        "end": p["los"],
    }
    body.update(extra.pop("body", {}))
    return world.client.post("/contacts", json=body, headers={**world.as_(who), **extra})


def test_passes_list_windows_with_azimuths_and_per_antenna_availability(world: World) -> None:
    p = first_free_pass(world)
    assert p["aos"] < p["tca"] < p["los"]
    assert p["max_elevation_deg"] >= 10
    assert 0 <= p["aos_azimuth_deg"] < 360
    assert {a["antenna_id"] for a in p["antennas"]} == {"sv-uhf", "sv-uhf-2", "sv-s"}


def test_reserve_books_a_contact_and_its_history_starts_scheduled(world: World) -> None:
    p = first_free_pass(world)
    r = reserve(world, p)
    assert r.status_code == 201, r.text
    contact = r.json()
    assert contact["state"] == "SCHEDULED"
    assert contact["tenant"] == "acme"
    assert contact["station_id"] == "svalbard"
    r = world.client.get(f"/contacts/{contact['id']}", headers=world.as_("acme"))
    assert r.status_code == 200
    history = r.json()["history"]
    assert [(h["old_state"], h["new_state"]) for h in history] == [("AVAILABLE", "SCHEDULED")]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_second_reservation_of_the_window_is_409_naming_the_first_contact(world: World) -> None:
    p = first_free_pass(world)
    first = reserve(world, p).json()
    r = reserve(world, p)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    other = problem["conflicting_contact"]
    assert (other["id"], other["antenna_id"], other["state"]) == (
        first["id"],
        first["antenna_id"],
        "SCHEDULED",
    )
    for end in ("blocked_start", "blocked_end"):
        assert _instant(other[end]) == _instant(first[end])
    assert first["id"] in problem["detail"]


def test_idempotency_key_returns_the_same_contact_with_200(world: World) -> None:
    p = first_free_pass(world)
    a = reserve(world, p, **{"Idempotency-Key": "k-1"})
    b = reserve(world, p, **{"Idempotency-Key": "k-1"})
    assert a.status_code == 201 and b.status_code == 200
    assert a.json()["id"] == b.json()["id"]


def test_naive_timestamp_is_refused_with_422_naming_the_field(world: World) -> None:
    p = first_free_pass(world)
    r = reserve(world, p, body={"start": p["aos"].replace("Z", "").split("+")[0]})
    assert r.status_code == 422
    assert "body.start" in r.json()["detail"]
    assert "timezone" in r.json()["detail"]


def test_window_outside_any_pass_is_refused_with_the_rule(world: World) -> None:
    start = NOW + timedelta(days=3, minutes=1)
    r = reserve(
        world,
        {"aos": start.isoformat(), "los": (start + timedelta(seconds=30)).isoformat()},
    )
    assert r.status_code == 422
    assert r.json()["type"].endswith("/predicted-pass")


def test_cancel_moves_the_contact_to_cancelled_and_frees_the_window(world: World) -> None:
    p = first_free_pass(world)
    contact = reserve(world, p).json()
    r = world.client.post(f"/contacts/{contact['id']}/cancel", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLED"
    assert reserve(world, p).status_code == 201


def test_contacts_list_filters_by_state_and_pages_with_a_cursor(world: World) -> None:
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "end": (NOW + timedelta(days=1)).isoformat(),
            "min_elevation": 10,
        },
        headers=world.as_("acme"),
    )
    booked: list[str] = []
    for p in r.json()["data"]:
        if p["duration_s"] >= 300 and len(booked) < 5:
            res = reserve(world, p)
            if res.status_code == 201:
                booked.append(res.json()["id"])
    assert len(booked) >= 4
    world.client.post(f"/contacts/{booked[0]}/cancel", headers=world.as_("acme"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"state": "SCHEDULED", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = world.client.get("/contacts", params=params, headers=world.as_("acme")).json()
        assert page["count"] == len(booked) - 1
        seen += [c["id"] for c in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == booked[1:]


def test_contact_track_is_served_as_json_and_csv(world: World) -> None:
    contact = reserve(world, first_free_pass(world)).json()
    r = world.client.get(
        f"/contacts/{contact['id']}/track", params={"step_s": 10}, headers=world.as_("acme")
    )
    assert r.status_code == 200
    points = r.json()["data"]
    peak = max(pt["elevation_deg"] for pt in points)
    assert abs(peak - contact["max_elevation_deg"]) < 1.0
    # Doppler falls through zero near TCA (approaching, then receding).
    assert points[0]["doppler_hz"] > 0 > points[-1]["doppler_hz"]
    r = world.client.get(
        f"/contacts/{contact['id']}/track",
        params={"step_s": 10, "format": "csv"},
        headers=world.as_("acme"),
    )
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("time,azimuth_deg,elevation_deg")
    assert len(lines) == len(points) + 1


def test_every_contact_the_api_shows_says_it_is_simulated(world: World) -> None:
    """The service works every pass with its RF simulator: the booking, the
    contact, the contact list and a plan's bookings say so."""
    r = reserve(world, first_free_pass(world))
    assert r.status_code == 201, r.text
    assert r.json()["simulated"] is True
    contact_id = r.json()["id"]
    one = world.client.get(f"/contacts/{contact_id}", headers=world.as_("acme")).json()
    assert one["simulated"] is True
    page = world.client.get("/contacts", headers=world.as_("acme")).json()
    assert [c["simulated"] for c in page["data"]] == [True]
