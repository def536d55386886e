"""Maintenance windows and antenna status, and what they do to the contacts
booked on the antenna.

A maintenance window added, moved or widened over booked contacts, or an
antenna taken offline, is the provider's doing: each contact whose blocked
window it overlaps and that is not yet in PASS (SCHEDULED, PREPASS) moves
to PROVIDER_FAILED with a reason naming the window (or status), its reason
and who set it; the event reaches the stream and topic as every state
change does. A contact already in PASS or POSTPASS is left to finish (the
simulated pass is not interrupted) and reported as ``running``. Each public
function commits its own unit of work and publishes after commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from groundstation.availability import conflicting_contacts
from groundstation.clock import iso_utc, require_supported, require_utc
from groundstation.errors import NotFoundError, ValidationError
from groundstation.events import ContactEvent, EventSink, publish_committed
from groundstation.inventory import ANTENNA_STATUSES
from groundstation.models import Antenna, Contact, MaintenanceWindow
from groundstation.states import ContactState
from groundstation.transitions import apply_transition

#: States a provider failure moves to PROVIDER_FAILED (nothing runs yet).
NOT_STARTED = (ContactState.SCHEDULED.value, ContactState.PREPASS.value)


@dataclass
class HeldContacts:
    """The contacts a maintenance window or status change concerned: moved
    to PROVIDER_FAILED, and left running (in PASS or POSTPASS)."""

    failed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)


@dataclass
class MaintenanceChange:
    window: MaintenanceWindow
    contacts: HeldContacts


def add_window(
    session: Session,
    *,
    antenna_id: str,
    start: datetime,
    end: datetime,
    reason: str = "",
    now: datetime,
    by: str = "",
    events: EventSink | None = None,
) -> MaintenanceChange:
    """Add a maintenance window on ``antenna_id``; the contacts it holds
    move to PROVIDER_FAILED (see the module docstring)."""
    start, end = _window(start, end)
    if session.get(Antenna, antenna_id) is None:
        raise NotFoundError("antenna", antenna_id)
    window = MaintenanceWindow(antenna_id=antenna_id, start=start, end=end, reason=reason)
    session.add(window)
    session.flush()
    return _commit(session, window, now=require_utc(now, "now"), by=by, events=events)


def update_window(
    session: Session,
    *,
    antenna_id: str,
    window_id: int,
    start: datetime | None = None,
    end: datetime | None = None,
    reason: str | None = None,
    now: datetime,
    by: str = "",
    events: EventSink | None = None,
) -> MaintenanceChange:
    """Move, resize or re-word a maintenance window; contacts its new span
    holds move to PROVIDER_FAILED (those it no longer covers stay as they are)."""
    window = get_window(session, antenna_id=antenna_id, window_id=window_id)
    window.start, window.end = _window(start or window.start, end or window.end)
    if reason is not None:
        window.reason = reason
    return _commit(session, window, now=require_utc(now, "now"), by=by, events=events)


def delete_window(session: Session, *, antenna_id: str, window_id: int) -> None:
    """Remove a maintenance window (the antenna is bookable in it again;
    contacts it failed stay PROVIDER_FAILED)."""
    session.delete(get_window(session, antenna_id=antenna_id, window_id=window_id))
    session.commit()


def get_window(session: Session, *, antenna_id: str, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id, with_for_update=True)
    if window is None or window.antenna_id != antenna_id:
        raise NotFoundError(f"maintenance window of antenna {antenna_id!r}", window_id)
    return window


def set_status(
    session: Session,
    *,
    antenna_id: str,
    status: str,
    now: datetime,
    by: str = "",
    events: EventSink | None = None,
) -> tuple[Antenna, HeldContacts]:
    """Set an antenna's status; taking it out of service (not ``online``)
    moves its contacts from now on to PROVIDER_FAILED (module docstring)."""
    now = require_utc(now, "now")
    antenna = session.get(Antenna, antenna_id, with_for_update=True)
    if antenna is None:
        raise NotFoundError("antenna", antenna_id)
    if status not in ANTENNA_STATUSES:
        raise ValidationError(
            f"antenna {antenna_id!r}: status {status!r} is not one of {ANTENNA_STATUSES}"
        )
    antenna.status = status
    held, fired = HeldContacts(), list[ContactEvent]()
    if status != "online":
        why = f"antenna {antenna_id} set {status}" + (f" by {by}" if by else "")
        # Every booking from now on: the blocked windows reach at most one
        # pass past the latest booking, far less than this span.
        held, fired = _fail_held(session, antenna_id, now, now + timedelta(days=36_500), why, now)
    session.commit()
    _publish(events, fired)
    return antenna, held


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = require_supported(start, "start"), require_supported(end, "end")
    if not start < end:
        raise ValidationError(
            f"maintenance start {iso_utc(start)} is not before its end {iso_utc(end)}"
        )
    return start, end


def _commit(
    session: Session,
    window: MaintenanceWindow,
    *,
    now: datetime,
    by: str,
    events: EventSink | None,
) -> MaintenanceChange:
    why = (
        f"antenna {window.antenna_id} maintenance {iso_utc(window.start)}..{iso_utc(window.end)} "
        f"({window.reason or 'no reason given'})" + (f" set by {by}" if by else "")
    )
    held, fired = _fail_held(session, window.antenna_id, window.start, window.end, why, now)
    session.commit()
    _publish(events, fired)
    return MaintenanceChange(window, held)


def _fail_held(
    session: Session, antenna_id: str, start: datetime, end: datetime, why: str, now: datetime
) -> tuple[HeldContacts, list[ContactEvent]]:
    """Move the contacts of ``antenna_id`` whose blocked window overlaps
    [start, end) and that have not reached PASS to PROVIDER_FAILED, inside
    the caller's transaction; the others are reported as running."""
    held, fired = HeldContacts(), list[ContactEvent]()
    for found in conflicting_contacts(session, antenna_id=antenna_id, start=start, end=end):
        # Locked and read again: the lifecycle may be moving it on right now.
        contact = session.get(Contact, found.id, with_for_update=True, populate_existing=True)
        if contact is None:
            continue
        if contact.state in NOT_STARTED:
            fired.append(
                apply_transition(
                    session,
                    contact,
                    ContactState.PROVIDER_FAILED,
                    at=now,
                    reason=f"{why}, overlapping the contact's window "
                    f"{iso_utc(contact.blocked_start)}..{iso_utc(contact.blocked_end)}",
                )
            )
            held.failed.append(contact.id)
        else:
            held.running.append(contact.id)
    return held, fired


def _publish(events: EventSink | None, fired: list[ContactEvent]) -> None:
    publish_committed(events, fired)
