"""Planning against the database: build candidate windows from the
satellites' ephemerides in force, the antennas and the existing bookings,
solve (MILP and greedy baseline), and optionally book the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from groundstation.availability import SlotAntenna, band_fits, busy_intervals
from groundstation.booking import reserve
from groundstation.clock import require_utc
from groundstation.ephemerides import usable_ephemeris
from groundstation.errors import BookingRefusedError, NotFoundError, ValidationError
from groundstation.events import EventSink
from groundstation.inventory import get_satellite
from groundstation.models import Antenna, Contact, MissionProfile
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
    from orbital.passes import Pass


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
    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise NotFoundError("mission profile", profile_id)
    start = min(require_utc(r.start, "start") for r in requests)
    end = max(require_utc(r.end, "end") for r in requests)
    # Every satellite is predicted over the union of the requests' ranges.
    require_span(start, end, what="the plan's requests together")
    query = select(Antenna).where(Antenna.status == "online").order_by(Antenna.id)
    if antenna_ids is not None:
        known = set(session.scalars(select(Antenna.id).where(Antenna.id.in_(antenna_ids))))
        unknown = sorted(set(antenna_ids) - known)
        if unknown:
            raise NotFoundError("antenna", unknown[0])
        query = query.where(Antenna.id.in_(antenna_ids))
    antennas = list(session.scalars(query))
    satellites = {r.norad_id: get_satellite(session, norad_id=r.norad_id) for r in requests}
    elements = {
        norad: element_set(usable_ephemeris(session, sat, now, policy))
        for norad, sat in satellites.items()
    }
    _check_prediction_work(
        policy,
        satellites=len(elements),
        stations=len({(a.station_id, required_elevation_deg(a, profile)) for a in antennas}),
        days=(end - start).total_seconds() / 86400.0,
    )
    # Pools of identical antennas: same station, setup/teardown, elevation
    # limit and bands; an antenna with bookings or maintenance in the range
    # gets a pool of its own (its busy intervals exclude candidates).
    busy = busy_intervals(
        session,
        antennas=[SlotAntenna.of(a) for a in antennas],
        start=start,
        end=end,
        prepass_s=profile.prepass_s,
        postpass_s=profile.postpass_s,
    )
    busy_by_antenna = {antenna_id: b.intervals() for antenna_id, b in busy.items()}
    groups: dict[tuple[object, ...], list[Antenna]] = {}
    for antenna in antennas:
        key: tuple[object, ...] = (
            antenna.station_id,
            antenna.setup_s,
            antenna.teardown_s,
            required_elevation_deg(antenna, profile),
            tuple(tuple(b) for b in antenna.bands),
        )
        if busy_by_antenna[antenna.id]:
            key = (*key, antenna.id)
        groups.setdefault(key, []).append(antenna)
    predicted: dict[tuple[str, float], list[Pass]] = {}
    pools: list[AntennaPool] = []
    passes_per_pool: list[list[Pass]] = []
    busy_per_pool: list[list[tuple[datetime, datetime]]] = []
    for members in groups.values():
        first = members[0]
        key2 = (first.station_id, required_elevation_deg(first, profile))
        if key2 not in predicted:
            station = orbital_station(first.station, min_elevation_deg=key2[1])
            predicted[key2] = predict(list(elements.values()), [station], start, end)
        pools.append(
            AntennaPool(
                tuple(a.id for a in members), first.station_id, first.setup_s, first.teardown_s
            )
        )
        passes_per_pool.append(
            [p for p in predicted[key2] if band_fits(first, satellites[p.norad_id])]
        )
        busy_per_pool.append(busy_by_antenna[first.id] if len(members) == 1 else [])
    prepass_s, postpass_s = profile.prepass_s, profile.postpass_s
    min_duration_s = profile.min_viable_duration_s
    session.rollback()
    candidates, windows = candidates_from_passes(
        requests,
        pools,
        passes_per_pool,
        prepass_s=prepass_s,
        postpass_s=postpass_s,
        min_duration_s=min_duration_s,
        epoch=start,
        busy_per_pool=busy_per_pool,
    )
    if candidates.size > policy.max_plan_candidates:
        raise ValidationError(
            f"the plan's requests have {candidates.size} candidate windows; at most "
            f"{policy.max_plan_candidates} (GS_MAX_PLAN_CANDIDATES): fewer requests, shorter "
            "ranges or fewer antennas"
        )
    problem = PlanProblem.from_requests(
        requests, candidates, [len(pool.antenna_ids) for pool in pools]
    )
    result = solve_milp(problem, time_limit_s=time_limit_s)
    greedy = solve_greedy(problem)
    slots = assign_antennas(problem, result.chosen)
    chosen = [
        PlannedContact(windows[i], pools[windows[i].pool_index].antenna_ids[k])
        for i, k in zip(result.chosen, slots, strict=True)
    ]
    outcome = PlanOutcome(result, greedy, candidates.size, chosen)
    if book:
        for planned in sorted(chosen, key=lambda pc: pc.window.aos):
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
                        tenant=tenant or satellites[w.norad_id].tenant,
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
    return outcome
