"""Planning against the database: build candidate windows from the
satellites' ephemerides in force, the antennas and the existing bookings,
solve (MILP and greedy baseline), and optionally book the plan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from groundstation.booking import (
    ACTIVE,
    BookingPolicy,
    _usable_ephemeris,
    band_fits,
    element_set,
    orbital_station,
    required_elevation_deg,
    reserve,
)
from groundstation.clock import require_utc
from groundstation.errors import BookingRefusedError, NotFoundError, ValidationError
from groundstation.events import EventSink
from groundstation.inventory import get_satellite
from groundstation.models import Antenna, Contact, MaintenanceWindow, MissionProfile
from groundstation.planning import (
    AntennaSlot,
    CandidateWindow,
    PlanProblem,
    PlanRequest,
    PlanResult,
    candidates_from_passes,
    solve_greedy,
    solve_milp,
)


@dataclass
class PlanOutcome:
    result: PlanResult
    greedy: PlanResult
    candidate_count: int
    chosen: list[CandidateWindow]
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
    from orbital.passes import Pass, predict_passes

    now = require_utc(now, "now")
    if not requests:
        raise ValidationError("no planning requests given")
    policy = policy or BookingPolicy()
    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise NotFoundError("mission profile", profile_id)
    start = min(require_utc(r.start, "start") for r in requests)
    end = max(require_utc(r.end, "end") for r in requests)
    query = select(Antenna).where(Antenna.status == "online").order_by(Antenna.id)
    if antenna_ids is not None:
        query = query.where(Antenna.id.in_(antenna_ids))
    antennas = list(session.scalars(query))
    satellites = {r.norad_id: get_satellite(session, norad_id=r.norad_id) for r in requests}
    elements = {
        norad: element_set(_usable_ephemeris(session, sat, now, policy))
        for norad, sat in satellites.items()
    }
    predicted: dict[tuple[str, float], list[Pass]] = {}
    passes_per_antenna: list[list[Pass]] = []
    busy: list[list[tuple[datetime, datetime]]] = []
    for antenna in antennas:
        key = (antenna.station_id, required_elevation_deg(antenna, profile))
        if key not in predicted:
            station = orbital_station(antenna.station, min_elevation_deg=key[1])
            predicted[key] = list(
                predict_passes(list(elements.values()), [station], start, end).passes
            )
        passes_per_antenna.append(
            [p for p in predicted[key] if band_fits(antenna, satellites[p.norad_id])]
        )
        intervals = [
            (c.blocked_start, c.blocked_end)
            for c in session.scalars(
                select(Contact).where(
                    Contact.antenna_id == antenna.id,
                    Contact.state.in_(ACTIVE),
                    Contact.blocked_end > start,
                    Contact.blocked_start < end,
                )
            )
        ]
        intervals += [
            (m.start, m.end)
            for m in session.scalars(
                select(MaintenanceWindow).where(
                    MaintenanceWindow.antenna_id == antenna.id,
                    MaintenanceWindow.end > start,
                    MaintenanceWindow.start < end,
                )
            )
        ]
        busy.append(intervals)
    slots = [AntennaSlot(a.id, a.station_id, a.setup_s, a.teardown_s) for a in antennas]
    prepass_s, postpass_s = profile.prepass_s, profile.postpass_s
    min_duration_s = profile.min_viable_duration_s
    session.rollback()
    candidates, windows = candidates_from_passes(
        requests,
        slots,
        passes_per_antenna,
        prepass_s=prepass_s,
        postpass_s=postpass_s,
        min_duration_s=min_duration_s,
        epoch=start,
        busy_per_antenna=busy,
    )
    problem = PlanProblem.from_requests(requests, candidates)
    result = solve_milp(problem, time_limit_s=time_limit_s)
    greedy = solve_greedy(problem)
    chosen = [windows[i] for i in result.chosen]
    outcome = PlanOutcome(result, greedy, candidates.size, chosen)
    if book:
        for w in sorted(chosen, key=lambda w: w.aos):
            request = requests[w.request_index]
            try:
                outcome.booked.append(
                    reserve(
                        session,
                        norad_id=w.norad_id,
                        antenna_id=w.antenna_id,
                        profile_id=profile_id,
                        start=w.aos,
                        end=w.los,
                        tenant=tenant or satellites[w.norad_id].tenant,
                        now=now,
                        idempotency_key=f"plan:{request.request_id}:{w.antenna_id}:{w.aos.isoformat()}",
                        policy=policy,
                        events=events,
                    )
                )
            except BookingRefusedError as exc:
                outcome.refused.append(f"{request.request_id}: {exc}")
    return outcome
