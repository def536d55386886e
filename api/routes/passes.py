"""Predicted passes with per-antenna availability."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api import schemas
from api.convert import passes_json
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.limits import expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.schemas import Timestamp
from groundstation import passes

router = APIRouter(tags=["passes"])


@router.get(
    "/passes",
    response_model=schemas.PassesPublic,
    responses=problems(
        _404="no such satellite or station",
        _422="bad range (more than 31 days) or no usable ephemeris",
        _429=EXPENSIVE_429,
    ),
)
@expensive
def list_passes(
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    satellite: Annotated[int, Query(gt=0, lt=1_000_000_000, description="NORAD id")],
    station: Annotated[list[str] | None, Query(max_length=100, description="repeatable")] = None,
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    min_elevation: Annotated[float | None, Query(ge=-5, le=90)] = None,
) -> Response:
    """Windows with AOS/TCA/LOS, max elevation and azimuths, over each station
    (its own elevation mask, raised to `min_elevation`), each with every
    antenna's availability. Default range: from now (floored to the minute, so
    the requests of one minute share one prediction) for 24 h; at most 31 days."""
    start = start or passes.default_start(now)
    end = end or start + timedelta(hours=24)
    found = passes.pass_availability(
        session,
        norad_id=satellite,
        start=start,
        end=end,
        now=now,
        station_ids=station,
        min_elevation_deg=min_elevation,
        tenants=principal.tenants(),
        policy=ctx.policy,
        cache=ctx.pass_cache,
    )
    return Response(passes_json(found), media_type="application/json")
