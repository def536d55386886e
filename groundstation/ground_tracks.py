"""A satellite's ground track with the element set in force, and each
station's visibility footprint for it (the console's world map)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from groundstation import ephemerides, inventory
from groundstation.clock import require_utc
from groundstation.errors import EphemerisError, ValidationError
from groundstation.prediction import element_set_from_text
from orbital.ground_track import GroundTrack, compute_ground_track, footprint_half_angle_deg

#: Longest span and most points of one ground track.
MAX_SPAN_S = 2 * 86400.0
MAX_POINTS = 20_000


@dataclass(frozen=True)
class Footprint:
    """Where on the ground a station sees the satellite above its minimum elevation."""

    station_id: str
    name: str
    lat_deg: float
    lon_deg: float
    min_elevation_deg: float
    half_angle_deg: float


@dataclass(frozen=True)
class SatelliteGroundTrack:
    norad_id: int
    elements_epoch: datetime
    mean_height_km: float
    track: GroundTrack
    footprints: list[Footprint]


def satellite_ground_track(
    session: Session,
    *,
    norad_id: int,
    start: datetime,
    end: datetime,
    step_s: float,
    now: datetime,
    tenants: Sequence[str] | None = None,
) -> SatelliteGroundTrack:
    """The sub-satellite points of ``norad_id`` from ``start`` to ``end``
    every ``step_s`` with the element set in force at ``now``, and every
    station's footprint at the track's mean height. What it needs is read in
    a short transaction, ended here; the track is computed outside it."""
    start, end = require_utc(start, "start"), require_utc(end, "end")
    span_s = (end - start).total_seconds()
    if not 0 < span_s <= MAX_SPAN_S:
        raise ValidationError(
            f"end {end.isoformat()} must be after start {start.isoformat()} and at most "
            f"{MAX_SPAN_S / 3600:.0f} h later"
        )
    if span_s / step_s > MAX_POINTS:
        raise ValidationError(
            f"step_s {step_s} gives {span_s / step_s:.0f} points over {span_s:.0f} s; "
            f"at most {MAX_POINTS}: take a longer step"
        )
    satellite = inventory.get_satellite_for(session, norad_id=norad_id, tenants=tenants)
    in_force = ephemerides.ephemeris_in_force(session, satellite_id=satellite.id, now=now)
    if in_force is None:
        raise EphemerisError(
            f"satellite NORAD {norad_id} has no enabled, unexpired ephemeris; upload one"
        )
    text, epoch = in_force.text, in_force.epoch
    stations = [
        (s.id, s.name, s.lat_deg, s.lon_deg, s.min_elevation_deg)
        for s in inventory.list_stations(session)
    ]
    session.rollback()
    track = compute_ground_track(element_set_from_text(text), start=start, end=end, step_s=step_s)
    good = track.height_km[np.isfinite(track.height_km)]
    mean_height_km = float(good.mean()) if good.size else float("nan")
    footprints = [
        Footprint(sid, name, lat, lon, min_el, footprint_half_angle_deg(mean_height_km, min_el))
        for sid, name, lat, lon, min_el in stations
        if mean_height_km > 0
    ]
    return SatelliteGroundTrack(norad_id, epoch, mean_height_km, track, footprints)
