"""Compiled kernels of the pass search's per-station grid stage.

Hand-written (numba, ``cache=True``) because the bench showed the NumPy
version of this stage, a dozen array passes and temporaries over every
(satellite, grid sample) for every station, at 0.52 s of a 2.4 s search
(bench/passes.py); one loop over the samples computes the same quantities
with the same arithmetic, and keeps only the samples a station needs.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from orbital.geometry import WGS72_J2, WGS72_MU_KM3_S2, WGS72_RADIUS_KM

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@njit(cache=True, nogil=True)
def station_samples(
    r_km: FloatArray,
    v_km_s: FloatArray,
    r_dot_r_km2: FloatArray,
    r_dot_v_km2_s: FloatArray,
    r_norm_km: FloatArray,
    up: FloatArray,
    pos_km: FloatArray,
    cone_cos: FloatArray,
    station_km: float,
    up_dot_pos_km: float,
    pos_dot_pos_km2: float,
    sin_lowest_limit: float,
) -> tuple[IntArray, BoolArray, FloatArray, FloatArray, BoolArray, BoolArray]:
    """The grid samples one station needs, and its line of sight there.

    ``r_km``, ``v_km_s``: ITRS states ``(n_sats, n_times, 3)``;
    ``r_dot_r_km2``, ``r_dot_v_km2_s``, ``r_norm_km``: ``(n_sats, n_times)``;
    ``up``, ``pos_km``: the station's up vector and position; ``cone_cos``:
    ``(n_sats,)``, the cosine beyond which a sample is far (see
    ``pass_search._near_cone_cos``); ``station_km = |pos|``.

    A sample is needed when it or a neighbour on the grid is near (r . pos >
    station_km cone_cos |r|). Returns, for the needed samples in row-major
    order: their indices into the flattened grid, ``gap`` (the next entry is
    not the grid's next sample of the same satellite), the up component of
    the line of sight (km), the squared range (km^2), whether the elevation
    rises (the sign of ud |rho|^2 - u (rho . rho_dot)), and whether the
    elevation is above ``arcsin(sin_lowest_limit)``.
    """
    n_t = r_norm_km.shape[1]
    needed = _needed(r_km, r_norm_km, pos_km, cone_cos, station_km)
    flat = np.flatnonzero(needed)
    m = flat.shape[0]
    gap = np.ones(m, dtype=np.bool_)
    up_km = np.empty(m)
    range2_km2 = np.empty(m)
    el_rising = np.empty(m, dtype=np.bool_)
    above = np.empty(m, dtype=np.bool_)
    for e in range(m):
        i, k = flat[e] // n_t, flat[e] % n_t
        if e + 1 < m and flat[e + 1] == flat[e] + 1 and k + 1 < n_t:
            gap[e] = False
        u, rng2, el_rising[e] = _line_of_sight(
            r_km[i, k], v_km_s[i, k], r_dot_r_km2[i, k], r_dot_v_km2_s[i, k], up, pos_km,
            up_dot_pos_km, pos_dot_pos_km2,
        )  # fmt: skip
        up_km[e], range2_km2[e] = u, rng2
        if sin_lowest_limit >= 0.0:
            above[e] = u > 0.0 and u * u > sin_lowest_limit * sin_lowest_limit * rng2
        else:
            above[e] = u > sin_lowest_limit * np.sqrt(rng2)
    return flat, gap, up_km, range2_km2, el_rising, above


@njit(cache=True, nogil=True)
def _dot(a: FloatArray, b: FloatArray) -> float:
    out: float = a[0] * b[0] + a[1] * b[1]
    return out + a[2] * b[2]


@njit(cache=True, nogil=True)
def _needed(
    r_km: FloatArray, r_norm_km: FloatArray, pos_km: FloatArray, cone_cos: FloatArray,
    station_km: float,
) -> BoolArray:  # fmt: skip
    """``(n_sats, n_times)``: the samples that are near (r . pos > station_km
    cone_cos |r|), and their neighbours on the grid."""
    n_sats, n_t = r_norm_km.shape
    needed = np.zeros((n_sats, n_t), dtype=np.bool_)
    for i in range(n_sats):
        c = station_km * cone_cos[i]
        for k in range(n_t):
            if _dot(r_km[i, k], pos_km) > c * r_norm_km[i, k]:
                needed[i, max(k - 1, 0) : min(k + 2, n_t)] = True
    return needed


@njit(cache=True, nogil=True)
def _line_of_sight(
    r_km: FloatArray, v_km_s: FloatArray, r_dot_r_km2: float, r_dot_v_km2_s: float,
    up: FloatArray, pos_km: FloatArray, up_dot_pos_km: float, pos_dot_pos_km2: float,
) -> tuple[float, float, bool]:  # fmt: skip
    """The up component of the line of sight (km), the squared range (km^2)
    and whether the elevation rises, without forming the line of sight."""
    u = _dot(r_km, up) - up_dot_pos_km
    rng2 = r_dot_r_km2 - 2.0 * _dot(r_km, pos_km)
    rng2 += pos_dot_pos_km2
    rising = _dot(v_km_s, up) * rng2 > (r_dot_v_km2_s - _dot(v_km_s, pos_km)) * u
    return u, rng2, rising


@njit(cache=True, nogil=True)
def _gravity_teme_km_s2(r_km: FloatArray, out: FloatArray) -> None:
    """Two-body plus J2 acceleration (km/s^2) at the TEME position ``r_km``
    (3,), into ``out``. SGP4's other terms change the implied acceleration
    by far less than J2 does."""
    x, y, z = r_km[0], r_km[1], r_km[2]
    r2 = x * x + y * y + z * z
    k = -WGS72_MU_KM3_S2 / (r2 * np.sqrt(r2))
    f = 1.5 * WGS72_J2 * WGS72_RADIUS_KM**2 / r2
    zz = 5.0 * z * z / r2
    out[0] = k * x * (1.0 + f * (1.0 - zz))
    out[1] = k * y * (1.0 + f * (1.0 - zz))
    out[2] = k * z * (1.0 + f * (3.0 - zz))


@njit(cache=True, nogil=True)
def _hermite5_weights(s: float, w_r: FloatArray, w_v: FloatArray) -> None:
    """Quintic Hermite weights at the fraction ``s`` of a step, into ``w_r``
    and ``w_v`` (2, 3): the weights of (r, v, a) at the left and right
    samples for the value, and their derivatives per unit of s."""
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    s5 = s4 * s
    w_r[0, 0] = 1.0 - 10.0 * s3 + 15.0 * s4 - 6.0 * s5
    w_r[0, 1] = s - 6.0 * s3 + 8.0 * s4 - 3.0 * s5
    w_r[0, 2] = 0.5 * (s2 - 3.0 * s3 + 3.0 * s4 - s5)
    w_r[1, 0] = 10.0 * s3 - 15.0 * s4 + 6.0 * s5
    w_r[1, 1] = -4.0 * s3 + 7.0 * s4 - 3.0 * s5
    w_r[1, 2] = 0.5 * (s3 - 2.0 * s4 + s5)
    w_v[0, 0] = -30.0 * s2 + 60.0 * s3 - 30.0 * s4
    w_v[0, 1] = 1.0 - 18.0 * s2 + 32.0 * s3 - 15.0 * s4
    w_v[0, 2] = 0.5 * (2.0 * s - 9.0 * s2 + 12.0 * s3 - 5.0 * s4)
    w_v[1, 0] = -w_v[0, 0]
    w_v[1, 1] = -12.0 * s2 + 28.0 * s3 - 15.0 * s4
    w_v[1, 2] = 0.5 * (3.0 * s2 - 8.0 * s3 + 5.0 * s4)


@njit(cache=True, nogil=True)
def hermite5_state(
    r_km: FloatArray, v_km_s: FloatArray, step_s: float, rows: IntArray, t_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Quintic Hermite interpolation of TEME states sampled every ``step_s`` from t = 0.

    ``r_km``, ``v_km_s``: (n_rows, n_times, 3) samples; the accelerations at
    the samples are two-body plus J2. ``rows``, ``t_s``: (m,) which row at
    which time. Returns ``(r_km, v_km_s)`` of shape (m, 3). For near-Earth
    orbits sampled 20 times a revolution the position error is metres
    (checked against SGP4 by the tests). Compiled: the NumPy version was
    0.39 s of a 2.4 s search (bench/passes.py), in temporaries.
    """
    n_times = r_km.shape[1]
    m = t_s.shape[0]
    r_out = np.empty((m, 3))
    v_out = np.empty((m, 3))
    w_r = np.empty((2, 3))
    w_v = np.empty((2, 3))
    both = np.empty((2, 3, 3))  # side, (r, v step, a step^2), axis
    for e in range(m):
        u = t_s[e] / step_s
        k = min(max(int(np.floor(u)), 0), n_times - 2) if np.isfinite(u) else 0
        _hermite5_weights(u - k, w_r, w_v)
        row = rows[e]
        for side in range(2):
            for x in range(3):
                both[side, 0, x] = r_km[row, k + side, x]
                both[side, 1, x] = v_km_s[row, k + side, x] * step_s
            _gravity_teme_km_s2(both[side, 0], both[side, 2])
            for x in range(3):
                both[side, 2, x] *= step_s * step_s
        for x in range(3):
            r_sum = 0.0
            v_sum = 0.0
            for side in range(2):
                for j in range(3):
                    r_sum += w_r[side, j] * both[side, j, x]
                    v_sum += w_v[side, j] * both[side, j, x]
            r_out[e, x] = r_sum
            v_out[e, x] = v_sum / step_s
    return r_out, v_out
