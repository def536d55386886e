"""Contact events read back from the database: the ``contact_transitions``
history is the log every process writes (booking, cancelling, the lifecycle,
re-prediction), so a reader sees the changes made by any process sharing the
database. An event's id is its transition row id, valid across processes and
restarts.

Reading "every row after the last one seen" needs an order in which no later
commit can insert a row before one already read:

- SQLite serializes writers (``BEGIN IMMEDIATE``), so row ids are assigned in
  commit order: the position of a row is ``(0, id)``.
- PostgreSQL assigns ids when rows are inserted, not when they commit: a
  transaction holding id 7 may commit after another's id 8 was read. Each row
  records its transaction id (``tx_id``, migration 0005) and only rows of
  transactions older than every transaction still running
  (``pg_snapshot_xmin``) are read, in ``(tx_id, id)`` order. A transaction
  that is still open delays the rows of younger ones until it ends; none is
  skipped.

History is pruned by housekeeping (`prune`): the rows of contacts that ended
before a cut-off, in bounded batches. The highest id pruned is kept
(``housekeeping_marks``), so a reader resuming from an id before it learns
that events it has not seen may be gone (`pruned_since`) instead of silently
missing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    and_,
    delete,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, sessionmaker

from groundstation.events import ContactEvent, ResourceEvent
from groundstation.models import (
    Antenna,
    Contact,
    ContactTransition,
    HousekeepingMark,
    Satellite,
)
from groundstation.states import TERMINAL_STATES
from ingest.publisher import contact_event_message, resource_event_message
from ingest.topics import ContactEventMessage, ResourceEventMessage

Position = tuple[int, int]
"""Where a row sits in the read order: ``(tx_id or 0, id)``."""

START: Position = (-1, 0)
"""Before every row."""

MAX_ID = 2**31 - 1
"""Larger ids (from a client) are read as this one (the column is a 32-bit integer)."""

_PG_XMIN: ColumnElement[int] = literal_column(
    "(pg_snapshot_xmin(pg_current_snapshot())::text)::bigint"
)


@dataclass(frozen=True)
class LoggedEvent:
    """An event as recorded: a contact's, with the tenant owning the contact,
    or a resource's (``ResourceEvent``), with the tenant who sees it (None:
    every tenant)."""

    id: int
    position: Position
    tenant: str | None
    event: ContactEvent | ResourceEvent
    # The contact's satellite, station and antenna (the contact-event contract's).
    norad_id: int | None = None
    station: str | None = None
    antenna: str | None = None


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _tx() -> ColumnElement[int]:
    return ContactTransition.tx_id  # type: ignore[return-value]


def _readable(session: Session) -> list[ColumnElement[bool]]:
    """Conditions for rows no later commit can precede (see the module docstring)."""
    if _is_postgres(session):
        return [_tx() < _PG_XMIN]
    return []


def _after(session: Session, position: Position) -> ColumnElement[bool]:
    tx_id, row_id = position
    if _is_postgres(session):
        # A row comparison: one range scan of ix_contact_transitions_tx_id_id.
        return tuple_(_tx(), ContactTransition.id) > tuple_(
            literal(tx_id, BigInteger), literal(row_id, Integer)
        )
    return ContactTransition.id > row_id


def _order(session: Session) -> list[ColumnElement[object]]:
    if _is_postgres(session):
        return [_tx(), ContactTransition.id]  # type: ignore[list-item]
    return [ContactTransition.id]  # type: ignore[list-item]


def head(session: Session) -> Position:
    """The position of the last row readable now (``START`` if none): reading
    from there yields only changes committed later."""
    query = select(ContactTransition.id, ContactTransition.tx_id).where(*_readable(session))
    order = _order(session)
    row = session.execute(query.order_by(*(c.desc() for c in order)).limit(1)).first()
    session.rollback()
    if row is None:
        return START
    return (row.tx_id or 0, row.id)


def position_of(session: Session, *, event_id: int) -> Position:
    """The position of event ``event_id`` (e.g. a client's ``Last-Event-ID``),
    or of the last event with a smaller id if that one does not exist."""
    event_id = min(event_id, MAX_ID)  # a client's header may hold any digits
    row = session.execute(
        select(ContactTransition.id, ContactTransition.tx_id)
        .where(ContactTransition.id <= event_id)
        .order_by(ContactTransition.id.desc())
        .limit(1)
    ).first()
    session.rollback()
    if row is None:
        return START
    return (row.tx_id or 0, row.id)


def events_after(
    session: Session,
    position: Position,
    *,
    until: Position | None = None,
    limit: int = 1000,
    latest: bool = False,
) -> list[LoggedEvent]:
    """Readable events after ``position`` (and at most ``until``), in read
    order; at most ``limit`` of them: the first ones, or the last ones with
    ``latest=True``."""
    query = (
        select(
            ContactTransition.id,
            ContactTransition.tx_id,
            ContactTransition.contact_id,
            ContactTransition.old_state,
            ContactTransition.new_state,
            ContactTransition.at,
            ContactTransition.reason,
            ContactTransition.verdict,
            ContactTransition.verdict_source,
            ContactTransition.subject_kind,
            ContactTransition.subject_id,
            ContactTransition.subject_tenant,
            ContactTransition.subject_norad_id,
            ContactTransition.subject_station_id,
            ContactTransition.subject_antenna_id,
            ContactTransition.subject_in_force,
            Contact.tenant,
            Satellite.norad_id,
            Antenna.station_id,
            Contact.antenna_id,
        )
        # Outer joins: a resource event's row has no contact (migration 0012a).
        .outerjoin(Contact, Contact.id == ContactTransition.contact_id)
        .outerjoin(Satellite, Satellite.id == Contact.satellite_id)
        .outerjoin(Antenna, Antenna.id == Contact.antenna_id)
        .where(_after(session, position))
    )
    if until is not None:
        query = query.where(~_after(session, until))
    query = query.where(*_readable(session))
    order = _order(session)
    query = query.order_by(*(c.desc() for c in order) if latest else order).limit(limit)
    rows: list[Row[Any]] = list(session.execute(query))
    session.rollback()
    if latest:
        rows.reverse()
    return [_logged(r) for r in rows]


def _logged(r: Row[Any]) -> LoggedEvent:
    if r.contact_id is None:
        return LoggedEvent(
            id=r.id,
            position=(r.tx_id or 0, r.id),
            tenant=r.subject_tenant,
            event=ResourceEvent(
                kind=r.subject_kind,
                subject_id=r.subject_id,
                old_status=r.old_state,
                new_status=r.new_state,
                at=r.at,
                reason=r.reason,
                tenant=r.subject_tenant,
                norad_id=r.subject_norad_id,
                station=r.subject_station_id,
                antenna=r.subject_antenna_id,
                in_force=r.subject_in_force,
            ),
            norad_id=r.subject_norad_id,
            station=r.subject_station_id,
            antenna=r.subject_antenna_id,
        )
    return LoggedEvent(
        id=r.id,
        position=(r.tx_id or 0, r.id),
        tenant=r.tenant,
        event=ContactEvent(
            r.contact_id,
            r.old_state,
            r.new_state,
            r.at,
            r.reason,
            r.verdict,
            r.verdict_source,
        ),
        norad_id=r.norad_id,
        station=r.station_id,
        antenna=r.antenna_id,
    )


def event_message(
    event: ContactEvent | ResourceEvent,
    norad_id: int | None = None,
    station: str | None = None,
    antenna: str | None = None,
) -> tuple[str, ContactEventMessage | ResourceEventMessage]:
    """An event's kind (``contact`` or ``resource``, the SSE event name) and
    its contract message, the same on the SSE stream, the events topic and
    in webhooks; ``norad_id``, ``station`` and ``antenna`` are a contact's."""
    if isinstance(event, ResourceEvent):
        return "resource", resource_event_message(event)
    message = contact_event_message(event, norad_id=norad_id, station=station, antenna=antenna)
    return "contact", message


# ------------------------------------------------------------ pruning

PRUNED_THROUGH = "contact_transitions.pruned_through_id"
"""Name of the mark holding the highest transition id pruned so far."""


def pruned_through(session: Session) -> int:
    """The highest event id pruned so far (0: none)."""
    mark = session.get(HousekeepingMark, PRUNED_THROUGH)
    value = mark.value if mark is not None else 0
    session.rollback()
    return value


@dataclass(frozen=True)
class PrunedHistory:
    """Events after a reader's ``last_event_id`` were pruned, up to ``pruned_through_id``."""

    last_event_id: int
    pruned_through_id: int


def pruned_since(session: Session, *, event_id: int) -> PrunedHistory | None:
    """Whether events after ``event_id`` (a client's ``Last-Event-ID``) may have
    been pruned: some id above it was."""
    through = pruned_through(session)
    if event_id < through:
        return PrunedHistory(last_event_id=event_id, pruned_through_id=through)
    return None


@dataclass(frozen=True)
class PruneResult:
    rows: int
    through_id: int


def prune(
    session_factory: sessionmaker[Session],
    *,
    ended_before: datetime,
    now: datetime,
    batch_rows: int = 1000,
    max_batches: int = 100,
) -> PruneResult:
    """Delete the transitions of contacts in a final state whose booked window
    ended before ``ended_before``, and the resource events older than it: at
    most ``batch_rows`` per transaction and ``max_batches`` transactions per
    call (the next call goes on)."""
    rows = 0
    through = 0
    for _ in range(max_batches):
        with session_factory() as session:
            ids = list(
                session.scalars(
                    select(ContactTransition.id)
                    .outerjoin(Contact, Contact.id == ContactTransition.contact_id)
                    .where(
                        or_(
                            and_(
                                Contact.state.in_([s.value for s in TERMINAL_STATES]),
                                Contact.booked_end < ended_before,
                            ),
                            and_(
                                ContactTransition.contact_id.is_(None),
                                ContactTransition.at < ended_before,
                            ),
                        )
                    )
                    .order_by(ContactTransition.id)
                    .limit(batch_rows)
                )
            )
            if not ids:
                session.rollback()
                break
            session.execute(
                delete(ContactTransition)
                .where(ContactTransition.id.in_(ids))
                .execution_options(synchronize_session=False)
            )
            _raise_mark(session, PRUNED_THROUGH, max(ids), now)
            session.commit()
        rows += len(ids)
        through = max(through, max(ids))
        if len(ids) < batch_rows:
            break
    return PruneResult(rows=rows, through_id=through)


def _raise_mark(session: Session, name: str, value: int, now: datetime) -> None:
    mark = session.get(HousekeepingMark, name, with_for_update=True)
    if mark is None:
        session.add(HousekeepingMark(name=name, value=value, updated_at=now))
    elif value > mark.value:
        mark.value = value
        mark.updated_at = now
