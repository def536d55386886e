"""Batch planning: propose contacts for many requests (MILP, nothing booked),
then commit the proposal: all of it is booked, or none if any window is taken.

Proposals are kept in the database for ``PLAN_TTL`` (see
``groundstation.plan_proposals``), so any API process may commit a plan
another one proposed; committing re-checks every rule.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import status
from fastapi.responses import JSONResponse

from api import schemas
from api.convert import contact_public
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.errors import problem
from api.limits import expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.routing import api_router
from groundstation import contacts, inventory, plan_proposals
from groundstation.errors import (
    NotFoundError,
    PlanCommitRefusedError,
    PlanCommittedError,
    ValidationError,
)
from groundstation.plan_service import plan_contacts
from groundstation.planning import PlanRequest

router = api_router(tags=["plans"])
MAX_REQUEST_SPAN = timedelta(days=14)


@router.post(
    "/plans",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PlanPublic,
    responses=problems(
        _404="a satellite, profile or antenna is unknown",
        _422=(
            "a request spans more than 14 days, all of them together more than 31, or the "
            "plan exceeds GS_MAX_PLAN_SATELLITE_STATION_DAYS, GS_MAX_PLAN_CANDIDATES or "
            "GS_MAX_PLAN_CONTACTS"
        ),
        _429=EXPENSIVE_429,
    ),
)
@expensive
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
    for i, r in enumerate(body.requests):
        if not timedelta(0) < r.end - r.start <= MAX_REQUEST_SPAN:
            raise ValidationError(
                f"requests[{i}]: start {r.start.isoformat()} .. end {r.end.isoformat()} must be "
                f"a positive span of at most {MAX_REQUEST_SPAN.days} days"
            )
    for r in body.requests:
        satellite = inventory.get_satellite_for(session, norad_id=r.norad_id, tenants=tenants)
        # The contacts will be the satellite's tenant's: the profile must be theirs or shared.
        inventory.get_profile_for(session, profile_id=body.profile_id, tenants=(satellite.tenant,))
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
    plan_proposals.save_proposal(
        session,
        plan_id=plan_id,
        profile_id=body.profile_id,
        contacts=[
            plan_proposals.ProposedContact(
                p.window.norad_id, p.antenna_id, p.window.aos, p.window.los
            )
            for p in outcome.chosen
        ],
        tenants=tenants,
        owner_tenant=principal.tenant,
        now_real=datetime.now(UTC),
    )
    return public


@router.get(
    "/plans/{plan_id}",
    response_model=schemas.PlanDetail,
    responses=problems(_404="no such plan (expired, or another tenant's)"),
)
def get_plan(plan_id: str, session: SessionDep, principal: OperatorDep) -> schemas.PlanDetail:
    """The plan as proposed (its windows) and its state; once committed, when
    and the contacts its commit booked, in their current state. Visible as
    for commit: to keys of the proposing key's tenants, until it expires
    (`expires_at`, an hour after it was proposed; its contacts stay in
    `GET /contacts`)."""
    tenants = principal.tenants()
    plan = plan_proposals.read_proposal(
        session, plan_id=plan_id, tenants=tenants, now_real=datetime.now(UTC)
    )
    booked = []
    for contact_id in plan.contact_ids:
        try:
            contact = contacts.get_contact_for(session, contact_id=contact_id, tenants=tenants)
        except NotFoundError:  # removed since (never another tenant's: see commit)
            continue
        booked.append(contact_public(contact))
    return schemas.PlanDetail(
        id=plan.plan_id,
        profile_id=plan.profile_id,
        state=plan.state,  # type: ignore[arg-type]
        created_at=plan.created_at,
        expires_at=plan.expires_at,
        proposed=[
            schemas.PlannedContactPublic(
                norad_id=p.norad_id, antenna_id=p.antenna_id, aos=p.aos, los=p.los
            )
            for p in plan.proposed
        ],
        committed_at=plan.committed_at,
        booked=booked,
    )


@router.post(
    "/plans/{plan_id}/commit",
    response_model=schemas.PlanCommitPublic,
    responses=problems(
        _404="no such plan (expired, or another tenant's)",
        _409="a proposed window is not available any more: nothing was booked",
        _422="the proposal holds more contacts than GS_MAX_PLAN_CONTACTS: nothing was booked",
        _429=EXPENSIVE_429,
    ),
)
@expensive
def commit_plan(
    plan_id: str,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
) -> schemas.PlanCommitPublic | JSONResponse:
    """Book every proposed contact, or none, in one database transaction: if
    one is refused (or the server dies half way) nothing is booked and the
    plan can be committed again; 409 names the cause. Any API process sharing
    the database may commit it; of concurrent commits exactly one books, the
    others get 409 with the ids of the contacts booked (`booked_contact_ids`)."""
    try:
        booked = plan_proposals.commit_proposal(
            session,
            plan_id=plan_id,
            tenants=principal.tenants(),
            booking_tenant=None if principal.is_admin else principal.tenant,
            now=now,
            now_real=datetime.now(UTC),
            policy=ctx.policy,
            events=ctx.events,
            on_staged=plan_proposals.commit_pause_hook(
                after=ctx.settings.test_plan_commit_pause_after,
                pause_s=ctx.settings.test_plan_commit_pause_s,
            ),
        )
    except PlanCommittedError as exc:
        return problem(409, str(exc), kind="committed", booked_contact_ids=exc.contact_ids)
    except PlanCommitRefusedError as exc:
        return problem(409, str(exc), kind=exc.rule)
    out = [contact_public(contacts.get_contact_for(session, contact_id=c.id)) for c in booked]
    return schemas.PlanCommitPublic(plan_id=plan_id, booked=out)
