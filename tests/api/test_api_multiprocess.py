"""Several API processes on one database: two apps made by ``create_app`` on
the same database hold no state in common but the database, as two uvicorn
workers (or ``serve`` and an extra worker) do."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from groundstation.models import Contact, PlanProposal
from groundstation.settings import Settings

from .conftest import NOAA18, NOAA19, NOW, World


@pytest.fixture
def other(world: World, settings: Settings) -> Iterator[TestClient]:
    """A second app on the database of ``world`` (another process's worth of state)."""
    app = create_app(settings, migrate=False)
    with TestClient(app) as client:
        yield client
    app.state.ctx.engine.dispose()


def _plan_body(antenna_ids: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "profile_id": "leo",
        "requests": [
            {
                "norad_id": norad,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=8)).isoformat(),
                "max_passes": 2,
            }
            for norad in (NOAA19, NOAA18)
        ],
    }
    if antenna_ids is not None:
        body["antenna_ids"] = antenna_ids
    return body


def _propose(world: World, who: str = "acme") -> dict[str, Any]:
    r = world.client.post("/plans", json=_plan_body(), headers=world.as_(who))
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    assert len(plan["proposed"]) >= 2
    return plan


def test_plan_proposed_through_one_app_is_committed_through_another(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert r.json()["plan_id"] == plan["id"]
    got = sorted((c["antenna_id"], c["norad_id"]) for c in r.json()["booked"])
    want = sorted((p["antenna_id"], p["norad_id"]) for p in plan["proposed"])
    assert got == want
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "committed"
        assert sorted(row.committed_contact_ids or []) == sorted(
            c["id"] for c in r.json()["booked"]
        )
        tenants = set(s.scalars(select(Contact.tenant)))
    assert tenants == {"acme"}
    # Committing again, through either app, is refused and books nothing more.
    for client in (world.client, other):
        again = client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
        assert again.status_code == 409 and "committed already" in again.json()["detail"]
    page = other.get("/contacts", params={"state": "SCHEDULED"}, headers=world.as_("acme"))
    assert page.json()["count"] == len(plan["proposed"])


def test_plan_of_one_tenant_is_not_found_for_another_through_any_app(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    for who in ("globex", "admin"):
        r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_(who))
        assert r.status_code == 404 and plan["id"] in r.json()["detail"]
    assert other.get("/contacts", headers=world.as_("admin")).json()["count"] == 0


def test_expired_plan_is_not_found_and_books_nothing(world: World, other: TestClient) -> None:
    plan = _propose(world)
    with world.session() as s:
        s.execute(
            update(PlanProposal)
            .where(PlanProposal.id == plan["id"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=1, minutes=1))
        )
        s.commit()
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 404
    assert other.get("/contacts", headers=world.as_("acme")).json()["count"] == 0
    # The next proposal, through the other app, drops the expired one.
    r = other.post("/plans", json=_plan_body(), headers=world.as_("acme"))
    assert r.status_code == 201
    with world.session() as s:
        assert s.get(PlanProposal, plan["id"]) is None
        assert s.get(PlanProposal, r.json()["id"]) is not None


def test_refused_commit_leaves_the_plan_committable_again(world: World, other: TestClient) -> None:
    plan = _propose(world)
    last = plan["proposed"][-1]
    # Another booking takes the last window (through the other app).
    r = other.post(
        "/contacts",
        json={
            "norad_id": last["norad_id"],
            "antenna_id": last["antenna_id"],
            "profile_id": "leo",
            "start": last["aos"],
            "end": last["los"],
        },
        headers=world.as_("admin"),
    )
    assert r.status_code == 201, r.text
    blocker = r.json()["id"]
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 409 and "nothing was booked" in r.json()["detail"]
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "proposed" and row.committed_contact_ids is None
    assert (
        world.client.post(f"/contacts/{blocker}/cancel", headers=world.as_("admin")).status_code
        == 200
    )
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert len(r.json()["booked"]) == len(plan["proposed"])


def test_concurrent_commits_of_one_plan_through_two_apps_book_it_once(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    clients = [world.client, other] * 3
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)

    def commit(i: int) -> None:
        barrier.wait()
        results[i] = clients[i].post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * (len(clients) - 1), [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert plan["id"] in r.json()["detail"]
    with world.session() as s:
        contacts = list(s.scalars(select(Contact)))
    assert len(contacts) == len(plan["proposed"])
    assert all(c.state == "SCHEDULED" for c in contacts)
