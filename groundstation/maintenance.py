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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from groundstation.availability import band_fits, conflicting_contacts
from groundstation.clock import iso_utc, require_supported, require_utc
from groundstation.errors import NotFoundError, ValidationError
from groundstation.events import ContactEvent, Event, EventSink, publish_committed
from groundstation.inventory import check_bands, check_status
from groundstation.models import Antenna, Contact, MaintenanceWindow
from groundstation.resource_events import antenna_event
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
    return update_antenna(
        session, antenna_id=antenna_id, changes={"status": status}, now=now, by=by, events=events
    )


#: Antenna fields ``update_antenna`` may change.
ANTENNA_FIELDS = ("bands_hz", "max_az_slew_deg_s", "max_el_slew_deg_s", "status")


def update_antenna(
    session: Session,
    *,
    antenna_id: str,
    changes: Mapping[str, Any],
    now: datetime,
    by: str = "",
    events: EventSink | None = None,
) -> tuple[Antenna, HeldContacts]:
    """Change an antenna's bands, slew rates or status (``changes``: field
    -> value, fields of ``ANTENNA_FIELDS``), in one transaction.

    Taken out of service (status not ``online``): its contacts from now on
    are handled as a maintenance window's (module docstring). New bands or
    slew rates: each contact from now on that has not reached PASS and that
    the antenna can no longer hold (its satellite's downlink outside the
    bands, ``availability.band_fits``; at a station run by an agent, a pass
    its rotator cannot follow, ``booking.slew_refusal_of``, the rules that
    booked it) moves to PROVIDER_FAILED naming the change; the others stay."""
    now = require_utc(now, "now")
    unknown = sorted(set(changes) - set(ANTENNA_FIELDS))
    if unknown or not changes:
        raise ValidationError(
            f"antenna {antenna_id!r}: cannot change {', '.join(unknown) or 'nothing'} "
            f"(changeable: {', '.join(ANTENNA_FIELDS)})"
        )
    antenna = session.get(Antenna, antenna_id, with_for_update=True)
    if antenna is None:
        raise NotFoundError("antenna", antenna_id)
    old_status = antenna.status
    changed = _apply_antenna_changes(antenna, changes)
    session.flush()
    held, fired = HeldContacts(), list[Event]()
    who = f" by {by}" if by else ""
    if "status" in changed:  # first: the contacts it fails follow it in the history
        fired.append(
            antenna_event(
                session,
                antenna,
                old_status=old_status,
                at=now,
                reason=f"antenna {antenna_id} set {antenna.status}{who}",
            )
        )
    # Every booking from now on: the blocked windows reach at most one pass
    # past the latest booking, far less than this span.
    until = now + timedelta(days=36_500)
    if antenna.status != "online":
        why = f"antenna {antenna_id} set {antenna.status}{who}"
        held, failed = _fail_held(session, antenna_id, now, until, why, now)
        fired += failed
    elif changed - {"status"}:
        why = f"antenna {antenna_id} changed ({', '.join(sorted(changed - {'status'}))}){who}"
        held, failed = _fail_unfit(session, antenna, now, until, why)
        fired += failed
    session.commit()
    _publish(events, fired)
    return antenna, held


def _apply_antenna_changes(antenna: Antenna, changes: Mapping[str, Any]) -> set[str]:
    """Check ``changes`` and set them on ``antenna``; the names of the fields
    whose value changed. ValidationError naming a bad value."""
    changed: set[str] = set()
    for name, value in changes.items():
        if name == "bands_hz":
            bands = check_bands(antenna.id, value)
            if bands != [list(map(float, b)) for b in antenna.bands]:
                antenna.bands = bands
                changed.add(name)
        elif name == "status":
            check_status(antenna.id, value)
            if value != antenna.status:
                antenna.status = value
                changed.add(name)
        else:
            rate = float(value)
            if not 0 < rate < math.inf:
                raise ValidationError(f"antenna {antenna.id!r}: {name} {value} must be > 0")
            if rate != getattr(antenna, name):
                setattr(antenna, name, rate)
                changed.add(name)
    return changed


def _fail_unfit(
    session: Session, antenna: Antenna, start: datetime, end: datetime, why: str
) -> tuple[HeldContacts, list[ContactEvent]]:
    """Move the contacts of ``antenna`` in [start, end) that have not reached
    PASS and that it can no longer hold (``update_antenna``) to PROVIDER_FAILED."""
    from groundstation.booking import slew_refusal_of
    from groundstation.models import StationAgent
    from groundstation.prediction import (
        element_set_from_text,
        orbital_station,
        required_elevation_deg,
    )

    has_rotator = session.get(StationAgent, antenna.station_id) is not None
    held, fired = HeldContacts(), list[ContactEvent]()
    for found in conflicting_contacts(session, antenna_id=antenna.id, start=start, end=end):
        contact = session.get(Contact, found.id, with_for_update=True, populate_existing=True)
        if contact is None:
            continue
        if contact.state not in NOT_STARTED:
            held.running.append(contact.id)
            continue
        refusal: str | None = None
        if not band_fits(antenna, contact.satellite):
            refusal = (
                f"satellite {contact.satellite.norad_id}'s downlink "
                f"{contact.satellite.downlink_freq_hz / 1e6:.3f} MHz is outside its bands"
            )
        elif has_rotator:
            station = orbital_station(
                antenna.station,
                min_elevation_deg=required_elevation_deg(antenna, contact.profile),
            )
            element = element_set_from_text(contact.ephemeris_text)
            refusal = slew_refusal_of(element, station, antenna, contact.aos, contact.los)
        if refusal is not None:
            reason = f"{why}: {refusal}"
            fired.append(
                apply_transition(
                    session, contact, ContactState.PROVIDER_FAILED, at=start, reason=reason
                )
            )
            held.failed.append(contact.id)
    return held, fired


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


def _publish(events: EventSink | None, fired: Sequence[Event]) -> None:
    publish_committed(events, fired)
