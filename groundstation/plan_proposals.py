"""Proposed plans kept in the database until committed (``POST /plans`` then
``POST /plans/{id}/commit``), so any API process sharing the database can
commit a plan another one proposed.

A proposal expires ``PLAN_TTL`` after it was made (wall-clock time: it is a
computation result, not state of record). Committing first claims the row
with a conditional UPDATE (``state = 'proposed'`` -> ``'committing'``), so of
two concurrent commits, from any processes, exactly one books; the other is
refused with ``PlanCommittedError``. Each booking goes through ``reserve``
(every rule re-checked, idempotency key per proposed window); if one is
refused, those already booked by this commit are cancelled again and the
plan goes back to ``proposed``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from groundstation import booking
from groundstation.clock import require_utc
from groundstation.errors import (
    BookingRefusedError,
    CancelRefusedError,
    NotFoundError,
    PlanCommitRefusedError,
    PlanCommittedError,
)
from groundstation.events import EventSink
from groundstation.inventory import get_satellite
from groundstation.models import Contact, PlanProposal

PLAN_TTL = timedelta(hours=1)


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


def commit_proposal(
    session: Session,
    *,
    plan_id: str,
    tenants: Sequence[str] | None,
    booking_tenant: str | None,
    now: datetime,
    now_real: datetime,
    policy: booking.BookingPolicy | None = None,
    events: EventSink | None = None,
) -> list[Contact]:
    """Book every window of proposal ``plan_id``, or none.

    ``tenants`` must be those of the key that proposed it (else, or when it
    expired, ``NotFoundError``); the contacts are booked for
    ``booking_tenant``, or each satellite's tenant when None (an admin key).
    Raises ``PlanCommittedError`` if it was committed (or is being committed)
    already, ``PlanCommitRefusedError`` if a window is not available any more.
    """
    now = require_utc(now, "now")
    now_real = require_utc(now_real, "now_real")
    plan = _visible_proposal(session, plan_id, tenants, now_real)
    profile_id = plan.profile_id
    proposed = sorted((ProposedContact.from_json(c) for c in plan.contacts), key=lambda c: c.aos)
    session.rollback()
    claimed = session.execute(
        update(PlanProposal)
        .where(PlanProposal.id == plan_id, PlanProposal.state == "proposed")
        .values(state="committing")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        state = session.scalar(select(PlanProposal.state).where(PlanProposal.id == plan_id))
        session.rollback()
        if state == "committing":
            raise PlanCommittedError(
                f"plan {plan_id} is being committed by another request; nothing more was booked"
            )
        raise PlanCommittedError(f"plan {plan_id} was committed already")
    booked: list[Contact] = []
    try:
        for p in proposed:
            tenant = booking_tenant
            if tenant is None:
                tenant = get_satellite(session, norad_id=p.norad_id).tenant
                session.rollback()
            try:
                booked.append(
                    booking.reserve(
                        session,
                        norad_id=p.norad_id,
                        antenna_id=p.antenna_id,
                        profile_id=profile_id,
                        start=p.aos,
                        end=p.los,
                        tenant=tenant,
                        now=now,
                        idempotency_key=f"plan:{plan_id}:{p.antenna_id}:{p.aos.isoformat()}",
                        policy=policy,
                        events=events,
                    )
                )
            except BookingRefusedError as exc:
                for contact in booked:
                    with contextlib.suppress(CancelRefusedError):
                        booking.cancel(
                            session,
                            contact_id=contact.id,
                            now=now,
                            reason=f"plan {plan_id} commit rolled back: {exc}",
                            events=events,
                        )
                raise PlanCommitRefusedError(
                    f"plan {plan_id}: NORAD {p.norad_id} on {p.antenna_id} at "
                    f"{p.aos.isoformat()} is not available any more ({exc}); nothing was booked",
                    rule=exc.rule,
                ) from exc
    except BaseException:
        session.rollback()
        session.execute(
            update(PlanProposal)
            .where(PlanProposal.id == plan_id, PlanProposal.state == "committing")
            .values(state="proposed")
            .execution_options(synchronize_session=False)
        )
        session.commit()
        raise
    session.execute(
        update(PlanProposal)
        .where(PlanProposal.id == plan_id)
        .values(
            state="committed",
            committed_contact_ids=[c.id for c in booked],
            committed_at=now_real,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return booked
