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
