"""Refinement of pass events: brackets in, times and look angles out.

The grid search (``orbital.pass_search``) hands over brackets ``[lo, hi]``
of two kinds, for any mix of satellites and stations: zeros of
``f = elevation - limit(azimuth)`` (rising and setting) and culminations
(zeros of the elevation rate). :class:`Evaluator` gives look angles, f and
its rate at arbitrary (satellite, station, time) triples, interpolating
between the grid's states where SGP4 allows it; :func:`refine` takes
safeguarded Newton steps on all brackets at once. The cubic Hermite helpers
give the first guesses from the grid values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sgp4.api import Satrec

from orbital.geometry import (
    LookAngles,
    elevation_acceleration_deg_s2,
    look_angles,
    station_arrays,
    teme_to_itrs,
)
from orbital.grid_kernels import hermite5_state
from orbital.stations import Station
from orbital.timescale import Epoch

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Refinement stops when the next step would move a crossing (culmination) by less.
CROSSING_TOLERANCE_S = 0.05
CULMINATION_TOLERANCE_S = 0.05
MAX_ITERATIONS = 40
#: Largest Newton correction applied without evaluating at its end point.
MAX_CORRECTION_S = 5.0
#: Largest first-order elevation correction applied at a culmination.
PEAK_ELEVATION_TOLERANCE_DEG = 0.002


# --- cubic Hermite helpers (interval [0, h], values y, derivatives d) -------


def _hermite_coeffs(
    h: FloatArray, y0: FloatArray, y1: FloatArray, d0: FloatArray, d1: FloatArray
) -> tuple[FloatArray, FloatArray]:
    slope = (y1 - y0) / h
    c2 = (3.0 * slope - 2.0 * d0 - d1) / h
    c3 = (d0 + d1 - 2.0 * slope) / (h * h)
    return c2, c3


def hermite_peak(
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


def hermite_root(
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


class Evaluator:
    """Look angles and f at (satellite, station, time) triples of one search:
    satellites index ``satrecs``, stations ``stations``, times are seconds
    after ``epoch``."""

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
class Brackets:
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


@dataclass
class _Refined:
    """Outputs of :func:`refine`, one slot per bracket (NaN until set)."""

    t_s: FloatArray
    elevation_deg: FloatArray
    azimuth_deg: FloatArray
    f_deg: FloatArray

    @classmethod
    def empty(cls, m: int) -> _Refined:
        return cls(np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan))


def _sorted_by_satellite(w: Brackets, order: IntArray) -> Brackets:
    """A private copy of ``w`` in ``order``; its lo, hi and t0 are updated in place."""
    return Brackets(
        sat=w.sat[order],
        st=w.st[order],
        kind=w.kind[order],
        lo=w.lo[order].copy(),
        hi=w.hi[order].copy(),
        t0=w.t0[order].copy(),
        rising=w.rising[order],
        d1=w.d1[order],
        d2=w.d2[order],
    )


def _narrow_brackets(
    w: Brackets, active: IntArray, ta: FloatArray, g: FloatArray, is_peak: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Move the side of each active bracket that ``g`` at ``ta`` shows is past; returns it."""
    on_lo_side = np.where(is_peak, g > 0, (g < 0) == w.rising[active])
    a = np.where(on_lo_side, ta, w.lo[active])
    b = np.where(on_lo_side, w.hi[active], ta)
    w.lo[active], w.hi[active] = a, b
    return a, b


def _newton_step(
    w: Brackets,
    active: IntArray,
    g: FloatArray,
    is_peak: BoolArray,
    f_rate: FloatArray,
    eldd: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Newton's step on ``g`` and the estimate of the error left after it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_d = np.where(eldd < 0, eldd, w.d1[active])
        deriv = np.where(is_peak, peak_d, f_rate)
        step = -g / deriv
        # Newton's error estimate, with a safety factor of 4 for the estimated g''.
        predicted_error = 2.0 * np.abs(w.d2[active] / deriv) * step * step
    return step, predicted_error


def _refine_round(
    ev: Evaluator, w: Brackets, active: IntArray, tol_all: FloatArray, out: _Refined
) -> BoolArray:
    """One Newton round on the ``active`` brackets: writes their outputs to ``out``,
    their next guesses to ``w.t0``, and returns which of them are finished."""
    ta = w.t0[active]
    is_peak = w.kind[active] == 1
    la, f, f_rate, eldd = ev.evaluate(w.sat[active], w.st[active], ta, is_peak)
    eld = la.elevation_rate_deg_s
    g = np.where(is_peak, eld, f)
    a, b = _narrow_brackets(w, active, ta, g, is_peak)
    step, predicted_error = _newton_step(w, active, g, is_peak, f_rate, eldd)
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
    out.t_s[active] = ta + dt
    out.azimuth_deg[active] = (la.azimuth_deg + la.azimuth_rate_deg_s * dt) % 360.0
    out.elevation_deg[active] = la.elevation_deg + np.where(is_peak, 0.5, 1.0) * eld * dt
    out.f_deg[active] = f + f_rate * dt
    w.t0[active] = np.where(inside, nxt, 0.5 * (a + b))
    return finished | (b - a < tol)


def refine(ev: Evaluator, w: Brackets) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Refine every bracket; returns ``(t_s, elevation_deg, azimuth_deg, f_deg)``.

    Each round evaluates SGP4 at the current guesses and takes a Newton
    step (for culminations on the elevation rate, with its analytic
    derivative), kept inside the bracket. Newton's error after a step of size ``dt`` is about
    ``|g''| / (2 |g'|) dt^2``; when that is below the tolerance and ``dt``
    is small, the step is applied to the outputs to first order (time,
    azimuth, elevation) instead of being evaluated again.
    """
    order = np.argsort(w.sat, kind="stable")
    work = _sorted_by_satellite(w, order)
    m = work.sat.shape[0]
    out = _Refined.empty(m)
    tol_all = np.where(work.kind == 1, CULMINATION_TOLERANCE_S, CROSSING_TOLERANCE_S)
    active = np.arange(m)
    for _ in range(MAX_ITERATIONS):
        if active.size == 0:
            break
        finished = _refine_round(ev, work, active, tol_all, out)
        active = active[~finished]
    back = np.empty(m, dtype=np.int64)
    back[order] = np.arange(m)
    return out.t_s[back], out.elevation_deg[back], out.azimuth_deg[back], out.f_deg[back]
