"""Live figures of a running pass, kept in the database (``contact_progress``).

The executor working a pass (``DownlinkExecutor`` in-process, ``AgentExecutor``
for a station agent's) reports what it has so far through a
``ProgressReporter``: frames decoded, Es/N0, Doppler, elapsed time. The
reporter writes one row per contact at most every ``interval_s`` wall seconds
(the pass never waits on it: a failed write is logged and the pass goes on)
and a last one marked ``final`` when the pass ends, so any API process
sharing the database serves the same figures (``GET
/contacts/{id}/progress``, and ``progress`` events on ``GET /contacts/events``
while the contact is in PASS or POSTPASS: ``streamed_progress``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import Clock
from groundstation.errors import NotFoundError
from groundstation.models import Contact, ContactProgress
from groundstation.states import ContactState

log = logging.getLogger(__name__)

#: Wall seconds between two writes of a pass's progress.
DEFAULT_INTERVAL_S = 1.0


@dataclass(frozen=True)
class PassProgress:
    """What a pass has so far (``frames_sent`` only where the sender is
    known: a simulated pass; ``esn0_db``/``doppler_hz`` None when not
    measured yet)."""

    contact_id: str
    updated_at: datetime
    elapsed_s: float
    duration_s: float
    frames_decoded: int
    frames_sent: int | None
    esn0_db: float | None
    doppler_hz: float | None
    simulated: bool
    executed_by: str
    final: bool

    @property
    def remaining_s(self) -> float:
        return max(self.duration_s - self.elapsed_s, 0.0)

    @property
    def fraction(self) -> float:
        """Share of the pass (AOS to LOS) elapsed, 0..1."""
        if self.duration_s <= 0:
            return 1.0 if self.final else 0.0
        return min(max(self.elapsed_s / self.duration_s, 0.0), 1.0)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def write_progress(session: Session, progress: PassProgress) -> None:
    """Store ``progress`` as the contact's one row (replacing the last)."""
    session.merge(
        ContactProgress(
            contact_id=progress.contact_id,
            updated_at=progress.updated_at,
            elapsed_s=progress.elapsed_s,
            duration_s=progress.duration_s,
            frames_decoded=progress.frames_decoded,
            frames_sent=progress.frames_sent,
            esn0_db=_finite(progress.esn0_db),
            doppler_hz=_finite(progress.doppler_hz),
            simulated=progress.simulated,
            executed_by=progress.executed_by,
            final=progress.final,
        )
    )


def read_progress(session: Session, *, contact_id: str) -> PassProgress | None:
    """The last progress stored for ``contact_id``, or None (its pass has not started)."""
    row = session.get(ContactProgress, contact_id)
    if row is None:
        return None
    return _from_row(row)


def _from_row(row: ContactProgress) -> PassProgress:
    return PassProgress(
        contact_id=row.contact_id,
        updated_at=row.updated_at,
        elapsed_s=row.elapsed_s,
        duration_s=row.duration_s,
        frames_decoded=row.frames_decoded,
        frames_sent=row.frames_sent,
        esn0_db=row.esn0_db,
        doppler_hz=row.doppler_hz,
        simulated=row.simulated,
        executed_by=row.executed_by,
        final=row.final,
    )


class ProgressReporter:
    """Writes one pass's progress at most every ``interval_s`` wall seconds
    (``due`` says when the next may be written; ``report(final=True)`` is
    always written). Never raises: the pass matters more than its figures."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock,
        contact_id: str,
        duration_s: float,
        simulated: bool,
        executed_by: str,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.contact_id = contact_id
        self.duration_s = duration_s
        self.simulated = simulated
        self.executed_by = executed_by
        self.interval_s = interval_s
        self._last_write = -math.inf

    def due(self) -> bool:
        return time.monotonic() - self._last_write >= self.interval_s

    def report(
        self,
        *,
        elapsed_s: float,
        frames_decoded: int,
        frames_sent: int | None = None,
        esn0_db: float | None = None,
        doppler_hz: float | None = None,
        final: bool = False,
    ) -> None:
        self._last_write = time.monotonic()
        progress = PassProgress(
            contact_id=self.contact_id,
            updated_at=self.clock.now(),
            elapsed_s=min(max(elapsed_s, 0.0), self.duration_s),
            duration_s=self.duration_s,
            frames_decoded=frames_decoded,
            frames_sent=frames_sent,
            esn0_db=esn0_db,
            doppler_hz=doppler_hz,
            simulated=self.simulated,
            executed_by=self.executed_by,
            final=final,
        )
        try:
            with self.session_factory() as session:
                write_progress(session, progress)
                session.commit()
        except Exception:
            log.exception("progress of contact %s not stored", self.contact_id)


#: ``status`` of a contact's progress: no figure yet (its pass has not
#: started, or it ended before), the pass is running, the pass has ended
#: (the figures are its last ones).
NOT_STARTED, RUNNING, FINAL = "not_started", "running", "final"


@dataclass(frozen=True)
class ContactProgressView:
    """A contact's state and its pass's figures as an API reader sees them."""

    contact_id: str
    state: str
    status: str
    progress: PassProgress | None


def contact_progress(
    session: Session, *, contact_id: str, tenants: Sequence[str] | None = None
) -> ContactProgressView:
    """The progress of ``contact_id``'s pass (``NotFoundError`` for an
    unknown contact or another tenant's). Figures left behind by a pass
    that ended without its last write (the service stopped) are final once
    the contact has left PASS."""
    row = session.execute(
        select(Contact.state, Contact.tenant).where(Contact.id == contact_id)
    ).first()
    if row is None or (tenants is not None and row.tenant not in tenants):
        session.rollback()
        raise NotFoundError("contact", contact_id)
    progress = read_progress(session, contact_id=contact_id)
    session.rollback()
    return ContactProgressView(contact_id, row.state, _status(progress, row.state), progress)


def _status(progress: PassProgress | None, state: str) -> str:
    if progress is None:
        return NOT_STARTED
    if progress.final or state != ContactState.PASS.value:
        return FINAL
    return RUNNING


#: States in which a contact's figures are streamed (GET /contacts/events).
STREAMED_STATES = (ContactState.PASS.value, ContactState.POSTPASS.value)


@dataclass(frozen=True)
class TenantProgress:
    """A contact's progress view and the contact's tenant (who may see it)."""

    tenant: str
    view: ContactProgressView


def streamed_progress(session: Session) -> list[TenantProgress]:
    """The figures of every contact in PASS or POSTPASS that has some, as
    ``contact_progress`` gives them, with the contact's tenant: what the
    event stream sends as ``progress`` events."""
    rows = session.execute(
        select(ContactProgress, Contact.state, Contact.tenant)
        .join(Contact, Contact.id == ContactProgress.contact_id)
        .where(Contact.state.in_(STREAMED_STATES))
        .order_by(ContactProgress.contact_id)
    ).all()
    out = []
    for row, state, tenant in rows:
        progress = _from_row(row)
        view = ContactProgressView(row.contact_id, state, _status(progress, state), progress)
        out.append(TenantProgress(tenant, view))
    session.rollback()
    return out
