"""Planning against the database: build candidate windows from the
satellites' ephemerides in force, the antennas and the existing bookings,
solve (MILP and greedy baseline), and optionally book the plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from groundstation.availability import AntennaBusy, SlotAntenna, band_fits, busy_intervals
from groundstation.booking import AgentStations, agent_stations, reserve
from groundstation.clock import require_utc
from groundstation.ephemerides import usable_ephemeris
from groundstation.errors import BookingRefusedError, NotFoundError, ValidationError
from groundstation.events import EventSink
from groundstation.inventory import get_satellite
from groundstation.models import Antenna, Contact, MissionProfile, Satellite
from groundstation.planning import (
    AntennaPool,
    CandidateWindow,
    PlanProblem,
    PlanRequest,
    PlanResult,
    assign_antennas,
    candidates_from_passes,
    solve_greedy,
    solve_milp,
)
from groundstation.policy import BookingPolicy, require_span
from groundstation.prediction import element_set, orbital_station, predict, required_elevation_deg

if TYPE_CHECKING:
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station


def _check_prediction_work(
    policy: BookingPolicy, *, satellites: int, stations: int, days: float
) -> None:
    """ValidationError before predicting when the plan needs more
    satellite-station-days of prediction than the policy allows (each
    station predicted once per elevation limit of its antennas)."""
    work = satellites * stations * days
    if work > policy.max_plan_satellite_station_days:
        raise ValidationError(
            f"the plan predicts {satellites} satellites x {stations} stations x {days:.1f} days = "
            f"{work:.0f} satellite-station-days; at most "
            f"{policy.max_plan_satellite_station_days:.0f} (GS_MAX_PLAN_SATELLITE_STATION_DAYS): "
            "fewer satellites or antennas, or a shorter range"
        )


def _check_plan_size(policy: BookingPolicy, contacts: int) -> None:
    """ValidationError when a plan would book more contacts than one commit
    may (``GS_MAX_PLAN_CONTACTS``)."""
    if contacts > policy.max_plan_contacts:
        raise ValidationError(
            f"the plan chooses {contacts} contacts; at most {policy.max_plan_contacts} "
            "(GS_MAX_PLAN_CONTACTS) are booked by one plan: plan the schedule in parts "
            "(shorter ranges or fewer satellites per plan)"
        )


@dataclass(frozen=True)
class PlannedContact:
    window: CandidateWindow
    antenna_id: str


@dataclass
class PlanOutcome:
    result: PlanResult
    greedy: PlanResult
    candidate_count: int
    chosen: list[PlannedContact]
    booked: list[Contact] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def plan_contacts(
    session: Session,
    *,
    requests: Sequence[PlanRequest],
    profile_id: str,
    now: datetime,
    antenna_ids: Sequence[str] | None = None,
    time_limit_s: float = 10.0,
    book: bool = False,
    tenant: str = "",
    policy: BookingPolicy | None = None,
    events: EventSink | None = None,
) -> PlanOutcome:
    """Plan ``requests`` on the online antennas (or ``antenna_ids``) around
    the existing bookings and maintenance; with ``book=True`` reserve the
    chosen windows (each through ``reserve``, so every rule is re-checked)."""
    now = require_utc(now, "now")
    if not requests:
        raise ValidationError("no planning requests given")
    policy = policy or BookingPolicy()
    inputs = _read_inputs(session, requests, profile_id, now, antenna_ids, policy)
    candidates, windows = candidates_from_passes(
        requests,
        [pool.pool for pool in inputs.pools],
        _passes_per_pool(inputs),
        prepass_s=inputs.prepass_s,
        postpass_s=inputs.postpass_s,
        min_duration_s=inputs.min_duration_s,
        epoch=inputs.start,
        busy_per_pool=[pool.busy for pool in inputs.pools],
    )
    if candidates.size > policy.max_plan_candidates:
        raise ValidationError(
            f"the plan's requests have {candidates.size} candidate windows; at most "
            f"{policy.max_plan_candidates} (GS_MAX_PLAN_CANDIDATES): fewer requests, shorter "
            "ranges or fewer antennas"
        )
    problem = PlanProblem.from_requests(
        requests, candidates, [len(pool.pool.antenna_ids) for pool in inputs.pools]
    )
    result = solve_milp(problem, time_limit_s=time_limit_s)
    _check_plan_size(policy, int(result.chosen.size))
    slots = assign_antennas(problem, result.chosen)
    chosen = [
        PlannedContact(windows[i], inputs.pools[windows[i].pool_index].pool.antenna_ids[k])
        for i, k in zip(result.chosen, slots, strict=True)
    ]
    outcome = PlanOutcome(result, solve_greedy(problem), candidates.size, chosen)
    if book:
        _book(
            session,
            outcome,
            requests,
            profile_id=profile_id,
            tenant_of=lambda norad: tenant or inputs.tenants[norad],
            now=now,
            policy=policy,
            events=events,
        )
    return outcome


@dataclass(frozen=True)
class _PoolInput:
    """A pool of identical antennas and what predicting for it needs: its
    orbital station (elevation limit of the profile on these antennas), the
    satellites whose downlink its bands hold, and its busy intervals (its
    own pool when it has any)."""

    pool: AntennaPool
    station: Station
    receives: frozenset[int]
    busy: list[tuple[datetime, datetime]]
    #: one of its antennas (they slew alike)
    antenna: SlotAntenna


@dataclass(frozen=True)
class _PlanInputs:
    start: datetime
    end: datetime
    elements: list[ElementSet]
    tenants: dict[int, str]
    pools: list[_PoolInput]
    prepass_s: float
    postpass_s: float
    min_duration_s: float
    agents: AgentStations


def _read_inputs(
    session: Session,
    requests: Sequence[PlanRequest],
    profile_id: str,
    now: datetime,
    antenna_ids: Sequence[str] | None,
    policy: BookingPolicy,
) -> _PlanInputs:
    """Everything the plan needs from the database, read in one transaction
    ended here (before predicting); refused before any prediction beyond
    the policy's limits."""
    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise NotFoundError("mission profile", profile_id)
    start = min(require_utc(r.start, "start") for r in requests)
    end = max(require_utc(r.end, "end") for r in requests)
    # Every satellite is predicted over the union of the requests' ranges.
    require_span(start, end, what="the plan's requests together")
    # Stations run by an agent: none while its agent is offline, and only
    # passes each rotator can follow (the rules of ``reserve``).
    agents = agent_stations(session, now=now, policy=policy)
    antennas = [
        a for a in _online_antennas(session, antenna_ids) if not agents.offline.get(a.station_id)
    ]
    satellites = {r.norad_id: get_satellite(session, norad_id=r.norad_id) for r in requests}
    elements = [
        element_set(usable_ephemeris(session, sat, now, policy)) for sat in satellites.values()
    ]
    _check_prediction_work(
        policy,
        satellites=len(elements),
        stations=len({(a.station_id, required_elevation_deg(a, profile)) for a in antennas}),
        days=(end - start).total_seconds() / 86400.0,
    )
    busy = busy_intervals(
        session,
        antennas=[SlotAntenna.of(a) for a in antennas],
        start=start,
        end=end,
        prepass_s=profile.prepass_s,
        postpass_s=profile.postpass_s,
    )
    pools = [
        _pool_input(members, profile, list(satellites.values()), busy[members[0].id])
        for members in _identical_antennas(antennas, profile, busy).values()
    ]
    inputs = _PlanInputs(
        start=start,
        end=end,
        elements=elements,
        tenants={norad: sat.tenant for norad, sat in satellites.items()},
        pools=pools,
        prepass_s=profile.prepass_s,
        postpass_s=profile.postpass_s,
        min_duration_s=profile.min_viable_duration_s,
        agents=agents,
    )
    session.rollback()
    return inputs


def _online_antennas(session: Session, antenna_ids: Sequence[str] | None) -> list[Antenna]:
    """The online antennas (of ``antenna_ids``, which must all exist)."""
    query = select(Antenna).where(Antenna.status == "online").order_by(Antenna.id)
    if antenna_ids is not None:
        known = set(session.scalars(select(Antenna.id).where(Antenna.id.in_(antenna_ids))))
        unknown = sorted(set(antenna_ids) - known)
        if unknown:
            raise NotFoundError("antenna", unknown[0])
        query = query.where(Antenna.id.in_(antenna_ids))
    return list(session.scalars(query))


def _identical_antennas(
    antennas: Sequence[Antenna], profile: MissionProfile, busy: dict[str, AntennaBusy]
) -> dict[tuple[object, ...], list[Antenna]]:
    """Pools of identical antennas: same station, setup/teardown, elevation
    limit, bands and slew rates; an antenna with bookings or maintenance in the range
    gets a pool of its own (its busy intervals exclude candidates)."""
    groups: dict[tuple[object, ...], list[Antenna]] = {}
    for antenna in antennas:
        key: tuple[object, ...] = (
            antenna.station_id,
            antenna.setup_s,
            antenna.teardown_s,
            required_elevation_deg(antenna, profile),
            tuple(tuple(b) for b in antenna.bands),
            antenna.max_az_slew_deg_s,
            antenna.max_el_slew_deg_s,
        )
        if busy[antenna.id].intervals():
            key = (*key, antenna.id)
        groups.setdefault(key, []).append(antenna)
    return groups


def _pool_input(
    members: list[Antenna],
    profile: MissionProfile,
    satellites: Sequence[Satellite],
    busy: AntennaBusy,
) -> _PoolInput:
    first = members[0]
    return _PoolInput(
        pool=AntennaPool(
            tuple(a.id for a in members), first.station_id, first.setup_s, first.teardown_s
        ),
        station=orbital_station(
            first.station, min_elevation_deg=required_elevation_deg(first, profile)
        ),
        receives=frozenset(s.norad_id for s in satellites if band_fits(first, s)),
        busy=busy.intervals() if len(members) == 1 else [],
        antenna=SlotAntenna.of(first),
    )


def _passes_per_pool(inputs: _PlanInputs) -> list[list[Pass]]:
    """Each pool's passes of the satellites it can receive: every satellite
    predicted once per station and elevation limit; at a station run by an
    agent, only the passes its rotator can follow."""
    predicted: dict[tuple[str, float], list[Pass]] = {}
    elements = {e.norad_id: e for e in inputs.elements}
    out = []
    for pool in inputs.pools:
        key = (pool.station.id, pool.station.min_elevation_deg)
        if key not in predicted:
            predicted[key] = predict(inputs.elements, [pool.station], inputs.start, inputs.end)
        out.append(
            [
                p
                for p in predicted[key]
                if p.norad_id in pool.receives
                and inputs.agents.refusal(
                    pool.pool.station_id,
                    elements[p.norad_id],
                    pool.station,
                    pool.antenna,
                    p.aos,
                    p.los,
                )
                is None
            ]
        )
    return out


def _book(
    session: Session,
    outcome: PlanOutcome,
    requests: Sequence[PlanRequest],
    *,
    profile_id: str,
    tenant_of: Callable[[int], str],
    now: datetime,
    policy: BookingPolicy,
    events: EventSink | None,
) -> None:
    """Reserve each chosen window in AOS order; a refused one is listed in
    ``outcome.refused`` with the reason."""
    for planned in sorted(outcome.chosen, key=lambda pc: pc.window.aos):
        w = planned.window
        request = requests[w.request_index]
        try:
            outcome.booked.append(
                reserve(
                    session,
                    norad_id=w.norad_id,
                    antenna_id=planned.antenna_id,
                    profile_id=profile_id,
                    start=w.aos,
                    end=w.los,
                    tenant=tenant_of(w.norad_id),
                    now=now,
                    idempotency_key=(
                        f"plan:{request.request_id}:{planned.antenna_id}:{w.aos.isoformat()}"
                    ),
                    policy=policy,
                    events=events,
                )
            )
        except BookingRefusedError as exc:
            outcome.refused.append(f"{request.request_id}: {exc}")
