"""Frames and look angles: TEME -> ITRS, and topocentric az/el/range/rates.

The TEME -> ITRS rotation is the IAU-82 GMST rotation about z (no polar
motion), which is also what skyfield's ``TEME`` and ``ITRS`` frames reduce to
when no polar-motion table is loaded, so our look angles agree with
skyfield's ``(satellite - station).at(t)`` to well below a metre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sgp4.api import SatrecArray

from orbital.stations import Station
from orbital.timescale import JulianDates

FloatArray = NDArray[np.float64]


def propagate_teme(
    sats: SatrecArray, jd: JulianDates
) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
    """SGP4 for every satellite at every time.

    Returns ``(error_code: (n_sats, n_times) uint8, r_teme_km: (n_sats, n_times, 3),
    v_teme_km_s: (n_sats, n_times, 3))``; rows with an error hold NaN.
    """
    e, r, v = sats.sgp4(jd.whole, jd.utc_fraction)
    return e, r, v


def teme_to_itrs(
    r_teme_km: FloatArray,
    v_teme_km_s: FloatArray,
    theta_rad: FloatArray,
    theta_dot_rad_s: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Rotate TEME vectors to ITRS (Earth-fixed), with the Earth-rotation term in velocity.

    ``r_teme_km``, ``v_teme_km_s``: (..., n_times, 3); ``theta_rad``, ``theta_dot_rad_s``:
    (n_times,) GMST angle and rate. Returns ``(r_itrs_km, v_itrs_km_s)`` shaped like the input.
    """
    c = np.cos(theta_rad)
    s = np.sin(theta_rad)
    w = theta_dot_rad_s
    x, y = r_teme_km[..., 0], r_teme_km[..., 1]
    vx, vy = v_teme_km_s[..., 0], v_teme_km_s[..., 1]
    r_itrs = np.empty(np.broadcast_shapes(r_teme_km.shape, v_teme_km_s.shape))
    v_itrs = np.empty_like(r_itrs)
    rx = np.multiply(c, x, out=r_itrs[..., 0])
    rx += s * y
    ry = np.multiply(c, y, out=r_itrs[..., 1])
    ry -= s * x
    r_itrs[..., 2] = r_teme_km[..., 2]
    vxi = np.multiply(c, vx, out=v_itrs[..., 0])
    vxi += s * vy
    vxi += w * ry
    vyi = np.multiply(c, vy, out=v_itrs[..., 1])
    vyi -= s * vx
    vyi -= w * rx
    v_itrs[..., 2] = v_teme_km_s[..., 2]
    return r_itrs, v_itrs


@dataclass(frozen=True)
class LookAngles:
    """Topocentric geometry; every array has the shape of the input times."""

    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    range_km: FloatArray
    range_rate_km_s: FloatArray
    elevation_rate_deg_s: FloatArray
    azimuth_rate_deg_s: FloatArray


def look_angles(
    r_itrs_km: FloatArray,
    v_itrs_km_s: FloatArray,
    station_itrs_km: FloatArray,
    station_enu: FloatArray,
) -> LookAngles:
    """Azimuth/elevation/range and their rates of ITRS states seen from stations.

    ``r_itrs_km``, ``v_itrs_km_s``: (..., 3); ``station_itrs_km``: (..., 3) and
    ``station_enu``: (..., 3, 3) (rows east, north, up), broadcast against the states.
    """
    rho = r_itrs_km - station_itrs_km
    e = np.einsum("...j,...j->...", station_enu[..., 0, :], rho)
    n = np.einsum("...j,...j->...", station_enu[..., 1, :], rho)
    u = np.einsum("...j,...j->...", station_enu[..., 2, :], rho)
    ed = np.einsum("...j,...j->...", station_enu[..., 0, :], v_itrs_km_s)
    nd = np.einsum("...j,...j->...", station_enu[..., 1, :], v_itrs_km_s)
    ud = np.einsum("...j,...j->...", station_enu[..., 2, :], v_itrs_km_s)
    horiz2 = e * e + n * n
    horiz = np.sqrt(horiz2)
    rng2 = horiz2 + u * u
    rng = np.sqrt(rng2)
    rng_rate = (e * ed + n * nd + u * ud) / rng
    el = np.arctan2(u, horiz)
    el_rate = (ud * horiz2 - u * (e * ed + n * nd)) / (rng2 * horiz)
    az = np.arctan2(e, n) % (2.0 * np.pi)
    az_rate = (n * ed - e * nd) / horiz2
    return LookAngles(
        np.degrees(az),
        np.degrees(el),
        rng,
        rng_rate,
        np.degrees(el_rate),
        np.degrees(az_rate),
    )


def station_arrays(stations: list[Station]) -> tuple[FloatArray, FloatArray]:
    """(n_stations, 3) ITRS positions and (n_stations, 3, 3) ENU bases."""
    pos = np.stack([s.itrs_km() for s in stations])
    enu = np.stack([s.enu_basis() for s in stations])
    return pos, enu


MU_KM3_S2 = 398600.4418


def elevation_acceleration_deg_s2(
    r_itrs_km: FloatArray,
    v_itrs_km_s: FloatArray,
    omega_rad_s: FloatArray,
    station_itrs_km: FloatArray,
    station_up: FloatArray,
) -> FloatArray:
    """Second time derivative of the elevation (deg/s^2), for Newton steps.

    The satellite's acceleration in the Earth-fixed frame is taken as
    two-body gravity plus the centrifugal and Coriolis terms of the Earth's
    rotation ``omega_rad_s``; the neglected J2 and drag terms are ~1e-3 of
    it, which only slows Newton's convergence a little. Shapes as in
    :func:`look_angles` (``omega_rad_s`` broadcasts against the leading axes).
    """
    r, v = r_itrs_km, v_itrs_km_s
    w = np.asarray(omega_rad_s)[..., None]
    rn = np.sqrt(np.einsum("...j,...j->...", r, r))[..., None]
    a = -MU_KM3_S2 * r / rn**3
    a[..., 0:1] += w * w * r[..., 0:1] + 2.0 * w * v[..., 1:2]
    a[..., 1:2] += w * w * r[..., 1:2] - 2.0 * w * v[..., 0:1]
    rho = r - station_itrs_km
    u = np.einsum("...j,...j->...", station_up, rho)
    ud = np.einsum("...j,...j->...", station_up, v)
    udd = np.einsum("...j,...j->...", station_up, a)
    rng = np.sqrt(np.einsum("...j,...j->...", rho, rho))
    rd = np.einsum("...j,...j->...", rho, v) / rng
    rdd = (np.einsum("...j,...j->...", v, v) + np.einsum("...j,...j->...", rho, a) - rd * rd) / rng
    s = u / rng
    sd = (ud - s * rd) / rng
    sdd = (udd - 2.0 * sd * rd - s * rdd) / rng
    c = np.sqrt(np.maximum(1.0 - s * s, 1e-30))
    eld = sd / c
    return np.degrees((sdd + s * eld * eld) / c)


# WGS72 constants, as SGP4 (Satrec default) uses them.
WGS72_MU_KM3_S2 = 398600.8
WGS72_RADIUS_KM = 6378.135
WGS72_J2 = 0.001082616
