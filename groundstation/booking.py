"""Booking: availability, reservation, cancellation and re-prediction.

Keyword-only service functions taking a ``Session``; the API and CLI call
them. Each commits its own unit of work and publishes events after commit.
No double booking is enforced by the database (see ``groundstation.db``);
the checks here give the refusal a message naming the values involved.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload

from groundstation.clock import require_supported, require_utc
from groundstation.errors import (
    AntennaOfflineError,
    BandMismatchError,
    BookingConflictError,
    CancelRefusedError,
    ContactTooShortError,
    DownlinkUnsupportedError,
    EphemerisError,
    IdempotencyKeyReusedError,
    MaintenanceConflictError,
    NoSuchPassError,
    NotFoundError,
    ProfileSettingsError,
    ValidationError,
)
from groundstation.events import ContactEvent, EventSink, NullEventSink
from groundstation.inventory import ephemeris_in_force, get_satellite, profile_visible
from groundstation.models import (
    Antenna,
    Contact,
    Ephemeris,
    GroundStation,
    MaintenanceWindow,
    MissionProfile,
    Satellite,
    new_id,
)
from groundstation.profile_settings import downlink_problems, profile_document, read_profile
from groundstation.states import ACTIVE_STATES, ContactState
from groundstation.transitions import apply_transition, record_window_update

if TYPE_CHECKING:
    from groundstation.settings import Settings
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station

ACTIVE = [s.value for s in ACTIVE_STATES]


#: The longest range a prediction behind the service may run over (passes,
#: availability, planning): a month of passes over every station is
#: bounded work; a 70-year range was 13 s of CPU for one satellite.
MAX_PREDICTION_SPAN = timedelta(days=31)


@dataclass(frozen=True)
class BookingPolicy:
    """Rules with configurable limits (from ``Settings``)."""

    max_ephemeris_age_s: float = 7 * 86400.0
    window_tolerance_s: float = 60.0
    # The longest pass a booking may cover (GS_MAX_PASS_S).
    max_pass_s: float = 43200.0
    # Planning: satellites x stations x days predicted, and candidate windows
    # (GS_MAX_PLAN_SATELLITE_STATION_DAYS, GS_MAX_PLAN_CANDIDATES).
    max_plan_satellite_station_days: float = 20_000.0
    max_plan_candidates: int = 50_000

    @classmethod
    def from_settings(cls, settings: Settings) -> BookingPolicy:
        return cls(
            max_ephemeris_age_s=settings.max_ephemeris_age_days * 86400.0,
            window_tolerance_s=settings.window_tolerance_s,
            max_pass_s=settings.max_pass_s,
            max_plan_satellite_station_days=settings.max_plan_satellite_station_days,
            max_plan_candidates=settings.max_plan_candidates,
        )

    @property
    def max_window_s(self) -> float:
        """The longest window a reservation may ask for: one pass plus the
        tolerance on either side."""
        return self.max_pass_s + 2.0 * self.window_tolerance_s


def require_span(
    start: datetime, end: datetime, *, what: str, limit: timedelta = MAX_PREDICTION_SPAN
) -> None:
    """ValidationError naming the values unless ``start < end`` and the range
    is at most ``limit`` long: checked before any prediction over it."""
    if not start < end:
        raise ValidationError(f"{what}: start {_iso(start)} is not before end {_iso(end)}")
    span = end - start
    if span > limit:
        raise ValidationError(
            f"{what}: {_iso(start)}..{_iso(end)} spans {span.total_seconds() / 86400:.1f} days; "
            f"at most {limit.total_seconds() / 86400:.0f} days per request"
        )


# ---------------------------------------------------------------- helpers


def orbital_station(station: GroundStation, *, min_elevation_deg: float) -> Station:
    """The orbital ``Station`` for a DB station, its minimum raised to
    ``min_elevation_deg`` (the horizon mask still applies)."""
    from orbital.stations import Station

    return Station(
        id=station.id,
        name=station.name,
        lat_deg=station.lat_deg,
        lon_deg=station.lon_deg,
        alt_m=station.alt_m,
        min_elevation_deg=max(station.min_elevation_deg, min_elevation_deg),
        horizon_mask=tuple((float(az), float(el)) for az, el in station.horizon_mask),
    )


def predict(element: ElementSet, station: Station, start: datetime, end: datetime) -> list[Pass]:
    """Passes of one element set over one station (its own limits apply)."""
    from orbital.passes import predict_passes

    return list(predict_passes([element], [station], start, end).passes)


def element_set(ephemeris: Ephemeris) -> ElementSet:
    return element_set_from_text(ephemeris.text)


def required_elevation_deg(antenna: Antenna, profile: MissionProfile) -> float:
    return max(antenna.min_elevation_deg, profile.min_elevation_deg)


def band_fits(antenna: Antenna, satellite: Satellite) -> bool:
    low = satellite.downlink_freq_hz - satellite.downlink_bandwidth_hz / 2
    high = satellite.downlink_freq_hz + satellite.downlink_bandwidth_hz / 2
    return any(lo <= low and high <= hi for lo, hi in antenna.bands)


@dataclass(frozen=True)
class Windows:
    booked_start: datetime
    booked_end: datetime
    blocked_start: datetime
    blocked_end: datetime


def windows_for(aos: datetime, los: datetime, antenna: Antenna, profile: MissionProfile) -> Windows:
    booked_start = aos - timedelta(seconds=profile.prepass_s)
    booked_end = los + timedelta(seconds=profile.postpass_s)
    return Windows(
        booked_start,
        booked_end,
        booked_start - timedelta(seconds=antenna.setup_s),
        booked_end + timedelta(seconds=antenna.teardown_s),
    )


def conflicting_contacts(
    session: Session,
    *,
    antenna_id: str,
    start: datetime,
    end: datetime,
    exclude_id: str | None = None,
) -> list[Contact]:
    query = select(Contact).where(
        Contact.antenna_id == antenna_id,
        Contact.state.in_(ACTIVE),
        Contact.blocked_start < end,
        Contact.blocked_end > start,
    )
    if exclude_id is not None:
        query = query.where(Contact.id != exclude_id)
    return list(session.scalars(query.order_by(Contact.blocked_start)))


def conflicting_maintenance(
    session: Session, *, antenna_id: str, start: datetime, end: datetime
) -> list[MaintenanceWindow]:
    return list(
        session.scalars(
            select(MaintenanceWindow).where(
                MaintenanceWindow.antenna_id == antenna_id,
                MaintenanceWindow.start < end,
                MaintenanceWindow.end > start,
            )
        )
    )


def _iso(t: datetime) -> str:
    # %Y does not pad years before 1000 ("1-01-01"): the year is written apart.
    return f"{t.year:04d}-{t:%m-%dT%H:%M:%S}Z"


def usable_ephemeris(
    session: Session, satellite: Satellite, now: datetime, policy: BookingPolicy
) -> Ephemeris:
    ephemeris = ephemeris_in_force(session, satellite_id=satellite.id, now=now)
    if ephemeris is None:
        raise EphemerisError(
            f"satellite NORAD {satellite.norad_id} has no enabled, unexpired ephemeris; "
            "upload one with `groundstation ephemeris upload`"
        )
    age_s = (now - ephemeris.epoch).total_seconds()
    if age_s > policy.max_ephemeris_age_s:
        raise EphemerisError(
            f"ephemeris of NORAD {satellite.norad_id} has epoch {_iso(ephemeris.epoch)}, "
            f"{age_s / 86400:.2f} days old at {_iso(now)}; the limit is "
            f"{policy.max_ephemeris_age_s / 86400:.2f} days: upload a newer one"
        )
    return ephemeris


# ---------------------------------------------------------------- availability


@dataclass(frozen=True)
class AvailableWindow:
    """A predicted window on one antenna; ``state`` is AVAILABLE when free,
    else BUSY with ``blocked_by`` naming the contact, maintenance or status."""

    norad_id: int
    station_id: str
    antenna_id: str
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    duration_s: float
    state: str
    blocked_by: str

    @property
    def free(self) -> bool:
        return self.state == ContactState.AVAILABLE.value


def availability(
    session: Session,
    *,
    norad_id: int,
    profile_id: str,
    start: datetime,
    end: datetime,
    now: datetime,
    station_ids: Sequence[str] | None = None,
    policy: BookingPolicy | None = None,
) -> list[AvailableWindow]:
    """Predicted windows of a satellite over the stations' antennas that can
    receive its downlink, lasting at least the profile's minimum viable
    duration, each flagged free or busy; sorted by AOS then antenna."""
    start, end, now = (
        require_supported(start, "start"),
        require_supported(end, "end"),
        require_utc(now, "now"),
    )
    require_span(start, end, what="availability")
    policy = policy or BookingPolicy()
    satellite = get_satellite(session, norad_id=norad_id)
    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise NotFoundError("mission profile", profile_id)
    ephemeris = usable_ephemeris(session, satellite, now, policy)
    element = element_set(ephemeris)
    query = select(Antenna).join(GroundStation).order_by(Antenna.station_id, Antenna.id)
    if station_ids is not None:
        missing = set(station_ids) - set(
            session.scalars(select(GroundStation.id).where(GroundStation.id.in_(station_ids)))
        )
        if missing:
            raise NotFoundError("station", sorted(missing)[0])
        query = query.where(Antenna.station_id.in_(station_ids))
    # Read what is needed, end the transaction (on SQLite it holds the write
    # lock), predict, then read the bookings in a second short transaction.
    candidates = [
        (
            antenna.id,
            antenna.station_id,
            antenna.status,
            antenna.setup_s,
            antenna.teardown_s,
            orbital_station(
                antenna.station, min_elevation_deg=required_elevation_deg(antenna, profile)
            ),
        )
        for antenna in session.scalars(query)
        if band_fits(antenna, satellite)
    ]
    prepass = timedelta(seconds=profile.prepass_s)
    postpass = timedelta(seconds=profile.postpass_s)
    min_duration_s = profile.min_viable_duration_s
    session.rollback()

    cache: dict[tuple[str, float], list[Pass]] = {}
    predicted: list[tuple[str, str, str, Pass, datetime, datetime]] = []
    for antenna_id, station_id, status, setup_s, teardown_s, station in candidates:
        key = (station_id, station.min_elevation_deg)
        if key not in cache:
            cache[key] = predict(element, station, start, end)
        for p in cache[key]:
            if p.duration_s >= min_duration_s:
                blocked_start = p.aos - prepass - timedelta(seconds=setup_s)
                blocked_end = p.los + postpass + timedelta(seconds=teardown_s)
                predicted.append((antenna_id, station_id, status, p, blocked_start, blocked_end))

    windows: list[AvailableWindow] = []
    for antenna_id, station_id, status, p, blocked_start, blocked_end in predicted:
        blocked_by = ""
        if status != "online":
            blocked_by = f"antenna status {status}"
        else:
            clash = conflicting_contacts(
                session, antenna_id=antenna_id, start=blocked_start, end=blocked_end
            )
            if clash:
                blocked_by = f"contact {clash[0].id}"
            else:
                maint = conflicting_maintenance(
                    session, antenna_id=antenna_id, start=blocked_start, end=blocked_end
                )
                if maint:
                    blocked_by = f"maintenance {_iso(maint[0].start)}..{_iso(maint[0].end)}"
        windows.append(
            AvailableWindow(
                norad_id=norad_id,
                station_id=station_id,
                antenna_id=antenna_id,
                aos=p.aos,
                tca=p.tca,
                los=p.los,
                max_elevation_deg=p.max_elevation_deg,
                duration_s=p.duration_s,
                state="BUSY" if blocked_by else ContactState.AVAILABLE.value,
                blocked_by=blocked_by,
            )
        )
    session.rollback()
    windows.sort(key=lambda w: (w.aos, w.antenna_id))
    return windows


# ---------------------------------------------------------------- reserve


def _find_idempotent(session: Session, tenant: str, key: str | None) -> Contact | None:
    if key is None:
        return None
    return session.scalar(
        select(Contact).where(Contact.tenant == tenant, Contact.idempotency_key == key)
    )


def request_fingerprint(
    *, norad_id: int, antenna_id: str, profile_id: str, start: datetime, end: datetime
) -> str:
    """SHA-256 (hex) of a reservation request in canonical form (instants in
    UTC), stored with its idempotency key: the same key sent again must come
    with the same request (draft-ietf-httpapi-idempotency-key-header)."""
    canonical = json.dumps(
        {
            "operation": "reserve",
            "norad_id": norad_id,
            "antenna_id": antenna_id,
            "profile_id": profile_id,
            "start": start.isoformat(timespec="microseconds"),
            "end": end.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(session: Session, existing: Contact, key: str | None, fingerprint: str) -> Contact:
    """The contact booked before with this key, if the request is the same
    (contacts booked before fingerprints were stored have none: returned)."""
    if existing.idempotency_fingerprint not in (None, fingerprint):
        contact_id = existing.id
        session.rollback()
        raise IdempotencyKeyReusedError(
            f"idempotency key {key!r} was first sent with another reservation (it booked "
            f"contact {contact_id}); a key names one request: send a new key for this one"
        )
    session.commit()  # read-only; keeps the loaded attributes (no rollback expiry)
    return existing


def _profile_problems(profile: MissionProfile) -> list[str]:
    return read_profile(profile_document(profile))[1]


def _match_pass(passes: Sequence[Pass], start: datetime, end: datetime) -> Pass | None:
    """The predicted pass overlapping [start, end] the most."""
    best: Pass | None = None
    best_overlap = 0.0
    for p in passes:
        overlap = (min(end, p.los) - max(start, p.aos)).total_seconds()
        if overlap > best_overlap:
            best, best_overlap = p, overlap
    return best


def _window(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime, datetime]:
    """A requested window in UTC, inside the supported range, start < end."""
    start, end, now = (
        require_supported(start, "start"),
        require_supported(end, "end"),
        require_utc(now, "now"),
    )
    if not start < end:
        raise ValidationError(f"start {_iso(start)} is not before end {_iso(end)}")
    return start, end, now


def _require_one_pass(start: datetime, end: datetime, policy: BookingPolicy) -> None:
    """Refused before anything is read or predicted: the prediction runs
    over the window (plus margins), so its length is the cost."""
    window_s = (end - start).total_seconds()
    if window_s > policy.max_window_s:
        raise ValidationError(
            f"window {_iso(start)}..{_iso(end)} lasts {window_s:.0f} s; a booking covers one "
            f"pass: at most {policy.max_window_s:.0f} s (the longest pass, GS_MAX_PASS_S "
            f"{policy.max_pass_s:.0f} s, plus {policy.window_tolerance_s:.0f} s tolerance on "
            "either side); take AOS and LOS from GET /passes"
        )


@dataclass(frozen=True)
class PreparedReservation:
    """A reservation that passed every rule needing no write lock (phase 1 of
    ``reserve``): the pass it matched and the ephemeris it was predicted with.
    ``stage_reservation`` inserts it inside a write transaction."""

    satellite: Satellite
    antenna_id: str
    profile_id: str
    tenant: str
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    ephemeris_id: int
    ephemeris_epoch: datetime
    ephemeris_text: str
    idempotency_key: str | None
    # SHA-256 of the request, stored with its idempotency key (None without one).
    idempotency_fingerprint: str | None = None


def prepare_reservation(
    session: Session,
    *,
    norad_id: int,
    antenna_id: str,
    profile_id: str,
    start: datetime,
    end: datetime,
    tenant: str,
    now: datetime,
    idempotency_key: str | None = None,
    policy: BookingPolicy | None = None,
    satellite: Satellite | None = None,
) -> PreparedReservation:
    """Phase 1 of a reservation: read what the rules need (a short read
    transaction, ended here), then match the predicted pass outside any write
    lock. Raises the ``BookingRefusedError`` of the first rule broken. The
    profile must be shared or ``tenant``'s (else ``NotFoundError``), and its
    stored settings and the satellite's downlink ones the executor can use."""
    start, end, now = _window(start, end, now)
    policy = policy or BookingPolicy()
    _require_one_pass(start, end, policy)
    if satellite is None or satellite.norad_id != norad_id:
        satellite = get_satellite(session, norad_id=norad_id)
    antenna = session.get(Antenna, antenna_id, options=[joinedload(Antenna.station)])
    if antenna is None:
        raise NotFoundError("antenna", antenna_id)
    profile = session.get(MissionProfile, profile_id)
    if profile is None or not profile_visible(profile, (tenant,)):
        raise NotFoundError("mission profile", profile_id)
    if problems := _profile_problems(profile):
        raise ProfileSettingsError(
            f"mission profile {profile_id!r} has stored settings the executor cannot use: "
            f"{'; '.join(problems)}; correct them (PUT or PATCH the profile) and book again"
        )
    if problems := downlink_problems(
        modulation=satellite.modulation, framing_profile=satellite.framing_profile
    ):
        raise DownlinkUnsupportedError(
            f"satellite NORAD {norad_id} has a downlink the receiver cannot decode: "
            + "; ".join(problems)
        )
    if antenna.status != "online":
        raise AntennaOfflineError(f"antenna {antenna_id} is {antenna.status}, not online")
    if not band_fits(antenna, satellite):
        bands = ", ".join(f"{lo / 1e6:.3f}-{hi / 1e6:.3f} MHz" for lo, hi in antenna.bands)
        raise BandMismatchError(
            f"downlink of NORAD {norad_id} at {satellite.downlink_freq_hz / 1e6:.3f} MHz "
            f"(bandwidth {satellite.downlink_bandwidth_hz / 1e3:.1f} kHz) is outside the bands "
            f"of antenna {antenna_id}: {bands or 'none'}"
        )
    ephemeris = usable_ephemeris(session, satellite, now, policy)
    min_el = required_elevation_deg(antenna, profile)
    station = orbital_station(antenna.station, min_elevation_deg=min_el)
    station_id = antenna.station_id
    ephemeris_snapshot = (ephemeris.id, ephemeris.epoch, ephemeris.text)
    # Read-only so far: commit (not rollback) keeps the loaded rows, so phase 2
    # finds the antenna and profile in the session instead of reading them again.
    session.commit()

    margin = timedelta(hours=2)
    passes = predict(
        element_set_from_text(ephemeris_snapshot[2]), station, start - margin, end + margin
    )
    tolerance = timedelta(seconds=policy.window_tolerance_s)
    match = _match_pass(passes, start - tolerance, end + tolerance)
    if match is None:
        raise NoSuchPassError(
            f"no pass of NORAD {norad_id} over station {station_id} above {min_el:.1f} deg "
            f"overlaps {_iso(start)}..{_iso(end)}; use availability to find windows"
        )
    if start < match.aos - tolerance or end > match.los + tolerance:
        raise NoSuchPassError(
            f"window {_iso(start)}..{_iso(end)} extends beyond the predicted pass of NORAD "
            f"{norad_id} over {station_id} (AOS {_iso(match.aos)}, LOS {_iso(match.los)}) by more "
            f"than {policy.window_tolerance_s:.0f} s"
        )
    aos, los = max(start, match.aos), min(end, match.los)
    duration_s = (los - aos).total_seconds()
    if duration_s < profile.min_viable_duration_s:
        raise ContactTooShortError(
            f"contact {_iso(aos)}..{_iso(los)} lasts {duration_s:.0f} s, less than the minimum "
            f"viable {profile.min_viable_duration_s:.0f} s of profile {profile_id}"
        )
    return PreparedReservation(
        satellite=satellite,
        antenna_id=antenna_id,
        profile_id=profile_id,
        tenant=tenant,
        aos=aos,
        tca=min(max(match.tca, aos), los),
        los=los,
        max_elevation_deg=match.max_elevation_deg,
        ephemeris_id=ephemeris_snapshot[0],
        ephemeris_epoch=ephemeris_snapshot[1],
        ephemeris_text=ephemeris_snapshot[2],
        idempotency_key=idempotency_key,
        idempotency_fingerprint=None
        if idempotency_key is None
        else request_fingerprint(
            norad_id=norad_id, antenna_id=antenna_id, profile_id=profile_id, start=start, end=end
        ),
    )


def stage_reservation(
    session: Session, prepared: PreparedReservation, *, now: datetime
) -> tuple[Contact, ContactEvent]:
    """Phase 2 of a reservation, inside the caller's write transaction: check
    the rules that need the lock (pre-pass not started, no maintenance) and
    add the SCHEDULED contact. Nothing is committed or flushed here: the
    database refuses an overlap at flush (``IntegrityError``, see
    ``overlap_refusal``). Returns the contact and the event to publish once
    the caller's transaction has committed."""
    p = prepared
    antenna = session.get(Antenna, p.antenna_id)
    profile = session.get(MissionProfile, p.profile_id)
    assert antenna is not None and profile is not None
    w = windows_for(p.aos, p.los, antenna, profile)
    if w.booked_start <= now:
        raise NoSuchPassError(
            f"pre-pass of that window would start at {_iso(w.booked_start)}, not after "
            f"now ({_iso(now)})"
        )
    maint = conflicting_maintenance(
        session, antenna_id=p.antenna_id, start=w.blocked_start, end=w.blocked_end
    )
    if maint:
        m = maint[0]
        raise MaintenanceConflictError(
            f"antenna {p.antenna_id} is in maintenance {_iso(m.start)}..{_iso(m.end)} "
            f"({m.reason or 'no reason given'}), overlapping the window "
            f"{_iso(w.blocked_start)}..{_iso(w.blocked_end)} incl. setup/teardown"
        )
    # No look-up of overlapping bookings first: the database refuses the
    # insert (PostgreSQL exclusion constraint, SQLite trigger), and
    # ``overlap_refusal`` names the booking that holds the window.
    contact = Contact(
        id=new_id(),
        satellite_id=p.satellite.id,
        antenna_id=p.antenna_id,
        # Held by the contact (the session's identity map is weak), so
        # callers read its station and NORAD id without another query.
        satellite=p.satellite,
        antenna=antenna,
        profile_id=p.profile_id,
        tenant=p.tenant,
        booked_start=w.booked_start,
        booked_end=w.booked_end,
        blocked_start=w.blocked_start,
        blocked_end=w.blocked_end,
        aos=p.aos,
        tca=p.tca,
        los=p.los,
        max_elevation_deg=p.max_elevation_deg,
        ephemeris_id=p.ephemeris_id,
        ephemeris_epoch=p.ephemeris_epoch,
        ephemeris_text=p.ephemeris_text,
        state=ContactState.AVAILABLE.value,
        idempotency_key=p.idempotency_key,
        idempotency_fingerprint=p.idempotency_fingerprint,
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    event = apply_transition(
        session, contact, ContactState.SCHEDULED, at=now, reason=f"reserved by {p.tenant}"
    )
    return contact, event


def overlap_refusal(
    session: Session, exc: IntegrityError, contact: Contact
) -> BookingConflictError | None:
    """After the database refused ``contact`` (and the caller rolled back):
    the refusal naming the booking that holds its window, or None when the
    ``IntegrityError`` was not an overlap. Ends its read transaction."""
    if not is_overlap_violation(exc):
        return None
    clash = conflicting_contacts(
        session, antenna_id=contact.antenna_id, start=contact.blocked_start, end=contact.blocked_end
    )
    session.commit()
    if clash:
        other = clash[0]
        return BookingConflictError(
            f"antenna {contact.antenna_id} is booked by contact {other.id} "
            f"{_iso(other.blocked_start)}..{_iso(other.blocked_end)} (incl. setup/teardown), "
            f"overlapping the requested {_iso(contact.blocked_start)}..{_iso(contact.blocked_end)}"
        )
    return BookingConflictError(
        f"antenna {contact.antenna_id}: the window {_iso(contact.aos)}..{_iso(contact.los)} was "
        f"booked concurrently by another request (database refused the overlap: "
        f"{type(exc.orig).__name__})"
    )


def reserve(
    session: Session,
    *,
    norad_id: int,
    antenna_id: str,
    profile_id: str,
    start: datetime,
    end: datetime,
    tenant: str,
    now: datetime,
    idempotency_key: str | None = None,
    policy: BookingPolicy | None = None,
    events: EventSink | None = None,
    satellite: Satellite | None = None,
) -> Contact:
    """Book the predicted pass of ``norad_id`` over ``antenna_id`` covering
    [start, end] (the visibility window, e.g. AOS..LOS from ``availability``).

    The contact's visibility is the requested window clipped to the predicted
    pass; its booked window adds the profile's pre- and post-pass. Every
    refusal raises a ``BookingRefusedError`` subclass naming the rule and values.
    The same ``idempotency_key`` (per tenant) with the same request returns
    the same contact; with another request it raises
    ``IdempotencyKeyReusedError``. The profile must be shared or ``tenant``'s
    (else ``NotFoundError``), and its stored settings and the satellite's
    downlink must be ones the executor can use.
    ``satellite``: its row, when the caller has read it in this session.
    """
    start, end, now = _window(start, end, now)
    _require_one_pass(start, end, policy or BookingPolicy())
    sink = events if events is not None else NullEventSink()
    fingerprint = request_fingerprint(
        norad_id=norad_id, antenna_id=antenna_id, profile_id=profile_id, start=start, end=end
    )

    # Phase 1: read what the rules need (short transaction), then predict
    # outside any write lock.
    existing = _find_idempotent(session, tenant, idempotency_key)
    if existing is not None:
        return _replay(session, existing, idempotency_key, fingerprint)
    prepared = prepare_reservation(
        session,
        norad_id=norad_id,
        antenna_id=antenna_id,
        profile_id=profile_id,
        start=start,
        end=end,
        tenant=tenant,
        now=now,
        idempotency_key=idempotency_key,
        policy=policy,
        satellite=satellite,
    )

    # Phase 2: one write transaction holding the check and the insert.
    attempt = 0
    while True:
        attempt += 1
        try:
            existing = _find_idempotent(session, tenant, idempotency_key)
            if existing is not None:
                return _replay(session, existing, idempotency_key, fingerprint)
            contact, event = stage_reservation(session, prepared, now=now)
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            # A retry with the same key may have committed first (READ
            # COMMITTED): that is the same contact.
            existing = _find_idempotent(session, tenant, idempotency_key)
            if existing is not None:
                return _replay(session, existing, idempotency_key, fingerprint)
            refusal = overlap_refusal(session, exc, contact)
            if refusal is None:
                session.commit()
                raise
            raise refusal from exc
        except OperationalError as exc:
            session.rollback()
            # PostgreSQL may resolve two inserts waiting on each other's
            # overlap check as a deadlock (or a serialization failure): the
            # victim runs again and then sees the other booking.
            if attempt < TRANSIENT_ATTEMPTS and is_transient(exc):
                continue
            raise
        except BaseException:
            session.rollback()
            raise
        break
    sink.publish(event)
    return contact


TRANSIENT_ATTEMPTS = 3


def is_transient(exc: DBAPIError) -> bool:
    """A deadlock or serialization failure (SQLSTATE 40P01, 40001): running
    the transaction again is the documented remedy."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001")


def is_overlap_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a row for overlapping another booking
    (PostgreSQL exclusion constraint, SQLite trigger)."""
    text = str(exc.orig)
    return "ex_contacts_antenna_no_overlap" in text or "overlaps an active booking" in text


@functools.lru_cache(maxsize=4096)
def element_set_from_text(text: str) -> ElementSet:
    """The element set stored as ``text`` (parsed once per text: element sets
    are immutable, and every reservation of a satellite reads the same one)."""
    from orbital.omm import parse_element_set

    return parse_element_set(text)


# ---------------------------------------------------------------- cancel / list


def cancel(
    session: Session,
    *,
    contact_id: str,
    now: datetime,
    reason: str = "cancelled by user",
    events: EventSink | None = None,
) -> Contact:
    """Cancel a SCHEDULED contact whose pre-pass has not started."""
    now = require_utc(now, "now")
    contact = session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        session.rollback()
        raise NotFoundError("contact", contact_id)
    if contact.state != ContactState.SCHEDULED.value or now >= contact.booked_start:
        state, start = contact.state, contact.booked_start
        session.rollback()
        raise CancelRefusedError(
            f"contact {contact_id} is {state} and its pre-pass starts at {_iso(start)}; "
            f"cancelling is allowed only while SCHEDULED before the pre-pass (now {_iso(now)})"
        )
    event = apply_transition(session, contact, ContactState.CANCELLED, at=now, reason=reason)
    session.commit()
    (events if events is not None else NullEventSink()).publish(event)
    return contact


def get_contact(session: Session, *, contact_id: str) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError("contact", contact_id)
    return contact


def list_contacts(
    session: Session,
    *,
    tenant: str | None = None,
    states: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[Contact], int]:
    """Contacts ordered by booked start, and the total count matching."""
    from sqlalchemy import func

    query = select(Contact)
    if tenant is not None:
        query = query.where(Contact.tenant == tenant)
    if states is not None:
        bad = [s for s in states if s not in ContactState.__members__]
        if bad:
            raise ValidationError(f"unknown contact state {bad[0]!r}")
        query = query.where(Contact.state.in_(list(states)))
    if start is not None:
        query = query.where(Contact.booked_end > require_utc(start, "start"))
    if end is not None:
        query = query.where(Contact.booked_start < require_utc(end, "end"))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        session.scalars(
            query.order_by(Contact.booked_start, Contact.id).limit(limit).offset(offset)
        )
    )
    return rows, int(count)


# ---------------------------------------------------------------- re-prediction


def repredict_contacts(
    session: Session,
    *,
    satellite_id: int,
    now: datetime,
    events: EventSink | None = None,
    window_tolerance_s: float = 60.0,
    match_within_s: float = 900.0,
) -> list[ContactEvent]:
    """Re-predict the satellite's SCHEDULED contacts whose pre-pass has not
    started, with the ephemeris now in force. A window that moved is updated
    (antenna re-checked); one that vanished or now conflicts becomes
    FAILED_TO_SCHEDULE with the reason. Returns (and publishes) the events."""
    now = require_utc(now, "now")
    sink = events if events is not None else NullEventSink()
    ephemeris = ephemeris_in_force(session, satellite_id=satellite_id, now=now)
    if ephemeris is None:
        return []
    element = element_set(ephemeris)
    contacts = list(
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
    out: list[ContactEvent] = []
    epoch = _iso(ephemeris.epoch)
    for contact in contacts:
        antenna, profile = contact.antenna, contact.profile
        min_el = required_elevation_deg(antenna, profile)
        station = orbital_station(antenna.station, min_elevation_deg=min_el)
        margin = timedelta(seconds=match_within_s + 3600)
        passes = predict(element, station, contact.aos - margin, contact.los + margin)
        near = [
            p
            for p in passes
            if abs((p.tca - contact.tca).total_seconds()) <= match_within_s
            or (min(p.los, contact.los) > max(p.aos, contact.aos))
        ]
        new_pass = min(near, key=lambda p: abs((p.tca - contact.tca).total_seconds()), default=None)
        failure = ""
        if new_pass is None:
            failure = (
                f"no pass over {antenna.station_id} above {min_el:.1f} deg is predicted within "
                f"{match_within_s:.0f} s of the booked TCA {_iso(contact.tca)} with the "
                f"ephemeris of epoch {epoch}"
            )
        else:
            moved = (
                abs((new_pass.aos - contact.aos).total_seconds()) > 1.0
                or abs((new_pass.los - contact.los).total_seconds()) > 1.0
            )
            w = windows_for(new_pass.aos, new_pass.los, antenna, profile)
            if moved and new_pass.duration_s < profile.min_viable_duration_s:
                failure = (
                    f"re-predicted pass {_iso(new_pass.aos)}..{_iso(new_pass.los)} lasts "
                    f"{new_pass.duration_s:.0f} s, less than the minimum viable "
                    f"{profile.min_viable_duration_s:.0f} s (ephemeris epoch {epoch})"
                )
            elif moved:
                clash = conflicting_contacts(
                    session,
                    antenna_id=antenna.id,
                    start=w.blocked_start,
                    end=w.blocked_end,
                    exclude_id=contact.id,
                )
                maint = conflicting_maintenance(
                    session, antenna_id=antenna.id, start=w.blocked_start, end=w.blocked_end
                )
                if clash:
                    failure = (
                        f"re-predicted window {_iso(w.blocked_start)}..{_iso(w.blocked_end)} "
                        f"now overlaps contact {clash[0].id} on antenna {antenna.id} "
                        f"(ephemeris epoch {epoch})"
                    )
                elif maint:
                    failure = (
                        f"re-predicted window {_iso(w.blocked_start)}..{_iso(w.blocked_end)} "
                        f"now overlaps maintenance {_iso(maint[0].start)}..{_iso(maint[0].end)} "
                        f"on antenna {antenna.id} (ephemeris epoch {epoch})"
                    )
                elif w.booked_start <= now:
                    failure = (
                        f"re-predicted pre-pass would start at {_iso(w.booked_start)}, "
                        f"already past at {_iso(now)}"
                    )
        contact.ephemeris_id = ephemeris.id
        contact.ephemeris_epoch = ephemeris.epoch
        contact.ephemeris_text = ephemeris.text
        if failure:
            out.append(
                apply_transition(
                    session, contact, ContactState.FAILED_TO_SCHEDULE, at=now, reason=failure
                )
            )
            continue
        assert new_pass is not None
        if moved:
            reason = (
                f"window moved with ephemeris epoch {epoch}: AOS {_iso(contact.aos)} -> "
                f"{_iso(new_pass.aos)}, LOS {_iso(contact.los)} -> {_iso(new_pass.los)}"
            )
            contact.aos, contact.tca, contact.los = new_pass.aos, new_pass.tca, new_pass.los
            contact.max_elevation_deg = new_pass.max_elevation_deg
            contact.booked_start, contact.booked_end = w.booked_start, w.booked_end
            contact.blocked_start, contact.blocked_end = w.blocked_start, w.blocked_end
            out.append(record_window_update(session, contact, at=now, reason=reason))
        session.flush()
    session.commit()
    for event in out:
        sink.publish(event)
    return out
