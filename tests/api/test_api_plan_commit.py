"""Plan commit is all or none: one transaction books every window, so a
refusal, or a failure half way, leaves nothing of the plan (no contact row,
no contact event), and the plan can be committed again. (The process killed
half way is tests/e2e/test_e2e_plan_commit_kill.py.)"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select

from groundstation import plan_proposals
from groundstation.errors import PlanCommitRefusedError
from groundstation.events import ContactEvent, ResourceEvent
from groundstation.models import Contact, ContactTransition, PlanProposal

from .conftest import NOW, World
from .helpers import plan_body


class Recorder:
    def __init__(self) -> None:
        self.events: list[ContactEvent] = []

    def publish(self, event: ContactEvent | ResourceEvent) -> None:
        if isinstance(event, ContactEvent):
            self.events.append(event)


class Crash(Exception):
    """Stands for the process dying inside the commit."""


def _propose(world: World, antenna_ids: list[str] | None = None) -> dict[str, Any]:
    body = plan_body(hours=12, max_passes=3, antenna_ids=antenna_ids)
    r = world.client.post("/plans", json=body, headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    assert len(plan["proposed"]) >= 3
    return plan


def _counts(world: World) -> tuple[int, int]:
    with world.session() as s:
        contacts = s.scalar(select(func.count()).select_from(Contact)) or 0
        # A contact's history rows (not the seed's ephemeris resource events).
        transitions = (
            s.scalar(
                select(func.count())
                .select_from(ContactTransition)
                .where(ContactTransition.contact_id.is_not(None))
            )
            or 0
        )
    return contacts, transitions


def _commit(world: World, plan_id: str, **kwargs: Any) -> list[Contact]:
    with world.session() as s:
        return plan_proposals.commit_proposal(
            s,
            plan_id=plan_id,
            tenants=["acme"],
            booking_tenant="acme",
            now=NOW,
            now_real=datetime.now(UTC),
            **kwargs,
        )


def test_a_commit_failing_half_way_leaves_no_contact_no_event_and_can_be_retried(
    world: World,
) -> None:
    plan = _propose(world)
    n = len(plan["proposed"])
    recorder = Recorder()

    def crash_after_two(staged: int, total: int) -> None:
        assert total == n
        if staged == 2:
            raise Crash

    with pytest.raises(Crash):
        _commit(world, plan["id"], events=recorder, on_staged=crash_after_two)
    assert _counts(world) == (0, 0)
    assert recorder.events == []
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "proposed" and row.committed_contact_ids is None

    booked = _commit(world, plan["id"], events=recorder)
    assert len(booked) == n
    assert _counts(world) == (n, n)
    assert sorted(e.contact_id for e in recorder.events) == sorted(c.id for c in booked)
    assert {(e.old_state, e.new_state) for e in recorder.events} == {("AVAILABLE", "SCHEDULED")}


def test_a_refused_commit_writes_nothing_at_all(world: World) -> None:
    plan = _propose(world, antenna_ids=["sv-uhf"])
    last = plan["proposed"][-1]
    r = world.client.post(
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
    before = _counts(world)
    recorder = Recorder()
    with pytest.raises(PlanCommitRefusedError) as refused:
        _commit(world, plan["id"], events=recorder)
    assert refused.value.rule == "no-overlap"
    assert "nothing was booked" in str(refused.value) and last["antenna_id"] in str(refused.value)
    # No contact was booked and cancelled again: no rows, no events.
    assert _counts(world) == before
    assert recorder.events == []
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 409 and r.json()["type"].endswith("/no-overlap")
    assert _counts(world) == before


def test_committing_a_committed_plan_answers_409_with_exactly_the_contacts_booked(
    world: World,
) -> None:
    plan = _propose(world)
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    booked = sorted(c["id"] for c in r.json()["booked"])
    again = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert again.status_code == 409
    body = again.json()
    assert sorted(body["booked_contact_ids"]) == booked
    assert f"{len(booked)} contacts booked" in body["detail"]
    assert _counts(world) == (len(booked), len(booked))


def test_a_plan_left_committing_by_a_window_by_window_commit_is_finished_by_a_retry(
    world: World,
) -> None:
    """What the earlier commit left after a crash (the plan `committing`, its
    first windows booked, one more booked and cancelled again): a retry books
    the rest, and the contacts booked before are part of the plan."""
    from groundstation import booking

    plan = _propose(world)
    n = len(plan["proposed"])
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None
        windows = sorted(
            (plan_proposals.ProposedContact.from_json(c) for c in row.contacts),
            key=lambda c: c.aos,
        )
        s.rollback()
        left = []
        for p in windows[:3]:
            left.append(
                booking.reserve(
                    s,
                    norad_id=p.norad_id,
                    antenna_id=p.antenna_id,
                    profile_id="leo",
                    start=p.aos,
                    end=p.los,
                    tenant="acme",
                    now=NOW,
                    idempotency_key=f"plan:{plan['id']}:{p.antenna_id}:{p.aos.isoformat()}",
                ).id
            )
        booking.cancel(s, contact_id=left[2], now=NOW, reason="rolled back")
        s.execute(
            # a declarative class's __table__ is its Table; SQLAlchemy types it
            # as any FromClause
            cast(Table, PlanProposal.__table__)
            .update()
            .where(PlanProposal.id == plan["id"])
            .values(state="committing")
        )
        s.commit()
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    booked = {c["id"] for c in r.json()["booked"]}
    assert len(booked) == n and set(left[:2]) <= booked and left[2] not in booked
    with world.session() as s:
        active = s.scalar(
            select(func.count()).select_from(Contact).where(Contact.state == "SCHEDULED")
        )
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "committed"
    assert active == n


def _cap_plans_at(world: World, contacts: int) -> None:
    ctx = world.app.state.ctx
    ctx.policy = dataclasses.replace(ctx.policy, max_plan_contacts=contacts)


def test_a_plan_choosing_more_contacts_than_the_cap_is_refused_naming_both(
    world: World,
) -> None:
    plan = _propose(world)  # under the default cap
    n = len(plan["proposed"])
    _cap_plans_at(world, n - 1)
    body = plan_body(hours=12, max_passes=3)
    r = world.client.post("/plans", json=body, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert f"the plan chooses {n} contacts; at most {n - 1} (GS_MAX_PLAN_CONTACTS)" in r.text
    with world.session() as s:
        assert s.scalar(select(func.count()).select_from(PlanProposal)) == 1  # the first one
    assert _counts(world) == (0, 0)


def test_a_proposal_over_a_lowered_cap_is_refused_at_commit_and_books_nothing(
    world: World,
) -> None:
    plan = _propose(world)
    n = len(plan["proposed"])
    _cap_plans_at(world, n - 1)
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert f"holds {n} contacts; at most {n - 1} (GS_MAX_PLAN_CONTACTS)" in r.text
    assert _counts(world) == (0, 0)
    _cap_plans_at(world, n)
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert len(r.json()["booked"]) == n
