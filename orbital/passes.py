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

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

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
#
# _search_chunk runs the stages in order, each a function of its own:
#   _propagate_grid        SGP4 over the grid, failures recorded
#   _station_brackets      per station: runs of samples above the limit (grid
#                          passes), their rising/setting brackets and the
#                          culminations worth refining, with f at the bracket ends
#   _refine_brackets       crossings and culminations refined together
#   _near_miss_passes      culminations outside every grid pass that clear the
#   _masked_peak_passes    limit (at the peak, or beside a high stretch of a mask)
#   _refine_new_passes     the rising and setting times of those new passes
#   _assemble              AOS/LOS, truncation, the culmination of each pass


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
    r, v, failures = _propagate_grid(ev, sat_rows, grid_s, jd_whole, jd_utc, theta, theta_dot)
    # Station-independent products, shared by every station.
    r_dot_r = np.einsum("ntk,ntk->nt", r, r)
    r_dot_v = np.einsum("ntk,ntk->nt", r, v)
    grid_parts: list[_GridPasses] = []
    crossing_parts: list[_CrossingBrackets] = []
    culmination_parts: list[_CulminationBrackets] = []
    n_grid_passes = 0
    for j in range(len(ev.stations)):
        station_passes, station_crossings, station_culminations = _station_brackets(
            ev, j, r, v, r_dot_r, r_dot_v, grid_s, n_grid_passes
        )
        grid_parts.append(station_passes)
        crossing_parts.append(station_crossings)
        culmination_parts.append(station_culminations)
        n_grid_passes += station_passes.sat.shape[0]
    del r, v, r_dot_r, r_dot_v
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
    ev: _Evaluator,
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
    err, r, v = SatrecArray([ev.satrecs[i] for i in sat_rows.tolist()]).sgp4(jd_whole, jd_utc)
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


def _station_brackets(
    ev: _Evaluator,
    j: int,
    r: FloatArray,
    v: FloatArray,
    r_dot_r: FloatArray,
    r_dot_v: FloatArray,
    grid_s: FloatArray,
    first_pass_id: int,
) -> tuple[_GridPasses, _CrossingBrackets, _CulminationBrackets]:
    """Station ``j``'s grid passes (ids from ``first_pass_id``), the brackets
    of their rising and setting edges, and the culminations worth refining.
    Satellites are chunk rows here."""
    n_t = grid_s.shape[0]
    lowest_limit_deg, _ = ev.stations[j].limit_range_deg()
    up_km, range2_km2, el_rising = _line_of_sight(ev, j, r, v, r_dot_r, r_dot_v)
    above = _above_limit(ev, j, r, v, up_km, range2_km2, lowest_limit_deg)
    rows, rise_k, set_k = _runs_above(above)
    del above
    k_rows, k, owner, inside = _culmination_candidates(
        el_rising, up_km, range2_km2, rows, rise_k, set_k, lowest_limit_deg
    )
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
    peak_s, peak_el, el_accel, el_jerk = _hermite_peak(
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


def _line_of_sight(
    ev: _Evaluator,
    j: int,
    r: FloatArray,
    v: FloatArray,
    r_dot_r: FloatArray,
    r_dot_v: FloatArray,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """At every grid sample, from station ``j``: the up component of the line
    of sight (km), the squared range (km^2), and whether the elevation rises.

    ``(n_sats, n_times)`` arrays, computed from projections of ``r`` and
    ``v`` on the station's up vector and position, without forming the
    ``(n_sats, n_times, 3)`` line of sight.
    """
    up, pos = ev.st_enu[j][2], ev.st_pos[j]
    basis = np.stack((up, pos), axis=1)  # (3, 2)
    r_up_pos = r @ basis  # (n, T, 2)
    v_up_pos = v @ basis
    up_km = r_up_pos[..., 0]
    up_km -= float(up @ pos)
    range2_km2 = r_dot_r - 2.0 * r_up_pos[..., 1]
    range2_km2 += float(pos @ pos)
    # d(sin el)/dt has the sign of ud |rho|^2 - u (rho . rho_dot).
    rho_dot_rho = r_dot_v - v_up_pos[..., 1]
    rho_dot_rho *= up_km
    el_rising = v_up_pos[..., 0] * range2_km2 > rho_dot_rho
    return up_km, range2_km2, el_rising


def _above_limit(
    ev: _Evaluator,
    j: int,
    r: FloatArray,
    v: FloatArray,
    up_km: FloatArray,
    range2_km2: FloatArray,
    lowest_limit_deg: float,
) -> BoolArray:
    """Grid samples above station ``j``'s limit: above its lowest limit
    (sin(el) > sin(limit), i.e. u > sin(limit) |rho|), then, at a masked
    station, above the mask at the sample's azimuth."""
    sin_lo = math.sin(math.radians(lowest_limit_deg))
    if sin_lo >= 0.0:
        above = (up_km > 0.0) & (up_km * up_km > (sin_lo * sin_lo) * range2_km2)
    else:
        above = up_km > sin_lo * np.sqrt(range2_km2)
    station = ev.stations[j]
    if station.has_mask:
        ci = np.nonzero(above)
        if ci[0].size:
            la = look_angles(r[ci], v[ci], ev.st_pos[j], ev.st_enu[j])
            above[ci] = la.elevation_deg > station.elevation_limit_deg(la.azimuth_deg)
    return above


def _runs_above(above: BoolArray) -> tuple[IntArray, IntArray, IntArray]:
    """Each run of samples above, in row-major order: its row, its first
    sample and one past its last."""
    padded = np.zeros((above.shape[0], above.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = above
    edges = np.diff(padded, axis=1)
    rows, rise_k = np.nonzero(edges == 1)
    _, set_k = np.nonzero(edges == -1)
    return rows, rise_k, set_k


def _culmination_candidates(
    el_rising: BoolArray,
    up_km: FloatArray,
    range2_km2: FloatArray,
    rows: IntArray,
    rise_k: IntArray,
    set_k: IntArray,
    lowest_limit_deg: float,
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Grid intervals ``(row, k)`` where the elevation rate turns from + to -,
    with the run above they fall in (``owner``, valid where ``inside``).

    Kept when inside a run, or when a grid sample beside it is within
    ``PREFILTER_MARGIN_DEG`` of the lowest limit (the Hermite test after
    this one is finer).
    """
    n_t = el_rising.shape[1]
    k_rows, k = np.nonzero(el_rising[:, :-1] & ~el_rising[:, 1:])
    flat = k_rows * n_t + k
    run_first = rows * n_t + rise_k - 1
    run_last = rows * n_t + set_k - 1
    owner = np.searchsorted(run_first, flat, side="right") - 1
    inside = owner >= 0
    inside[inside] = flat[inside] <= run_last[owner[inside]]
    sin_pre = math.sin(math.radians(lowest_limit_deg - PREFILTER_MARGIN_DEG))
    near = np.zeros(k_rows.shape, dtype=bool)
    for kk in (k, k + 1):
        near |= up_km[k_rows, kk] > sin_pre * np.sqrt(range2_km2[k_rows, kk])
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
    ev: _Evaluator,
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
    ev: _Evaluator,
    grid_s: FloatArray,
    crossings: _CrossingBrackets,
    culminations: _CulminationBrackets,
) -> tuple[_RefinedCrossings, _RefinedCulminations]:
    """Refine every crossing and culmination bracket in one batch, starting
    from the Hermite estimates."""
    x_start, x_end = grid_s[crossings.k], grid_s[crossings.k + 1]
    x_s, x_d2 = _hermite_root(
        x_end - x_start,
        crossings.f_start,
        crossings.f_end,
        crossings.f_rate_start,
        crossings.f_rate_end,
    )
    nx, nc = crossings.k.shape[0], culminations.k.shape[0]
    t, el, az, f = _refine(
        ev,
        _Work(
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
    ev: _Evaluator,
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


def _refine_new_passes(ev: _Evaluator, new: _NewPassBrackets) -> _NewPasses:
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
    t, _, az, _ = _refine(
        ev,
        _Work(
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
    ev: _Evaluator,
    grid_s: FloatArray,
    grid: _GridPasses,
    crossings: _RefinedCrossings,
    culminations: _RefinedCulminations,
    new: _NewPasses,
) -> _Chunk:
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
    chunk = _Chunk(
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
