"""The ephemeris life cycle: element sets uploaded, the one in force chosen,
its age checked before predicting, and the bookings re-predicted whenever
the one in force changes.

Keyword-only service functions taking a ``Session``; each commits its own
unit of work. ``upload_ephemerides`` and ``set_ephemeris_enabled`` call
``repredict_contacts`` for every satellite whose ephemeris in force changed:
future SCHEDULED contacts follow the new prediction, or become
FAILED_TO_SCHEDULE with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Row, ScalarSelect, Select, or_, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.availability import (
    Windows,
    conflicting_contacts,
    conflicting_maintenance,
    held_by_contact,
    held_by_maintenance,
    windows_for,
)
from groundstation.clock import iso_utc, require_utc
from groundstation.db import retry_transient
from groundstation.errors import EphemerisError, NotFoundError
from groundstation.events import ContactEvent, EventSink, ResourceEvent, publish_committed
from groundstation.models import Antenna, Contact, Ephemeris, GroundStation, Satellite
from groundstation.policy import BookingPolicy
from groundstation.prediction import (
    element_set,
    element_set_from_text,
    orbital_station,
    predict,
    required_elevation_deg,
)
from groundstation.resource_events import ephemeris_event
from groundstation.states import ContactState
from groundstation.transitions import apply_transition, record_window_update

if TYPE_CHECKING:
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station
    from orbital.tle import ParseResult


# ---------------------------------------------------------------- in force

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def _in_force(query: _Query, satellite_id: int | ColumnElement[int], now: datetime) -> _Query:
    """``query`` narrowed to the ephemeris in force: the highest-priority
    enabled unexpired element set, newest epoch on ties (an az/el table is
    never in force: it points one station's antenna, for the contacts
    booked with it)."""
    return (
        query.where(
            Ephemeris.satellite_id == satellite_id,
            Ephemeris.source_format != "azel",
            Ephemeris.enabled.is_(True),
            or_(Ephemeris.expires_at.is_(None), Ephemeris.expires_at > now),
        )
        .order_by(Ephemeris.priority.desc(), Ephemeris.epoch.desc(), Ephemeris.id.desc())
        .limit(1)
    )


def ephemeris_in_force(session: Session, *, satellite_id: int, now: datetime) -> Ephemeris | None:
    """The highest-priority enabled unexpired element set; newest epoch on ties."""
    now = require_utc(now, "now")
    return session.scalar(_in_force(select(Ephemeris), satellite_id, now))


@dataclass(frozen=True)
class UsableEphemeris:
    """What a prediction needs of the ephemeris in force (``usable_ephemeris``)."""

    id: int
    epoch: datetime
    text: str
    source_format: str = "tle"


def usable_ephemeris(
    session: Session, satellite: Satellite, now: datetime, policy: BookingPolicy
) -> UsableEphemeris:
    """The ephemeris in force, or ``EphemerisError`` when there is none or
    it is older than ``policy.max_ephemeris_age_s`` at ``now`` (an OEM has
    no age: it is in force until its usable span ends, its ``expires_at``,
    and predicts only inside that span). Read as its columns, not as a row
    object: every reservation and every ``/passes`` answer reads it (0.1-0.3
    ms of CPU instead of 0.8 ms)."""
    now = require_utc(now, "now")
    columns = select(*IN_FORCE_COLUMNS)
    return require_usable(
        session.execute(_in_force(columns, satellite.id, now)).first(), satellite, now, policy
    )


#: The columns of the ephemeris in force that ``require_usable`` reads.
IN_FORCE_COLUMNS = (Ephemeris.id, Ephemeris.epoch, Ephemeris.text, Ephemeris.source_format)


def in_force_id(satellite_id: int | ColumnElement[int], now: datetime) -> ScalarSelect[int]:
    """The id of the ephemeris in force as a scalar subquery, for a caller
    reading ``IN_FORCE_COLUMNS`` in a statement of its own (a reservation
    reads them with its antenna and profile: one round trip less).
    ``satellite_id``: an id, or a scalar subquery giving it (not correlated
    with the statement: PostgreSQL then scans every ephemeris to join)."""
    now = require_utc(now, "now")
    return _in_force(select(Ephemeris.id), satellite_id, now).scalar_subquery()


def require_usable(
    row: Row[*tuple[Any, ...]] | None, satellite: Satellite, now: datetime, policy: BookingPolicy
) -> UsableEphemeris:
    """``usable_ephemeris`` from its ``IN_FORCE_COLUMNS`` read (None: there
    is no ephemeris in force)."""
    ephemeris = (
        None
        if row is None or row.id is None
        else UsableEphemeris(
            id=row.id, epoch=row.epoch, text=row.text, source_format=row.source_format
        )
    )
    if ephemeris is None:
        raise EphemerisError(
            f"satellite NORAD {satellite.norad_id} has no enabled, unexpired ephemeris; "
            "upload one with `groundstation ephemeris upload`"
        )
    age_s = (now - ephemeris.epoch).total_seconds()
    if ephemeris.source_format not in SPAN_FORMATS and age_s > policy.max_ephemeris_age_s:
        raise EphemerisError(
            f"ephemeris of NORAD {satellite.norad_id} has epoch {iso_utc(ephemeris.epoch)}, "
            f"{age_s / 86400:.2f} days old at {iso_utc(now)}; the limit is "
            f"{policy.max_ephemeris_age_s / 86400:.2f} days: upload a newer one"
        )
    return ephemeris


def require_coverage(element: ElementSet, start: datetime, end: datetime) -> None:
    """``EphemerisError`` unless ``element`` may predict from ``start`` to
    ``end``: an OEM only inside its usable span (mean elements anywhere)."""
    span = element.usable_span
    if span is None or (span[0] <= start and end <= span[1]):
        return
    raise EphemerisError(
        f"the ephemeris in force of NORAD {element.norad_id} is a CCSDS OEM usable "
        f"{iso_utc(span[0])}..{iso_utc(span[1])}; the window {iso_utc(start)}..{iso_utc(end)} "
        "is outside it (its states are not extrapolated): upload an OEM covering the window, "
        "or TLE/OMM elements"
    )


def require_overlap(element: ElementSet, start: datetime, end: datetime) -> None:
    """``EphemerisError`` when ``element`` is an OEM whose usable span has no
    time from ``start`` to ``end`` (a prediction over a range it partly
    covers is clipped to it)."""
    span = element.usable_span
    if span is None or (span[0] < end and start < span[1]):
        return
    raise EphemerisError(
        f"the ephemeris in force of NORAD {element.norad_id} is a CCSDS OEM usable "
        f"{iso_utc(span[0])}..{iso_utc(span[1])}, none of {iso_utc(start)}..{iso_utc(end)} "
        "(its states are not extrapolated): ask within its span, or upload an ephemeris "
        "covering the range"
    )


def list_ephemerides(session: Session, *, satellite_id: int) -> list[Ephemeris]:
    """A satellite's ephemeris history, newest epoch first."""
    return list(
        session.scalars(
            select(Ephemeris)
            .where(Ephemeris.satellite_id == satellite_id)
            .order_by(Ephemeris.epoch.desc(), Ephemeris.id.desc())
        )
    )


def _in_force_id(session: Session, satellite_id: int, now: datetime) -> int | None:
    ephemeris = ephemeris_in_force(session, satellite_id=satellite_id, now=now)
    return ephemeris.id if ephemeris is not None else None


# ---------------------------------------------------------------- changes


@dataclass
class UploadResult:
    stored: list[Ephemeris] = field(default_factory=list)
    # (line number or record, message) for records not stored.
    rejected: list[str] = field(default_factory=list)
    events: list[ContactEvent] = field(default_factory=list)
    # The ephemeris status events (stored, superseded), published once committed.
    status_events: list[ResourceEvent] = field(default_factory=list)
    # The format the upload was read as (``orbital.omm.detect_format``).
    format: str = ""
    # Satellites with an element set stored, by id: their NORAD id ...
    norad_ids: dict[int, int] = field(default_factory=dict)
    # ... and how many of their contacts the new ephemeris in force changed.
    contacts_updated: dict[int, int] = field(default_factory=dict)
    # The NORAD ids of every record read from the upload (stored or not).
    parsed_norad_ids: set[int] = field(default_factory=set)


def upload_ephemerides(
    session: Session,
    *,
    text: str,
    now: datetime,
    source: str = "upload",
    priority: int = 0,
    enabled: bool = True,
    expires_at: datetime | None = None,
    norad_ids: Sequence[int] | None = None,
    events: EventSink | None = None,
    tenants: Sequence[str] | None = None,
) -> UploadResult:
    """Parse ephemeris text (TLE/3LE, OMM JSON/CSV/KVN/XML, CCSDS OEM
    KVN/XML; ``orbital.omm.SUPPORTED_FORMATS``) and store each element set
    of a registered
    satellite (optionally only ``norad_ids``; with ``tenants``, only those
    tenants' satellites: another tenant's is rejected in the words of an
    unregistered one); then re-predict the future contacts of every
    satellite whose ephemeris in force changed."""
    from orbital.omm import detect_format, parse_elements

    now = require_utc(now, "now")
    if expires_at is not None:
        expires_at = require_utc(expires_at, "expires_at")
    single = norad_ids[0] if norad_ids is not None and len(norad_ids) == 1 else None
    stations = _orbital_stations(session) if detect_format(text) == "AZ/EL JSON" else None
    parsed = parse_elements(text, norad_id=single, stations=stations)
    result = UploadResult(
        parsed_norad_ids={e.norad_id for e in parsed.elements},
        rejected=[f"line {r.line_no}: {r.field}={r.value!r}: {r.message}" for r in parsed.rejected],
        format=detect_format(text),
    )
    before = _store_elements(
        session,
        parsed,
        result,
        now=now,
        wanted=set(norad_ids) if norad_ids is not None else None,
        tenants=tenants,
        row_fields={
            "source": source,
            "uploaded_at": now,
            "priority": priority,
            "enabled": enabled,
            "expires_at": expires_at,
        },
    )
    session.flush()
    for satellite_id, before_id in before.items():
        stored = [(row, NO_STATUS) for row in result.stored if row.satellite_id == satellite_id]
        result.status_events += _status_events(
            session,
            satellite_id=satellite_id,
            before_id=before_id,
            changed=stored,
            now=now,
            reason=f"uploaded ({source})",
        )
    session.commit()
    publish_committed(events, result.status_events)
    for satellite_id, before_id in before.items():
        result.contacts_updated[satellite_id] = 0
        if _in_force_id(session, satellite_id, now) not in (None, before_id):
            changed = repredict_contacts(session, satellite_id=satellite_id, now=now, events=events)
            result.events.extend(changed)
            result.contacts_updated[satellite_id] = len(changed)
    return result


def _orbital_stations(session: Session) -> dict[str, Station]:
    """Every station, as an az/el table may name it."""
    return {
        g.id: orbital_station(g, min_elevation_deg=0.0)
        for g in session.scalars(select(GroundStation))
    }


def booking_ephemeris(
    session: Session,
    *,
    satellite: Satellite,
    station_id: str,
    ephemeris_id: int | None,
    now: datetime,
    policy: BookingPolicy,
) -> UsableEphemeris:
    """The ephemeris a booking predicts with: the one in force
    (``usable_ephemeris``), or ``ephemeris_id`` when given (AWS's tracking
    override): one of the satellite's (else ``NotFoundError``), enabled and
    unexpired, and an az/el table only on its own station (else
    ``EphemerisError``)."""
    if ephemeris_id is None:
        return usable_ephemeris(session, satellite, now, policy)
    row = session.get(Ephemeris, ephemeris_id)
    if row is None or row.satellite_id != satellite.id:
        raise NotFoundError("ephemeris", ephemeris_id)
    if ephemeris_status(row, now=now) != "ENABLED":
        raise EphemerisError(
            f"ephemeris {ephemeris_id} of NORAD {satellite.norad_id} is "
            f"{ephemeris_status(row, now=now).lower()}; enable it or book with another"
        )
    if row.source_format == "azel":
        table_station = getattr(element_set(row), "station", None)
        table_id = table_station.id if table_station is not None else "?"
        if table_id != station_id:
            raise EphemerisError(
                f"ephemeris {ephemeris_id} is an az/el table for station {table_id}; "
                f"it cannot point an antenna of station {station_id}"
            )
    return UsableEphemeris(
        id=row.id, epoch=row.epoch, text=row.text, source_format=row.source_format
    )


def _store_elements(
    session: Session,
    parsed: ParseResult,
    result: UploadResult,
    *,
    now: datetime,
    wanted: set[int] | None,
    row_fields: dict[str, Any],
    tenants: Sequence[str] | None = None,
) -> dict[int, int | None]:
    """Add an ``Ephemeris`` row (with ``row_fields``) per parsed element set
    of a registered satellite (of ``tenants`` when given), uncommitted, the
    others rejected in ``result``; returns each touched satellite's
    ephemeris in force before."""
    by_norad = {
        s.norad_id: s
        for s in session.scalars(
            select(Satellite).where(Satellite.norad_id.in_({e.norad_id for e in parsed.elements}))
        )
    }
    before: dict[int, int | None] = {}
    for element in parsed.elements:
        if wanted is not None and element.norad_id not in wanted:
            continue
        satellite = by_norad.get(element.norad_id)
        if satellite is not None and tenants is not None and satellite.tenant not in tenants:
            satellite = None  # another tenant's: not disclosed
        if satellite is None:
            result.rejected.append(
                f"NORAD {element.norad_id} ({element.name}): "
                + (
                    "satellite is not registered; add it with `groundstation satellites add` first"
                    if tenants is None
                    else "no such satellite for this key (not registered, or another tenant's); "
                    "register it with POST /satellites first"
                )
            )
            continue
        if satellite.id not in before:
            before[satellite.id] = _in_force_id(session, satellite.id, now)
        fields = dict(row_fields)
        span = element.usable_span
        if span is not None and (
            fields.get("expires_at") is None or fields["expires_at"] > span[1]
        ):
            fields["expires_at"] = span[1]  # an OEM is not in force past its span
        row = Ephemeris(
            satellite_id=satellite.id,
            epoch=element.epoch,
            source_format=element.source_format,
            text=element.text(),
            **fields,
        )
        session.add(row)
        result.stored.append(row)
        result.norad_ids[satellite.id] = satellite.norad_id
    return before


def set_ephemeris_enabled(
    session: Session,
    *,
    ephemeris_id: int,
    enabled: bool,
    now: datetime,
    events: EventSink | None = None,
) -> list[ContactEvent]:
    """Enable or disable one stored element set; if that changes the one in
    force, re-predict the satellite's future contacts (returns their events)."""
    return update_ephemeris(
        session, ephemeris_id=ephemeris_id, changes={"enabled": enabled}, now=now, events=events
    )


#: Formats of state tables, used only inside their usable span: an OEM, an az/el table.
SPAN_FORMATS = ("oem", "azel")
#: What ``update_ephemeris`` may change.
UPDATABLE = ("enabled", "priority", "expires_at")


def update_ephemeris(
    session: Session,
    *,
    ephemeris_id: int,
    changes: dict[str, Any],
    now: datetime,
    satellite_id: int | None = None,
    events: EventSink | None = None,
) -> list[ContactEvent]:
    """Change ``enabled``, ``priority`` and/or ``expires_at`` (None: never;
    an OEM's stays within its usable span) of one stored ephemeris (of
    ``satellite_id`` when given, else ``NotFoundError``); if that changes
    the one in force, re-predict the satellite's future contacts (returns
    their events)."""
    now = require_utc(now, "now")
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise ValueError(f"cannot change {', '.join(unknown)}; only {', '.join(UPDATABLE)}")
    ephemeris = session.get(Ephemeris, ephemeris_id)
    if ephemeris is None or satellite_id not in (None, ephemeris.satellite_id):
        raise NotFoundError("ephemeris", ephemeris_id)
    satellite_id = ephemeris.satellite_id
    before_id = _in_force_id(session, satellite_id, now)
    old_status = ephemeris_status(ephemeris, now=now)
    for name, value in changes.items():
        if name == "expires_at":
            value = _capped_expiry(ephemeris, value)
        setattr(ephemeris, name, value)
    session.flush()
    fired = _status_events(
        session,
        satellite_id=satellite_id,
        before_id=before_id,
        changed=[(ephemeris, old_status)],
        now=now,
        reason=f"changed ({', '.join(sorted(changes))})",
    )
    session.commit()
    publish_committed(events, fired)
    after_id = _in_force_id(session, satellite_id, now)
    if after_id is None or after_id == before_id:
        return []
    return repredict_contacts(
        session,
        satellite_id=satellite_id,
        now=now,
        events=events,
    )


def _capped_expiry(ephemeris: Ephemeris, expires_at: datetime | None) -> datetime | None:
    """``expires_at`` (aware UTC), no later than the end of an OEM's usable span."""
    if expires_at is not None:
        expires_at = require_utc(expires_at, "expires_at")
    if ephemeris.source_format not in SPAN_FORMATS:
        return expires_at
    span = element_set(ephemeris).usable_span
    assert span is not None
    return span[1] if expires_at is None else min(expires_at, span[1])


#: The old status of an ephemeris just stored (the resource-event contract's NONE).
NO_STATUS = "NONE"


def _status_events(
    session: Session,
    *,
    satellite_id: int,
    before_id: int | None,
    changed: Sequence[tuple[Ephemeris, str]],
    now: datetime,
    reason: str,
) -> list[ResourceEvent]:
    """Record, in the caller's (flushed, uncommitted) transaction, the status
    events of the ``changed`` ephemerides (with their old status) whose
    status or being in force changed, and of the one that lost or took the
    satellite's ephemeris in force without being changed itself."""
    after_id = _in_force_id(session, satellite_id, now)
    out: list[ResourceEvent] = []
    for row, old_status in changed:
        new_status = ephemeris_status(row, now=now)
        in_force = row.id == after_id
        if new_status != old_status or in_force != (row.id == before_id):
            out.append(
                ephemeris_event(
                    session,
                    row,
                    old_status=old_status,
                    new_status=new_status,
                    in_force=in_force,
                    at=now,
                    reason=reason,
                )
            )
    touched = {row.id for row, _ in changed}
    if before_id == after_id:
        return out
    others = (
        (before_id, f"superseded by ephemeris {after_id}" if after_id else "no longer in force"),
        (after_id, f"now in force ({reason})"),
    )
    for other_id, why in others:
        other = session.get(Ephemeris, other_id) if other_id is not None else None
        if other is None or other.id in touched:
            continue
        status = ephemeris_status(other, now=now)
        out.append(
            ephemeris_event(
                session,
                other,
                old_status=status,
                new_status=status,
                in_force=other.id == after_id,
                at=now,
                reason=why,
            )
        )
    return out


def announce_expired(
    session_factory: sessionmaker[Session], *, now: datetime, events: EventSink | None = None
) -> list[ResourceEvent]:
    """Announce, once, every ephemeris that expired since its status was last
    announced (``serve`` runs it periodically with the agent watch); one
    transaction, events published once committed."""
    now = require_utc(now, "now")
    with session_factory() as session:
        rows = session.scalars(
            select(Ephemeris)
            .where(
                Ephemeris.expires_at.is_not(None),
                Ephemeris.expires_at <= now,
                or_(Ephemeris.announced_status.is_(None), Ephemeris.announced_status != "EXPIRED"),
            )
            .order_by(Ephemeris.id)
            .with_for_update()
        )
        fired = [
            ephemeris_event(
                session,
                row,
                old_status=row.announced_status or ("ENABLED" if row.enabled else "DISABLED"),
                new_status="EXPIRED",
                in_force=False,
                at=now,
                reason=f"expired at {iso_utc(row.expires_at)}" if row.expires_at else "expired",
            )
            for row in list(rows)
        ]
        session.commit()
    publish_committed(events, fired)
    return fired


def ephemeris_status(ephemeris: Ephemeris, *, now: datetime) -> str:
    """AWS Ground Station's word for a stored ephemeris at ``now``: ENABLED,
    DISABLED or EXPIRED (an element set is checked when uploaded: there is
    no INVALID one stored)."""
    if ephemeris.expires_at is not None and ephemeris.expires_at <= require_utc(now, "now"):
        return "EXPIRED"
    return "ENABLED" if ephemeris.enabled else "DISABLED"


# ---------------------------------------------------------------- re-prediction


@dataclass(frozen=True)
class _InForce:
    """The ephemeris a re-prediction uses, read in its transaction."""

    id: int
    epoch: datetime
    text: str
    element: ElementSet


def repredict_contacts(
    session: Session,
    *,
    satellite_id: int,
    now: datetime,
    events: EventSink | None = None,
    match_within_s: float = 900.0,
) -> list[ContactEvent]:
    """Re-predict the satellite's SCHEDULED contacts whose pre-pass has not
    started, with the ephemeris now in force (a contact outside the usable
    span of an OEM in force keeps its window and the ephemeris it was
    booked with: the OEM says nothing of it). A window that moved is updated
    (antenna re-checked); one that vanished or now conflicts becomes
    FAILED_TO_SCHEDULE with the reason. One write transaction (run again if
    the database aborts it to break a deadlock); returns (and publishes,
    once committed) the events."""
    now = require_utc(now, "now")

    def transaction() -> list[ContactEvent]:
        ephemeris = ephemeris_in_force(session, satellite_id=satellite_id, now=now)
        if ephemeris is None:
            return []
        in_force = _InForce(ephemeris.id, ephemeris.epoch, ephemeris.text, element_set(ephemeris))
        out: list[ContactEvent] = []
        for contact in _future_scheduled(session, satellite_id, now):
            event = _repredict_one(session, contact, in_force, now, match_within_s)
            if event is not None:
                out.append(event)
        session.commit()
        return out

    out = retry_transient(session, transaction)
    publish_committed(events, out)
    return out


def repredict_at_station(
    session: Session, *, station_id: str, now: datetime, cause: str, match_within_s: float = 900.0
) -> list[ContactEvent]:
    """Re-predict the SCHEDULED contacts on ``station_id``'s antennas whose
    pre-pass is ahead, each with the ephemeris it was booked with, after the
    station's geometry changed (``cause``, e.g. "station sv changed
    (lat_deg)"): a window that moved is updated (antenna re-checked), one
    that vanished or now conflicts becomes FAILED_TO_SCHEDULE naming the
    cause. In the caller's transaction (it commits); the events."""
    contacts = session.scalars(
        select(Contact)
        .join(Antenna, Contact.antenna_id == Antenna.id)
        .where(
            Antenna.station_id == station_id,
            Contact.state == ContactState.SCHEDULED.value,
            Contact.booked_start > now,
        )
        .order_by(Contact.booked_start)
        .with_for_update(of=Contact)
    )
    out: list[ContactEvent] = []
    for contact in list(contacts):
        booked_with = _InForce(
            contact.ephemeris_id or 0,
            contact.ephemeris_epoch,
            contact.ephemeris_text,
            element_set_from_text(contact.ephemeris_text),
        )
        event = _repredict_one(session, contact, booked_with, now, match_within_s, cause)
        if event is not None:
            out.append(event)
    return out


def _future_scheduled(session: Session, satellite_id: int, now: datetime) -> list[Contact]:
    """The satellite's SCHEDULED contacts whose pre-pass is ahead, locked."""
    return list(
        session.scalars(
            select(Contact)
            .where(
                Contact.satellite_id == satellite_id,
                Contact.state == ContactState.SCHEDULED.value,
                Contact.booked_start > now,
            )
            .order_by(Contact.booked_start)
            .with_for_update()
        )
    )


def _repredict_one(
    session: Session,
    contact: Contact,
    in_force: _InForce,
    now: datetime,
    match_within_s: float,
    cause: str = "",
) -> ContactEvent | None:
    """Move ``contact`` to the pass it now matches, or fail it to schedule
    with the reason (after ``cause``, when the ephemeris is not what changed);
    the event, or None when its window stayed."""
    antenna, profile = contact.antenna, contact.profile
    said = f"{cause}: " if cause else ""
    span = in_force.element.usable_span
    if span is not None and not (span[0] <= contact.aos and contact.los <= span[1]):
        return None  # an OEM not covering the pass says nothing of it: the booking stays
    min_el = required_elevation_deg(antenna, profile)
    epoch = iso_utc(in_force.epoch)
    new_pass = _matching_pass(contact, in_force, min_el, match_within_s)
    if new_pass is None:
        return _fail_to_schedule(
            session,
            contact,
            in_force,
            now,
            f"{said}no pass over {antenna.station_id} above {min_el:.1f} deg is predicted within "
            f"{match_within_s:.0f} s of the booked TCA {iso_utc(contact.tca)} with the "
            f"ephemeris of epoch {epoch}",
        )
    moved = _moved(contact, new_pass)
    w = windows_for(new_pass.aos, new_pass.los, antenna, profile)
    if moved and (refusal := _moved_window_refusal(session, contact, new_pass, w, epoch, now)):
        return _fail_to_schedule(session, contact, in_force, now, said + refusal)
    _take_ephemeris(contact, in_force)
    event = (
        _move(session, contact, new_pass, w, epoch=epoch, now=now, cause=cause) if moved else None
    )
    session.flush()
    return event


def _take_ephemeris(contact: Contact, in_force: _InForce) -> None:
    contact.ephemeris_id = in_force.id
    contact.ephemeris_epoch = in_force.epoch
    contact.ephemeris_text = in_force.text


def _fail_to_schedule(
    session: Session, contact: Contact, in_force: _InForce, now: datetime, reason: str
) -> ContactEvent:
    _take_ephemeris(contact, in_force)
    return apply_transition(
        session, contact, ContactState.FAILED_TO_SCHEDULE, at=now, reason=reason
    )


def _matching_pass(
    contact: Contact, in_force: _InForce, min_elevation_deg: float, match_within_s: float
) -> Pass | None:
    """The pass nearest the booked TCA (within ``match_within_s``, or
    overlapping the booked visibility window), predicted with ``in_force``."""
    station = orbital_station(contact.antenna.station, min_elevation_deg=min_elevation_deg)
    margin = timedelta(seconds=match_within_s + 3600)
    found = predict([in_force.element], [station], contact.aos - margin, contact.los + margin)
    near = [
        p
        for p in found
        if abs((p.tca - contact.tca).total_seconds()) <= match_within_s
        or (min(p.los, contact.los) > max(p.aos, contact.aos))
    ]
    return min(near, key=lambda p: abs((p.tca - contact.tca).total_seconds()), default=None)


def _moved(contact: Contact, new_pass: Pass) -> bool:
    return (
        abs((new_pass.aos - contact.aos).total_seconds()) > 1.0
        or abs((new_pass.los - contact.los).total_seconds()) > 1.0
    )


def _moved_window_refusal(
    session: Session, contact: Contact, new_pass: Pass, w: Windows, epoch: str, now: datetime
) -> str:
    """Why the moved window cannot be kept ('' when it can): too short, on
    another booking or maintenance, or its pre-pass already started."""
    profile, antenna_id = contact.profile, contact.antenna_id
    if new_pass.duration_s < profile.min_viable_duration_s:
        return (
            f"re-predicted pass {iso_utc(new_pass.aos)}..{iso_utc(new_pass.los)} lasts "
            f"{new_pass.duration_s:.0f} s, less than the minimum viable "
            f"{profile.min_viable_duration_s:.0f} s (ephemeris epoch {epoch})"
        )
    window = f"re-predicted window {iso_utc(w.blocked_start)}..{iso_utc(w.blocked_end)}"
    clash = conflicting_contacts(
        session,
        antenna_id=antenna_id,
        start=w.blocked_start,
        end=w.blocked_end,
        exclude_id=contact.id,
    )
    if clash:
        return (
            f"{window} now overlaps {held_by_contact(clash[0].id)} on antenna {antenna_id} "
            f"(ephemeris epoch {epoch})"
        )
    maint = conflicting_maintenance(
        session, antenna_id=antenna_id, start=w.blocked_start, end=w.blocked_end
    )
    if maint:
        return (
            f"{window} now overlaps {held_by_maintenance(maint[0].start, maint[0].end)} "
            f"on antenna {antenna_id} (ephemeris epoch {epoch})"
        )
    if w.booked_start <= now:
        return (
            f"re-predicted pre-pass would start at {iso_utc(w.booked_start)}, "
            f"already past at {iso_utc(now)}"
        )
    return ""


def _move(
    session: Session,
    contact: Contact,
    new_pass: Pass,
    w: Windows,
    *,
    epoch: str,
    now: datetime,
    cause: str = "",
) -> ContactEvent:
    """Give ``contact`` the windows of ``new_pass``; the window-update event."""
    why = f"window moved ({cause})" if cause else f"window moved with ephemeris epoch {epoch}"
    reason = (
        f"{why}: AOS {iso_utc(contact.aos)} -> "
        f"{iso_utc(new_pass.aos)}, LOS {iso_utc(contact.los)} -> {iso_utc(new_pass.los)}"
    )
    contact.aos, contact.tca, contact.los = new_pass.aos, new_pass.tca, new_pass.los
    contact.max_elevation_deg = new_pass.max_elevation_deg
    contact.booked_start, contact.booked_end = w.booked_start, w.booked_end
    contact.blocked_start, contact.blocked_end = w.blocked_start, w.blocked_end
    return record_window_update(session, contact, at=now, reason=reason)
