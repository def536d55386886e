"""Predicted passes of a satellite with the availability of the antennas
that would work them (``groundstation.availability`` decides free or busy).

- ``availability``: for booking with a mission profile, one window per pass
  and antenna that can receive the downlink, predicted above that antenna's
  and the profile's elevation limit, its booked window with the profile's
  pre- and post-pass (CLI ``availability``, the demo);
- ``predicted_passes``: for ``GET /passes``, each pass over a station (its
  own limits, raised to a floor) with every antenna of the station over
  AOS..LOS plus setup/teardown; predictions reused from a ``PassCache``.

Both read what they need in one short transaction, end it (on SQLite it
holds the write lock), then predict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from groundstation.availability import (
    AntennaBusy,
    AntennaSlot,
    SlotAntenna,
    antenna_slot,
    antenna_slots,
    band_fits,
    busy_intervals,
    epoch_us,
    prepass_started,
)
from groundstation.booking import AgentStations, agent_stations, require_bookable
from groundstation.clock import require_supported, require_utc
from groundstation.ephemerides import require_overlap, usable_ephemeris
from groundstation.errors import NotFoundError
from groundstation.inventory import get_profile_for, get_satellite, get_satellite_for
from groundstation.models import Antenna, GroundStation, MissionProfile, Satellite
from groundstation.policy import MAX_PREDICTION_SPAN, BookingPolicy, require_span
from groundstation.prediction import (
    PassCache,
    element_set,
    orbital_station,
    predict,
    profile_key,
    required_elevation_deg,
    table_key,
)
from groundstation.states import ContactState

if TYPE_CHECKING:
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station


def _prediction_range(
    start: datetime, end: datetime, now: datetime, *, what: str, limit: timedelta
) -> tuple[datetime, datetime, datetime]:
    start, end, now = (
        require_supported(start, "start"),
        require_supported(end, "end"),
        require_utc(now, "now"),
    )
    require_span(start, end, what=what, limit=limit)
    return start, end, now


def _require_stations(session: Session, station_ids: Sequence[str]) -> None:
    known = set(
        session.scalars(select(GroundStation.id).where(GroundStation.id.in_(list(station_ids))))
    )
    missing = set(station_ids) - known
    if missing:
        raise NotFoundError("station", sorted(missing)[0])


# ---------------------------------------------------------------- per antenna (booking)


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


def _receiving_antennas(
    session: Session,
    satellite: Satellite,
    profile: MissionProfile,
    station_ids: Sequence[str] | None,
    floor_deg: float | None = None,
) -> dict[tuple[str, float], tuple[Station, list[SlotAntenna]]]:
    """The antennas whose bands hold the downlink, grouped by what they
    predict with (station, elevation limit under ``profile``, raised to
    ``floor_deg`` when given)."""
    query = select(Antenna).join(GroundStation).order_by(Antenna.station_id, Antenna.id)
    if station_ids is not None:
        _require_stations(session, station_ids)
        query = query.where(Antenna.station_id.in_(station_ids))
    groups: dict[tuple[str, float], tuple[Station, list[SlotAntenna]]] = {}
    for antenna in session.scalars(query):
        if not band_fits(antenna, satellite):
            continue
        min_el = required_elevation_deg(antenna, profile)
        if floor_deg is not None:
            min_el = max(min_el, float(floor_deg))
        key = (antenna.station_id, min_el)
        if key not in groups:
            groups[key] = (orbital_station(antenna.station, min_elevation_deg=min_el), [])
        groups[key][1].append(SlotAntenna.of(antenna))
    return groups


@dataclass(frozen=True)
class _Receivers:
    """What the booking rules of one profile need, read once (the session's
    transaction can end before predicting): the antennas that can receive
    the downlink grouped by (station, elevation limit), their busy intervals
    over the range, and the profile's times."""

    groups: dict[tuple[str, float], tuple[Station, list[SlotAntenna]]]
    busy: dict[str, AntennaBusy]
    prepass_s: float
    postpass_s: float
    min_duration_s: float
    agents: AgentStations


def _read_receivers(
    session: Session,
    satellite: Satellite,
    profile: MissionProfile,
    *,
    start: datetime,
    end: datetime,
    station_ids: Sequence[str] | None,
    now: datetime,
    policy: BookingPolicy,
    floor_deg: float | None = None,
) -> _Receivers:
    groups = _receiving_antennas(session, satellite, profile, station_ids, floor_deg)
    busy = busy_intervals(
        session,
        antennas=[a for _, members in groups.values() for a in members],
        start=start,
        end=end,
        prepass_s=profile.prepass_s,
        postpass_s=profile.postpass_s,
    )
    return _Receivers(
        groups,
        busy,
        profile.prepass_s,
        profile.postpass_s,
        profile.min_viable_duration_s,
        agent_stations(session, now=now, policy=policy),
    )


def _bookable_passes(
    receivers: _Receivers,
    element: ElementSet,
    predict_group: Callable[[Station], Sequence[Pass]],
    *,
    now: datetime,
) -> Iterator[tuple[Pass, list[tuple[SlotAntenna, AntennaSlot]]]]:
    """Each predicted pass a booking with the profile would accept as a
    window (it lasts the minimum viable duration; its pre-pass has not
    started at ``now``), with each receiving antenna's slot over its booked
    window (pre/post-pass, setup/teardown; at a station run by an agent,
    the agent online and the rotator fast enough): the rules of
    ``booking.prepare_reservation`` and ``stage_reservation``, asked of the
    same functions."""
    r = receivers
    for station, members in r.groups.values():
        for p in predict_group(station):
            if p.duration_s < r.min_duration_s or prepass_started(p.aos, r.prepass_s, now):
                continue
            slots = [
                (
                    antenna,
                    _agent_rules(
                        r.agents,
                        element,
                        station,
                        antenna,
                        p,
                        antenna_slot(
                            antenna,
                            r.busy[antenna.id],
                            p.aos,
                            p.los,
                            prepass_s=r.prepass_s,
                            postpass_s=r.postpass_s,
                        ),
                    ),
                )
                for antenna in members
            ]
            yield p, slots


def _agent_rules(
    agents: AgentStations,
    element: ElementSet,
    station: Station,
    antenna: SlotAntenna,
    p: Pass,
    slot: AntennaSlot,
) -> AntennaSlot:
    """``slot``, blocked when free but refused by the rules of an agent-run
    station (``booking.AgentStations``)."""
    if not slot.free:
        return slot
    refusal = agents.refusal(antenna.station_id, element, station, antenna, p.aos, p.los)
    return slot if refusal is None else AntennaSlot(antenna.id, False, refusal)


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
    duration and whose pre-pass starts after ``now``, each flagged free or
    busy; sorted by AOS then antenna."""
    start, end, now = _prediction_range(
        start, end, now, what="availability", limit=MAX_PREDICTION_SPAN
    )
    satellite = get_satellite(session, norad_id=norad_id)
    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise NotFoundError("mission profile", profile_id)
    policy = policy or BookingPolicy()
    element = element_set(usable_ephemeris(session, satellite, now, policy))
    require_overlap(element, start, end)
    receivers = _read_receivers(
        session,
        satellite,
        profile,
        start=start,
        end=end,
        station_ids=station_ids,
        now=now,
        policy=policy,
    )
    session.rollback()
    windows = [
        _available_window(norad_id, antenna, p, slot)
        for p, slots in _bookable_passes(
            receivers, element, lambda station: predict([element], [station], start, end), now=now
        )
        for antenna, slot in slots
    ]
    windows.sort(key=lambda w: (w.aos, w.antenna_id))
    return windows


def _available_window(
    norad_id: int, antenna: SlotAntenna, p: Pass, slot: AntennaSlot
) -> AvailableWindow:
    return AvailableWindow(
        norad_id=norad_id,
        station_id=antenna.station_id,
        antenna_id=antenna.id,
        aos=p.aos,
        tca=p.tca,
        los=p.los,
        max_elevation_deg=p.max_elevation_deg,
        duration_s=p.duration_s,
        state=ContactState.AVAILABLE.value if slot.free else "BUSY",
        blocked_by=slot.blocked_by,
    )


# ---------------------------------------------------------------- per station (GET /passes)


@dataclass(frozen=True)
class PredictedPass:
    norad_id: int
    station_id: str
    aos: datetime
    tca: datetime
    los: datetime
    duration_s: float
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    antennas: tuple[AntennaSlot, ...]


def _stations(session: Session, station_ids: Sequence[str] | None) -> list[GroundStation]:
    """The stations asked for (every one when None) with their antennas."""
    query = select(GroundStation).options(selectinload(GroundStation.antennas))
    if station_ids is not None:
        query = query.where(GroundStation.id.in_(list(station_ids)))
    stations = list(session.scalars(query.order_by(GroundStation.id)))
    if station_ids is not None:
        missing = set(station_ids) - {s.id for s in stations}
        if missing:
            raise NotFoundError("station", sorted(missing)[0])
    return stations


#: ``GET /passes`` without ``start`` starts at the service clock's time
#: floored to this step, so the requests of one step share one prediction.
DEFAULT_START_STEP = timedelta(minutes=1)


def default_start(now: datetime) -> datetime:
    """Where a pass listing without a start begins: ``now`` floored to
    ``DEFAULT_START_STEP`` (a pass that ended less than a step ago is still
    listed), so the requests within one step hit the same cached prediction."""
    now = require_utc(now, "now")
    return now - (now - _EPOCH) % DEFAULT_START_STEP


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, eq=False)
class PassTable:
    """One prediction as the ``PassCache`` keeps it: the passes sorted by
    (AOS, station), their AOS and LOS in microseconds since 1970
    (``availability.epoch_us``; shape ``(n_passes,)``), and for each station
    the indices of its passes in that order."""

    passes: tuple[Pass, ...]
    aos_us: NDArray[np.int64]
    los_us: NDArray[np.int64]
    by_station: dict[str, NDArray[np.intp]]

    @classmethod
    def of(cls, passes: Sequence[Pass]) -> PassTable:
        ordered = tuple(sorted(passes, key=lambda p: (p.aos, p.station_id)))
        stations = np.array([p.station_id for p in ordered], dtype=object)
        return cls(
            ordered,
            np.fromiter((epoch_us(p.aos) for p in ordered), np.int64, len(ordered)),
            np.fromiter((epoch_us(p.los) for p in ordered), np.int64, len(ordered)),
            {s: np.flatnonzero(stations == s) for s in dict.fromkeys(stations.tolist())},
        )


@dataclass(frozen=True)
class PassAvailability:
    """The passes of a ``PassTable`` with each antenna's availability:
    ``blocked_by[k]`` holds, for pass k, what blocks each antenna of its
    station ('' when free), in the order of ``antenna_ids[station]``."""

    table: PassTable
    antenna_ids: dict[str, tuple[str, ...]]
    blocked_by: list[list[str]]

    def predicted(self) -> list[PredictedPass]:
        """The passes as ``PredictedPass`` rows, sorted by AOS then station."""
        return [
            _predicted_pass(
                p,
                tuple(
                    AntennaSlot(a, not held, held)
                    for a, held in zip(self.antenna_ids[p.station_id], held_by, strict=True)
                ),
            )
            for p, held_by in zip(self.table.passes, self.blocked_by, strict=True)
        ]


def predicted_passes(
    session: Session,
    *,
    norad_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    station_ids: Sequence[str] | None = None,
    min_elevation_deg: float | None = None,
    profile_id: str | None = None,
    tenants: Sequence[str] | None = None,
    policy: BookingPolicy | None = None,
    max_span: timedelta = MAX_PREDICTION_SPAN,
    cache: PassCache | None = None,
) -> list[PredictedPass]:
    """Passes of one satellite over the stations (all of them in one vectorized
    prediction, reused from ``cache`` when given), each with every antenna's
    availability over the pass (AOS..LOS plus the antenna's setup/teardown):
    free, or what blocks it. A satellite outside ``tenants`` does not exist.

    With ``profile_id`` (shared or the satellite's tenant's, else
    ``NotFoundError``): the windows a booking with that profile accepts
    (``_bookable_passes``): only antennas whose bands hold the downlink,
    passes above each antenna's and the profile's elevation limit (raised to
    ``min_elevation_deg``) lasting its minimum viable duration, pre-pass
    not yet started, availability over the booked window (pre/post-pass,
    setup/teardown). Antennas of one station with different elevation limits
    give one pass each."""
    if profile_id is None:
        return pass_availability(
            session,
            norad_id=norad_id,
            start=start,
            end=end,
            now=now,
            station_ids=station_ids,
            min_elevation_deg=min_elevation_deg,
            tenants=tenants,
            policy=policy,
            max_span=max_span,
            cache=cache,
        ).predicted()
    start, end, now = _prediction_range(start, end, now, what="passes", limit=max_span)
    satellite = get_satellite_for(session, norad_id=norad_id, tenants=tenants)
    policy = policy or BookingPolicy()
    ephemeris = usable_ephemeris(session, satellite, now, policy)
    element_text, element = ephemeris.text, element_set(ephemeris)
    require_overlap(element, start, end)

    def predict_over(orbital: Sequence[Station]) -> tuple[Pass, ...] | list[Pass]:
        def compute() -> list[Pass]:
            return predict([element], orbital, start, end)

        if cache is None:
            return compute()
        return cache.get(profile_key(element_text, orbital, start, end), compute)

    return _profile_passes(
        session,
        satellite,
        profile_id,
        element,
        predict_over,
        start=start,
        end=end,
        now=now,
        policy=policy,
        station_ids=station_ids,
        floor_deg=min_elevation_deg,
    )


def pass_availability(
    session: Session,
    *,
    norad_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    station_ids: Sequence[str] | None = None,
    min_elevation_deg: float | None = None,
    tenants: Sequence[str] | None = None,
    policy: BookingPolicy | None = None,
    max_span: timedelta = MAX_PREDICTION_SPAN,
    cache: PassCache | None = None,
) -> PassAvailability:
    """``predicted_passes`` as a ``PassAvailability`` (what ``GET /passes``
    writes out): the prediction is a ``PassTable`` (from ``cache`` when
    given), each antenna's availability over all its station's passes is
    one ``availability.antenna_slots`` call, computed afresh per request."""
    start, end, now = _prediction_range(start, end, now, what="passes", limit=max_span)
    satellite = get_satellite_for(session, norad_id=norad_id, tenants=tenants)
    policy = policy or BookingPolicy()
    ephemeris = usable_ephemeris(session, satellite, now, policy)
    element_text, element = ephemeris.text, element_set(ephemeris)
    require_overlap(element, start, end)
    stations = _stations(session, station_ids)
    agents = agent_stations(session, now=now, policy=policy)
    floor = 0.0 if min_elevation_deg is None else float(min_elevation_deg)
    orbital = [orbital_station(s, min_elevation_deg=floor) for s in stations]
    antennas = {s.id: [SlotAntenna.of(a) for a in s.antennas] for s in stations}
    busy = busy_intervals(
        session, antennas=[a for rows in antennas.values() for a in rows], start=start, end=end
    )
    session.rollback()  # end the read transaction before predicting (SQLite write lock)

    def compute() -> PassTable:
        return PassTable.of(predict([element], orbital, start, end) if orbital else [])

    table = (
        compute()
        if cache is None
        else cache.get(table_key(element_text, orbital, start, end), compute)
    )
    blocked_by: list[list[str]] = [[] for _ in table.passes]
    sites = {s.id: s for s in orbital}
    for station_id, at in table.by_station.items():
        aos_us, los_us = table.aos_us[at], table.los_us[at]
        for antenna in antennas[station_id]:
            held = antenna_slots(antenna, busy[antenna.id], aos_us, los_us)
            for k, label in zip(at.tolist(), held, strict=True):
                p = table.passes[k]
                slot = _agent_rules(
                    agents,
                    element,
                    sites[station_id],
                    antenna,
                    p,
                    AntennaSlot("", not label, label),
                )
                blocked_by[k].append(slot.blocked_by)
    return PassAvailability(
        table, {s: tuple(a.id for a in rows) for s, rows in antennas.items()}, blocked_by
    )


def _profile_passes(
    session: Session,
    satellite: Satellite,
    profile_id: str,
    element: ElementSet,
    predict_over: Callable[[Sequence[Station]], Sequence[Pass]],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    policy: BookingPolicy,
    station_ids: Sequence[str] | None,
    floor_deg: float | None,
) -> list[PredictedPass]:
    """``predicted_passes`` under a profile (see there)."""
    profile = get_profile_for(session, profile_id=profile_id, tenants=(satellite.tenant,))
    require_bookable(satellite, profile)
    receivers = _read_receivers(
        session,
        satellite,
        profile,
        start=start,
        end=end,
        station_ids=station_ids,
        now=now,
        policy=policy,
        floor_deg=floor_deg,
    )
    session.rollback()  # end the read transaction before predicting (SQLite write lock)
    out = [
        _predicted_pass(p, tuple(slot for _, slot in slots))
        for p, slots in _bookable_passes(
            receivers, element, lambda station: predict_over([station]), now=now
        )
    ]
    out.sort(key=lambda p: (p.aos, p.station_id))
    return out


def _predicted_pass(p: Pass, slots: tuple[AntennaSlot, ...]) -> PredictedPass:
    return PredictedPass(
        norad_id=p.norad_id,
        station_id=p.station_id,
        aos=p.aos,
        tca=p.tca,
        los=p.los,
        duration_s=p.duration_s,
        max_elevation_deg=p.max_elevation_deg,
        aos_azimuth_deg=p.aos_azimuth_deg,
        tca_azimuth_deg=p.tca_azimuth_deg,
        los_azimuth_deg=p.los_azimuth_deg,
        antennas=slots,
    )
