"""Ground tracks: a satellite's sub-satellite point (geodetic latitude,
longitude, height over the WGS84 ellipsoid) over time, and a station's
visibility footprint on the ground.

The sub-point comes from SGP4 (TEME), rotated to ITRS as ``orbital.geometry``
does for look angles, then converted to geodetic coordinates by the iteration
skyfield's ``wgs84.latlon_of`` uses (converges to well below a millimetre in
three rounds for any orbit above the ground).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.geometry import teme_to_itrs
from orbital.track import _grid_every_step

FloatArray = NDArray[np.float64]

WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


@dataclass(frozen=True)
class GroundTrack:
    """Sub-satellite points; arrays have shape ``(n_times,)``. Failed SGP4
    samples (``error_code`` != 0) hold NaN."""

    times_utc: list[datetime]
    lat_deg: FloatArray
    lon_deg: FloatArray
    height_km: FloatArray
    error_code: NDArray[np.uint8]


def geodetic_from_itrs(r_itrs_km: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """WGS84 ``(lat_deg, lon_deg, height_km)`` of ITRS positions
    ``r_itrs_km: (..., 3)``; longitudes in -180..180."""
    x, y, z = r_itrs_km[..., 0], r_itrs_km[..., 1], r_itrs_km[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    for _ in range(3):
        sin_lat = np.sin(lat)
        n_km = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
        lat = np.arctan2(z + n_km * WGS84_E2 * sin_lat, p)
    sin_lat = np.sin(lat)
    n_km = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    cos_lat = np.cos(lat)
    # height from whichever of p and z measures it better at this latitude
    with np.errstate(invalid="ignore", divide="ignore"):
        height = np.where(
            np.abs(cos_lat) > 0.1,
            p / np.where(cos_lat == 0, 1.0, cos_lat) - n_km,
            z / np.where(sin_lat == 0, 1.0, sin_lat) - n_km * (1.0 - WGS84_E2),
        )
    return np.degrees(lat), np.degrees(lon), height


def compute_ground_track(
    element_set: ElementSet, *, start: datetime, end: datetime, step_s: float
) -> GroundTrack:
    """Sub-satellite points from ``start`` to ``end`` (included) every ``step_s``."""
    epoch, offsets, times = _grid_every_step(start, end, step_s)
    sat = element_set.satrec()
    jd = epoch.julian(offsets)
    err, r, v = sat.sgp4_array(jd.whole, jd.utc_fraction)
    r[err != 0] = np.nan
    theta, theta_dot = jd.gmst_rad()
    r_itrs, _ = teme_to_itrs(r, v, theta, theta_dot)
    lat, lon, height = geodetic_from_itrs(r_itrs)
    return GroundTrack(times, lat, lon, height, err.astype(np.uint8))


def footprint_half_angle_deg(height_km: float, min_elevation_deg: float) -> float:
    """Earth-central half-angle (degrees) of the ground circle from which a
    satellite at ``height_km`` is seen at ``min_elevation_deg`` or higher
    (spherical Earth of the WGS84 equatorial radius)."""
    if not np.isfinite(height_km) or height_km <= 0:
        raise OrbitalError(f"height_km {height_km} must be > 0")
    if not -90.0 < min_elevation_deg < 90.0:
        raise OrbitalError(f"min_elevation_deg {min_elevation_deg} must be within -90..90")
    el = np.radians(min_elevation_deg)
    ratio = WGS84_A_KM * np.cos(el) / (WGS84_A_KM + height_km)
    return float(np.degrees(np.arccos(ratio) - el))
