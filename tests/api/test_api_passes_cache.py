"""GET /passes reuses pass predictions (``prediction.PassCache``, keyed by the
element set, the stations and the range) without ever serving stale
availability or an old ephemeris, and writes exactly the schema's JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from api import schemas
from groundstation import passes as passes_module
from groundstation.prediction import PassCache

from .conftest import NOAA19, NOW, World
from .helpers import contact_body, first_free_pass

OMM = [
    {
        "OBJECT_NAME": "NOAA 19", "OBJECT_ID": "2009-005A", "NORAD_CAT_ID": NOAA19, "EPOCH": "2023-07-04T16:11:18.962592",
        "MEAN_MOTION": 14.12963785, "ECCENTRICITY": 0.0013589, "INCLINATION": 99.1, "RA_OF_ASC_NODE": 200.0,
        "ARG_OF_PERICENTER": 334.4, "MEAN_ANOMALY": 25.6, "EPHEMERIS_TYPE": 0, "CLASSIFICATION_TYPE": "U",
        "ELEMENT_SET_NO": 999, "REV_AT_EPOCH": 7000, "BSTAR": 0.00012938, "MEAN_MOTION_DOT": 1.94e-6, "MEAN_MOTION_DDOT": 0,
    }
]  # fmt: skip


def passes(world: World) -> Any:
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=24)).isoformat(),
            "min_elevation": 10,
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    return r


def test_passes_body_is_exactly_the_schemas_own_serialization(world: World) -> None:
    r = passes(world)
    assert r.json()["count"] > 3
    assert r.content == schemas.PassesPublic.model_validate(r.json()).model_dump_json().encode()


def test_a_cached_prediction_still_shows_a_new_booking_as_blocking(world: World) -> None:
    cache = world.app.state.ctx.pass_cache
    p = first_free_pass(world)
    body = {"norad_id": NOAA19, "antenna_id": "sv-uhf", "profile_id": "leo"}
    r = world.client.post(
        "/contacts", json={**body, "start": p["aos"], "end": p["los"]}, headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text
    after = passes(world).json()["data"]
    assert (cache.hits, cache.misses) == (1, 1)
    (same,) = [q for q in after if q["aos"] == p["aos"] and q["station_id"] == p["station_id"]]
    slot = {a["antenna_id"]: a for a in same["antennas"]}["sv-uhf"]
    assert slot == {
        "antenna_id": "sv-uhf",
        "free": False,
        "blocked_by": f"contact {r.json()['id']}",
    }
    assert {k: v for k, v in same.items() if k != "antennas"} == {
        k: v for k, v in p.items() if k != "antennas"
    }


def test_a_new_ephemeris_in_force_is_predicted_afresh(world: World) -> None:
    cache = world.app.state.ctx.pass_cache
    before = [q["aos"] for q in passes(world).json()["data"]]
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides?priority=1", json=OMM, headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text
    after = [q["aos"] for q in passes(world).json()["data"]]
    assert (cache.hits, cache.misses) == (0, 2)
    assert after != before


def _slots(answer: Any, p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (same,) = [
        q for q in answer["data"] if q["aos"] == p["aos"] and q["station_id"] == p["station_id"]
    ]
    return {a["antenna_id"]: a for a in same["antennas"]}


def test_a_cached_prediction_shows_maintenance_a_new_offline_antenna_and_a_cancellation(
    world: World,
) -> None:
    cache = world.app.state.ctx.pass_cache
    p = first_free_pass(world)  # the prediction is cached now
    admin = world.as_("admin")
    r = world.client.post(
        "/ground-stations/svalbard/antennas/sv-uhf-2/maintenance",
        json={"start": p["tca"], "end": p["los"], "reason": "feed"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    r = world.client.post(
        "/ground-stations/svalbard/antennas",
        json={"id": "sv-new", "bands_hz": [[400e6, 450e6]], "status": "offline"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    booked = world.client.post(
        "/contacts", json={**contact_body(p), "norad_id": NOAA19}, headers=world.as_("acme")
    )
    assert booked.status_code == 201, booked.text
    slots = _slots(passes(world).json(), p)
    assert slots["sv-uhf"] == {
        "antenna_id": "sv-uhf",
        "free": False,
        "blocked_by": f"contact {booked.json()['id']}",
    }
    assert slots["sv-uhf-2"]["free"] is False
    assert slots["sv-uhf-2"]["blocked_by"].startswith("maintenance ")
    assert slots["sv-new"] == {
        "antenna_id": "sv-new",
        "free": False,
        "blocked_by": "antenna status offline",
    }
    r = world.client.post(f"/contacts/{booked.json()['id']}/cancel", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert _slots(passes(world).json(), p)["sv-uhf"] == {
        "antenna_id": "sv-uhf",
        "free": True,
        "blocked_by": "",
    }
    assert (cache.hits, cache.misses) == (2, 1)


def test_requests_without_a_start_share_the_prediction_of_their_minute(world: World) -> None:
    cache = world.app.state.ctx.pass_cache
    clock = world.app.state.ctx.clock
    minute = passes_module.default_start(clock.now())
    answers = [
        world.client.get("/passes", params={"satellite": NOAA19}, headers=world.as_("acme")).json()
        for _ in range(3)
    ]
    assert passes_module.default_start(clock.now()) == minute  # the test ran within a minute
    assert (cache.hits, cache.misses) == (2, 1)
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["count"] > 3
    explicit = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": minute.isoformat(),
            "end": (minute + timedelta(hours=24)).isoformat(),
        },
        headers=world.as_("acme"),
    )
    assert explicit.json() == answers[0]
    assert (cache.hits, cache.misses) == (3, 1)


def test_the_default_start_is_now_floored_to_the_minute() -> None:
    assert passes_module.default_start(NOW + timedelta(seconds=59.9)) == NOW
    assert passes_module.default_start(NOW + timedelta(seconds=60)) == NOW + timedelta(minutes=1)
    assert passes_module.default_start(NOW) == NOW


def test_pass_cache_keeps_the_most_recently_used_entries() -> None:
    cache = PassCache(max_entries=2)
    computed: list[str] = []

    def compute(name: str) -> Callable[[], list[Any]]:
        def passes() -> list[Any]:
            computed.append(name)
            return []

        return passes

    cache.get(("a",), compute("a"))
    cache.get(("b",), compute("b"))
    cache.get(("a",), compute("a"))  # hit: a is now the most recent
    cache.get(("c",), compute("c"))  # evicts b
    cache.get(("a",), compute("a"))
    cache.get(("b",), compute("b"))
    assert computed == ["a", "b", "c", "b"]
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 4)


def test_pass_cache_refuses_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="max_entries is 0"):
        PassCache(max_entries=0)


def test_a_window_listed_by_passes_is_booked_from_that_listings_prediction(world: World) -> None:
    """POST /contacts reuses the prediction GET /passes?profile= just made
    (issue 17) and books the pass as it was listed."""
    cache = world.app.state.ctx.pass_cache
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "profile": "leo",
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=24)).isoformat(),
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    p = next(
        q
        for q in r.json()["data"][1:]
        if any(a["antenna_id"] == "sv-uhf" and a["free"] for a in q["antennas"])
    )
    booked = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert booked.status_code == 201, booked.text
    assert (cache.found, cache.misses) == (1, 1)
    assert (booked.json()["aos"], booked.json()["los"]) == (p["aos"], p["los"])
