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

This module holds the public side (the grid steps, the checks of the
request, the tables); step 2 and the assembly of passes are in
``orbital.pass_search``, step 3 in ``orbital.pass_refinement``.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sgp4.api import SGP4_ERRORS, Satrec

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.oem import OUTSIDE_SPAN_ERROR
from orbital.pass_refinement import Evaluator
from orbital.pass_search import ChunkPasses, search_chunk
from orbital.stations import Station
from orbital.timescale import Epoch, require_aware_utc

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

EARTH_ROTATION_RAD_S = 7.2921150e-5

#: Grid samples per relative revolution (at perigee speed); see coarse_step_s.
SAMPLES_PER_REVOLUTION = 20
#: Element sets further than this from their epoch produce a warning.
EPOCH_WARNING_DAYS = 14.0
MIN_STEP_S = 10.0
MAX_STEP_S = 3600.0


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


def coarse_grids(
    satrecs: Sequence[Satrec],
    duration_s: float,
    spans_s: Sequence[tuple[float, float] | None] | None = None,
) -> list[tuple[IntArray, FloatArray]]:
    """The search's coarse grids: ``[(satellite indices, grid offsets in s), ...]``.

    Satellites share a grid when their (quantized) :func:`coarse_step_s` is
    the same; each grid spans ``[0, duration_s]`` inclusive. A satellite with
    a span in ``spans_s`` (an OEM: the part of the range it covers) gets a
    grid of its own over that span only.
    """
    spans = list(spans_s) if spans_s is not None else [None] * len(satrecs)
    steps = np.array(
        [_quantize_step(coarse_step_s(float(s.no_kozai), float(s.ecco))) for s in satrecs]
    )
    shared = np.array([span is None for span in spans], dtype=bool)
    out = []
    for step in np.unique(steps[shared]).tolist():
        members = np.flatnonzero((steps == step) & shared)
        n_steps = max(2, math.ceil(duration_s / step))
        out.append((members.astype(np.int64), np.linspace(0.0, duration_s, n_steps + 1)))
    for i, span in enumerate(spans):
        if span is not None and span[1] - span[0] >= _MIN_SPAN_S:
            n_steps = max(2, math.ceil((span[1] - span[0]) / steps[i]))
            out.append((np.array([i], dtype=np.int64), np.linspace(span[0], span[1], n_steps + 1)))
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
    workers: int = 1,
) -> PassPrediction:
    """Every pass of ``elements`` over ``stations`` between ``start`` and ``end``.

    ``min_elevation_deg``, when given, replaces every station's minimum
    elevation and horizon mask. Passes in progress at ``start`` or ``end``
    are clipped to the range and flagged ``truncated``; an object visible
    the whole time gives one truncated pass spanning the range. Satellites
    SGP4 cannot propagate are listed in ``failures`` with SGP4's error and
    never stop the batch; element sets far from their epoch get a warning
    with the age in days. ``max_chunk_samples`` bounds satellites x grid
    times held in memory at once (per worker).

    ``workers`` > 1 splits the satellites between that many processes
    (sgp4's C++ holds the GIL, so threads would not help); every
    satellite's passes are computed as in one process and the tables are
    merged into the same order.
    """
    if workers < 1:
        raise OrbitalError(f"workers {workers} must be at least 1")
    start, end, checked = _checked_request(start, end, stations, min_elevation_deg)
    if workers > 1 and len(elements) > 1:
        return _predict_in_processes(elements, checked, start, end, max_chunk_samples, workers)
    return _predict_here(elements, checked, start, end, max_chunk_samples)[0]


def _predict_here(
    elements: Sequence[ElementSet],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    max_chunk_samples: int,
) -> tuple[PassPrediction, list[int]]:
    """The search in this process (the request already checked); also returns
    the index in ``elements`` of each failure."""
    span_s = (end - start).total_seconds() + 2.0
    epoch = Epoch(start, span_s)
    duration_s = epoch.offset_of(end)
    warnings = _epoch_age_warnings(elements, start, end)
    result_failures: list[PropagationFailure] = []
    failed_rows: list[int] = []
    satrecs = [e.satrec() for e in elements]
    spans_s, span_warnings = _usable_spans(elements, epoch, duration_s)
    warnings.extend(span_warnings)
    ev = Evaluator(satrecs, stations, epoch)
    chunks: list[ChunkPasses] = []
    for members, grid in coarse_grids(satrecs, duration_s, spans_s):
        jd = epoch.julian(grid)
        theta, theta_dot = jd.gmst_rad()
        per_chunk = max(1, max_chunk_samples // grid.shape[0])
        for c in range(0, members.shape[0], per_chunk):
            rows = members[c : c + per_chunk]
            chunk, failures = search_chunk(
                ev, rows, grid, jd.whole, jd.utc_fraction, theta, theta_dot
            )
            ev.clear_grid()
            chunks.append(chunk)
            for sat_index, code, k in failures:
                failed_rows.append(sat_index)
                result_failures.append(
                    _propagation_failure(elements[sat_index], code, epoch, float(grid[k]))
                )
    table = _table(chunks, epoch, elements, stations)
    prediction = PassPrediction(table=table, failures=result_failures, warnings=warnings)
    return prediction, failed_rows


def _predict_in_processes(
    elements: Sequence[ElementSet],
    stations: Sequence[Station],
    start: datetime,
    end: datetime,
    max_chunk_samples: int,
    workers: int,
) -> PassPrediction:
    """:func:`_predict_here` with the satellites split between ``workers``
    processes, balanced by grid samples; the results are merged into the
    order one process gives them."""
    epoch = Epoch(start, (end - start).total_seconds() + 2.0)
    duration_s = epoch.offset_of(end)
    satrecs = [e.satrec() for e in elements]
    shares = _balanced_shares(satrecs, duration_s, workers)
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=len(shares), mp_context=ctx) as pool:
        futures = [
            pool.submit(
                _predict_here,
                [elements[i] for i in share.tolist()],
                stations,
                start,
                end,
                max_chunk_samples,
            )
            for share in shares
        ]
        parts = [f.result() for f in futures]
    table = _merged_tables([p.table for p, _ in parts], shares, epoch, elements, stations)
    spans_s, span_warnings = _usable_spans(elements, epoch, duration_s)
    # Failures in one process's order: grid by grid (coarse_grids'), then by satellite.
    rank = np.zeros(len(elements), dtype=np.int64)
    for g, (members, _) in enumerate(coarse_grids(satrecs, duration_s, spans_s)):
        rank[members] = g
    keyed = [
        (int(rank[share[row]]), int(share[row]), failure)
        for (part, rows), share in zip(parts, shares, strict=True)
        for row, failure in zip(rows, part.failures, strict=True)
    ]
    keyed.sort(key=lambda item: (item[0], item[1]))
    return PassPrediction(
        table=table,
        failures=[failure for _, _, failure in keyed],
        warnings=_epoch_age_warnings(elements, start, end) + span_warnings,
    )


def _balanced_shares(satrecs: Sequence[Satrec], duration_s: float, workers: int) -> list[IntArray]:
    """Satellite indices per worker (each sorted), largest grids first to
    the least loaded worker; empty shares are dropped."""
    cost = np.array(
        [
            duration_s / _quantize_step(coarse_step_s(float(s.no_kozai), float(s.ecco)))
            for s in satrecs
        ]
    )
    load = np.zeros(workers)
    owner = np.empty(len(satrecs), dtype=np.int64)
    for i in np.argsort(-cost, kind="stable").tolist():
        w = int(np.argmin(load))
        owner[i] = w
        load[w] += cost[i]
    shares = [np.flatnonzero(owner == w) for w in range(workers)]
    return [s.astype(np.int64) for s in shares if s.size]


def _merged_tables(
    tables: Sequence[PassTable],
    shares: Sequence[IntArray],
    epoch: Epoch,
    elements: Sequence[ElementSet],
    stations: Sequence[Station],
) -> PassTable:
    """One table from the workers' tables, satellite indices mapped back
    to ``elements`` and rows in :func:`_table`'s order."""
    sat = np.concatenate([share[t.sat_index] for t, share in zip(tables, shares, strict=True)])

    def cat(name: str) -> NDArray[np.generic]:
        return np.concatenate([getattr(t, name) for t in tables])

    st, aos = cat("station_index"), cat("aos_s")
    order = np.lexsort((st, sat, aos))
    return PassTable(
        epoch=epoch,
        elements=elements,
        stations=stations,
        sat_index=sat[order].astype(np.int64),
        station_index=st[order].astype(np.int64),
        aos_s=aos[order].astype(np.float64),
        tca_s=cat("tca_s")[order].astype(np.float64),
        los_s=cat("los_s")[order].astype(np.float64),
        max_elevation_deg=cat("max_elevation_deg")[order].astype(np.float64),
        aos_azimuth_deg=cat("aos_azimuth_deg")[order].astype(np.float64),
        tca_azimuth_deg=cat("tca_azimuth_deg")[order].astype(np.float64),
        los_azimuth_deg=cat("los_azimuth_deg")[order].astype(np.float64),
        truncated=cat("truncated")[order].astype(bool),
    )


def _checked_request(
    start: datetime,
    end: datetime,
    stations: Sequence[Station],
    min_elevation_deg: float | None,
) -> tuple[datetime, datetime, list[Station]]:
    """The request's range as aware UTC and its stations (with the override
    of their minimum elevation), or an OrbitalError naming the bad value."""
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
    return start, end, stations


#: Spans shorter than this are not searched (no pass fits in a second).
_MIN_SPAN_S = 1.0


def _usable_spans(
    elements: Sequence[ElementSet], epoch: Epoch, duration_s: float
) -> tuple[list[tuple[float, float] | None], list[str]]:
    """Per element set, the offsets of the range it covers (None: all of it,
    mean elements) and a warning for each that covers only part of the
    range; one covering none of it gets the empty span ``(0, 0)`` and is skipped."""
    spans: list[tuple[float, float] | None] = []
    warnings: list[str] = []
    for e in elements:
        usable = e.usable_span
        if usable is None:
            spans.append(None)
            continue
        lo = max(0.0, epoch.offset_of(usable[0]))
        hi = min(duration_s, epoch.offset_of(usable[1]))
        if lo <= 0.0 and hi >= duration_s:
            spans.append((0.0, duration_s))
            continue
        covered = f"{usable[0].isoformat()}..{usable[1].isoformat()}"
        if hi - lo < _MIN_SPAN_S:
            spans.append((0.0, 0.0))
            warnings.append(
                f"{_label(e)} ({e.norad_id}): its ephemeris covers {covered}, none of the "
                "requested range: no passes predicted; upload one covering it"
            )
        else:
            spans.append((lo, hi))
            warnings.append(
                f"{_label(e)} ({e.norad_id}): its ephemeris covers only {covered}; passes "
                "are predicted within it (clipped passes are flagged truncated)"
            )
    return spans, warnings


def _epoch_age_warnings(
    elements: Sequence[ElementSet], start: datetime, end: datetime
) -> list[str]:
    """One warning per element set used far from its epoch."""
    warnings: list[str] = []
    for e in elements:
        if e.usable_span is not None:
            continue  # an ephemeris with a span: used only inside it
        age = max(abs(e.age_days(start)), abs(e.age_days(end)))
        if age > EPOCH_WARNING_DAYS:
            warnings.append(
                f"{_label(e)} ({e.norad_id}): predicting up to {age:.1f} days from its "
                f"element epoch {e.epoch.isoformat()}; SGP4 errors grow with age, "
                "upload fresher elements"
            )
    return warnings


def _propagation_failure(e: ElementSet, code: int, epoch: Epoch, at_s: float) -> PropagationFailure:
    return PropagationFailure(
        norad_id=e.norad_id,
        satellite=_label(e),
        error_code=code,
        message=_error_message(e, code),
        at=epoch.to_datetime(at_s),
    )


def _error_message(e: ElementSet, code: int) -> str:
    usable = e.usable_span
    if code == OUTSIDE_SPAN_ERROR and usable is not None:
        return (
            f"outside the ephemeris's usable span {usable[0].isoformat()}.."
            f"{usable[1].isoformat()} (a gap between its segments)"
        )
    return SGP4_ERRORS.get(code, f"SGP4 error {code}")


def _table(
    chunks: list[ChunkPasses],
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
