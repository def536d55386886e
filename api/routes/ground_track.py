"""A satellite's ground track and the stations' footprints (the console's
world map), computed with the element set in force."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.limits import expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation.ground_tracks import satellite_ground_track

router = api_router(tags=["satellites"])


class GroundPoint(BaseModel):
    time: AwareDatetime
    lat_deg: float | None
    lon_deg: float | None
    height_km: float | None


class StationFootprint(BaseModel):
    station_id: str
    name: str
    lat_deg: float
    lon_deg: float
    min_elevation_deg: float
    half_angle_deg: float = Field(
        description="Earth-central half-angle of the ground circle from which the satellite, "
        "at the track's mean height, is above the station's minimum elevation"
    )


class GroundTrackPublic(BaseModel):
    norad_id: int
    elements_epoch: AwareDatetime
    step_s: float
    mean_height_km: float | None
    data: list[GroundPoint]
    count: int
    footprints: list[StationFootprint]


def _num(x: float) -> float | None:
    return round(float(x), 4) if math.isfinite(x) else None


@router.get(
    "/satellites/{norad_id}/ground-track",
    response_model=GroundTrackPublic,
    responses=problems(_404="no such satellite (or another tenant's)", _429=EXPENSIVE_429),
)
@expensive
def ground_track(
    norad_id: Annotated[int, Path(gt=0, lt=1_000_000_000, description="NORAD id")],
    session: SessionDep,
    ctx: CtxDep,
    principal: OperatorDep,
    now: NowDep,
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    step_s: Annotated[float, Query(ge=1, le=600)] = 30.0,
) -> GroundTrackPublic:
    """Sub-satellite points (WGS84 latitude, longitude, height) every
    `step_s` from `start` (default now, floored to the minute) to `end` (default 100 min later, about
    one LEO orbit; at most 48 h), and each station's footprint."""
    start = start or now.replace(second=0, microsecond=0)
    end = end or start + timedelta(minutes=100)
    found = satellite_ground_track(
        session,
        norad_id=norad_id,
        start=start,
        end=end,
        step_s=step_s,
        now=now,
        tenants=principal.tenants(),
    )
    t = found.track
    data = [
        GroundPoint(
            time=time,
            lat_deg=_num(t.lat_deg[i]),
            lon_deg=_num(t.lon_deg[i]),
            height_km=_num(t.height_km[i]),
        )
        for i, time in enumerate(t.times_utc)
    ]
    return GroundTrackPublic(
        norad_id=norad_id,
        elements_epoch=found.elements_epoch,
        step_s=step_s,
        mean_height_km=_num(found.mean_height_km),
        data=data,
        count=len(data),
        footprints=[StationFootprint(**vars(f)) for f in found.footprints],
    )
