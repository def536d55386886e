"""``GET /plans/{id}``: a plan read back with its proposal and, once
committed, what its commit booked (issue 15)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .conftest import World
from .helpers import plan_body


def _propose(world: World, who: str = "acme") -> dict[str, Any]:
    r = world.client.post("/plans", json=plan_body(hours=8, max_passes=2), headers=world.as_(who))
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    assert plan["proposed"]
    return plan


def _windows(rows: list[dict[str, Any]]) -> list[tuple[int, str, datetime, datetime]]:
    return sorted(
        (
            r["norad_id"],
            r["antenna_id"],
            datetime.fromisoformat(r["aos"]),
            datetime.fromisoformat(r["los"]),
        )
        for r in rows
    )


def test_a_plan_reads_back_its_proposal_then_what_its_commit_booked(world: World) -> None:
    h = world.as_("acme")
    plan = _propose(world)
    r = world.client.get(f"/plans/{plan['id']}", headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["id"], got["profile_id"], got["state"]) == (plan["id"], "leo", "proposed")
    assert _windows(got["proposed"]) == _windows(plan["proposed"])
    assert got["booked"] == [] and got["committed_at"] is None
    created = datetime.fromisoformat(got["created_at"])
    assert datetime.fromisoformat(got["expires_at"]) - created == timedelta(hours=1)

    committed = world.client.post(f"/plans/{plan['id']}/commit", headers=h)
    assert committed.status_code == 200, committed.text
    booked_ids = {c["id"] for c in committed.json()["booked"]}
    cancelled = sorted(booked_ids)[0]
    r = world.client.post(f"/contacts/{cancelled}/cancel", headers=h)
    assert r.status_code == 200, r.text

    got = world.client.get(f"/plans/{plan['id']}", headers=h).json()
    assert got["state"] == "committed" and got["committed_at"] is not None
    assert _windows(got["proposed"]) == _windows(plan["proposed"])
    assert {c["id"] for c in got["booked"]} == booked_ids
    states = {c["id"]: c["state"] for c in got["booked"]}
    assert states[cancelled] == "CANCELLED"
    assert {s for i, s in states.items() if i != cancelled} <= {"SCHEDULED"}


def test_another_tenants_or_an_unknown_plan_is_404(world: World) -> None:
    plan = _propose(world)
    for who in ("globex", "admin", "scientist"):
        r = world.client.get(f"/plans/{plan['id']}", headers=world.as_(who))
        assert r.status_code in (403, 404), (who, r.text)
        if who != "scientist":
            assert r.status_code == 404 and plan["id"] in r.json()["detail"]
    r = world.client.get("/plans/no-such-plan", headers=world.as_("acme"))
    assert r.status_code == 404 and "no-such-plan" in r.json()["detail"]
    admin_plan = _propose(world, who="admin")
    assert (
        world.client.get(f"/plans/{admin_plan['id']}", headers=world.as_("acme")).status_code == 404
    )
    assert (
        world.client.get(f"/plans/{admin_plan['id']}", headers=world.as_("admin")).status_code
        == 200
    )
