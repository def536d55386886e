"""Proposed plans kept in the database until committed (``POST /plans`` then
``POST /plans/{id}/commit``), so any API process sharing the database can
commit a plan another one proposed.

A proposal expires ``PLAN_TTL`` after it was made (wall-clock time: it is a
computation result, not state of record).

Committing is all or none, across crashes too: every window is first checked
against the rules that need no lock and its pass re-predicted
(``booking.prepare_reservation``, outside any write transaction); then ONE
database transaction claims the plan (conditional UPDATE ``proposed`` ->
``committed``), inserts every contact (``booking.stage_reservation``, the
database refusing overlaps window by window) and records their ids on the
plan. A refusal rolls it all back; so does a process killed half way (the
database never commits a transaction its client did not finish), leaving
the plan ``proposed`` for a retry. Of concurrent commits, from any processes,
exactly one books; the others get ``PlanCommittedError`` naming the contacts
booked. Contact events are published after the commit, for what it booked.
The ``committing`` state is only ever seen in rows left by a version that
booked window by window; such a plan can be committed again, its contacts
booked before the crash taking part (same idempotency key per window).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from groundstation import booking
from groundstation.clock import require_utc
from groundstation.db import retry_transient
from groundstation.errors import (
    BookingRefusedError,
    NotFoundError,
    PlanCommitRefusedError,
    PlanCommittedError,
    ValidationError,
)
from groundstation.events import ContactEvent, EventSink, publish_committed
from groundstation.inventory import get_satellite
from groundstation.models import Contact, PlanProposal, Satellite
from groundstation.policy import BookingPolicy
from groundstation.states import ACTIVE_STATE_VALUES

PLAN_TTL = timedelta(hours=1)
log = logging.getLogger(__name__)

#: Called with (windows staged so far, windows of the plan) during a commit.
StagedHook = Callable[[int, int], None]


def commit_pause_hook(*, after: int, pause_s: float) -> StagedHook | None:
    """TEST ONLY (``Settings.test_plan_commit_pause_after``): a hook that logs
    a line and sleeps ``pause_s`` once ``after`` windows are staged, so a test
    can kill the process in the middle of a commit. None when ``after`` is 0."""
    if after <= 0:
        return None

    def pause(staged: int, total: int) -> None:
        if staged == after:
            log.warning("TEST HOOK: plan commit paused after %d of %d windows", staged, total)
            time.sleep(pause_s)

    return pause


@dataclass(frozen=True)
class ProposedContact:
    """One window of a proposal: the visibility window AOS..LOS on an antenna."""

    norad_id: int
    antenna_id: str
    aos: datetime
    los: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "norad_id": self.norad_id,
            "antenna_id": self.antenna_id,
            "aos": self.aos.isoformat(),
            "los": self.los.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ProposedContact:
        return cls(
            norad_id=int(str(data["norad_id"])),
            antenna_id=str(data["antenna_id"]),
            aos=datetime.fromisoformat(str(data["aos"])),
            los=datetime.fromisoformat(str(data["los"])),
        )


def save_proposal(
    session: Session,
    *,
    plan_id: str,
    profile_id: str,
    contacts: Sequence[ProposedContact],
    tenants: Sequence[str] | None,
    owner_tenant: str,
    now_real: datetime,
) -> None:
    """Store a proposal (and drop the expired ones) in one transaction."""
    now_real = require_utc(now_real, "now_real")
    session.execute(
        delete(PlanProposal)
        .where(PlanProposal.created_at < now_real - PLAN_TTL)
        .execution_options(synchronize_session=False)
    )
    session.add(
        PlanProposal(
            id=plan_id,
            profile_id=profile_id,
            owner_tenant=owner_tenant,
            tenants=None if tenants is None else list(tenants),
            contacts=[c.to_json() for c in contacts],
            created_at=now_real,
            state="proposed",
        )
    )
    session.commit()


def _visible_proposal(
    session: Session, plan_id: str, tenants: Sequence[str] | None, now_real: datetime
) -> PlanProposal:
    plan = session.get(PlanProposal, plan_id, populate_existing=True)
    if (
        plan is None
        or now_real - plan.created_at > PLAN_TTL
        or (None if plan.tenants is None else tuple(plan.tenants))
        != (None if tenants is None else tuple(tenants))
    ):
        session.rollback()
        raise NotFoundError("plan", plan_id)
    return plan


@dataclass(frozen=True)
class PlanView:
    """A stored plan as read back: its proposal, its state, and once
    committed the ids of the contacts its commit booked."""

    plan_id: str
    profile_id: str
    state: str
    created_at: datetime
    expires_at: datetime
    proposed: list[ProposedContact]
    committed_at: datetime | None
    contact_ids: list[str]


def read_proposal(
    session: Session, *, plan_id: str, tenants: Sequence[str] | None, now_real: datetime
) -> PlanView:
    """Plan ``plan_id`` for a key of ``tenants``: visible as for committing
    (the proposing key's tenants, not expired; else ``NotFoundError``).
    Ends its read transaction."""
    now_real = require_utc(now_real, "now_real")
    plan = _visible_proposal(session, plan_id, tenants, now_real)
    view = PlanView(
        plan_id=plan.id,
        profile_id=plan.profile_id,
        state=plan.state,
        created_at=plan.created_at,
        expires_at=plan.created_at + PLAN_TTL,
        proposed=sorted(
            (ProposedContact.from_json(c) for c in plan.contacts),
            key=lambda c: (c.aos, c.antenna_id),
        ),
        committed_at=plan.committed_at,
        contact_ids=[str(i) for i in plan.committed_contact_ids or []],
    )
    session.rollback()
    return view


def commit_proposal(
    session: Session,
    *,
    plan_id: str,
    tenants: Sequence[str] | None,
    booking_tenant: str | None,
    now: datetime,
    now_real: datetime,
    policy: BookingPolicy | None = None,
    events: EventSink | None = None,
    on_staged: StagedHook | None = None,
) -> list[Contact]:
    """Book every window of proposal ``plan_id``, or none.

    ``tenants`` must be those of the key that proposed it (else, or when it
    expired, ``NotFoundError``); the contacts are booked for
    ``booking_tenant``, or each satellite's tenant when None (an admin key).
    Raises ``PlanCommittedError`` (with the contacts booked) if it was
    committed already, ``PlanCommitRefusedError`` if a window is not
    available any more. ``on_staged(k, n)`` is called inside the transaction
    after each window (a test hook: see ``commit_pause_hook``).
    """
    now = require_utc(now, "now")
    now_real = require_utc(now_real, "now_real")
    plan = _visible_proposal(session, plan_id, tenants, now_real)
    profile_id, state = plan.profile_id, plan.state
    proposed = sorted((ProposedContact.from_json(c) for c in plan.contacts), key=lambda c: c.aos)
    session.rollback()
    if state == "committed":
        raise _committed_already(session, plan_id)
    cap = (policy or BookingPolicy()).max_plan_contacts
    if len(proposed) > cap:  # proposed before GS_MAX_PLAN_CONTACTS was lowered
        raise ValidationError(
            f"plan {plan_id} holds {len(proposed)} contacts; at most {cap} "
            "(GS_MAX_PLAN_CONTACTS) are booked by one commit: propose the schedule "
            "again in parts"
        )
    prepared = _prepare_all(
        session,
        plan_id=plan_id,
        profile_id=profile_id,
        proposed=proposed,
        booking_tenant=booking_tenant,
        now=now,
        policy=policy,
    )
    # One write transaction; PostgreSQL may abort it to break a deadlock
    # between overlap checks: it runs again.
    staged = retry_transient(
        session,
        lambda: _book_all(
            session,
            plan_id=plan_id,
            proposed=proposed,
            prepared=prepared,
            now=now,
            now_real=now_real,
            on_staged=on_staged,
        ),
    )
    publish_committed(events, (event for _, event in staged))
    return [contact for contact, _ in staged]


def _prepare_all(
    session: Session,
    *,
    plan_id: str,
    profile_id: str,
    proposed: Sequence[ProposedContact],
    booking_tenant: str | None,
    now: datetime,
    policy: BookingPolicy | None,
) -> list[booking.PreparedReservation]:
    """Every window checked against the rules that need no write lock, and
    its pass re-predicted (outside any write transaction)."""
    satellites: dict[int, Satellite] = {}
    prepared = []
    for p in proposed:
        try:
            if p.norad_id not in satellites:
                satellites[p.norad_id] = get_satellite(session, norad_id=p.norad_id)
            satellite = satellites[p.norad_id]
            prepared.append(
                booking.prepare_reservation(
                    session,
                    norad_id=p.norad_id,
                    antenna_id=p.antenna_id,
                    profile_id=profile_id,
                    start=p.aos,
                    end=p.los,
                    tenant=booking_tenant if booking_tenant is not None else satellite.tenant,
                    now=now,
                    idempotency_key=f"plan:{plan_id}:{p.antenna_id}:{p.aos.isoformat()}",
                    policy=policy,
                    satellite=satellite,
                )
            )
        except BookingRefusedError as exc:
            session.rollback()
            raise _refused(plan_id, p, exc) from exc
        except BaseException:
            session.rollback()
            raise
    return prepared


def _book_all(
    session: Session,
    *,
    plan_id: str,
    proposed: Sequence[ProposedContact],
    prepared: Sequence[booking.PreparedReservation],
    now: datetime,
    now_real: datetime,
    on_staged: StagedHook | None,
) -> list[tuple[Contact, ContactEvent | None]]:
    """One write transaction: claim the plan, insert every contact, record
    them on the plan, commit. Any refusal (or a crash) leaves nothing of it:
    the caller (``retry_transient``) rolls back on any error."""
    _claim(session, plan_id, now_real)
    staged: list[tuple[Contact, ContactEvent | None]] = []
    for k, (p, prep) in enumerate(zip(proposed, prepared, strict=True), start=1):
        staged.append(_stage_window(session, plan_id, p, prep, now))
        if on_staged is not None:
            on_staged(k, len(prepared))
    session.execute(
        update(PlanProposal)
        .where(PlanProposal.id == plan_id)
        .values(committed_contact_ids=[c.id for c, _ in staged])
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return staged


def _claim(session: Session, plan_id: str, now_real: datetime) -> None:
    """Mark the plan committed (a conditional UPDATE): on PostgreSQL a
    concurrent commit of the same plan waits on the row and then finds it
    committed; on SQLite write transactions are serialized (``BEGIN
    IMMEDIATE``). ``PlanCommittedError`` when it is not ``proposed`` any more."""
    claimed = session.execute(
        update(PlanProposal)
        .where(
            PlanProposal.id == plan_id,
            # "committing": left by a version that booked window by window.
            PlanProposal.state.in_(("proposed", "committing")),
        )
        .values(state="committed", committed_at=now_real)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise _committed_already(session, plan_id)


def _stage_window(
    session: Session,
    plan_id: str,
    p: ProposedContact,
    prep: booking.PreparedReservation,
    now: datetime,
) -> tuple[Contact, ContactEvent | None]:
    """Insert one window's contact and flush it (the database's overlap
    check, window by window); ``PlanCommitRefusedError`` naming the window
    when a rule or the database refuses it. A contact a previous version
    left for this window is taken as it is (no event)."""
    leftover = _leftover(session, prep)
    if leftover is not None:
        return leftover, None
    try:
        contact, event = booking.stage_reservation(session, prep, now=now)
    except BookingRefusedError as exc:
        session.rollback()
        raise _refused(plan_id, p, exc) from exc
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        refusal = booking.overlap_refusal(session, exc, contact)
        if refusal is None:
            raise
        raise _refused(plan_id, p, refusal) from exc
    return contact, event


def _leftover(session: Session, prep: booking.PreparedReservation) -> Contact | None:
    """A contact of this window left by a version that committed plans
    window by window (same tenant and idempotency key): an active one is
    part of this commit; a cancelled one gives up its key to the new booking."""
    contact = session.scalar(
        select(Contact).where(
            Contact.tenant == prep.tenant, Contact.idempotency_key == prep.idempotency_key
        )
    )
    if contact is None:
        return None
    if contact.state in ACTIVE_STATE_VALUES:
        return contact
    contact.idempotency_key = None
    session.flush()
    return None


def _refused(plan_id: str, p: ProposedContact, exc: BookingRefusedError) -> PlanCommitRefusedError:
    return PlanCommitRefusedError(
        f"plan {plan_id}: NORAD {p.norad_id} on {p.antenna_id} at "
        f"{p.aos.isoformat()} is not available any more ({exc}); nothing was booked",
        rule=exc.rule,
    )


def _committed_already(session: Session, plan_id: str) -> PlanCommittedError | NotFoundError:
    """The answer to committing a plan that is not ``proposed`` any more:
    which contacts its commit booked."""
    row = session.execute(
        select(PlanProposal.state, PlanProposal.committed_contact_ids).where(
            PlanProposal.id == plan_id
        )
    ).first()
    session.rollback()
    if row is None:  # expired and dropped meanwhile
        return NotFoundError("plan", plan_id)
    ids = [str(i) for i in row.committed_contact_ids or []]
    return PlanCommittedError(
        f"plan {plan_id} was committed already: {len(ids)} contacts booked "
        "(their ids in booked_contact_ids); nothing more was booked",
        contact_ids=ids,
    )
