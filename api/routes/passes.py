"""Predicted passes with per-antenna availability."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import pydantic_core
from fastapi import Query, Response

from api import schemas
from api.convert import passes_json
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.limits import expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation import passes

router = api_router(tags=["passes"])


@router.get(
    "/passes",
    response_model=schemas.PassesPublic,
    responses=problems(
        _404="no such satellite, station or profile",
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
    profile: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=80,
            description="mission profile id: only windows a booking with it accepts",
        ),
    ] = None,
) -> Response:
    """Windows with AOS/TCA/LOS, max elevation and azimuths, over each station
    (its own elevation mask, raised to `min_elevation`), each with every
    antenna's availability. Default range: from now (floored to the minute, so
    the requests of one minute share one prediction) for 24 h; at most 31 days.

    With `profile` (shared or the satellite's tenant's, else 404): the
    windows `POST /contacts` with that profile accepts: only antennas whose
    bands hold the satellite's downlink, passes above the antenna's and the
    profile's minimum elevation lasting its minimum viable duration, whose
    pre-pass has not started; an antenna is free when its booked window
    (pre/post-pass, setup/teardown) is. Antennas of a station with different
    elevation limits get one pass each. 422 when the profile's settings or
    the satellite's downlink cannot be used for any booking."""
    start = start or passes.default_start(now)
    end = end or start + timedelta(hours=24)
    if profile is not None:
        return passes_response(
            passes.predicted_passes(
                session,
                norad_id=satellite,
                start=start,
                end=end,
                now=now,
                station_ids=station,
                min_elevation_deg=min_elevation,
                profile_id=profile,
                tenants=principal.tenants(),
                policy=ctx.policy,
                cache=ctx.pass_cache,
            )
        )
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


def passes_response(found: list[passes.PredictedPass]) -> Response:
    """``PassesPublic`` as JSON, written by pydantic's serializer straight from
    plain dicts in the schema's field order: the values come typed from the
    service layer (aware datetimes, floats, str), and validating ~1,500 passes
    x 2 antennas again (50 stations, 7 days) was a third of the request."""
    data = [
        {
            "norad_id": p.norad_id,
            "station_id": p.station_id,
            "aos": p.aos,
            "tca": p.tca,
            "los": p.los,
            "duration_s": p.duration_s,
            "max_elevation_deg": p.max_elevation_deg,
            "aos_azimuth_deg": p.aos_azimuth_deg,
            "tca_azimuth_deg": p.tca_azimuth_deg,
            "los_azimuth_deg": p.los_azimuth_deg,
            "antennas": [
                {"antenna_id": a.antenna_id, "free": a.free, "blocked_by": a.blocked_by}
                for a in p.antennas
            ],
        }
        for p in found
    ]
    body = pydantic_core.to_json({"data": data, "count": len(data)})
    return Response(body, media_type="application/json")
