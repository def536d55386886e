"""Batch planning: propose contacts for many requests (MILP, nothing booked),
then commit the proposal: all of it is booked, or none if any window is taken.

Proposals are kept in the API process's memory for ``PLAN_TTL`` (they are a
computation result, not state of record); committing re-checks every rule.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from api import schemas
from api.convert import contact_public
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.errors import problem
from api.routes._responses import problems
from groundstation import booking, queries
from groundstation.errors import BookingRefusedError, CancelRefusedError, NotFoundError
from groundstation.models import Contact
from groundstation.plan_service import PlannedContact, plan_contacts
from groundstation.planning import PlanRequest

router = APIRouter(tags=["plans"])
PLAN_TTL = timedelta(hours=1)


@dataclass
class StoredPlan:
    public: schemas.PlanPublic
    chosen: list[PlannedContact]
    tenants: tuple[str, ...] | None
    owner_tenant: str
    created_real: datetime
    committed: bool = False


def _expire(plans: dict[str, object], now_real: datetime) -> None:
    for key in [
        k
        for k, p in plans.items()
        if isinstance(p, StoredPlan) and now_real - p.created_real > PLAN_TTL
    ]:
        plans.pop(key, None)


@router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PlanPublic,
    responses=problems(_404="a satellite, profile or antenna is unknown"),
)
def create_plan(
    body: schemas.PlanCreate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
) -> schemas.PlanPublic:
    """Choose windows for the requests on the free antennas (priority-weighted
    contact minutes, MILP); nothing is booked until the plan is committed."""
    tenants = principal.tenants()
    for r in body.requests:
        queries.get_satellite_for(session, norad_id=r.norad_id, tenants=tenants)
    session.rollback()
    requests = [
        PlanRequest(
            request_id=f"r{i}",
            norad_id=r.norad_id,
            start=r.start,
            end=r.end,
            priority=r.priority,
            wanted_passes=r.max_passes if (r.max_passes or r.max_minutes) else 10_000,
            wanted_minutes=r.max_minutes,
        )
        for i, r in enumerate(body.requests)
    ]
    outcome = plan_contacts(
        session,
        requests=requests,
        profile_id=body.profile_id,
        now=now,
        antenna_ids=body.antenna_ids,
        time_limit_s=body.time_limit_s,
        policy=ctx.policy,
    )
    plan_id = str(uuid.uuid4())
    gap = outcome.result.gap_pct
    public = schemas.PlanPublic(
        id=plan_id,
        profile_id=body.profile_id,
        status=outcome.result.status,
        objective=float(outcome.result.objective),
        gap=None if gap is None or math.isnan(gap) else float(gap),
        greedy_objective=float(outcome.greedy.objective),
        proposed=[
            schemas.PlannedContactPublic(
                norad_id=p.window.norad_id,
                antenna_id=p.antenna_id,
                aos=p.window.aos,
                los=p.window.los,
            )
            for p in sorted(outcome.chosen, key=lambda pc: (pc.window.aos, pc.antenna_id))
        ],
        created_at=now,
    )
    real_now = datetime.now().astimezone()
    _expire(ctx.plans, real_now)
    ctx.plans[plan_id] = StoredPlan(public, outcome.chosen, tenants, principal.tenant, real_now)
    return public


@router.post(
    "/plans/{plan_id}/commit",
    response_model=schemas.PlanCommitPublic,
    responses=problems(
        _404="no such plan (expired, or another tenant's)",
        _409="a proposed window is not available any more: nothing was booked",
    ),
)
def commit_plan(
    plan_id: str,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
) -> schemas.PlanCommitPublic | JSONResponse:
    """Book every proposed contact, or none: if one is refused, the ones
    already booked by this commit are cancelled again and 409 names the cause."""
    stored = ctx.plans.get(plan_id)
    if not isinstance(stored, StoredPlan) or stored.tenants != principal.tenants():
        raise NotFoundError("plan", plan_id)
    if stored.committed:
        return problem(409, f"plan {plan_id} was committed already", kind="committed")
    booked: list[Contact] = []
    for p in sorted(stored.chosen, key=lambda pc: pc.window.aos):
        sat = queries.get_satellite_for(session, norad_id=p.window.norad_id)
        tenant = sat.tenant if principal.is_admin else principal.tenant
        session.rollback()
        try:
            booked.append(
                booking.reserve(
                    session,
                    norad_id=p.window.norad_id,
                    antenna_id=p.antenna_id,
                    profile_id=stored.public.profile_id,
                    start=p.window.aos,
                    end=p.window.los,
                    tenant=tenant,
                    now=now,
                    idempotency_key=f"plan:{plan_id}:{p.antenna_id}:{p.window.aos.isoformat()}",
                    policy=ctx.policy,
                    events=ctx.events,
                )
            )
        except BookingRefusedError as exc:
            for contact in booked:
                with contextlib.suppress(CancelRefusedError):
                    booking.cancel(
                        session,
                        contact_id=contact.id,
                        now=now,
                        reason=f"plan {plan_id} commit rolled back: {exc}",
                        events=ctx.events,
                    )
            return problem(
                409,
                f"plan {plan_id}: NORAD {p.window.norad_id} on {p.antenna_id} at "
                f"{p.window.aos.isoformat()} is not available any more ({exc}); nothing was booked",
                kind=exc.rule,
            )
    stored.committed = True
    out = [contact_public(queries.get_contact_for(session, contact_id=c.id)) for c in booked]
    session.rollback()
    return schemas.PlanCommitPublic(plan_id=plan_id, booked=out)
