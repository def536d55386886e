"""``GET /passes?profile=``: the windows a booking with that profile accepts,
on the antennas that can receive the downlink (issue 15)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from groundstation import inventory

from .conftest import NOAA19, NOW, World


def _passes(world: World, who: str = "acme", **params: Any) -> Any:
    return world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=12)).isoformat(),
            **params,
        },
        headers=world.as_(who),
    )


def _reserve(world: World, p: dict[str, Any], antenna_id: str, profile_id: str) -> Any:
    body = {
        "norad_id": NOAA19,
        "antenna_id": antenna_id,
        "profile_id": profile_id,
        "start": p["aos"],
        "end": p["los"],
    }
    return world.client.post("/contacts", json=body, headers=world.as_("acme"))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _strict_profile(world: World) -> None:
    """Passes above 10 deg lasting 5 min, booked 40 min ahead: rules that
    some plain ``/passes`` windows (station mask 5 deg) break."""
    with world.session() as session:
        inventory.add_profile(
            session,
            profile_id="strict",
            owner_tenant="acme",
            prepass_s=2400,
            postpass_s=60,
            min_elevation_deg=10,
            min_viable_duration_s=300,
        )


def test_every_free_window_of_passes_with_a_profile_is_booked_by_post_contacts(
    world: World,
) -> None:
    _strict_profile(world)
    plain = _passes(world)
    assert plain.status_code == 200, plain.text
    r = _passes(world, profile="strict")
    assert r.status_code == 200, r.text
    offered = r.json()["data"]
    free = [(p, a["antenna_id"]) for p in offered for a in p["antennas"] if a["free"]]
    assert len(free) >= 4  # a few passes x two UHF antennas
    for p in offered:
        assert p["max_elevation_deg"] >= 10
        assert p["duration_s"] >= 300
        assert _at(p["aos"]) - timedelta(seconds=2400) > NOW
    for p, antenna_id in free:
        booked = _reserve(world, p, antenna_id, "strict")
        assert booked.status_code == 201, (p, antenna_id, booked.text)
    # The plain windows hold ones the profile refuses: what /passes?profile= left out.
    refused = [
        p
        for p in plain.json()["data"]
        if p["max_elevation_deg"] < 10 or _at(p["aos"]) - timedelta(seconds=2400) <= NOW
    ]
    assert len(refused) >= 2
    for p in refused:
        assert p["aos"] not in {o["aos"] for o in offered}
        assert _reserve(world, p, "sv-uhf-2", "strict").status_code == 422


def test_a_booked_window_shows_busy_under_the_profile_with_its_pre_pass(world: World) -> None:
    """The booked window (pre-pass, setup) decides: a contact booked right
    before a pass holds it under a profile with a long pre-pass."""
    r = _passes(world, profile="leo")
    first = next(p for p in r.json()["data"] if p["duration_s"] >= 300)
    assert _reserve(world, first, "sv-uhf", "leo").status_code == 201
    again = _passes(world, profile="leo")
    same = next(p for p in again.json()["data"] if p["aos"] == first["aos"])
    slots = {a["antenna_id"]: a for a in same["antennas"]}
    assert not slots["sv-uhf"]["free"]
    assert slots["sv-uhf"]["blocked_by"].startswith("contact ")
    assert slots["sv-uhf-2"]["free"]


def test_an_antenna_whose_bands_miss_the_downlink_is_not_offered(world: World) -> None:
    plain = _passes(world)
    assert all("sv-s" in {a["antenna_id"] for a in p["antennas"]} for p in plain.json()["data"])
    r = _passes(world, profile="leo")
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0
    for p in r.json()["data"]:
        assert {a["antenna_id"] for a in p["antennas"]} == {"sv-uhf", "sv-uhf-2"}
    p = r.json()["data"][0]
    refused = _reserve(world, p, "sv-s", "leo")
    assert refused.status_code == 422
    assert "outside the bands of antenna sv-s" in refused.json()["detail"]


def test_unknown_or_another_tenants_profile_is_404_naming_it(world: World) -> None:
    with world.session() as session:
        inventory.add_profile(session, profile_id="globex-only", owner_tenant="globex")
    for profile in ("nope", "globex-only"):
        r = _passes(world, profile=profile)
        assert r.status_code == 404, r.text
        assert repr(profile) in r.json()["detail"] or profile in r.json()["detail"]
    assert _passes(world, who="admin", profile="globex-only").status_code == 404
