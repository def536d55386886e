"""The grid search of one chunk of satellites against every station.

:func:`search_chunk` runs the stages in order, each a function of its own:

- ``_propagate_grid``: SGP4 over the grid, failures recorded;
- ``_station_brackets``, per station: the runs of grid samples above the
  limit (grid passes), the brackets of their rising and setting edges and
  the culminations worth refining, with f at the brackets' ends;
- ``_refine_brackets``: crossings and culminations refined together
  (``orbital.pass_refinement``);
- ``_near_miss_passes`` and ``_masked_peak_passes``: culminations outside
  every grid pass that clear the limit (at the peak, or beside a high
  stretch of a horizon mask) become passes;
- ``_refine_new_passes``: the rising and setting times of those passes;
- ``_assemble``: AOS and LOS, truncation flags and the culmination of each
  pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from sgp4.api import Satrec, SatrecArray

from orbital.geometry import look_angles, teme_to_itrs
from orbital.grid_kernels import station_samples
from orbital.pass_refinement import (
    CROSSING_TOLERANCE_S,
    Brackets,
    Evaluator,
    hermite_peak,
    hermite_root,
    refine,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Culminations whose interpolated peak is within this of the limit get refined.
NEAR_MISS_MARGIN_DEG = 3.0
#: Culminations with no grid sample beside them within this of the limit are
#: skipped before the (finer) Hermite test; far larger than any interpolation error.
PREFILTER_MARGIN_DEG = 30.0
#: Samples of f over three grid steps around a culmination hidden by a mask.
DENSE_SAMPLES = 82
#: The visibility cone of :func:`_near_cone_cos` is that of the lowest limit
#: minus this: the near-miss margin, plus 0.5 deg for the angle between the
#: geodetic vertical and the station's geocentric direction (<= 0.2 deg).
CONE_MARGIN_DEG = NEAR_MISS_MARGIN_DEG + 0.5
#: Safety factors on the mean-element bounds of a near-Earth satellite's
#: angular rate and radius (SGP4's osculating orbit departs from the mean one
#: by short-period terms of ~0.1 %; checked over the catalogue by the tests).
RATE_SAFETY = 1.1
RADIUS_SAFETY = 1.03
RADIUS_MARGIN_KM = 30.0
EARTH_ROTATION_RAD_S = 7.2921150e-5
WGS72_MU_KM3_S2 = 398600.8


@dataclass
class ChunkPasses:
    """Passes of one chunk, in array form (times are TAI seconds after the start)."""

    sat: IntArray
    st: IntArray
    aos: FloatArray
    tca: FloatArray
    los: FloatArray
    max_el: FloatArray
    az_aos: FloatArray
    az_tca: FloatArray
    az_los: FloatArray
    truncated: BoolArray


@dataclass
class _GridPasses:
    """Runs of grid samples above the limit, one per pass, ids 0, 1, ... in order.

    ``rise_k`` is the run's first sample (0: in progress at the start),
    ``set_k`` one past its last (``n_t``: still in progress at the end);
    elevation and azimuth are those of the first and the last sample.
    """

    sat: IntArray
    st: IntArray
    rise_k: IntArray
    set_k: IntArray
    first_el_deg: FloatArray
    first_az_deg: FloatArray
    last_el_deg: FloatArray
    last_az_deg: FloatArray


@dataclass
class _CrossingBrackets:
    """Grid intervals ``[k, k + 1]`` holding the rising or setting edge of a
    grid pass, with f and its rate at both ends."""

    sat: IntArray
    st: IntArray
    k: IntArray
    pass_id: IntArray
    rising: BoolArray
    f_start: FloatArray
    f_end: FloatArray
    f_rate_start: FloatArray
    f_rate_end: FloatArray


@dataclass
class _CulminationBrackets:
    """Grid intervals ``[k, k + 1]`` where the elevation rate turns from + to -.

    ``pass_id`` is the grid pass around it (-1: none, a candidate near
    miss). The peak time and the elevation's second and third derivatives
    there come from the Hermite cubic of the grid values; f is given at
    both ends of the interval.
    """

    sat: IntArray
    st: IntArray
    k: IntArray
    pass_id: IntArray
    peak_guess_s: FloatArray
    el_accel_deg_s2: FloatArray
    el_jerk_deg_s3: FloatArray
    f_start: FloatArray
    f_end: FloatArray


@dataclass
class _RefinedCrossings:
    pass_id: IntArray
    rising: BoolArray
    t_s: FloatArray  # NaN where the satellite failed
    azimuth_deg: FloatArray
    bracket_start_s: FloatArray


@dataclass
class _RefinedCulminations:
    pass_id: IntArray
    t_s: FloatArray
    elevation_deg: FloatArray
    azimuth_deg: FloatArray
    f_deg: FloatArray


@dataclass
class _NewPassBrackets:
    """Passes no grid sample saw: a rising bracket and a setting bracket each
    (times and f at both ends), and |elevation acceleration| for Newton's
    error estimate."""

    sat: IntArray
    st: IntArray
    rise_start_s: FloatArray
    rise_end_s: FloatArray
    rise_f_start: FloatArray
    rise_f_end: FloatArray
    set_start_s: FloatArray
    set_end_s: FloatArray
    set_f_start: FloatArray
    set_f_end: FloatArray
    el_accel_deg_s2: FloatArray


@dataclass
class _NewPasses:
    sat: IntArray
    st: IntArray
    aos_s: FloatArray
    aos_azimuth_deg: FloatArray
    los_s: FloatArray
    los_azimuth_deg: FloatArray


_Columns = TypeVar("_Columns")


def _concat(parts: Sequence[_Columns]) -> _Columns:
    """One dataclass of arrays from several (field by field, in order)."""
    cls = type(parts[0])
    columns = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts])
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    }
    return cls(**columns)


def search_chunk(
    ev: Evaluator,
    sat_rows: IntArray,
    grid_s: FloatArray,
    jd_whole: FloatArray,
    jd_utc: FloatArray,
    theta: FloatArray,
    theta_dot: FloatArray,
) -> tuple[ChunkPasses, list[tuple[int, int, int]]]:
    """Find and refine every pass of the satellites ``sat_rows`` over every station."""
    r, v, failures = _propagate_grid(ev, sat_rows, grid_s, jd_whole, jd_utc, theta, theta_dot)
    # Station-independent products, shared by every station.
    r_dot_r = np.einsum("ntk,ntk->nt", r, r)
    r_dot_v = np.einsum("ntk,ntk->nt", r, v)
    r_norm = np.sqrt(r_dot_r)
    cone_cos = _near_cone_cos(ev, sat_rows, float(grid_s[1] - grid_s[0]))
    grid_parts: list[_GridPasses] = []
    crossing_parts: list[_CrossingBrackets] = []
    culmination_parts: list[_CulminationBrackets] = []
    n_grid_passes = 0
    for j in range(len(ev.stations)):
        station_passes, station_crossings, station_culminations = _station_brackets(
            ev, j, r, v, r_dot_r, r_dot_v, r_norm, cone_cos[:, j], grid_s, n_grid_passes
        )
        grid_parts.append(station_passes)
        crossing_parts.append(station_crossings)
        culmination_parts.append(station_culminations)
        n_grid_passes += station_passes.sat.shape[0]
    del r, v, r_dot_r, r_dot_v, r_norm
    grid_passes = _concat(grid_parts)
    crossing_brackets = _concat(crossing_parts)
    culmination_brackets = _concat(culmination_parts)
    # Chunk rows -> satellite indices.
    rows = sat_rows.astype(np.int64)
    for columns in (grid_passes, crossing_brackets, culmination_brackets):
        columns.sat = rows[columns.sat]

    crossings, culminations = _refine_brackets(ev, grid_s, crossing_brackets, culmination_brackets)
    near_misses = _near_miss_passes(culmination_brackets, culminations, grid_s, n_grid_passes)
    behind_masks = _masked_peak_passes(ev, culmination_brackets, culminations, grid_s)
    new_passes = _refine_new_passes(ev, _concat([near_misses, behind_masks]))
    return _assemble(ev, grid_s, grid_passes, crossings, culminations, new_passes), failures


def _propagate_grid(
    ev: Evaluator,
    sat_rows: IntArray,
    grid_s: FloatArray,
    jd_whole: FloatArray,
    jd_utc: FloatArray,
    theta: FloatArray,
    theta_dot: FloatArray,
) -> tuple[FloatArray, FloatArray, list[tuple[int, int, int]]]:
    """ITRS states ``r_km, v_km_s: (n_sats, n_times, 3)`` on the grid, NaN from
    a satellite's first SGP4 failure on, and the failures as ``(satellite,
    error code, grid index)``. The TEME states are kept for ``ev`` to interpolate."""
    err, r, v = _propagate(
        [ev.satrecs[i] for i in sat_rows.tolist()], np.asarray(jd_whole), np.asarray(jd_utc)
    )
    failures: list[tuple[int, int, int]] = []
    for row in np.flatnonzero(err.any(axis=1)).tolist():
        k = int(np.argmax(err[row] != 0))
        failures.append((int(sat_rows[row]), int(err[row, k]), k))
        # A satellite that failed (decayed, bad elements) is gone from then on.
        r[row, k:] = np.nan
        ev.valid_until_s[sat_rows[row]] = grid_s[k]
    ev.set_grid(sat_rows, r, v, float(grid_s[1] - grid_s[0]))
    r_itrs, v_itrs = teme_to_itrs(r, v, theta, theta_dot)
    return r_itrs, v_itrs, failures


def _propagate(
    satrecs: Sequence[Satrec], jd_whole: FloatArray, jd_utc: FloatArray
) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
    """``(error, r_teme_km, v_teme_km_s)`` of ``satrecs`` at every time, shaped
    ``(n_sats, n_times[, 3])``: one ``SatrecArray`` call for SGP4 satellites,
    each other propagator (an OEM's) on its own."""
    if all(isinstance(s, Satrec) for s in satrecs):
        err, r, v = SatrecArray(list(satrecs)).sgp4(jd_whole, jd_utc)
        return err, r, v
    parts = [s.sgp4_array(jd_whole, jd_utc) for s in satrecs]
    return (
        np.stack([p[0] for p in parts]).astype(np.uint8),
        np.stack([p[1] for p in parts]),
        np.stack([p[2] for p in parts]),
    )


def satellite_bounds(satrecs: Sequence[Satrec]) -> tuple[BoolArray, FloatArray, FloatArray]:
    """``(bounded, rate_rad_s, radius_km)`` per satellite: whether it is a
    near-Earth SGP4 satellite with usable mean elements, a bound on how fast
    its direction turns in the Earth-fixed frame (its orbital rate at
    perigee times ``RATE_SAFETY``, plus the Earth's rotation), and a bound on
    its distance from the geocentre (the mean apogee times
    ``RADIUS_SAFETY``, plus ``RADIUS_MARGIN_KM``). Other propagators (an
    OEM's) and deep-space satellites are not bounded."""
    n_rad_s = np.array([float(getattr(s, "no_kozai", 0.0)) for s in satrecs]) / 60.0
    ecc = np.array([float(getattr(s, "ecco", 0.0)) for s in satrecs])
    bounded = (
        np.array([isinstance(s, Satrec) and s.method == "n" for s in satrecs], dtype=bool)
        & (n_rad_s > 0.0)
        & (ecc >= 0.0)
        & (ecc < 1.0)
    )
    n_rad_s = np.where(bounded, n_rad_s, 1.0)
    ecc = np.where(bounded, ecc, 0.0)
    rate = RATE_SAFETY * n_rad_s * (1.0 + ecc) ** 2 / (1.0 - ecc * ecc) ** 1.5
    rate += EARTH_ROTATION_RAD_S
    a_km = (WGS72_MU_KM3_S2 / (n_rad_s * n_rad_s)) ** (1.0 / 3.0)
    return bounded, rate, RADIUS_SAFETY * a_km * (1.0 + ecc) + RADIUS_MARGIN_KM


def _near_cone_cos(ev: Evaluator, sat_rows: IntArray, step_s: float) -> FloatArray:
    """``(n_sats, n_stations)``: cosine of the angle (between the satellite's
    and the station's geocentric directions) beyond which a grid sample is
    *far*: no time within half a grid step of it sees the satellite above
    the station's lowest limit minus ``CONE_MARGIN_DEG``.

    A satellite at radius r is above geocentric elevation E only within the
    angle ``arccos(rho cos(E) / r) - E`` of a station at radius rho, which
    grows with r, so :func:`satellite_bounds`' radius bounds it; the angle
    changes no faster than its rate bound, and half a step of that is
    added. Satellites without bounds get -inf (every sample near): deep-space
    ones have short grids, and their elements may drift far from the mean.
    """
    bounded, rate, r_max_km = satellite_bounds([ev.satrecs[i] for i in sat_rows.tolist()])
    limit_rad = np.radians(
        np.array([s.limit_range_deg()[0] for s in ev.stations]) - CONE_MARGIN_DEG
    )
    rho_km = np.linalg.norm(ev.st_pos, axis=1)
    x = np.clip(rho_km[None, :] * np.cos(limit_rad)[None, :] / r_max_km[:, None], -1.0, 1.0)
    angle = np.arccos(x) - limit_rad[None, :] + (0.5 * step_s * rate)[:, None]
    cos_far = np.where(angle < np.pi, np.cos(np.minimum(angle, np.pi)), -np.inf)
    return np.where(bounded[:, None], cos_far, -np.inf)


def _station_brackets(
    ev: Evaluator,
    j: int,
    r: FloatArray,
    v: FloatArray,
    r_dot_r: FloatArray,
    r_dot_v: FloatArray,
    r_norm: FloatArray,
    cone_cos: FloatArray,
    grid_s: FloatArray,
    first_pass_id: int,
) -> tuple[_GridPasses, _CrossingBrackets, _CulminationBrackets]:
    """Station ``j``'s grid passes (ids from ``first_pass_id``), the brackets
    of their rising and setting edges, and the culminations worth refining.
    Satellites are chunk rows here. Only the samples
    :func:`orbital.grid_kernels.station_samples` keeps are looked at (the
    others are below the limit, far from any culmination worth refining):
    the stages below take them in row-major order, with ``gap`` marking
    where the next one is not the grid's next sample."""
    n_t = grid_s.shape[0]
    up, pos = ev.st_enu[j][2], ev.st_pos[j]
    lowest_limit_deg, _ = ev.stations[j].limit_range_deg()
    flat, gap, up_km, range2_km2, el_rising, above = station_samples(
        r, v, r_dot_r, r_dot_v, r_norm, up, pos, cone_cos,
        float(np.linalg.norm(pos)), float(up @ pos), float(pos @ pos),
        math.sin(math.radians(lowest_limit_deg)),
    )  # fmt: skip
    at_rows, at_k = np.divmod(flat, n_t)
    _apply_mask(ev, j, r, v, flat, above)
    rows, rise_k, set_k = _runs_above(above, at_rows, at_k, gap)
    del above
    k_rows, k, owner, inside = _culmination_candidates(
        el_rising, up_km, range2_km2, at_rows, at_k, gap, rows, rise_k, set_k, n_t,
        lowest_limit_deg,
    )  # fmt: skip
    del up_km, range2_km2, el_rising
    rises, sets = rise_k > 0, set_k < n_t  # edges inside the grid
    # Look angles at every grid sample the brackets need, computed once.
    samples, at = _look_at_grid_samples(
        ev,
        j,
        r,
        v,
        [
            (rows, rise_k),  # first sample of each run
            (rows, np.minimum(set_k, n_t - 1)),  # last sample
            (rows[rises], rise_k[rises] - 1),  # rising bracket
            (rows[rises], rise_k[rises]),
            (rows[sets], set_k[sets] - 1),  # setting bracket
            (rows[sets], set_k[sets]),
            (k_rows, k),  # culmination bracket
            (k_rows, k + 1),
        ],
    )
    first, last, rise_a, rise_b, set_a, set_b, peak_a, peak_b = at
    n_runs = rows.shape[0]
    pass_id = np.arange(first_pass_id, first_pass_id + n_runs)
    passes = _GridPasses(
        sat=rows,
        st=np.full(n_runs, j),
        rise_k=rise_k,
        set_k=set_k,
        first_el_deg=samples.elevation_deg[first],
        first_az_deg=samples.azimuth_deg[first],
        last_el_deg=samples.elevation_deg[last],
        last_az_deg=samples.azimuth_deg[last],
    )
    crossings = _crossing_brackets(passes, pass_id, n_t, samples, (rise_a, rise_b), (set_a, set_b))
    culminations = _culmination_brackets(
        j, grid_s, k_rows, k, owner, inside, pass_id, samples, (peak_a, peak_b), lowest_limit_deg
    )
    return passes, crossings, culminations


def _crossing_brackets(
    passes: _GridPasses,
    pass_id: IntArray,
    n_t: int,
    samples: _Samples,
    rise_at: tuple[IntArray, IntArray],
    set_at: tuple[IntArray, IntArray],
) -> _CrossingBrackets:
    """The rising edge of each grid pass that starts inside the grid, then the
    setting edge of each that ends inside it; ``rise_at`` and ``set_at``
    index the samples at both ends of those brackets."""
    rises, sets = passes.rise_k > 0, passes.set_k < n_t
    start = np.concatenate((rise_at[0], set_at[0]))
    end = np.concatenate((rise_at[1], set_at[1]))
    return _CrossingBrackets(
        sat=np.concatenate((passes.sat[rises], passes.sat[sets])),
        st=np.concatenate((passes.st[rises], passes.st[sets])),
        k=np.concatenate((passes.rise_k[rises] - 1, passes.set_k[sets] - 1)),
        pass_id=np.concatenate((pass_id[rises], pass_id[sets])),
        rising=np.concatenate((np.ones(rise_at[0].shape, bool), np.zeros(set_at[0].shape, bool))),
        f_start=samples.f_deg[start],
        f_end=samples.f_deg[end],
        f_rate_start=samples.f_rate_deg_s[start],
        f_rate_end=samples.f_rate_deg_s[end],
    )


def _culmination_brackets(
    j: int,
    grid_s: FloatArray,
    k_rows: IntArray,
    k: IntArray,
    owner: IntArray,
    inside: BoolArray,
    pass_id: IntArray,
    samples: _Samples,
    peak_at: tuple[IntArray, IntArray],
    lowest_limit_deg: float,
) -> _CulminationBrackets:
    """The culmination candidates inside a grid pass, and those outside whose
    Hermite peak comes within ``NEAR_MISS_MARGIN_DEG`` of the lowest limit;
    ``peak_at`` indexes the samples at both ends of each bracket."""
    a, b = peak_at
    peak_s, peak_el, el_accel, el_jerk = hermite_peak(
        grid_s[k + 1] - grid_s[k],
        samples.elevation_deg[a],
        samples.elevation_deg[b],
        samples.elevation_rate_deg_s[a],
        samples.elevation_rate_deg_s[b],
    )
    keep = inside | (peak_el > lowest_limit_deg - NEAR_MISS_MARGIN_DEG)
    owners = np.where(inside, pass_id[np.clip(owner, 0, None)] if pass_id.size else -1, -1)
    return _CulminationBrackets(
        sat=k_rows[keep],
        st=np.full(int(keep.sum()), j),
        k=k[keep],
        pass_id=owners[keep],
        peak_guess_s=grid_s[k[keep]] + peak_s[keep],
        el_accel_deg_s2=el_accel[keep],
        el_jerk_deg_s3=el_jerk[keep],
        f_start=samples.f_deg[a[keep]],
        f_end=samples.f_deg[b[keep]],
    )


def _apply_mask(
    ev: Evaluator, j: int, r: FloatArray, v: FloatArray, flat: IntArray, above: BoolArray
) -> None:
    """At a masked station, keep in ``above`` (samples ``flat``, indices into
    the flattened ``(n_sats, n_times)`` grid of ``r``, ``v``, above the
    lowest limit) only those above the mask at the sample's azimuth."""
    station = ev.stations[j]
    if station.has_mask:
        ci = np.flatnonzero(above)
        if ci.size:
            at = flat[ci]
            la = look_angles(r.reshape(-1, 3)[at], v.reshape(-1, 3)[at], ev.st_pos[j], ev.st_enu[j])
            above[ci] = la.elevation_deg > station.elevation_limit_deg(la.azimuth_deg)


def _runs_above(
    above: BoolArray, at_rows: IntArray, at_k: IntArray, gap: BoolArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Each run of samples above (entries as in :func:`_station_brackets`),
    in row-major order: its row, its first sample and one past its last."""
    continues = np.zeros(above.shape, dtype=bool)  # entry i + 1 is above and follows i
    continues[:-1] = above[1:] & ~gap[:-1]
    continued = np.zeros(above.shape, dtype=bool)  # entry i - 1 is above and precedes i
    continued[1:] = continues[:-1] & above[:-1]
    first = np.flatnonzero(above & ~continued)
    last = np.flatnonzero(above & ~continues)
    return at_rows[first], at_k[first], at_k[last] + 1


def _culmination_candidates(
    el_rising: BoolArray,
    up_km: FloatArray,
    range2_km2: FloatArray,
    at_rows: IntArray,
    at_k: IntArray,
    gap: BoolArray,
    rows: IntArray,
    rise_k: IntArray,
    set_k: IntArray,
    n_t: int,
    lowest_limit_deg: float,
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Grid intervals ``(row, k)`` between two consecutive entries where the
    elevation rate turns from + to -, with the run above they fall in
    (``owner``, valid where ``inside``).

    Kept when inside a run, or when a grid sample beside it is within
    ``PREFILTER_MARGIN_DEG`` of the lowest limit (the Hermite test after
    this one is finer).
    """
    i = np.flatnonzero(~gap[:-1] & el_rising[:-1] & ~el_rising[1:])
    k_rows, k = at_rows[i], at_k[i]
    flat = k_rows * n_t + k
    run_first = rows * n_t + rise_k - 1
    run_last = rows * n_t + set_k - 1
    owner = np.searchsorted(run_first, flat, side="right") - 1
    inside = owner >= 0
    inside[inside] = flat[inside] <= run_last[owner[inside]]
    sin_pre = math.sin(math.radians(lowest_limit_deg - PREFILTER_MARGIN_DEG))
    near = np.zeros(k_rows.shape, dtype=bool)
    for ii in (i, i + 1):
        near |= up_km[ii] > sin_pre * np.sqrt(range2_km2[ii])
    keep = inside | near
    return k_rows[keep], k[keep], owner[keep], inside[keep]


@dataclass
class _Samples:
    elevation_deg: FloatArray
    elevation_rate_deg_s: FloatArray
    azimuth_deg: FloatArray
    f_deg: FloatArray
    f_rate_deg_s: FloatArray


def _look_at_grid_samples(
    ev: Evaluator,
    j: int,
    r: FloatArray,
    v: FloatArray,
    groups: Sequence[tuple[IntArray, IntArray]],
) -> tuple[_Samples, list[IntArray]]:
    """Look angles, f and its rate from station ``j`` at the grid samples
    named by ``groups`` (each ``(rows, k)``), each distinct sample computed
    once; returns those values and, per group, indices into them."""
    n_t = r.shape[1]
    key = np.concatenate([rows * n_t + k for rows, k in groups])
    unique, index = np.unique(key, return_inverse=True)
    u_rows, u_k = np.divmod(unique, n_t)
    la = look_angles(r[u_rows, u_k], v[u_rows, u_k], ev.st_pos[j], ev.st_enu[j])
    limit, slope = ev.limit(np.full(unique.shape, j), la.azimuth_deg)
    samples = _Samples(
        elevation_deg=la.elevation_deg,
        elevation_rate_deg_s=la.elevation_rate_deg_s,
        azimuth_deg=la.azimuth_deg,
        f_deg=la.elevation_deg - limit,
        f_rate_deg_s=la.elevation_rate_deg_s - slope * la.azimuth_rate_deg_s,
    )
    bounds = np.cumsum([0] + [rows.shape[0] for rows, _ in groups])
    return samples, [index[bounds[i] : bounds[i + 1]] for i in range(len(groups))]


def _refine_brackets(
    ev: Evaluator,
    grid_s: FloatArray,
    crossings: _CrossingBrackets,
    culminations: _CulminationBrackets,
) -> tuple[_RefinedCrossings, _RefinedCulminations]:
    """Refine every crossing and culmination bracket in one batch, starting
    from the Hermite estimates."""
    x_start, x_end = grid_s[crossings.k], grid_s[crossings.k + 1]
    x_s, x_d2 = hermite_root(
        x_end - x_start,
        crossings.f_start,
        crossings.f_end,
        crossings.f_rate_start,
        crossings.f_rate_end,
    )
    nx, nc = crossings.k.shape[0], culminations.k.shape[0]
    t, el, az, f = refine(
        ev,
        Brackets(
            sat=np.concatenate((crossings.sat, culminations.sat)),
            st=np.concatenate((crossings.st, culminations.st)),
            kind=np.concatenate((np.zeros(nx, np.int8), np.ones(nc, np.int8))),
            lo=np.concatenate((x_start, grid_s[culminations.k])),
            hi=np.concatenate((x_end, grid_s[culminations.k + 1])),
            t0=np.concatenate((x_start + x_s, culminations.peak_guess_s)),
            rising=np.concatenate((crossings.rising, np.zeros(nc, bool))),
            d1=np.concatenate((np.zeros(nx), culminations.el_accel_deg_s2)),
            d2=np.concatenate((x_d2, culminations.el_jerk_deg_s3)),
        ),
    )
    refined_crossings = _RefinedCrossings(
        pass_id=crossings.pass_id,
        rising=crossings.rising,
        t_s=t[:nx],
        azimuth_deg=az[:nx],
        bracket_start_s=x_start,
    )
    refined_culminations = _RefinedCulminations(
        pass_id=culminations.pass_id.copy(),
        t_s=t[nx:],
        elevation_deg=el[nx:],
        azimuth_deg=az[nx:],
        f_deg=f[nx:],
    )
    return refined_crossings, refined_culminations


def _near_miss_passes(
    brackets: _CulminationBrackets,
    culminations: _RefinedCulminations,
    grid_s: FloatArray,
    first_pass_id: int,
) -> _NewPassBrackets:
    """Culminations outside every grid pass that clear the limit at their
    peak are passes too: they get pass ids from ``first_pass_id`` (in
    ``culminations``), and brackets from the grid interval's ends to the peak."""
    new = np.flatnonzero((culminations.pass_id < 0) & (culminations.f_deg > 0))
    culminations.pass_id[new] = np.arange(first_pass_id, first_pass_id + new.shape[0])
    peak_t, peak_f = culminations.t_s[new], culminations.f_deg[new]
    return _NewPassBrackets(
        sat=brackets.sat[new],
        st=brackets.st[new],
        rise_start_s=grid_s[brackets.k[new]],
        rise_end_s=peak_t,
        rise_f_start=brackets.f_start[new],
        rise_f_end=peak_f,
        set_start_s=peak_t,
        set_end_s=grid_s[brackets.k[new] + 1],
        set_f_start=peak_f,
        set_f_end=brackets.f_end[new],
        el_accel_deg_s2=np.abs(brackets.el_accel_deg_s2[new]),
    )


def _masked_peak_passes(
    ev: Evaluator,
    brackets: _CulminationBrackets,
    culminations: _RefinedCulminations,
    grid_s: FloatArray,
) -> _NewPassBrackets:
    """At a masked station the elevation peak can sit behind a high stretch of
    the mask while the satellite clears a lower stretch beside it: f is
    sampled densely (``DENSE_SAMPLES`` over three grid steps) around each
    culmination still without a pass that rises above the lowest limit, and
    every run above becomes a pass."""
    masked = np.array([s.has_mask for s in ev.stations])
    lowest_limit_deg = np.array([s.limit_range_deg()[0] for s in ev.stations])
    st = brackets.st
    dense = np.flatnonzero(
        (culminations.pass_id < 0)
        & masked[st]
        & (culminations.elevation_deg > lowest_limit_deg[st])
        & np.isfinite(culminations.f_deg)
    )
    n_t = grid_s.shape[0]
    window_start = grid_s[np.maximum(brackets.k[dense] - 1, 0)]
    window_end = grid_s[np.minimum(brackets.k[dense] + 2, n_t - 1)]
    steps = np.linspace(0.0, 1.0, DENSE_SAMPLES)
    t = window_start[:, None] + (window_end - window_start)[:, None] * steps[None, :]
    sat = np.repeat(brackets.sat[dense], DENSE_SAMPLES)
    station = np.repeat(st[dense], DENSE_SAMPLES)
    f = np.empty(t.shape)
    if dense.size:
        order = np.argsort(sat, kind="stable")
        _, f_sorted, _, _ = ev.evaluate(sat[order], station[order], t.ravel()[order])
        f.ravel()[order] = f_sorted
    up = np.nan_to_num(f, nan=-1.0) > 0
    up[:, 0] = up[:, -1] = False  # the window ends are grid samples below the limit
    edges = np.diff(up.astype(np.int8), axis=1)
    rise_row, rise_i = np.nonzero(edges == 1)
    set_row, set_i = np.nonzero(edges == -1)
    return _NewPassBrackets(
        sat=brackets.sat[dense][rise_row],
        st=st[dense][rise_row],
        rise_start_s=t[rise_row, rise_i],
        rise_end_s=t[rise_row, rise_i + 1],
        rise_f_start=f[rise_row, rise_i],
        rise_f_end=f[rise_row, rise_i + 1],
        set_start_s=t[set_row, set_i],
        set_end_s=t[set_row, set_i + 1],
        set_f_start=f[set_row, set_i],
        set_f_end=f[set_row, set_i + 1],
        el_accel_deg_s2=np.abs(brackets.el_accel_deg_s2[dense][rise_row]),
    )


def _refine_new_passes(ev: Evaluator, new: _NewPassBrackets) -> _NewPasses:
    """Refine the rising and setting brackets of the passes no grid sample
    saw, from linear first guesses inside each bracket."""
    n_new = new.sat.shape[0]
    if not n_new:
        empty = np.zeros(0)
        return _NewPasses(new.sat, new.st, empty, empty, empty, empty)
    rise_guess = new.rise_start_s + (new.rise_end_s - new.rise_start_s) * (-new.rise_f_start) / (
        new.rise_f_end - new.rise_f_start
    )
    set_guess = new.set_start_s + (new.set_end_s - new.set_start_s) * new.set_f_start / (
        new.set_f_start - new.set_f_end
    )
    t, _, az, _ = refine(
        ev,
        Brackets(
            sat=np.concatenate((new.sat, new.sat)),
            st=np.concatenate((new.st, new.st)),
            kind=np.zeros(2 * n_new, np.int8),
            lo=np.concatenate((new.rise_start_s, new.set_start_s)),
            hi=np.concatenate((new.rise_end_s, new.set_end_s)),
            t0=np.concatenate((rise_guess, set_guess)),
            rising=np.concatenate((np.ones(n_new, bool), np.zeros(n_new, bool))),
            d1=np.zeros(2 * n_new),
            d2=np.tile(new.el_accel_deg_s2, 2),
        ),
    )
    return _NewPasses(new.sat, new.st, t[:n_new], az[:n_new], t[n_new:], az[n_new:])


def _assemble(
    ev: Evaluator,
    grid_s: FloatArray,
    grid: _GridPasses,
    crossings: _RefinedCrossings,
    culminations: _RefinedCulminations,
    new: _NewPasses,
) -> ChunkPasses:
    """The chunk's passes: grid passes (ids first) and new passes, AOS and LOS
    from the refined crossings (the range's ends where none), truncation
    flags, and the culmination of each pass."""
    n_grid, n_new = grid.sat.shape[0], new.sat.shape[0]
    aos = np.concatenate((np.zeros(n_grid), new.aos_s))
    los = np.concatenate((np.full(n_grid, grid_s[-1]), new.los_s))
    az_aos = np.concatenate((grid.first_az_deg, new.aos_azimuth_deg))
    az_los = np.concatenate((grid.last_az_deg, new.los_azimuth_deg))
    rise = crossings.rising
    # A setting that cannot be refined because the satellite failed there
    # ends the pass at the last good grid sample (flagged truncated below).
    lost = ~rise & ~np.isfinite(crossings.t_s)
    t = np.where(lost, crossings.bracket_start_s, crossings.t_s)
    cut_short = np.zeros(n_grid + n_new, dtype=bool)
    cut_short[crossings.pass_id[lost]] = True
    aos[crossings.pass_id[rise]] = t[rise]
    az_aos[crossings.pass_id[rise]] = crossings.azimuth_deg[rise]
    los[crossings.pass_id[~rise]] = t[~rise]
    az_los[crossings.pass_id[~rise]] = crossings.azimuth_deg[~rise]
    sat = np.concatenate((grid.sat, new.sat))
    st = np.concatenate((grid.st, new.st))
    # Elevation at a refined crossing is the limit there; at a range end, the grid's.
    trunc_start = np.concatenate((grid.rise_k == 0, np.zeros(n_new, bool)))
    trunc_end = np.concatenate((grid.set_k == grid_s.shape[0], np.zeros(n_new, bool)))
    el_aos = np.where(
        trunc_start,
        np.concatenate((grid.first_el_deg, np.full(n_new, np.nan))),
        ev.limit(st, az_aos)[0],
    )
    el_los = np.where(
        trunc_end,
        np.concatenate((grid.last_el_deg, np.full(n_new, np.nan))),
        ev.limit(st, az_los)[0],
    )
    tca, max_el, az_tca = _culmination_of_each_pass(
        culminations, aos, los, el_aos, el_los, az_aos, az_los
    )
    chunk = ChunkPasses(
        sat=sat,
        st=st,
        aos=aos,
        tca=tca,
        los=los,
        max_el=max_el,
        az_aos=az_aos,
        az_tca=az_tca,
        az_los=az_los,
        truncated=trunc_start | trunc_end | cut_short,
    )
    good = np.isfinite(aos) & np.isfinite(los) & np.isfinite(chunk.tca)
    if not good.all():
        for name in chunk.__dataclass_fields__:
            setattr(chunk, name, getattr(chunk, name)[good])
    return chunk


def _culmination_of_each_pass(
    culminations: _RefinedCulminations,
    aos: FloatArray,
    los: FloatArray,
    el_aos: FloatArray,
    el_los: FloatArray,
    az_aos: FloatArray,
    az_los: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(tca_s, max_elevation_deg, tca_azimuth_deg)`` of each pass: its
    highest refined culmination inside [AOS, LOS], or an end if higher."""
    n_total = aos.shape[0]
    owned = culminations.pass_id >= 0
    cp = culminations.pass_id[owned]
    t_owned = culminations.t_s[owned]
    in_window = (t_owned >= aos[cp] - CROSSING_TOLERANCE_S) & (
        t_owned <= los[cp] + CROSSING_TOLERANCE_S
    )
    cand_pass = np.concatenate((cp[in_window], np.arange(n_total), np.arange(n_total)))
    cand_t = np.concatenate((t_owned[in_window], aos, los))
    cand_el = np.concatenate((culminations.elevation_deg[owned][in_window], el_aos, el_los))
    cand_az = np.concatenate((culminations.azimuth_deg[owned][in_window], az_aos, az_los))
    cand_el = np.where(np.isfinite(cand_el), cand_el, -np.inf)
    order = np.lexsort((-cand_el, cand_pass))
    if order.size:
        first = order[np.r_[True, cand_pass[order][1:] != cand_pass[order][:-1]]]
    else:
        first = order
    return np.clip(cand_t[first], aos, los), cand_el[first], cand_az[first]
