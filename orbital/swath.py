"""Swath geolocation of a cross-track scanning radiometer.

A whisk-broom imager (AVHRR, MHS style) scans one line across the ground
track per mirror turn. Pixel ``j`` of ``n_pixels`` looks at scan angle
``(j + 0.5 - n_pixels / 2) * fov_deg / n_pixels`` from nadir, in the plane
that holds the geocentric nadir and is perpendicular to the satellite's
Earth-fixed velocity; positive angles look to the right of the ground track
(toward ``velocity x nadir``). Each pixel's line of sight is intersected with
the WGS84 ellipsoid and converted to geodetic latitude and longitude.

A line is taken at one instant (its time tag); the few milliseconds a mirror
takes to sweep a line are neglected (at most ~20 m of along-track motion per
millisecond). Pixels whose line of sight misses the Earth, and lines whose
propagation failed, are NaN (a per-pixel status, not an exception).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.stations import WGS84_A_KM, WGS84_E2, WGS84_F
from orbital.track import satellite_itrs

FloatArray = NDArray[np.float64]

WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
LINES_PER_BLOCK = 256  # scan lines geolocated at a time


def scan_angles_deg(fov_deg: float, n_pixels: int) -> FloatArray:
    """Scan angle of each pixel's centre from nadir, ``(n_pixels,)``, deg."""
    if not np.isfinite(fov_deg) or not 0 < fov_deg < 180:
        raise OrbitalError(f"fov_deg {fov_deg} must be in (0, 180) degrees")
    if n_pixels < 1:
        raise OrbitalError(f"n_pixels {n_pixels} must be >= 1")
    step = fov_deg / n_pixels
    return (np.arange(n_pixels, dtype=np.float64) + 0.5 - n_pixels / 2) * step


def _look_vectors(
    r_itrs_km: FloatArray, v_itrs_km_s: FloatArray, scan_deg: FloatArray
) -> FloatArray:
    """Unit lines of sight in ITRS, ``(n_lines, n_pixels, 3)``."""
    nadir = -r_itrs_km / np.linalg.norm(r_itrs_km, axis=-1, keepdims=True)
    along = v_itrs_km_s - np.sum(v_itrs_km_s * nadir, axis=-1, keepdims=True) * nadir
    along /= np.linalg.norm(along, axis=-1, keepdims=True)
    right = np.cross(along, nadir)  # to the right of the ground track
    a = np.deg2rad(scan_deg)[None, :, None]
    return np.cos(a) * nadir[:, None, :] + np.sin(a) * right[:, None, :]


def _ellipsoid_hit(origin_km: FloatArray, look: FloatArray) -> FloatArray:
    """First intersection of rays with the WGS84 ellipsoid, ``(..., 3)`` km; NaN on a miss."""
    scale = np.array([1.0 / WGS84_A_KM, 1.0 / WGS84_A_KM, 1.0 / WGS84_B_KM])
    o = origin_km * scale
    d = look * scale
    a = np.sum(d * d, axis=-1)
    b = 2.0 * np.sum(o * d, axis=-1)
    c = np.sum(o * o, axis=-1) - 1.0
    disc = b * b - 4.0 * a * c
    with np.errstate(invalid="ignore"):
        t = (-b - np.sqrt(disc)) / (2.0 * a)
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return np.asarray(origin_km + t[..., None] * look, dtype=np.float64)


def itrs_to_geodetic_deg(r_itrs_km: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Geodetic latitude and longitude (deg) of Earth-fixed points ``(..., 3)`` km
    (Bowring's formula, sub-millimetre near the surface)."""
    x, y, z = r_itrs_km[..., 0], r_itrs_km[..., 1], r_itrs_km[..., 2]
    p = np.hypot(x, y)
    ep2 = WGS84_E2 / (1.0 - WGS84_E2)
    theta = np.arctan2(z * WGS84_A_KM, p * WGS84_B_KM)
    lat = np.arctan2(
        z + ep2 * WGS84_B_KM * np.sin(theta) ** 3,
        p - WGS84_E2 * WGS84_A_KM * np.cos(theta) ** 3,
    )
    return np.rad2deg(lat), np.rad2deg(np.arctan2(y, x))


def _swath_core(
    r_itrs_km: FloatArray, v_itrs_km_s: FloatArray, scan_deg: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Latitude and longitude (deg), ``(n_lines, n_pixels)``, of every pixel."""
    look = _look_vectors(r_itrs_km, v_itrs_km_s, scan_deg)
    ground = _ellipsoid_hit(r_itrs_km[:, None, :], look)
    return itrs_to_geodetic_deg(ground)


def swath_lat_lon(
    element_set: ElementSet,
    start: datetime,
    line_t_s: FloatArray,
    *,
    fov_deg: float,
    n_pixels: int,
) -> tuple[FloatArray, FloatArray]:
    """Geodetic latitude and longitude (deg) of every pixel of the scan lines
    taken ``line_t_s`` seconds (``(n_lines,)``) after ``start`` (aware UTC):
    two ``(n_lines, n_pixels)`` arrays, NaN where the line of sight misses
    the Earth or SGP4 failed."""
    scan = scan_angles_deg(fov_deg, n_pixels)
    r, v, err = satellite_itrs(element_set, start, np.asarray(line_t_s, dtype=np.float64))
    r[err != 0] = np.nan
    v[err != 0] = np.nan
    lat = np.empty((r.shape[0], scan.size))
    lon = np.empty_like(lat)
    for first in range(0, r.shape[0], LINES_PER_BLOCK):  # bounded temporaries
        block = slice(first, first + LINES_PER_BLOCK)
        lat[block], lon[block] = _swath_core(r[block], v[block], scan)
    return lat, lon
