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
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, Integer, literal, literal_column, select, tuple_
from sqlalchemy.orm import Session

from groundstation.events import ContactEvent
from groundstation.models import Contact, ContactTransition

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
    """A contact event as recorded, with the tenant owning the contact."""

    id: int
    position: Position
    tenant: str
    event: ContactEvent


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
            Contact.tenant,
        )
        .join(Contact, Contact.id == ContactTransition.contact_id)
        .where(_after(session, position))
    )
    if until is not None:
        query = query.where(~_after(session, until))
    query = query.where(*_readable(session))
    order = _order(session)
    query = query.order_by(*(c.desc() for c in order) if latest else order).limit(limit)
    rows = list(session.execute(query))
    session.rollback()
    if latest:
        rows.reverse()
    return [
        LoggedEvent(
            id=r.id,
            position=(r.tx_id or 0, r.id),
            tenant=r.tenant,
            event=ContactEvent(r.contact_id, r.old_state, r.new_state, r.at, r.reason),
        )
        for r in rows
    ]
