"""Booking: reserve a predicted pass on an antenna, update (change the
profile, trim the window) and cancel a contact.

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

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import Insert, Row, ScalarSelect, bindparam, exists, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, make_transient_to_detached

from groundstation.availability import (
    Windows,
    band_fits,
    conflicting_contacts,
    conflicting_maintenance,
    maintenance_overlaps,
    prepass_started,
    windows_for,
)
from groundstation.clock import iso_utc, require_supported, require_utc
from groundstation.contacts import get_contact_for
from groundstation.db import reads_hold_the_write_lock, retry_transient
from groundstation.ephemerides import (
    IN_FORCE_COLUMNS,
    booking_ephemeris,
    in_force_id,
    require_coverage,
    require_usable,
)
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
    TrimOnlyError,
    UpdateRefusedError,
    ValidationError,
    VersionMismatchError,
)
from groundstation.events import ContactEvent, EventSink, publish_committed
from groundstation.inventory import get_satellite_for, profile_visible
from groundstation.models import (
    Antenna,
    Contact,
    ContactTransition,
    Ephemeris,
    MissionProfile,
    Satellite,
    StationAgent,
    new_id,
)
from groundstation.policy import BookingPolicy
from groundstation.prediction import (
    PassCache,
    cached_station_passes,
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
from groundstation.transitions import apply_transition, record_window_update, transition_row

if TYPE_CHECKING:
    from sqlalchemy import Table

    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station
    from orbital.track import Track


# ---------------------------------------------------------------- reserve


def reserve(
    session: Session,
    *,
    norad_id: int,
    antenna_id: str,
    profile_id: str,
    start: datetime,
    end: datetime,
    tenant: str | None,
    now: datetime,
    idempotency_key: str | None = None,
    policy: BookingPolicy | None = None,
    events: EventSink | None = None,
    satellite: Satellite | None = None,
    ephemeris_id: int | None = None,
    satellite_tenants: Sequence[str] | None = None,
    pass_cache: PassCache | None = None,
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
    ``ephemeris_id``: book with that ephemeris of the satellite instead of
    the one in force (an az/el table: the antenna follows it).
    ``satellite_tenants``: the tenants whose satellites the caller sees (None:
    all); another's satellite is ``NotFoundError``, before any other refusal.
    ``tenant`` None: the satellite's tenant (an admin's booking).
    Without ``satellite`` and ``idempotency_key``, the satellite is read in
    phase 1's one statement (``_booking_rows``), not on its own.
    ``pass_cache``: the predictions ``GET /passes`` keeps; one covering the
    window is reused instead of predicting the pass again.
    """
    if satellite is None and idempotency_key is not None:
        # The key is looked up per tenant, before phase 1: the satellite names it.
        satellite = get_satellite_for(session, norad_id=norad_id, tenants=satellite_tenants)
    try:
        start, end, now = _window(start, end, now)
        _require_one_pass(start, end, policy or BookingPolicy())
    except ValidationError:
        if satellite is None:  # an unknown satellite is named first, as when read first
            get_satellite_for(session, norad_id=norad_id, tenants=satellite_tenants)
        raise
    if satellite is not None:
        if satellite_tenants is not None and satellite.tenant not in satellite_tenants:
            raise NotFoundError("satellite with NORAD id", norad_id)
        tenant = satellite.tenant if tenant is None else tenant
    fingerprint = request_fingerprint(
        norad_id=norad_id,
        antenna_id=antenna_id,
        profile_id=profile_id,
        start=start,
        end=end,
        ephemeris_id=ephemeris_id,
    )
    # With a key, the satellite was read above: ``tenant`` is known.
    existing = None if tenant is None else _find_idempotent(session, tenant, idempotency_key)
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
        ephemeris_id=ephemeris_id,
        end_reads=reads_hold_the_write_lock(session),
        satellite_tenants=satellite_tenants,
        pass_cache=pass_cache,
    )
    contact, event = retry_transient(session, lambda: _book(session, prepared, fingerprint, now))
    publish_committed(events, [event])
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
    one_statement = _one_statement(session)
    contact, transition, event = _staged(session, prepared, now=now, maintenance=not one_statement)
    try:
        while not _insert(session, contact, transition, one_statement=one_statement):
            # Held back by a maintenance window of the antenna: named here
            # (none any more, removed meanwhile: inserted again).
            _require_no_maintenance(session, contact.antenna_id, _windows_of(contact))
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
    # Stored and committed: the contact joins the session as a loaded row
    # (its history, a refresh, later changes work as on a row read back).
    make_transient_to_detached(contact)
    session.add(contact)
    return contact, event


# ---------------------------------------------------------------- idempotency


def request_fingerprint(
    *,
    norad_id: int,
    antenna_id: str,
    profile_id: str,
    start: datetime,
    end: datetime,
    ephemeris_id: int | None = None,
) -> str:
    """SHA-256 (hex) of a reservation request in canonical form (instants in
    UTC), stored with its idempotency key: the same key sent again must come
    with the same request (draft-ietf-httpapi-idempotency-key-header). An
    ``ephemeris_id`` is part of it when given (the fingerprints of requests
    without one are unchanged)."""
    request: dict[str, object] = {
        "operation": "reserve",
        "norad_id": norad_id,
        "antenna_id": antenna_id,
        "profile_id": profile_id,
        "start": start.isoformat(timespec="microseconds"),
        "end": end.isoformat(timespec="microseconds"),
    }
    if ephemeris_id is not None:
        request["ephemeris_id"] = ephemeris_id
    canonical = json.dumps(
        request,
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
    tenant: str | None,
    now: datetime,
    idempotency_key: str | None = None,
    policy: BookingPolicy | None = None,
    satellite: Satellite | None = None,
    ephemeris_id: int | None = None,
    end_reads: bool = True,
    satellite_tenants: Sequence[str] | None = None,
    pass_cache: PassCache | None = None,
) -> PreparedReservation:
    """Phase 1 of a reservation: read what the rules need (a short read
    transaction, ended here), then match the predicted pass outside any write
    lock. Raises the ``BookingRefusedError`` of the first rule broken. The
    profile must be shared or ``tenant``'s (else ``NotFoundError``), and its
    stored settings and the satellite's downlink ones the executor can use.
    ``end_reads=False``: the read transaction is left open for phase 2 to
    write in, where reads take no lock (``db.reads_hold_the_write_lock``).
    ``satellite`` None: read with the antenna and profile, outside
    ``satellite_tenants`` (None: all) ``NotFoundError``; ``tenant`` None:
    the satellite's. ``pass_cache``: predictions to reuse (``_matching_pass``)."""
    start, end, now = _window(start, end, now)
    policy = policy or BookingPolicy()
    _require_one_pass(start, end, policy)
    if satellite is not None and satellite.norad_id != norad_id:
        satellite = None
    satellite, antenna, profile, agent, in_force = _booking_rows(
        session,
        antenna_id,
        profile_id,
        norad_id=norad_id,
        satellite=satellite,
        satellite_tenants=satellite_tenants,
        now=now,
    )
    tenant = satellite.tenant if tenant is None else tenant
    if not profile_visible(profile, (tenant,)):
        raise NotFoundError("mission profile", profile_id)
    _require_workable(satellite, antenna, profile)
    # A station agent moves a real rotator; the in-process simulator moves none.
    has_rotator = agent is not None
    if agent is not None:
        _require_agent_online(agent, now, policy)
    if ephemeris_id is None:  # the one in force, read with the antenna
        ephemeris = require_usable(in_force, satellite, now, policy)
    else:
        ephemeris = booking_ephemeris(
            session,
            satellite=satellite,
            station_id=antenna.station_id,
            ephemeris_id=ephemeris_id,
            now=now,
            policy=policy,
        )
    min_el = required_elevation_deg(antenna, profile)
    station = orbital_station(antenna.station, min_elevation_deg=min_el)
    epoch, text = ephemeris.epoch, ephemeris.text
    # Read-only so far: commit (not rollback) keeps the loaded rows, so phase 2
    # finds the antenna and profile in the session instead of reading them again.
    if end_reads:
        session.commit()
    require_coverage(element_set_from_text(text), start, end)
    match = _matching_pass(
        element_set_from_text(text),
        station,
        start,
        end,
        policy,
        norad_id=norad_id,
        min_el=min_el,
        cache=pass_cache,
        element_text=text,
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
        ephemeris_id=ephemeris.id,
        ephemeris_epoch=epoch,
        ephemeris_text=text,
        idempotency_key=idempotency_key,
        idempotency_fingerprint=None
        if idempotency_key is None
        else request_fingerprint(
            norad_id=norad_id,
            antenna_id=antenna_id,
            profile_id=profile_id,
            start=start,
            end=end,
            ephemeris_id=ephemeris_id,
        ),
        rows=(antenna, profile),
    )


def _antenna_and_profile(
    session: Session, antenna_id: str, profile_id: str, tenant: str | None
) -> tuple[Antenna, MissionProfile]:
    """The antenna (with its station) and the profile, which must be shared
    or ``tenant``'s (None: any); ``NotFoundError`` otherwise."""
    antenna = session.get(Antenna, antenna_id, options=[joinedload(Antenna.station)])
    if antenna is None:
        raise NotFoundError("antenna", antenna_id)
    profile = session.get(MissionProfile, profile_id)
    if profile is None or not profile_visible(profile, None if tenant is None else (tenant,)):
        raise NotFoundError("mission profile", profile_id)
    return antenna, profile


def _booking_rows(
    session: Session,
    antenna_id: str,
    profile_id: str,
    *,
    norad_id: int,
    satellite: Satellite | None,
    satellite_tenants: Sequence[str] | None,
    now: datetime,
) -> tuple[Satellite, Antenna, MissionProfile, StationAgent | None, Row[*tuple[Any, ...]]]:
    """The satellite (``satellite`` when given, else read here: outside
    ``satellite_tenants``, None for all, ``NotFoundError``), the antenna
    (with its station), the profile, the agent of the antenna's station
    (None: simulated in-process) and the satellite's ephemeris in force
    (``ephemerides.IN_FORCE_COLUMNS``, None when there is none) in one
    statement: each round trip to the database costs a reservation about
    as much CPU as matching its pass. The profile's visibility to the
    booking's tenant is the caller's to check. A missing row is named as
    the reads one by one would: the satellite first."""
    query = (
        select(Antenna, MissionProfile, StationAgent, *IN_FORCE_COLUMNS)
        .join(Antenna.station)
        .join(MissionProfile, MissionProfile.id == profile_id)
        .outerjoin(StationAgent, StationAgent.station_id == Antenna.station_id)
        .where(Antenna.id == antenna_id)
        .options(contains_eager(Antenna.station))
    )
    if satellite is None:
        query = (
            query.add_columns(Satellite)
            .join(Satellite, Satellite.norad_id == norad_id)
            .outerjoin(Ephemeris, Ephemeris.id == in_force_id(_satellite_id(norad_id), now))
        )
    else:
        query = query.outerjoin(Ephemeris, Ephemeris.id == in_force_id(satellite.id, now))
    row = session.execute(query).one_or_none()
    if satellite is None:
        read = cast("Satellite | None", None if row is None else row[-1])
        if read is None or (satellite_tenants is not None and read.tenant not in satellite_tenants):
            read = get_satellite_for(session, norad_id=norad_id, tenants=satellite_tenants)
        satellite = read
    if row is None:  # which one is missing: named by the reads one by one
        _antenna_and_profile(session, antenna_id, profile_id, None)
        raise AssertionError(f"antenna {antenna_id} and profile {profile_id} exist apart")
    antenna, profile, agent = row[:3]
    return satellite, antenna, profile, agent, row


def _satellite_id(norad_id: int) -> ScalarSelect[int]:
    """The satellite's id by its NORAD id, a scalar subquery of its own: an
    InitPlan run once; correlated with the statement's satellite row instead,
    PostgreSQL joined the ephemeris in force by scanning every ephemeris."""
    return (
        select(Satellite.id).where(Satellite.norad_id == norad_id).correlate(None).scalar_subquery()
    )


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


#: Searched around a requested window first, beyond the window tolerance
#: (``_matching_pass``): a request that cuts a few minutes off its pass still
#: finds the whole pass here.
NEAR_MARGIN = timedelta(minutes=10)
#: Searched around the window when the pass runs past ``NEAR_MARGIN``.
WIDE_MARGIN = timedelta(hours=2)


def _matching_pass(
    element: ElementSet,
    station: Station,
    start: datetime,
    end: datetime,
    policy: BookingPolicy,
    *,
    norad_id: int,
    min_el: float,
    cache: PassCache | None = None,
    element_text: str | None = None,
) -> Pass:
    """The predicted pass the window [start, end] asks for: the one it
    overlaps most, which it may exceed by the policy's tolerance at most.

    Predicted first over the window and ``NEAR_MARGIN`` around it (its
    tolerance included): a pass overlapping the window that ends inside that
    range is the same pass the wide range finds, and its overlap is the same,
    so the match is too. Only when the best match runs past that range
    (``truncated``) is it predicted again over ``WIDE_MARGIN`` around the
    window. Most requests are a pass's AOS..LOS, so the common case searches
    a quarter of the range: about 1.1 ms of CPU instead of 1.4 ms.

    With ``cache`` (``GET /passes``'s): ``_cached_match`` first, a
    prediction already made; the booking stores none of its own there."""
    tolerance = timedelta(seconds=policy.window_tolerance_s)
    lo, hi = start - tolerance, end + tolerance
    passes = None
    if cache is not None and element_text is not None:
        passes = _cached_passes(cache, element_text, station, lo, hi)
    if passes is None:
        passes = predict([element], [station], lo - NEAR_MARGIN, hi + NEAR_MARGIN)
    match = _most_overlapping(passes, lo, hi)
    if match is not None and match.truncated:
        passes = predict([element], [station], start - WIDE_MARGIN, end + WIDE_MARGIN)
        match = _most_overlapping(passes, lo, hi)
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


def _cached_passes(
    cache: PassCache, element_text: str, station: Station, lo: datetime, hi: datetime
) -> list[Pass] | None:
    """The passes of a prediction ``cache`` holds for ``element_text`` over
    ``station`` (equal: same elevation limit and mask) and a range covering
    [lo, hi] (``prediction.cached_station_passes``, e.g. the listing the window
    was taken from), or None: none covers it, or the pass overlapping
    [lo, hi] most is cut by that range's end (predicted then). A pass
    overlapping [lo, hi] is in any prediction whose range covers [lo, hi],
    with the same overlap (a part cut off lies outside), so the match is
    the one a prediction around the window finds."""
    passes = cached_station_passes(cache, element_text, station, lo, hi)
    if passes is None:
        return None
    match = _most_overlapping(passes, lo, hi)
    return None if match is not None and match.truncated else passes


def _require_agent_online(agent: StationAgent, now: datetime, policy: BookingPolicy) -> None:
    refusal = offline_refusal(agent, now, policy)
    if refusal is not None:
        raise StationOfflineError(refusal)


def offline_refusal(agent: StationAgent, now: datetime, policy: BookingPolicy) -> str | None:
    """Why no contact is booked at ``agent``'s station at ``now`` (its agent
    silent longer than the policy allows), or None."""
    silent_s = (now - agent.last_seen_at).total_seconds()
    if silent_s <= policy.agent_booking_offline_s:
        return None
    return (
        f"station {agent.station_id} offline since {iso_utc(agent.last_seen_at)} "
        f"({silent_s:.0f} s without a heartbeat from its agent, more than "
        f"GS_AGENT_BOOKING_OFFLINE_S={policy.agent_booking_offline_s:g}); "
        "book when its agent is back"
    )


@dataclass(frozen=True)
class AgentStations:
    """The booking rules of stations run by an agent, read once for
    predicting outside the session (``/passes``, availability, the planner
    offer only windows ``reserve`` accepts): each agent-run station, and
    why it refuses bookings now (None: it takes them)."""

    offline: dict[str, str | None]
    #: the tracks of the passes checked so far (antennas of a station share them)
    _tracks: dict[tuple[object, ...], Track] = field(default_factory=dict, compare=False)

    def runs(self, station_id: str) -> bool:
        return station_id in self.offline

    def refusal(
        self,
        station_id: str,
        element: ElementSet,
        station: Station,
        antenna: SlewLimits,
        aos: datetime,
        los: datetime,
    ) -> str | None:
        """Why ``reserve`` refuses the pass ``aos..los`` on ``antenna`` for
        its station's agent (offline, or a rotator too slow), or None."""
        if station_id not in self.offline:
            return None
        if self.offline[station_id]:
            return self.offline[station_id]
        key = (station.id, element.norad_id, aos, los)
        if key not in self._tracks:
            self._tracks[key] = _pass_track(element, station, aos, los)
        return _slew_refusal(self._tracks[key], antenna)


def agent_stations(session: Session, *, now: datetime, policy: BookingPolicy) -> AgentStations:
    """The ``AgentStations`` at ``now`` (every registered agent)."""
    return AgentStations(
        {
            a.station_id: offline_refusal(a, now, policy)
            for a in session.scalars(select(StationAgent))
        }
    )


class SlewLimits(Protocol):
    """What the slew rule needs of an antenna (an ``Antenna`` row or a ``SlotAntenna``)."""

    @property
    def id(self) -> str: ...

    @property
    def max_az_slew_deg_s(self) -> float: ...

    @property
    def max_el_slew_deg_s(self) -> float: ...


def _require_slew(
    element: ElementSet, station: Station, antenna: SlewLimits, aos: datetime, los: datetime
) -> None:
    refusal = slew_refusal_of(element, station, antenna, aos, los)
    if refusal is not None:
        raise SlewRateError(refusal)


def slew_refusal_of(
    element: ElementSet, station: Station, antenna: SlewLimits, aos: datetime, los: datetime
) -> str | None:
    """Why the antenna's rotator cannot follow the pass at its slew rates
    (``station.pointing.slew_refusal``: the pointing plan, flip included),
    or None. Checked at stations run by an agent (``StationAgent``), whose
    contacts move a real rotator; contacts simulated in-process move none."""
    return _slew_refusal(_pass_track(element, station, aos, los), antenna)


def _pass_track(element: ElementSet, station: Station, aos: datetime, los: datetime) -> Track:
    from orbital.track import compute_track

    return compute_track(element, station, start=aos, end=los, step_s=1.0)


def _slew_refusal(track: Track, antenna: SlewLimits) -> str | None:
    from groundstation.station.pointing import RotatorConfig, slew_refusal

    config = RotatorConfig(
        max_az_slew_deg_s=antenna.max_az_slew_deg_s, max_el_slew_deg_s=antenna.max_el_slew_deg_s
    )
    return slew_refusal(track, config, antenna_id=antenna.id)


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
    contact, transition, event = _staged(session, prepared, now=now)
    session.add(contact)
    session.add(ContactTransition(contact=contact, **transition))
    return contact, event


def _one_statement(session: Session) -> bool:
    """Whether ``_insert`` writes a reservation in one statement, its
    maintenance check included (PostgreSQL)."""
    return session.get_bind().dialect.name == "postgresql"


def _insert(
    session: Session, contact: Contact, transition: dict[str, Any], *, one_statement: bool
) -> bool:
    """Write a contact staged by ``_staged`` and its history row at once:
    one Core statement on PostgreSQL (``one_statement``: the contact's
    ``INSERT ... SELECT ... RETURNING`` in a ``WITH``, inserted only when no
    maintenance window of its antenna overlaps its blocked window: False
    then), two on SQLite (the caller checked maintenance), instead of the
    ORM's unit of work (its flush and the maintenance read were a third of
    a reservation's CPU). The database refuses an overlap here
    (``IntegrityError``). ``contact`` stays out of the session (nothing to
    flush at commit; after a rollback it keeps its values)."""
    values = {c.key: getattr(contact, c.key) for c in _CONTACTS.columns}
    history = {f"t_{k}": v for k, v in transition.items()}
    if one_statement:
        result = session.execute(_insert_both(tuple(transition)), {**values, **history})
        return result.first() is not None  # no row: held back by maintenance
    contact_insert, history_insert = _insert_each(tuple(transition))
    session.execute(contact_insert, values)
    session.execute(history_insert, {"t_contact_id": contact.id, **history})
    return True


def _windows_of(contact: Contact) -> Windows:
    return Windows(
        contact.booked_start, contact.booked_end, contact.blocked_start, contact.blocked_end
    )


_CONTACTS = cast("Table", Contact.__table__)
_TRANSITIONS = cast("Table", ContactTransition.__table__)


@functools.cache
def _insert_each(history: tuple[str, ...]) -> tuple[Insert, Insert]:
    """The ``INSERT`` of a contact and of its history row (columns
    ``history``), their values bound by name (the history's with ``t_``):
    built once, so each reservation only binds its values."""
    contact = insert(_CONTACTS).values({c.key: bindparam(c.key) for c in _CONTACTS.columns})
    names = ("contact_id", *history)
    row = insert(_TRANSITIONS).values({k: bindparam(f"t_{k}") for k in names})
    return contact, row


@functools.cache
def _insert_both(history: tuple[str, ...]) -> Insert:
    """``_insert_each`` as one statement (PostgreSQL) that also checks
    maintenance: ``WITH inserted AS (INSERT INTO contacts ... SELECT ...
    WHERE NOT EXISTS (an overlapping maintenance window) RETURNING id)
    INSERT INTO contact_transitions ... SELECT ... FROM inserted RETURNING
    contact_id``: a row when inserted."""
    columns = _CONTACTS.columns
    free = ~exists().where(
        maintenance_overlaps(
            bindparam("antenna_id", type_=columns["antenna_id"].type),
            bindparam("blocked_start", type_=columns["blocked_start"].type),
            bindparam("blocked_end", type_=columns["blocked_end"].type),
        )
    )
    values = select(*(bindparam(c.key, type_=c.type) for c in columns)).where(free)
    contact = (
        insert(_CONTACTS)
        .from_select([c.key for c in columns], values)
        .returning(_CONTACTS.c.id)
        .cte("inserted")
    )
    row = select(
        contact.c.id, *(bindparam(f"t_{k}", type_=_TRANSITIONS.c[k].type) for k in history)
    )
    return (
        insert(_TRANSITIONS)
        .from_select(["contact_id", *history], row)
        .add_cte(contact)
        .returning(_TRANSITIONS.c.contact_id)
    )


def _staged(
    session: Session, prepared: PreparedReservation, *, now: datetime, maintenance: bool = True
) -> tuple[Contact, dict[str, Any], ContactEvent]:
    """The rules of phase 2 checked (``maintenance=False``: all but the
    maintenance check, which the caller's insert makes), the SCHEDULED
    contact (every column set, outside the session), its history row's
    columns and its event."""
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
    if maintenance:
        _require_no_maintenance(session, p.antenna_id, w)
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
        state_reason="",
        idempotency_key=p.idempotency_key,
        idempotency_fingerprint=p.idempotency_fingerprint,
        created_at=now,
        updated_at=now,
        version=0,
        frames_ok=None,
        frames_expected=None,
        esn0_db=None,
        verdict=None,
        verdict_source=None,
        verdict_reason="",
        verdict_by="",
        verdict_at=None,
    )
    transition, event = transition_row(
        contact, ContactState.SCHEDULED, at=now, reason=f"reserved by {p.tenant}"
    )
    return contact, transition, event


def _require_no_maintenance(session: Session, antenna_id: str, w: Windows) -> None:
    """``MaintenanceConflictError`` naming the first maintenance window of
    ``antenna_id`` that overlaps the blocked window of ``w``."""
    maint = conflicting_maintenance(
        session, antenna_id=antenna_id, start=w.blocked_start, end=w.blocked_end
    )
    if maint:
        m = maint[0]
        raise MaintenanceConflictError(
            f"antenna {antenna_id} is in maintenance {iso_utc(m.start)}..{iso_utc(m.end)} "
            f"({m.reason or 'no reason given'}), overlapping the window "
            f"{iso_utc(w.blocked_start)}..{iso_utc(w.blocked_end)} incl. setup/teardown"
        )


def overlap_refusal(
    session: Session, exc: IntegrityError, contact: Contact
) -> BookingConflictError | None:
    """After the database refused ``contact`` (and the caller rolled back):
    the refusal naming the booking that holds its window (``conflicting``),
    or None when the ``IntegrityError`` was not an overlap. Ends its read
    transaction."""
    if not is_overlap_violation(exc):
        return None
    w = _windows_of(contact)
    return _overlap_conflict(session, exc, contact.antenna_id, contact.aos, contact.los, w)


def _overlap_conflict(
    session: Session,
    exc: IntegrityError,
    antenna_id: str,
    aos: datetime,
    los: datetime,
    w: Windows,
    *,
    exclude_id: str | None = None,
) -> BookingConflictError:
    """The refusal of window ``w`` on ``antenna_id`` that the database found
    overlapping, naming the booking that holds it (not ``exclude_id``, the
    contact being changed). Ends its read transaction."""
    clash = conflicting_contacts(
        session,
        antenna_id=antenna_id,
        start=w.blocked_start,
        end=w.blocked_end,
        exclude_id=exclude_id,
    )
    session.commit()
    if not clash:
        return BookingConflictError(
            f"antenna {antenna_id}: the window {iso_utc(aos)}..{iso_utc(los)} "
            f"was booked concurrently by another request (database refused the overlap: "
            f"{type(exc.orig).__name__})"
        )
    other = clash[0]
    return BookingConflictError(
        f"antenna {antenna_id} is booked by contact {other.id} "
        f"{iso_utc(other.blocked_start)}..{iso_utc(other.blocked_end)} (incl. setup/teardown), "
        f"overlapping the requested "
        f"{iso_utc(w.blocked_start)}..{iso_utc(w.blocked_end)}",
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
    publish_committed(events, [event])
    return contact


# ---------------------------------------------------------------- update


def update(
    session: Session,
    *,
    contact_id: str,
    now: datetime,
    by: str,
    tenants: Sequence[str] | None = None,
    profile_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    expected_version: int | None = None,
    policy: BookingPolicy | None = None,
    events: EventSink | None = None,
) -> Contact:
    """Change the mission profile of a SCHEDULED contact and/or trim its
    visibility window to [start, end] (inside its AOS..LOS), as AWS Ground
    Station's UpdateContact. Every rule of ``reserve`` is checked again on
    the new windows (profile visible and workable, antenna online and in
    band, the pass above the profile's minimum elevation, minimum viable
    duration, pre-pass not started, no maintenance, no overlap with another
    booking) and a refusal raises its ``BookingRefusedError`` subclass.
    ``expected_version`` (``If-Match``): ``VersionMismatchError`` unless the
    contact is at that version. The change is recorded in the history as a
    window update (same state) naming ``by``; the version goes up by one.
    Two phases as ``reserve``: the pass is predicted outside the row lock,
    and the contact must still be at the version read then."""
    now = require_utc(now, "now")
    try:
        change = _plan_update(
            session,
            contact_id=contact_id,
            tenants=tenants,
            profile_id=profile_id,
            start=start,
            end=end,
            expected_version=expected_version,
            now=now,
            policy=policy or BookingPolicy(),
        )
        contact, event = _apply_update(session, change, now=now, by=by)
    except BaseException:
        session.rollback()
        raise
    publish_committed(events, [event])
    return contact


@dataclass(frozen=True)
class _Update:
    """A contact change that passed the rules needing no lock (phase 1)."""

    contact_id: str
    version: int
    antenna: Antenna
    profile: MissionProfile
    match: Pass
    aos: datetime
    los: datetime
    old: str


def _plan_update(
    session: Session,
    *,
    contact_id: str,
    tenants: Sequence[str] | None,
    profile_id: str | None,
    start: datetime | None,
    end: datetime | None,
    expected_version: int | None,
    now: datetime,
    policy: BookingPolicy,
) -> _Update:
    """Phase 1 of ``update``: read (a transaction ended here), check, and
    match the new window on the pass predicted from the contact's own
    element set, outside any lock."""
    contact = get_contact_for(session, contact_id=contact_id, tenants=tenants)
    _require_changeable(contact, now, expected_version)
    lo_given, hi_given = start is not None, end is not None
    start, end, _ = _window(start or contact.aos, end or contact.los, now)
    if start < contact.aos or end > contact.los:
        bound = f"start {iso_utc(start)}" if start < contact.aos else f"end {iso_utc(end)}"
        raise TrimOnlyError(
            f"{bound} is outside contact {contact_id}'s window "
            f"{iso_utc(contact.aos)}..{iso_utc(contact.los)} (AOS..LOS): a window can be "
            "trimmed, not extended or moved; book another contact for another window"
        )
    antenna, profile = _antenna_and_profile(
        session, contact.antenna_id, profile_id or contact.profile_id, contact.tenant
    )
    _require_workable(contact.satellite, antenna, profile)
    min_el = required_elevation_deg(antenna, profile)
    station = orbital_station(antenna.station, min_elevation_deg=min_el)
    session.commit()  # read-only so far: keeps the rows loaded for phase 2
    # A bound not given follows the pass (a profile with a higher minimum
    # elevation shortens it): match on what was given and the old TCA.
    second = timedelta(seconds=1)
    lo = start if lo_given else min(contact.tca, end - second)
    hi = end if hi_given else max(contact.tca, start + second)
    match = _matching_pass(
        element_set_from_text(contact.ephemeris_text),
        station,
        lo,
        hi,
        policy,
        norad_id=contact.satellite.norad_id,
        min_el=min_el,
    )
    aos, los = _visibility(match, start, end, profile)
    return _Update(
        contact.id, contact.version, antenna, profile, match, aos, los, _summary(contact)
    )


def _apply_update(
    session: Session, change: _Update, *, now: datetime, by: str
) -> tuple[Contact, ContactEvent]:
    """Phase 2 of ``update``: lock the row, check the rules that need the
    lock and the version read in phase 1, change and commit; the database
    refuses an overlap at flush (``BookingConflictError`` naming it)."""
    c, profile = change, change.profile
    w = windows_for(c.aos, c.los, c.antenna, profile)
    contact = session.get(Contact, c.contact_id, with_for_update=True, populate_existing=True)
    if contact is None:
        raise NotFoundError("contact", c.contact_id)
    _require_changeable(contact, now, c.version)
    if prepass_started(c.aos, profile.prepass_s, now):
        raise NoSuchPassError(
            f"with profile {profile.id} the pre-pass would start at {iso_utc(w.booked_start)}, "
            f"not after now ({iso_utc(now)})"
        )
    _require_no_maintenance(session, c.antenna.id, w)
    contact.profile_id, contact.profile = profile.id, profile
    contact.aos, contact.tca, contact.los = c.aos, min(max(c.match.tca, c.aos), c.los), c.los
    contact.max_elevation_deg = c.match.max_elevation_deg
    contact.booked_start, contact.booked_end = w.booked_start, w.booked_end
    contact.blocked_start, contact.blocked_end = w.blocked_start, w.blocked_end
    event = record_window_update(
        session, contact, at=now, reason=f"updated by {by}: {c.old} -> {_summary(contact)}"
    )
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if not is_overlap_violation(exc):
            raise
        raise _overlap_conflict(
            session, exc, c.antenna.id, c.aos, c.los, w, exclude_id=c.contact_id
        ) from None
    session.commit()
    return contact, event


def _summary(contact: Contact) -> str:
    """A contact's changeable fields, for the reason of an update."""
    return f"profile {contact.profile_id}, AOS..LOS {iso_utc(contact.aos)}..{iso_utc(contact.los)}"


def _require_changeable(contact: Contact, now: datetime, version: int | None) -> None:
    """The contact is SCHEDULED before its pre-pass (else
    ``UpdateRefusedError``) and at ``version`` when one is given (else
    ``VersionMismatchError``)."""
    refusal: Exception | None = None
    if version is not None and contact.version != version:
        refusal = VersionMismatchError(contact.id, stored=contact.version, expected=version)
    elif contact.state != ContactState.SCHEDULED.value or now >= contact.booked_start:
        refusal = UpdateRefusedError(
            f"contact {contact.id} is {contact.state} and its pre-pass starts at "
            f"{iso_utc(contact.booked_start)}; it can be changed only while SCHEDULED before "
            f"the pre-pass (now {iso_utc(now)})"
        )
    if refusal is not None:
        raise refusal


# ---------------------------------------------------------------- stop


def stop(
    session: Session,
    *,
    contact_id: str,
    now: datetime,
    reason: str,
    tenants: Sequence[str] | None = None,
    events: EventSink | None = None,
) -> Contact:
    """Stop a running contact (AWS CancelContact during a contact): in
    PREPASS nothing runs yet, it is CANCELLED now; in PASS it becomes
    CANCELLING, and the lifecycle tells the pass's executor to stop (the
    received frames are kept as a partial dataset), then CANCELLED with
    ``reason``. Other states: ``CancelRefusedError`` naming the state (a
    SCHEDULED contact is cancelled with ``cancel``)."""
    now = require_utc(now, "now")
    contact = session.get(Contact, contact_id, with_for_update=True, populate_existing=True)
    if contact is None or (tenants is not None and contact.tenant not in tenants):
        session.rollback()
        raise NotFoundError("contact", contact_id)
    targets = {
        ContactState.PREPASS.value: ContactState.CANCELLED,
        ContactState.PASS.value: ContactState.CANCELLING,
    }
    target = targets.get(contact.state)
    if target is None:
        state = contact.state
        session.rollback()
        hint = " (cancel it: POST /contacts/{id}/cancel)" if state == ContactState.SCHEDULED else ""
        raise CancelRefusedError(
            f"contact {contact_id} is {state}{hint}; stopping is allowed only during PREPASS "
            "or PASS"
        )
    event = apply_transition(session, contact, target, at=now, reason=f"stopped: {reason}")
    session.commit()
    publish_committed(events, [event])
    return contact
