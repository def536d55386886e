"""Booking: reserve a predicted pass on an antenna, cancel a contact.

A reservation runs in two phases, also used on their own by the plan commit
(``plan_proposals``): ``prepare_reservation`` reads what the rules need in a
short transaction, ends it, and matches the predicted pass outside any write
lock; ``stage_reservation`` checks the rules that need the lock and adds the
contact inside the caller's write transaction. No double booking is
enforced by the database (see ``groundstation.db``): ``overlap_refusal``
turns its refusal into a ``BookingConflictError`` naming the booking that
holds the window. Each public function commits its own unit of work and
publishes events after commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from groundstation.availability import (
    band_fits,
    conflicting_contacts,
    conflicting_maintenance,
    prepass_started,
    windows_for,
)
from groundstation.clock import iso_utc, require_supported, require_utc
from groundstation.db import retry_transient
from groundstation.ephemerides import usable_ephemeris
from groundstation.errors import (
    AntennaOfflineError,
    BandMismatchError,
    BookingConflictError,
    CancelRefusedError,
    ConflictingContact,
    ContactTooShortError,
    DownlinkUnsupportedError,
    IdempotencyKeyReusedError,
    MaintenanceConflictError,
    NoSuchPassError,
    NotFoundError,
    ProfileSettingsError,
    SlewRateError,
    StationOfflineError,
    ValidationError,
)
from groundstation.events import ContactEvent, EventSink, NullEventSink
from groundstation.inventory import get_satellite, profile_visible
from groundstation.models import (
    Antenna,
    Contact,
    MissionProfile,
    Satellite,
    StationAgent,
    new_id,
)
from groundstation.policy import BookingPolicy
from groundstation.prediction import (
    element_set_from_text,
    orbital_station,
    predict,
    required_elevation_deg,
)
from groundstation.profile_settings import (
    downlink_problems,
    profile_document,
    read_profile,
    satellite_transmitter_problems,
)
from groundstation.states import ContactState
from groundstation.transitions import apply_transition

if TYPE_CHECKING:
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station


# ---------------------------------------------------------------- reserve


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
    fingerprint = request_fingerprint(
        norad_id=norad_id, antenna_id=antenna_id, profile_id=profile_id, start=start, end=end
    )
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
    contact, event = retry_transient(session, lambda: _book(session, prepared, fingerprint, now))
    if event is not None:
        (events if events is not None else NullEventSink()).publish(event)
    return contact


def _book(
    session: Session, prepared: PreparedReservation, fingerprint: str, now: datetime
) -> tuple[Contact, ContactEvent | None]:
    """Phase 2 of ``reserve``: one write transaction holding the checks and
    the insert. The contact and the event to publish; or the contact a
    request with the same key booked first, and no event."""
    tenant, key = prepared.tenant, prepared.idempotency_key
    existing = _find_idempotent(session, tenant, key)
    if existing is not None:
        return _replay(session, existing, key, fingerprint), None
    contact, event = stage_reservation(session, prepared, now=now)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        # A retry with the same key may have committed first (READ
        # COMMITTED): that is the same contact.
        existing = _find_idempotent(session, tenant, key)
        if existing is not None:
            return _replay(session, existing, key, fingerprint), None
        refusal = overlap_refusal(session, exc, contact)
        if refusal is None:
            session.commit()
            raise
        raise refusal from exc
    return contact, event


# ---------------------------------------------------------------- idempotency


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


def _find_idempotent(session: Session, tenant: str, key: str | None) -> Contact | None:
    if key is None:
        return None
    return session.scalar(
        select(Contact).where(Contact.tenant == tenant, Contact.idempotency_key == key)
    )


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


# ---------------------------------------------------------------- phase 1


def _window(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime, datetime]:
    """A requested window in UTC, inside the supported range, start < end."""
    start, end, now = (
        require_supported(start, "start"),
        require_supported(end, "end"),
        require_utc(now, "now"),
    )
    if not start < end:
        raise ValidationError(f"start {iso_utc(start)} is not before end {iso_utc(end)}")
    return start, end, now


def _require_one_pass(start: datetime, end: datetime, policy: BookingPolicy) -> None:
    """Refused before anything is read or predicted: the prediction runs
    over the window (plus margins), so its length is the cost."""
    window_s = (end - start).total_seconds()
    if window_s > policy.max_window_s:
        raise ValidationError(
            f"window {iso_utc(start)}..{iso_utc(end)} lasts {window_s:.0f} s; a booking covers one "
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
    # The rows phase 1 read, held so that phase 2 finds them in the session
    # (its identity map is weak) rather than reading them again.
    rows: tuple[Antenna, MissionProfile] | None = None


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
    antenna, profile = _antenna_and_profile(session, antenna_id, profile_id, tenant)
    _require_workable(satellite, antenna, profile)
    # A station agent moves a real rotator; the in-process simulator moves none.
    agent = session.get(StationAgent, antenna.station_id)
    has_rotator = agent is not None
    if agent is not None:
        _require_agent_online(agent, now, policy)
    ephemeris = usable_ephemeris(session, satellite, now, policy)
    min_el = required_elevation_deg(antenna, profile)
    station = orbital_station(antenna.station, min_elevation_deg=min_el)
    ephemeris_id, epoch, text = ephemeris.id, ephemeris.epoch, ephemeris.text
    # Read-only so far: commit (not rollback) keeps the loaded rows, so phase 2
    # finds the antenna and profile in the session instead of reading them again.
    session.commit()
    match = _matching_pass(
        element_set_from_text(text), station, start, end, policy, norad_id=norad_id, min_el=min_el
    )
    aos, los = _visibility(match, start, end, profile)
    if has_rotator:
        _require_slew(element_set_from_text(text), station, antenna, aos, los)
    return PreparedReservation(
        satellite=satellite,
        antenna_id=antenna_id,
        profile_id=profile_id,
        tenant=tenant,
        aos=aos,
        tca=min(max(match.tca, aos), los),
        los=los,
        max_elevation_deg=match.max_elevation_deg,
        ephemeris_id=ephemeris_id,
        ephemeris_epoch=epoch,
        ephemeris_text=text,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=None
        if idempotency_key is None
        else request_fingerprint(
            norad_id=norad_id, antenna_id=antenna_id, profile_id=profile_id, start=start, end=end
        ),
        rows=(antenna, profile),
    )


def _antenna_and_profile(
    session: Session, antenna_id: str, profile_id: str, tenant: str
) -> tuple[Antenna, MissionProfile]:
    """The antenna (with its station) and the profile, which must be shared
    or ``tenant``'s; ``NotFoundError`` otherwise."""
    antenna = session.get(Antenna, antenna_id, options=[joinedload(Antenna.station)])
    if antenna is None:
        raise NotFoundError("antenna", antenna_id)
    profile = session.get(MissionProfile, profile_id)
    if profile is None or not profile_visible(profile, (tenant,)):
        raise NotFoundError("mission profile", profile_id)
    return antenna, profile


def _require_workable(satellite: Satellite, antenna: Antenna, profile: MissionProfile) -> None:
    """The rules on what is stored: ``require_bookable``, and an online
    antenna whose bands hold the downlink."""
    require_bookable(satellite, profile)
    if antenna.status != "online":
        raise AntennaOfflineError(f"antenna {antenna.id} is {antenna.status}, not online")
    if not band_fits(antenna, satellite):
        bands = ", ".join(f"{lo / 1e6:.3f}-{hi / 1e6:.3f} MHz" for lo, hi in antenna.bands)
        raise BandMismatchError(
            f"downlink of NORAD {satellite.norad_id} at {satellite.downlink_freq_hz / 1e6:.3f} MHz "
            f"(bandwidth {satellite.downlink_bandwidth_hz / 1e3:.1f} kHz) is outside the bands "
            f"of antenna {antenna.id}: {bands or 'none'}"
        )


def require_bookable(satellite: Satellite, profile: MissionProfile) -> None:
    """The rules on what is stored that hold for every antenna: profile
    settings the executor can use, a downlink the receiver decodes
    (``GET /passes?profile=`` asks them too)."""
    if problems := read_profile(profile_document(profile))[1]:
        raise ProfileSettingsError(
            f"mission profile {profile.id!r} has stored settings the executor cannot use: "
            f"{'; '.join(problems)}; correct them (PUT or PATCH the profile) and book again"
        )
    if problems := downlink_problems(
        norad_id=satellite.norad_id,
        modulation=satellite.modulation,
        framing_profile=satellite.framing_profile,
    ):
        raise DownlinkUnsupportedError(
            f"satellite NORAD {satellite.norad_id} has a downlink the receiver cannot decode: "
            + "; ".join(problems)
        )
    if problems := satellite_transmitter_problems(satellite, profile):
        raise DownlinkUnsupportedError(
            f"satellite NORAD {satellite.norad_id} with mission profile {profile.id!r}: "
            + "; ".join(problems)
        )


def _matching_pass(
    element: ElementSet,
    station: Station,
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    *,
    norad_id: int,
    min_el: float,
) -> Pass:
    """The predicted pass the window [start, end] asks for: the one it
    overlaps most, which it may exceed by the policy's tolerance at most."""
    margin = timedelta(hours=2)
    passes = predict([element], [station], start - margin, end + margin)
    tolerance = timedelta(seconds=policy.window_tolerance_s)
    match = _most_overlapping(passes, start - tolerance, end + tolerance)
    if match is None:
        raise NoSuchPassError(
            f"no pass of NORAD {norad_id} over station {station.id} above {min_el:.1f} deg "
            f"overlaps {iso_utc(start)}..{iso_utc(end)}; use availability to find windows"
        )
    if start < match.aos - tolerance or end > match.los + tolerance:
        raise NoSuchPassError(
            f"window {iso_utc(start)}..{iso_utc(end)} extends beyond the predicted pass of NORAD "
            f"{norad_id} over {station.id} (AOS {iso_utc(match.aos)}, LOS {iso_utc(match.los)}) "
            f"by more than {policy.window_tolerance_s:.0f} s"
        )
    return match


def _require_agent_online(agent: StationAgent, now: datetime, policy: BookingPolicy) -> None:
    silent_s = (now - agent.last_seen_at).total_seconds()
    if silent_s > policy.agent_booking_offline_s:
        raise StationOfflineError(
            f"station {agent.station_id} offline since {iso_utc(agent.last_seen_at)} "
            f"({silent_s:.0f} s without a heartbeat from its agent, more than "
            f"GS_AGENT_BOOKING_OFFLINE_S={policy.agent_booking_offline_s:g}); "
            "book when its agent is back"
        )


def _require_slew(
    element: ElementSet, station: Station, antenna: Antenna, aos: datetime, los: datetime
) -> None:
    """Refuse a pass the antenna's rotator cannot follow at its slew rates
    (``station.pointing.slew_refusal``: the pointing plan, flip included).
    Checked at stations run by an agent (``StationAgent``), whose contacts
    move a real rotator; contacts simulated in-process move none."""
    from groundstation.station.pointing import RotatorConfig, slew_refusal
    from orbital.track import compute_track

    track = compute_track(element, station, start=aos, end=los, step_s=1.0)
    config = RotatorConfig(
        max_az_slew_deg_s=antenna.max_az_slew_deg_s, max_el_slew_deg_s=antenna.max_el_slew_deg_s
    )
    refusal = slew_refusal(track, config, antenna_id=antenna.id)
    if refusal is not None:
        raise SlewRateError(refusal)


def _most_overlapping(passes: Sequence[Pass], start: datetime, end: datetime) -> Pass | None:
    """The predicted pass overlapping [start, end] the most."""
    best: Pass | None = None
    best_overlap = 0.0
    for p in passes:
        overlap = (min(end, p.los) - max(start, p.aos)).total_seconds()
        if overlap > best_overlap:
            best, best_overlap = p, overlap
    return best


def _visibility(
    match: Pass, start: datetime, end: datetime, profile: MissionProfile
) -> tuple[datetime, datetime]:
    """The requested window clipped to the pass, if it lasts the profile's
    minimum viable duration."""
    aos, los = max(start, match.aos), min(end, match.los)
    duration_s = (los - aos).total_seconds()
    if duration_s < profile.min_viable_duration_s:
        raise ContactTooShortError(
            f"contact {iso_utc(aos)}..{iso_utc(los)} lasts {duration_s:.0f} s, less than the "
            f"minimum viable {profile.min_viable_duration_s:.0f} s of profile {profile.id}"
        )
    return aos, los


# ---------------------------------------------------------------- phase 2


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
    if prepass_started(p.aos, profile.prepass_s, now):
        raise NoSuchPassError(
            f"pre-pass of that window would start at {iso_utc(w.booked_start)}, not after "
            f"now ({iso_utc(now)})"
        )
    maint = conflicting_maintenance(
        session, antenna_id=p.antenna_id, start=w.blocked_start, end=w.blocked_end
    )
    if maint:
        m = maint[0]
        raise MaintenanceConflictError(
            f"antenna {p.antenna_id} is in maintenance {iso_utc(m.start)}..{iso_utc(m.end)} "
            f"({m.reason or 'no reason given'}), overlapping the window "
            f"{iso_utc(w.blocked_start)}..{iso_utc(w.blocked_end)} incl. setup/teardown"
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
    the refusal naming the booking that holds its window (``conflicting``),
    or None when the ``IntegrityError`` was not an overlap. Ends its read
    transaction."""
    if not is_overlap_violation(exc):
        return None
    clash = conflicting_contacts(
        session, antenna_id=contact.antenna_id, start=contact.blocked_start, end=contact.blocked_end
    )
    session.commit()
    if not clash:
        return BookingConflictError(
            f"antenna {contact.antenna_id}: the window {iso_utc(contact.aos)}..{iso_utc(contact.los)} "
            f"was booked concurrently by another request (database refused the overlap: "
            f"{type(exc.orig).__name__})"
        )
    other = clash[0]
    return BookingConflictError(
        f"antenna {contact.antenna_id} is booked by contact {other.id} "
        f"{iso_utc(other.blocked_start)}..{iso_utc(other.blocked_end)} (incl. setup/teardown), "
        f"overlapping the requested "
        f"{iso_utc(contact.blocked_start)}..{iso_utc(contact.blocked_end)}",
        conflicting=ConflictingContact(
            contact_id=other.id,
            antenna_id=other.antenna_id,
            state=other.state,
            blocked_start=other.blocked_start,
            blocked_end=other.blocked_end,
        ),
    )


def is_overlap_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a row for overlapping another booking
    (PostgreSQL exclusion constraint, SQLite trigger)."""
    text = str(exc.orig)
    return "ex_contacts_antenna_no_overlap" in text or "overlaps an active booking" in text


# ---------------------------------------------------------------- cancel


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
    # populate_existing: a contact the caller read earlier in this session
    # is refreshed from the locked row, not checked as it was then.
    contact = session.get(Contact, contact_id, with_for_update=True, populate_existing=True)
    if contact is None:
        session.rollback()
        raise NotFoundError("contact", contact_id)
    if contact.state != ContactState.SCHEDULED.value or now >= contact.booked_start:
        state, start = contact.state, contact.booked_start
        session.rollback()
        raise CancelRefusedError(
            f"contact {contact_id} is {state} and its pre-pass starts at {iso_utc(start)}; "
            f"cancelling is allowed only while SCHEDULED before the pre-pass (now {iso_utc(now)})"
        )
    event = apply_transition(session, contact, ContactState.CANCELLED, at=now, reason=reason)
    session.commit()
    (events if events is not None else NullEventSink()).publish(event)
    return contact
