"""Catalogue-scale pass prediction: many satellites against many stations.

The search (:func:`predict_passes`) works in array form:

1. Satellites are grouped by a coarse time step derived from their orbit
   (:func:`coarse_step_s`). Each group is propagated with
   ``sgp4.api.SatrecArray`` over one grid shared by all stations, a chunk
   of satellites at a time so memory stays bounded.
2. On the grid, per station, ``f = elevation - limit(azimuth)`` (the limit
   is the minimum elevation or the horizon mask) gives the rising and
   setting brackets; the sign of the elevation rate (exact, from SGP4's
   velocity) gives a bracket around every culmination.
3. Brackets are refined together for all satellites and stations:
   crossings by safeguarded Newton steps on ``f`` (its rate is analytic),
   culminations by safeguarded secant steps on the elevation rate, both
   starting from cubic Hermite interpolation of the grid values and
   stopping below 1 ms. A culmination whose interpolated peak comes within
   ``NEAR_MISS_MARGIN_DEG`` of the limit is refined even when no grid
   sample was above it, so passes shorter than the step are found too.

Python loops run over stations (a handful) on the grid, and over
satellites inside the refinement (one ``Satrec.sgp4_array`` call per
satellite and iteration, covering all its brackets at every station).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.geometry import (
    LookAngles,
    elevation_acceleration_deg_s2,
    hermite5_state,
    look_angles,
    station_arrays,
    teme_to_itrs,
)
from orbital.stations import Station
from orbital.timescale import Epoch, require_aware_utc

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

MU_KM3_S2 = 398600.4418
EARTH_ROTATION_RAD_S = 7.2921150e-5

#: Grid samples per relative revolution (at perigee speed); see coarse_step_s.
SAMPLES_PER_REVOLUTION = 20
#: Culminations whose interpolated peak is within this of the limit get refined.
NEAR_MISS_MARGIN_DEG = 3.0
#: Culminations with no grid sample beside them within this of the limit are
#: skipped before the (finer) Hermite test; far larger than any interpolation error.
PREFILTER_MARGIN_DEG = 30.0
#: Samples of f over three grid steps around a culmination hidden by a mask.
DENSE_SAMPLES = 82
#: Element sets further than this from their epoch produce a warning.
EPOCH_WARNING_DAYS = 14.0
MIN_STEP_S = 10.0
MAX_STEP_S = 3600.0
#: Refinement stops when the next step would move a crossing (culmination) by less.
CROSSING_TOLERANCE_S = 0.05
CULMINATION_TOLERANCE_S = 0.05
MAX_ITERATIONS = 40
#: Largest Newton correction applied without evaluating at its end point.
MAX_CORRECTION_S = 5.0
#: Largest first-order elevation correction applied at a culmination.
PEAK_ELEVATION_TOLERANCE_DEG = 0.002


@dataclass(frozen=True)
class Pass:
    """One visibility window of a satellite over a station (times are aware UTC)."""

    norad_id: int
    satellite: str
    station_id: str
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    duration_s: float
    truncated: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (ISO 8601 UTC times with a ``Z``)."""

        def iso(d: datetime) -> str:
            return d.isoformat().replace("+00:00", "Z")

        return {
            "norad_id": self.norad_id,
            "satellite": self.satellite,
            "station": self.station_id,
            "aos": iso(self.aos),
            "tca": iso(self.tca),
            "los": iso(self.los),
            "max_elevation_deg": round(self.max_elevation_deg, 4),
            "aos_azimuth_deg": round(self.aos_azimuth_deg, 4),
            "tca_azimuth_deg": round(self.tca_azimuth_deg, 4),
            "los_azimuth_deg": round(self.los_azimuth_deg, 4),
            "duration_s": round(self.duration_s, 3),
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class PropagationFailure:
    """A satellite SGP4 could not propagate over (part of) the range."""

    norad_id: int
    satellite: str
    error_code: int
    message: str
    at: datetime | None = None


@dataclass
class PassTable:
    """All passes in column form; times are TAI seconds after ``epoch``.

    Arrays have shape ``(n_passes,)``; rows are sorted by AOS, then
    satellite, then station. ``sat_index``/``station_index`` index the
    ``elements``/``stations`` given to :func:`predict_passes`.
    """

    epoch: Epoch
    elements: Sequence[ElementSet]
    stations: Sequence[Station]
    sat_index: IntArray
    station_index: IntArray
    aos_s: FloatArray
    tca_s: FloatArray
    los_s: FloatArray
    max_elevation_deg: FloatArray
    aos_azimuth_deg: FloatArray
    tca_azimuth_deg: FloatArray
    los_azimuth_deg: FloatArray
    truncated: BoolArray

    def __len__(self) -> int:
        return int(self.aos_s.shape[0])

    def to_passes(self) -> list[Pass]:
        n = len(self)
        if n == 0:
            return []
        times = self.epoch.to_datetimes(np.concatenate((self.aos_s, self.tca_s, self.los_s)))
        labels = [e.name or str(e.norad_id) for e in self.elements]
        norad = [e.norad_id for e in self.elements]
        st_ids = [s.id for s in self.stations]
        sat = self.sat_index.tolist()
        st = self.station_index.tolist()
        dur = (self.epoch.utc_offsets(self.los_s) - self.epoch.utc_offsets(self.aos_s)).tolist()
        max_el = self.max_elevation_deg.tolist()
        az_a = self.aos_azimuth_deg.tolist()
        az_t = self.tca_azimuth_deg.tolist()
        az_l = self.los_azimuth_deg.tolist()
        trunc = self.truncated.tolist()
        return [
            Pass(
                norad[sat[i]],
                labels[sat[i]],
                st_ids[st[i]],
                times[i],
                times[n + i],
                times[2 * n + i],
                max_el[i],
                az_a[i],
                az_t[i],
                az_l[i],
                dur[i],
                trunc[i],
            )
            for i in range(n)
        ]


@dataclass
class PassPrediction:
    table: PassTable
    failures: list[PropagationFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _passes: list[Pass] | None = field(default=None, repr=False)

    @property
    def passes(self) -> list[Pass]:
        """The passes as objects (built on first access), sorted by AOS."""
        if self._passes is None:
            self._passes = self.table.to_passes()
        return self._passes


def coarse_step_s(no_kozai_rad_min: float, ecc: float) -> float:
    """Grid step for one satellite: 1/20 of a revolution relative to the ground.

    Every pass contains a culmination, and the grid must put the two signs of
    the elevation rate on either side of each one, so that the culmination
    is bracketed and refined (a pass that no grid sample sees above the
    limit is still found from its culmination). Consecutive extrema of a
    satellite's elevation are about half a relative revolution apart, so
    any step well below that brackets every culmination; we take
    ``SAMPLES_PER_REVOLUTION`` = 20 samples per revolution, using the
    fastest angular rate relative to the ground (orbital rate at perigee,
    ``n (1+e)^2 / (1-e^2)^1.5``, plus the Earth's rotation) so eccentric
    orbits are sampled densely enough at perigee. The interpolated peak then
    lies within ``NEAR_MISS_MARGIN_DEG`` of the true one (checked over the
    whole catalogue by the tests), which is what guarantees that a pass
    clearing the limit by 0.5 deg is not missed. LEO: ~270 s; GEO: ~36 min.
    """
    n_rad_s = no_kozai_rad_min / 60.0
    if not n_rad_s > 0.0 or not 0.0 <= ecc < 1.0:
        return MIN_STEP_S
    w = n_rad_s * (1.0 + ecc) ** 2 / (1.0 - ecc * ecc) ** 1.5 + EARTH_ROTATION_RAD_S
    step = 2.0 * math.pi / w / SAMPLES_PER_REVOLUTION
    return float(np.clip(step, MIN_STEP_S, MAX_STEP_S))


def _quantize_step(step_s: float) -> float:
    """Round a step down onto a small set of values so satellites share grids."""
    if step_s >= 600.0:
        return float(300.0 * math.floor(step_s / 300.0))
    if step_s >= 60.0:
        return float(15.0 * math.floor(step_s / 15.0))
    return float(max(MIN_STEP_S, 5.0 * math.floor(step_s / 5.0)))


# --- cubic Hermite helpers (interval [0, h], values y, derivatives d) -------


def _hermite_coeffs(
    h: FloatArray, y0: FloatArray, y1: FloatArray, d0: FloatArray, d1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    slope = (y1 - y0) / h
    c2 = (3.0 * slope - 2.0 * d0 - d1) / h
    c3 = (d0 + d1 - 2.0 * slope) / (h * h)
    return c2, c3


def _hermite_peak(
    h: FloatArray, y0: FloatArray, y1: FloatArray, d0: FloatArray, d1: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Maximum of the Hermite cubic, given ``d0 > 0 >= d1``.

    Returns ``(s, value, second_derivative, third_derivative)`` with ``0 <= s <= h``.
    """
    c2, c3 = _hermite_coeffs(h, y0, y1, d0, d1)
    # p'(s) = d0 + 2 c2 s + 3 c3 s^2 ; pick the root where p' goes + to -.
    a, b, c = 3.0 * c3, 2.0 * c2, d0
    disc = np.maximum(b * b - 4.0 * a * c, 0.0)
    sq = np.sqrt(disc)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Numerically stable quadratic roots.
        q = -0.5 * (b + np.copysign(sq, b))
        r1 = q / a
        r2 = c / q
    lin = d0 * h / np.where(d0 - d1 != 0, d0 - d1, 1.0)
    s = np.full(h.shape, np.nan)
    for r in (r1, r2):
        ok = np.isfinite(r) & (r >= 0) & (r <= h) & (2.0 * c2 + 6.0 * c3 * r <= 0)
        s = np.where(np.isnan(s) & ok, r, s)
    s = np.where(np.isnan(s), np.clip(lin, 0, h), s)
    value = y0 + s * (d0 + s * (c2 + s * c3))
    return s, value, 2.0 * c2 + 6.0 * c3 * s, 6.0 * c3


def _hermite_root(
    h: FloatArray, y0: FloatArray, y1: FloatArray, d0: FloatArray, d1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """A zero of the Hermite cubic in [0, h] (y0, y1 of opposite signs).

    Returns ``(s, second_derivative)``: the root and the cubic's curvature there.
    """
    c2, c3 = _hermite_coeffs(h, y0, y1, d0, d1)
    lo = np.zeros_like(h)
    hi = h.copy()
    rising = y0 < 0
    s = np.clip(-y0 * h / np.where(y1 != y0, y1 - y0, 1.0), 0, h)
    for _ in range(8):
        p = y0 + s * (d0 + s * (c2 + s * c3))
        dp = d0 + s * (2.0 * c2 + 3.0 * c3 * s)
        below = (p < 0) == rising
        lo = np.where(below, s, lo)
        hi = np.where(below, hi, s)
        with np.errstate(divide="ignore", invalid="ignore"):
            nxt = s - p / dp
        s = np.where(np.isfinite(nxt) & (nxt > lo) & (nxt < hi), nxt, 0.5 * (lo + hi))
    return s, 2.0 * c2 + 6.0 * c3 * s


# --- evaluation at arbitrary (satellite, station, time) triples ------------


class _Evaluator:
    def __init__(self, satrecs: Sequence[Satrec], stations: Sequence[Station], epoch: Epoch):
        self.satrecs = satrecs
        self.stations = stations
        self.epoch = epoch
        self.st_pos, self.st_enu = station_arrays(list(stations))
        self.masked = [i for i, s in enumerate(stations) if s.has_mask]
        self.min_el = np.array([s.min_elevation_deg for s in stations], dtype=np.float64)
        #: Per satellite, the first time SGP4 failed (later states are not trusted).
        self.valid_until_s = np.full(len(satrecs), np.inf)
        #: Near-Earth (SGP4, not SDP4) satellites, whose states between grid
        #: samples are interpolated instead of propagated again.
        self.near_earth = np.array([s.method == "n" for s in satrecs], dtype=bool)
        self._chunk_row = np.full(len(satrecs), -1, dtype=np.int64)
        self._grid: tuple[FloatArray, FloatArray, float] | None = None

    def set_grid(
        self, sat_rows: IntArray, r_teme: FloatArray, v_teme: FloatArray, step_s: float
    ) -> None:
        """Keep a chunk's grid states (uniform step) for :meth:`evaluate` to interpolate."""
        self._chunk_row[:] = -1
        self._chunk_row[sat_rows] = np.arange(sat_rows.shape[0])
        self._grid = (r_teme, v_teme, step_s)

    def clear_grid(self) -> None:
        self._chunk_row[:] = -1
        self._grid = None

    def _states(self, sat: IntArray, t_s: FloatArray) -> tuple[FloatArray, FloatArray]:
        """TEME position and velocity at each (satellite, time); NaN where SGP4 failed."""
        m = t_s.shape[0]
        r = np.empty((m, 3))
        v = np.empty((m, 3))
        interp = np.zeros(m, dtype=bool)
        if self._grid is not None and m:
            rows = self._chunk_row[sat]
            interp = (rows >= 0) & self.near_earth[sat]
            if interp.any():
                r_g, v_g, step = self._grid
                ri, vi = hermite5_state(r_g, v_g, step, rows[interp], t_s[interp])
                r[interp], v[interp] = ri, vi
        rest = np.flatnonzero(~interp)
        if rest.size:
            jd = self.epoch.julian(t_s[rest])
            sat_rest = sat[rest]
            starts = np.flatnonzero(np.r_[True, sat_rest[1:] != sat_rest[:-1]])
            ends = np.r_[starts[1:], rest.size]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                err, rr, vv = self.satrecs[int(sat_rest[a])].sgp4_array(
                    jd.whole[a:b], jd.utc_fraction[a:b]
                )
                if err.any():
                    rr[err != 0] = np.nan
                r[rest[a:b]] = rr
                v[rest[a:b]] = vv
        r[t_s >= self.valid_until_s[sat]] = np.nan
        return r, v

    def limit(self, st: IntArray, az_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Elevation limit and d(limit)/d(azimuth) for stations ``st`` at ``az_deg``."""
        lim = self.min_el[st]
        slope = np.zeros(lim.shape)
        for i in self.masked:
            sel = st == i
            if sel.any():
                lim[sel] = self.stations[i].elevation_limit_deg(az_deg[sel])
                slope[sel] = self.stations[i].elevation_limit_slope(az_deg[sel])
        return lim, slope

    def evaluate(
        self, sat: IntArray, st: IntArray, t_s: FloatArray, accel: BoolArray | None = None
    ) -> tuple[LookAngles, FloatArray, FloatArray, FloatArray]:
        """Look angles, ``f = elevation - limit``, its rate, and the elevation's
        second derivative (where ``accel`` is set, else NaN) at each triple.

        ``sat`` must be sorted (grouped by satellite). Failed propagations give NaN.
        """
        m = t_s.shape[0]
        r, v = self._states(sat, t_s)
        jd = self.epoch.julian(t_s)
        theta, theta_dot = jd.gmst_rad()
        r, v = teme_to_itrs(r, v, theta, theta_dot)
        la = look_angles(r, v, self.st_pos[st], self.st_enu[st])
        lim, slope = self.limit(st, la.azimuth_deg)
        f = la.elevation_deg - lim
        f_rate = la.elevation_rate_deg_s - slope * la.azimuth_rate_deg_s
        eldd = np.full(m, np.nan)
        if accel is not None and accel.any():
            eldd[accel] = elevation_acceleration_deg_s2(
                r[accel], v[accel], theta_dot[accel], self.st_pos[st[accel]],
                self.st_enu[st[accel], 2],
            )  # fmt: skip
        return la, f, f_rate, eldd


@dataclass
class _Work:
    """Brackets to refine. kind 0: zero of f (crossing); kind 1: culmination.

    ``d2`` is an estimate of the second derivative of the function whose
    zero is sought (f for crossings, the elevation rate for culminations),
    and ``d1`` (culminations only) of its first derivative, both from the
    Hermite interpolation of the grid; they size Newton's error estimate.
    """

    sat: IntArray
    st: IntArray
    kind: NDArray[np.int8]
    lo: FloatArray
    hi: FloatArray
    t0: FloatArray
    rising: BoolArray
    d1: FloatArray
    d2: FloatArray


def _refine(ev: _Evaluator, w: _Work) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Refine every bracket; returns ``(t_s, elevation_deg, azimuth_deg, f_deg)``.

    Each round evaluates SGP4 at the current guesses and takes a Newton
    step (for culminations on the elevation rate, with its analytic
    derivative), kept inside the bracket. Newton's error after a step of size ``dt`` is about
    ``|g''| / (2 |g'|) dt^2``; when that is below the tolerance and ``dt``
    is small, the step is applied to the outputs to first order (time,
    azimuth, elevation) instead of being evaluated again.
    """
    order = np.argsort(w.sat, kind="stable")
    sat, st, kind = w.sat[order], w.st[order], w.kind[order]
    lo, hi, t = w.lo[order].copy(), w.hi[order].copy(), w.t0[order].copy()
    rising, d1_est, d2_est = w.rising[order], w.d1[order], w.d2[order]
    m = sat.shape[0]
    out_t = np.full(m, np.nan)
    out_el = np.full(m, np.nan)
    out_az = np.full(m, np.nan)
    out_f = np.full(m, np.nan)
    tol_all = np.where(kind == 1, CULMINATION_TOLERANCE_S, CROSSING_TOLERANCE_S)
    active = np.arange(m)
    for _ in range(MAX_ITERATIONS):
        if active.size == 0:
            break
        ta = t[active]
        is_peak = kind[active] == 1
        la, f, f_rate, eldd = ev.evaluate(sat[active], st[active], ta, is_peak)
        eld = la.elevation_rate_deg_s
        g = np.where(is_peak, eld, f)
        on_lo_side = np.where(is_peak, g > 0, (g < 0) == rising[active])
        a = np.where(on_lo_side, ta, lo[active])
        b = np.where(on_lo_side, hi[active], ta)
        lo[active], hi[active] = a, b
        with np.errstate(divide="ignore", invalid="ignore"):
            peak_d = np.where(eldd < 0, eldd, d1_est[active])
            deriv = np.where(is_peak, peak_d, f_rate)
            step = -g / deriv
            # Newton's error estimate, with a safety factor of 4 for the estimated g''.
            predicted_error = 2.0 * np.abs(d2_est[active] / deriv) * step * step
        nxt = ta + step
        inside = np.isfinite(nxt) & (nxt > a) & (nxt < b)
        tol = tol_all[active]
        # A culmination's derivative is only trusted once it is a secant.
        # Culminations (where the elevation can have a sharp peak) finish only
        # when the elevation correction is tiny, so the quadratic model is safe.
        small = np.where(
            is_peak,
            np.abs(0.5 * eld * step) < PEAK_ELEVATION_TOLERANCE_DEG,
            np.abs(step) < MAX_CORRECTION_S,
        )
        finished = (inside & small & (predicted_error < tol)) | ~np.isfinite(g)
        # First-order correction of the outputs to the Newton point.
        dt = np.where(inside & np.isfinite(step), step, 0.0)
        out_t[active] = ta + dt
        out_az[active] = (la.azimuth_deg + la.azimuth_rate_deg_s * dt) % 360.0
        out_el[active] = la.elevation_deg + np.where(is_peak, 0.5, 1.0) * eld * dt
        out_f[active] = f + f_rate * dt
        nxt = np.where(inside, nxt, 0.5 * (a + b))
        t[active] = nxt
        finished |= b - a < tol
        active = active[~finished]
    back = np.empty(m, dtype=np.int64)
    back[order] = np.arange(m)
    return out_t[back], out_el[back], out_az[back], out_f[back]


# --- the grid search ---------------------------------------------------------


@dataclass
class _Chunk:
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


def _search_chunk(
    ev: _Evaluator,
    sat_rows: IntArray,
    grid_s: FloatArray,
    jd_whole: FloatArray,
    jd_utc: FloatArray,
    theta: FloatArray,
    theta_dot: FloatArray,
) -> tuple[_Chunk, list[tuple[int, int, int]]]:
    """Find and refine every pass of the satellites ``sat_rows`` over every station."""
    sats = SatrecArray([ev.satrecs[i] for i in sat_rows.tolist()])
    err, r, v = sats.sgp4(jd_whole, jd_utc)
    failures: list[tuple[int, int, int]] = []
    for row in np.flatnonzero(err.any(axis=1)).tolist():
        k = int(np.argmax(err[row] != 0))
        failures.append((int(sat_rows[row]), int(err[row, k]), k))
        # A satellite that failed (decayed, bad elements) is gone from then on.
        r[row, k:] = np.nan
        ev.valid_until_s[sat_rows[row]] = grid_s[k]
    ev.set_grid(sat_rows, r, v, float(grid_s[1] - grid_s[0]))
    r, v = teme_to_itrs(r, v, theta, theta_dot)
    n_t = grid_s.shape[0]
    h = grid_s[1:] - grid_s[:-1]

    x_parts: list[tuple[IntArray, ...]] = []  # crossing brackets
    c_parts: list[tuple[IntArray, ...]] = []  # culmination brackets
    p_parts: list[tuple[IntArray, ...]] = []  # passes
    g_parts: list[tuple[FloatArray, ...]] = []  # per pass: el/az at both grid ends
    x_vals: list[tuple[FloatArray, ...]] = []
    c_vals: list[tuple[FloatArray, ...]] = []
    n_pass = 0
    # Station-independent products, shared by every station below.
    rr = np.einsum("ntk,ntk->nt", r, r)
    rv = np.einsum("ntk,ntk->nt", r, v)
    for j in range(len(ev.stations)):
        station = ev.stations[j]
        up, pos = ev.st_enu[j][2], ev.st_pos[j]
        basis = np.stack((up, pos), axis=1)  # (3, 2)
        r_up_pos = r @ basis  # (n, T, 2)
        v_up_pos = v @ basis
        u = r_up_pos[..., 0]
        u -= float(up @ pos)  # up component of the line of sight
        rng2 = rr - 2.0 * r_up_pos[..., 1]
        rng2 += float(pos @ pos)
        # d(sin el)/dt has the sign of ud |rho|^2 - u (rho . rho_dot).
        rho_dot_rho = rv - v_up_pos[..., 1]
        rho_dot_rho *= u
        eld_pos = v_up_pos[..., 0] * rng2 > rho_dot_rho
        del r_up_pos, v_up_pos, rho_dot_rho
        lo_lim, _ = station.limit_range_deg()
        # Above the lowest limit: sin(el) > sin(lim), i.e. u > sin(lim) |rho|.
        sin_lo = math.sin(math.radians(lo_lim))
        if sin_lo >= 0.0:
            above = (u > 0.0) & (u * u > (sin_lo * sin_lo) * rng2)
        else:
            above = u > sin_lo * np.sqrt(rng2)
        if station.has_mask:
            ci = np.nonzero(above)
            if ci[0].size:
                la_c = look_angles(r[ci], v[ci], ev.st_pos[j], ev.st_enu[j])
                above[ci] = la_c.elevation_deg > station.elevation_limit_deg(la_c.azimuth_deg)
        padded = np.zeros((above.shape[0], n_t + 2), dtype=np.int8)
        padded[:, 1:-1] = above
        d = np.diff(padded, axis=1)
        r_rows, r_k = np.nonzero(d == 1)  # first sample above
        s_rows, s_k = np.nonzero(d == -1)  # one past the last sample above
        del padded, d
        npj = r_rows.shape[0]
        pid = np.arange(n_pass, n_pass + npj)
        # Culminations: the elevation rate changes from + to - between i and i+1;
        # kept when inside a pass, or when a grid sample beside it is within
        # PREFILTER_MARGIN_DEG of the limit (the Hermite test below is finer).
        k_rows, k_i = np.nonzero(eld_pos[:, :-1] & ~eld_pos[:, 1:])
        flat = k_rows * n_t + k_i
        s0 = r_rows * n_t + r_k - 1
        s1 = s_rows * n_t + s_k - 1
        owner = np.searchsorted(s0, flat, side="right") - 1
        inside = owner >= 0
        inside[inside] = flat[inside] <= s1[owner[inside]]
        sin_pre = math.sin(math.radians(lo_lim - PREFILTER_MARGIN_DEG))
        near = np.zeros(k_rows.shape, dtype=bool)
        for kk in (k_i, k_i + 1):
            near |= u[k_rows, kk] > sin_pre * np.sqrt(rng2[k_rows, kk])
        pre = inside | near
        k_rows, k_i, inside = k_rows[pre], k_i[pre], inside[pre]
        owner = owner[pre]

        # Look angles at every grid sample the brackets need, computed once.
        last = np.minimum(s_k, n_t - 1)
        rise_sel, set_sel = r_k > 0, s_k < n_t
        need_rows = np.concatenate(
            (r_rows, r_rows, r_rows[rise_sel], r_rows[rise_sel], r_rows[set_sel],
             r_rows[set_sel], k_rows, k_rows)
        )  # fmt: skip
        need_k = np.concatenate(
            (r_k, last, r_k[rise_sel] - 1, r_k[rise_sel], s_k[set_sel] - 1, s_k[set_sel],
             k_i, k_i + 1)
        )  # fmt: skip
        key = need_rows * n_t + need_k
        uniq, inv = np.unique(key, return_inverse=True)
        u_rows, u_k = np.divmod(uniq, n_t)
        la = look_angles(r[u_rows, u_k], v[u_rows, u_k], ev.st_pos[j], ev.st_enu[j])
        lim, slope = ev.limit(np.full(uniq.shape, j), la.azimuth_deg)
        el_u, eld_u, az_u = la.elevation_deg, la.elevation_rate_deg_s, la.azimuth_deg
        f_u = el_u - lim
        fd_u = eld_u - slope * la.azimuth_rate_deg_s
        del la, lim, slope
        bounds = np.cumsum(
            [0, npj, npj, int(rise_sel.sum()), int(rise_sel.sum()), int(set_sel.sum()),
             int(set_sel.sum()), k_rows.shape[0], k_rows.shape[0]]
        )  # fmt: skip
        part = [inv[bounds[i] : bounds[i + 1]] for i in range(8)]

        p_parts.append((r_rows, np.full(npj, j), r_k, s_k))
        g_parts.append((el_u[part[0]], az_u[part[0]], el_u[part[1]], az_u[part[1]]))
        for (ia, ib), sel, is_rise in (
            ((part[2], part[3]), rise_sel, True),
            ((part[4], part[5]), set_sel, False),
        ):
            rows = r_rows[sel]
            kk = r_k[sel] if is_rise else s_k[sel]
            x_parts.append((rows, np.full(rows.shape, j), kk - 1, pid[sel]))
            x_vals.append(
                (np.full(rows.shape, 1.0 if is_rise else 0.0), f_u[ia], f_u[ib], fd_u[ia],
                 fd_u[ib])
            )  # fmt: skip
        ia, ib = part[6], part[7]
        s_pk, el_pk, curv, third = _hermite_peak(h[k_i], el_u[ia], el_u[ib], eld_u[ia], eld_u[ib])
        keep = inside | (el_pk > lo_lim - NEAR_MISS_MARGIN_DEG)
        owners = np.where(inside, pid[np.clip(owner, 0, None)] if npj else -1, -1)
        ia, ib = ia[keep], ib[keep]
        c_parts.append((k_rows[keep], np.full(int(keep.sum()), j), k_i[keep], owners[keep]))
        c_vals.append(
            (grid_s[k_i[keep]] + s_pk[keep], curv[keep], f_u[ia], f_u[ib], fd_u[ia], fd_u[ib],
             third[keep])
        )  # fmt: skip
        n_pass += npj
        del u, rng2, eld_pos, above

    def icat(parts: list[tuple[IntArray, ...]], i: int) -> IntArray:
        return np.concatenate([p[i] for p in parts]).astype(np.int64)

    def fcat(parts: list[tuple[FloatArray, ...]], i: int) -> FloatArray:
        return np.concatenate([p[i] for p in parts]).astype(np.float64)

    rows_g = sat_rows.astype(np.int64)
    # Pass records from the grid.
    p_sat, p_st = rows_g[icat(p_parts, 0)], icat(p_parts, 1)
    p_rk, p_sk = icat(p_parts, 2), icat(p_parts, 3)
    grid_el_a, grid_az_a = fcat(g_parts, 0), fcat(g_parts, 1)
    grid_el_l, grid_az_l = fcat(g_parts, 2), fcat(g_parts, 3)
    # Crossing brackets.
    x_sat, x_st, x_k0, x_pass = (
        rows_g[icat(x_parts, 0)], icat(x_parts, 1), icat(x_parts, 2), icat(x_parts, 3)
    )  # fmt: skip
    x_rise = fcat(x_vals, 0) > 0.5
    x_lo, x_hi = grid_s[x_k0], grid_s[x_k0 + 1]
    x_s, x_d2 = _hermite_root(
        x_hi - x_lo, fcat(x_vals, 1), fcat(x_vals, 2), fcat(x_vals, 3), fcat(x_vals, 4)
    )
    x_guess = x_lo + x_s
    # Culmination brackets.
    c_sat, c_st, c_k0, c_pass = (
        rows_g[icat(c_parts, 0)], icat(c_parts, 1), icat(c_parts, 2), icat(c_parts, 3)
    )  # fmt: skip
    c_guess, c_curv, c_third = fcat(c_vals, 0), fcat(c_vals, 1), fcat(c_vals, 6)
    c_lo, c_hi = grid_s[c_k0], grid_s[c_k0 + 1]

    nx, nc = x_sat.shape[0], c_sat.shape[0]
    t_ref, el_ref, az_ref, f_ref = _refine(
        ev,
        _Work(
            sat=np.concatenate((x_sat, c_sat)),
            st=np.concatenate((x_st, c_st)),
            kind=np.concatenate((np.zeros(nx, np.int8), np.ones(nc, np.int8))),
            lo=np.concatenate((x_lo, c_lo)),
            hi=np.concatenate((x_hi, c_hi)),
            t0=np.concatenate((x_guess, c_guess)),
            rising=np.concatenate((x_rise, np.zeros(nc, bool))),
            d1=np.concatenate((np.zeros(nx), c_curv)),
            d2=np.concatenate((x_d2, c_third)),
        ),
    )
    x_t, x_az = t_ref[:nx], az_ref[:nx]
    c_t, c_el, c_az, c_f = t_ref[nx:], el_ref[nx:], az_ref[nx:], f_ref[nx:]

    # Near misses that clear the limit at their culmination are passes too.
    new = np.flatnonzero((c_pass < 0) & (c_f > 0))
    c_pass = c_pass.copy()
    c_pass[new] = np.arange(n_pass, n_pass + new.shape[0])
    fa, fb = fcat(c_vals, 2)[new], fcat(c_vals, 3)[new]
    tp, fp = c_t[new], c_f[new]
    n_sat = [c_sat[new]]
    n_st = [c_st[new]]
    n_rise = [(c_lo[new], tp, fa, fp)]
    n_set = [(tp, c_hi[new], fp, fb)]
    n_curv = [np.abs(c_curv[new])]
    # At a masked station the elevation peak can sit behind a high stretch of
    # the mask while the satellite clears a lower stretch beside it: sample
    # f densely around such culminations to find those passes too.
    masked_st = np.array([s.has_mask for s in ev.stations])
    lo_lims = np.array([s.limit_range_deg()[0] for s in ev.stations])
    dense = np.flatnonzero(
        (c_pass < 0) & masked_st[c_st] & (c_el > lo_lims[c_st]) & np.isfinite(c_f)
    )
    if dense.size:
        k0 = c_k0[dense]
        w_lo = grid_s[np.maximum(k0 - 1, 0)]
        w_hi = grid_s[np.minimum(k0 + 2, n_t - 1)]
        offs = np.linspace(0.0, 1.0, DENSE_SAMPLES)
        tt = w_lo[:, None] + (w_hi - w_lo)[:, None] * offs[None, :]
        ds = np.repeat(c_sat[dense], DENSE_SAMPLES)
        dst = np.repeat(c_st[dense], DENSE_SAMPLES)
        order = np.argsort(ds, kind="stable")
        _, f_d, _, _ = ev.evaluate(ds[order], dst[order], tt.ravel()[order])
        fd_all = np.empty_like(f_d)
        fd_all[order] = f_d
        fgrid = fd_all.reshape(tt.shape)
        up = np.nan_to_num(fgrid, nan=-1.0) > 0
        up[:, 0] = up[:, -1] = False  # the window ends are grid samples below the limit
        dd = np.diff(up.astype(np.int8), axis=1)
        rr_, ri = np.nonzero(dd == 1)
        sr_, si = np.nonzero(dd == -1)
        if rr_.size:
            n_sat.append(c_sat[dense][rr_])
            n_st.append(c_st[dense][rr_])
            n_rise.append((tt[rr_, ri], tt[rr_, ri + 1], fgrid[rr_, ri], fgrid[rr_, ri + 1]))
            n_set.append((tt[sr_, si], tt[sr_, si + 1], fgrid[sr_, si], fgrid[sr_, si + 1]))
            n_curv.append(np.abs(c_curv[dense][rr_]))
    new_sat = np.concatenate(n_sat)
    new_st = np.concatenate(n_st)
    n_new = new_sat.shape[0]
    if n_new:
        r_lo, r_hi, r_flo, r_fhi = (np.concatenate([x[i] for x in n_rise]) for i in range(4))
        s_lo, s_hi, s_flo, s_fhi = (np.concatenate([x[i] for x in n_set]) for i in range(4))
        # Linear first guesses inside each bracket.
        g_rise = r_lo + (r_hi - r_lo) * (-r_flo) / (r_fhi - r_flo)
        g_set = s_lo + (s_hi - s_lo) * s_flo / (s_flo - s_fhi)
        t2, _, az2, _ = _refine(
            ev,
            _Work(
                sat=np.concatenate((new_sat, new_sat)),
                st=np.concatenate((new_st, new_st)),
                kind=np.zeros(2 * n_new, np.int8),
                lo=np.concatenate((r_lo, s_lo)),
                hi=np.concatenate((r_hi, s_hi)),
                t0=np.concatenate((g_rise, g_set)),
                rising=np.concatenate((np.ones(n_new, bool), np.zeros(n_new, bool))),
                d1=np.zeros(2 * n_new),
                d2=np.tile(np.concatenate(n_curv), 2),
            ),
        )
    else:
        t2 = az2 = np.zeros(0)

    n_total = n_pass + n_new
    sat_all = np.concatenate((p_sat, new_sat))
    st_all = np.concatenate((p_st, new_st))
    aos = np.concatenate((np.zeros(n_pass), t2[:n_new]))
    los = np.concatenate((np.full(n_pass, grid_s[-1]), t2[n_new:]))
    az_aos = np.concatenate((grid_az_a, az2[:n_new]))
    az_los = np.concatenate((grid_az_l, az2[n_new:]))
    el_aos = np.concatenate((grid_el_a, np.full(n_new, np.nan)))
    el_los = np.concatenate((grid_el_l, np.full(n_new, np.nan)))
    rise = x_rise
    # A setting that cannot be refined because the satellite failed there
    # ends the pass at the last good grid sample (flagged truncated below).
    lost = ~rise & ~np.isfinite(x_t)
    x_t = np.where(lost, x_lo, x_t)
    cut_short = np.zeros(n_total, dtype=bool)
    cut_short[x_pass[lost]] = True
    aos[x_pass[rise]] = x_t[rise]
    az_aos[x_pass[rise]] = x_az[rise]
    los[x_pass[~rise]] = x_t[~rise]
    az_los[x_pass[~rise]] = x_az[~rise]
    # Elevation at a refined crossing is the limit there.
    lim_a, _ = ev.limit(st_all, az_aos)
    lim_l, _ = ev.limit(st_all, az_los)
    trunc_start = np.concatenate((p_rk == 0, np.zeros(n_new, bool)))
    trunc_end = np.concatenate((p_sk == n_t, np.zeros(n_new, bool)))
    el_aos = np.where(trunc_start, el_aos, lim_a)
    el_los = np.where(trunc_end, el_los, lim_l)

    # Culmination: the highest refined peak inside [AOS, LOS], or an end.
    owned = c_pass >= 0
    cp = c_pass[owned]
    in_window = (c_t[owned] >= aos[cp] - CROSSING_TOLERANCE_S) & (
        c_t[owned] <= los[cp] + CROSSING_TOLERANCE_S
    )
    cp = cp[in_window]
    cand_pass = np.concatenate((cp, np.arange(n_total), np.arange(n_total)))
    cand_t = np.concatenate((c_t[owned][in_window], aos, los))
    cand_el = np.concatenate((c_el[owned][in_window], el_aos, el_los))
    cand_az = np.concatenate((c_az[owned][in_window], az_aos, az_los))
    cand_el = np.where(np.isfinite(cand_el), cand_el, -np.inf)
    order = np.lexsort((-cand_el, cand_pass))
    if order.size:
        first = order[np.r_[True, cand_pass[order][1:] != cand_pass[order][:-1]]]
    else:
        first = order
    chunk = _Chunk(
        sat=sat_all,
        st=st_all,
        aos=aos,
        tca=np.clip(cand_t[first], aos, los),
        los=los,
        max_el=cand_el[first],
        az_aos=az_aos,
        az_tca=cand_az[first],
        az_los=az_los,
        truncated=trunc_start | trunc_end | cut_short,
    )
    good = np.isfinite(aos) & np.isfinite(los) & np.isfinite(chunk.tca)
    if not good.all():
        for name in chunk.__dataclass_fields__:
            setattr(chunk, name, getattr(chunk, name)[good])
    return chunk, failures


def coarse_grids(satrecs: Sequence[Satrec], duration_s: float) -> list[tuple[IntArray, FloatArray]]:
    """The search's coarse grids: ``[(satellite indices, grid offsets in s), ...]``.

    Satellites share a grid when their (quantized) :func:`coarse_step_s` is
    the same; each grid spans ``[0, duration_s]`` inclusive.
    """
    steps = np.array(
        [_quantize_step(coarse_step_s(float(s.no_kozai), float(s.ecco))) for s in satrecs]
    )
    out = []
    for step in np.unique(steps).tolist():
        members = np.flatnonzero(steps == step)
        n_steps = max(2, math.ceil(duration_s / step))
        out.append((members.astype(np.int64), np.linspace(0.0, duration_s, n_steps + 1)))
    return out


def _label(e: ElementSet) -> str:
    return e.name or str(e.norad_id)


def predict_passes(
    elements: Sequence[ElementSet],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    *,
    min_elevation_deg: float | None = None,
    max_chunk_samples: int = 1_000_000,
) -> PassPrediction:
    """Every pass of ``elements`` over ``stations`` between ``start`` and ``end``.

    ``min_elevation_deg``, when given, replaces every station's minimum
    elevation and horizon mask. Passes in progress at ``start`` or ``end``
    are clipped to the range and flagged ``truncated``; an object visible
    the whole time gives one truncated pass spanning the range. Satellites
    SGP4 cannot propagate are listed in ``failures`` with SGP4's error and
    never stop the batch; element sets far from their epoch get a warning
    with the age in days. ``max_chunk_samples`` bounds satellites x grid
    times held in memory at once.
    """
    start = require_aware_utc(start, "start")
    end = require_aware_utc(end, "end")
    if end <= start:
        raise OrbitalError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    stations = list(stations)
    if not stations:
        raise OrbitalError("no stations given: pass prediction needs at least one station")
    ids = [s.id for s in stations]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise OrbitalError(f"station ids must be unique; repeated: {', '.join(dup)}")
    if min_elevation_deg is not None:
        if not -5.0 <= min_elevation_deg < 90.0:
            raise OrbitalError(f"min_elevation_deg {min_elevation_deg} is outside -5..90")
        stations = [s.with_min_elevation(min_elevation_deg) for s in stations]

    span_s = (end - start).total_seconds() + 2.0
    epoch = Epoch(start, span_s)
    duration_s = epoch.offset_of(end)
    result_failures: list[PropagationFailure] = []
    warnings: list[str] = []
    for e in elements:
        age = max(abs(e.age_days(start)), abs(e.age_days(end)))
        if age > EPOCH_WARNING_DAYS:
            warnings.append(
                f"{_label(e)} ({e.norad_id}): predicting up to {age:.1f} days from its "
                f"element epoch {e.epoch.isoformat()}; SGP4 errors grow with age, "
                "upload fresher elements"
            )
    satrecs = [e.satrec() for e in elements]
    ev = _Evaluator(satrecs, stations, epoch)
    chunks: list[_Chunk] = []
    for members, grid in coarse_grids(satrecs, duration_s):
        jd = epoch.julian(grid)
        theta, theta_dot = jd.gmst_rad()
        per_chunk = max(1, max_chunk_samples // grid.shape[0])
        for c in range(0, members.shape[0], per_chunk):
            rows = members[c : c + per_chunk]
            chunk, failures = _search_chunk(
                ev, rows, grid, jd.whole, jd.utc_fraction, theta, theta_dot
            )
            ev.clear_grid()
            chunks.append(chunk)
            for sat_index, code, k in failures:
                e = elements[sat_index]
                result_failures.append(
                    PropagationFailure(
                        norad_id=e.norad_id,
                        satellite=_label(e),
                        error_code=code,
                        message=SGP4_ERRORS.get(code, f"SGP4 error {code}"),
                        at=epoch.to_datetime(float(grid[k])),
                    )
                )
    table = _table(chunks, epoch, elements, stations)
    return PassPrediction(table=table, failures=result_failures, warnings=warnings)


def _table(
    chunks: list[_Chunk],
    epoch: Epoch,
    elements: Sequence[ElementSet],
    stations: Sequence[Station],
) -> PassTable:
    def cat(name: str) -> NDArray[np.generic]:
        if not chunks:
            return np.zeros(0)
        return np.concatenate([getattr(c, name) for c in chunks])

    aos, sat, st = cat("aos"), cat("sat").astype(np.int64), cat("st").astype(np.int64)
    order = np.lexsort((st, sat, aos))
    return PassTable(
        epoch=epoch,
        elements=elements,
        stations=stations,
        sat_index=sat[order],
        station_index=st[order],
        aos_s=aos[order].astype(np.float64),
        tca_s=cat("tca")[order].astype(np.float64),
        los_s=cat("los")[order].astype(np.float64),
        max_elevation_deg=cat("max_el")[order].astype(np.float64),
        aos_azimuth_deg=cat("az_aos")[order].astype(np.float64),
        tca_azimuth_deg=cat("az_tca")[order].astype(np.float64),
        los_azimuth_deg=cat("az_los")[order].astype(np.float64),
        truncated=cat("truncated")[order].astype(bool),
    )
