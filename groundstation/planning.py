"""Planning many contact requests at once.

Given requests (satellite, time range, priority weight, wanted number of
passes or minutes), candidate windows on the antennas, and the existing
bookings, choose non-conflicting contacts maximizing priority-weighted
contact minutes.

``solve_milp`` states it as a 0/1 MILP solved by ``scipy.optimize.milp``
(HiGHS) with a time limit, and reports the objective and the proven gap.
``solve_greedy`` is the baseline: requests in priority order, each taking
its windows first-fit in time order on the first free antenna (as SatNOGS'
auto-scheduler does).

Identical antennas (same station, setup/teardown, passes, no prior
bookings) form a *pool* of capacity k. For interval graphs a set of windows
fits on k identical antennas exactly when no instant is covered by more
than k of them (interval graphs are perfect), so the MILP has one variable
per (request, pool, pass) rather than per antenna, with no symmetric
copies; ``assign_antennas`` then colours the chosen windows onto concrete
antennas. Constraints, for every candidate ``c`` with ``x_c`` in {0, 1}:

- pool: at every instant at most k chosen windows whose blocked intervals
  (pre/post-pass plus setup/teardown) cover it: one row per maximal clique
  of the interval graph (sum <= k), the tightest LP formulation;
- satellite: one satellite is not downlinked twice at once (maximal cliques
  of its AOS..LOS intervals, sum <= 1);
- request: at most ``wanted_passes`` windows, or at most ``wanted_minutes``
  minutes of contact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from groundstation.errors import ValidationError

if TYPE_CHECKING:
    from orbital.passes import Pass


@dataclass(frozen=True)
class PlanRequest:
    request_id: str
    norad_id: int
    start: datetime
    end: datetime
    priority: float
    wanted_passes: int | None = None
    wanted_minutes: float | None = None

    def __post_init__(self) -> None:
        if (self.wanted_passes is None) == (self.wanted_minutes is None):
            raise ValidationError(
                f"request {self.request_id}: give exactly one of wanted_passes "
                f"({self.wanted_passes}) and wanted_minutes ({self.wanted_minutes})"
            )
        if not self.priority > 0:
            raise ValidationError(f"request {self.request_id}: priority {self.priority} <= 0")
        if not self.start < self.end:
            raise ValidationError(
                f"request {self.request_id}: start {self.start.isoformat()} is not before "
                f"end {self.end.isoformat()}"
            )


@dataclass(frozen=True)
class Candidates:
    """Candidate windows as arrays, all of shape (n,).

    Times are seconds from any common epoch. ``blocked_*`` is the antenna
    occupancy (pre/post-pass plus setup/teardown), ``vis_*`` the AOS..LOS.
    """

    request: np.ndarray  # int, index into the requests
    pool: np.ndarray  # int, index into the antenna pools
    satellite: np.ndarray  # int, satellite index
    blocked_start_s: np.ndarray
    blocked_end_s: np.ndarray
    vis_start_s: np.ndarray
    vis_end_s: np.ndarray

    @property
    def size(self) -> int:
        return int(self.request.shape[0])

    @property
    def duration_min(self) -> np.ndarray:
        return (self.vis_end_s - self.vis_start_s) / 60.0


@dataclass(frozen=True)
class PlanProblem:
    """``priority``, ``wanted_passes`` and ``wanted_minutes`` are
    (n_requests,) arrays, a request's unused limit NaN; ``pool_capacity`` is
    (n_pools,), the number of identical antennas in each pool."""

    candidates: Candidates
    priority: np.ndarray
    wanted_passes: np.ndarray
    wanted_minutes: np.ndarray
    pool_capacity: np.ndarray

    @classmethod
    def from_requests(
        cls,
        requests: Sequence[PlanRequest],
        candidates: Candidates,
        pool_capacity: Sequence[int] | np.ndarray | None = None,
    ) -> PlanProblem:
        n_pools = int(candidates.pool.max()) + 1 if candidates.size else 0
        capacity = (
            np.ones(n_pools, dtype=np.int64)
            if pool_capacity is None
            else np.asarray(pool_capacity, dtype=np.int64)
        )
        return cls(
            candidates=candidates,
            priority=np.array([r.priority for r in requests], dtype=float),
            wanted_passes=np.array(
                [np.nan if r.wanted_passes is None else r.wanted_passes for r in requests],
                dtype=float,
            ),
            wanted_minutes=np.array(
                [np.nan if r.wanted_minutes is None else r.wanted_minutes for r in requests],
                dtype=float,
            ),
            pool_capacity=capacity,
        )

    def weights(self) -> np.ndarray:
        """Objective coefficient per candidate: priority x contact minutes."""
        c = self.candidates
        return self.priority[c.request] * c.duration_min

    def objective(self, chosen: np.ndarray) -> float:
        return float(self.weights()[chosen].sum())


@dataclass(frozen=True)
class PlanResult:
    chosen: np.ndarray  # int indices into the candidates
    objective: float
    gap_pct: float  # proven relative gap, 0 when optimal; NaN for greedy
    status: str
    seconds: float


def _interval_cliques(
    group: np.ndarray, start_s: np.ndarray, end_s: np.ndarray
) -> list[np.ndarray]:
    """Maximal cliques of the interval graph of each group (half-open
    intervals [start, end)); cliques of one element are dropped."""
    cliques: list[np.ndarray] = []
    if group.size == 0:
        return cliques
    order = np.lexsort((start_s, group))
    boundaries = np.flatnonzero(np.diff(group[order])) + 1
    for idx in np.split(order, boundaries):
        if idx.size < 2:
            continue
        # Sweep: events sorted by time, ends before starts at equal times.
        times = np.concatenate([start_s[idx], end_s[idx]])
        kinds = np.concatenate([np.ones(idx.size), np.zeros(idx.size)])  # 1 start, 0 end
        members = np.concatenate([idx, idx])
        active: set[int] = set()
        last_was_start = False
        for e in np.lexsort((kinds, times)):
            if kinds[e] == 1:
                active.add(int(members[e]))
                last_was_start = True
            else:
                if last_was_start and len(active) > 1:
                    cliques.append(np.fromiter(active, dtype=np.int64))
                active.discard(int(members[e]))
                last_was_start = False
    return cliques


#: One row of ``A x <= ub``: the candidates it holds, their coefficients, the bound.
_Row = tuple[np.ndarray, np.ndarray, float]


def constraint_matrix(problem: PlanProblem) -> tuple[sparse.csr_array, np.ndarray]:
    """Rows ``A x <= ub`` of the plan (see the module docstring): antenna
    pool capacity, one pass at a time per satellite, each request's wanted
    passes or minutes, in that order."""
    n = problem.candidates.size
    rows = [
        *_capacity_rows(problem),
        *_one_pass_per_satellite_rows(problem),
        *_request_rows(problem),
    ]
    if not rows:
        return sparse.csr_array((0, n)), np.zeros(0)
    matrix = sparse.csr_array(
        (
            np.concatenate([coef for _, coef, _ in rows]),
            (
                np.concatenate([np.full(idx.size, r) for r, (idx, _, _) in enumerate(rows)]),
                np.concatenate([idx for idx, _, _ in rows]),
            ),
        ),
        shape=(len(rows), n),
    )
    return matrix, np.asarray([bound for _, _, bound in rows])


def _capacity_rows(problem: PlanProblem) -> Iterator[_Row]:
    """Overlapping blocked windows on one pool: at most its antennas at once
    (cliques no larger than the pool need no row)."""
    c = problem.candidates
    for clique in _interval_cliques(c.pool, c.blocked_start_s, c.blocked_end_s):
        capacity = float(problem.pool_capacity[c.pool[clique[0]]])
        if clique.size > capacity:
            yield clique, np.ones(clique.size), capacity


def _one_pass_per_satellite_rows(problem: PlanProblem) -> Iterator[_Row]:
    """Overlapping visibility windows of one satellite: one contact at a time."""
    c = problem.candidates
    for clique in _interval_cliques(c.satellite, c.vis_start_s, c.vis_end_s):
        yield clique, np.ones(clique.size), 1.0


def _request_rows(problem: PlanProblem) -> Iterator[_Row]:
    """Each request's candidates: at most its wanted passes, or its wanted
    minutes (no row when all of them fit anyway)."""
    c = problem.candidates
    if not c.size:
        return
    dur = c.duration_min
    order = np.argsort(c.request, kind="stable")
    boundaries = np.flatnonzero(np.diff(c.request[order])) + 1
    for idx in np.split(order, boundaries):
        q = int(c.request[idx[0]])
        passes, minutes = problem.wanted_passes[q], problem.wanted_minutes[q]
        if not np.isnan(passes):
            if idx.size > passes:
                yield idx, np.ones(idx.size), float(passes)
        elif dur[idx].sum() > minutes:
            yield idx, dur[idx], float(minutes)


def solve_milp(
    problem: PlanProblem, *, time_limit_s: float = 10.0, rel_gap: float = 1e-4
) -> PlanResult:
    """Optimal plan (or the best found within ``time_limit_s``, with its
    proven gap). ``seconds`` includes building the constraint matrix."""
    t0 = time.perf_counter()
    n = problem.candidates.size
    if n == 0:
        return PlanResult(np.zeros(0, dtype=np.int64), 0.0, 0.0, "optimal", 0.0)
    weights = problem.weights()
    matrix, ub = constraint_matrix(problem)
    constraints = [LinearConstraint(matrix, -np.inf, ub)] if matrix.shape[0] else []
    remaining_s = max(0.1, time_limit_s - (time.perf_counter() - t0))
    res = milp(
        c=-weights,
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"time_limit": remaining_s, "mip_rel_gap": float(rel_gap)},
    )
    seconds = time.perf_counter() - t0
    if res.x is None:
        return PlanResult(np.zeros(0, dtype=np.int64), 0.0, float("inf"), str(res.message), seconds)
    chosen = np.flatnonzero(res.x > 0.5)
    gap = getattr(res, "mip_gap", None)
    gap_pct = 100.0 * float(gap) if gap is not None else float("nan")
    status = "optimal" if res.status == 0 else str(res.message)
    return PlanResult(chosen, problem.objective(chosen), gap_pct, status, seconds)


def solve_greedy(problem: PlanProblem) -> PlanResult:
    """Baseline: requests by descending priority; each takes its windows in
    time order (first fit) on the first antenna of the pool that is free,
    while the satellite is free and the request wants more."""
    t0 = time.perf_counter()
    c = problem.candidates
    dur = c.duration_min
    fit = _FirstFit(problem)
    chosen: list[int] = []
    by_request: dict[int, list[int]] = {}
    for i in np.argsort(c.vis_start_s, kind="stable"):
        by_request.setdefault(int(c.request[i]), []).append(int(i))
    for q in sorted(by_request, key=lambda q: (-problem.priority[q], q)):
        taken_passes, taken_min = 0, 0.0
        passes_cap, minutes_cap = problem.wanted_passes[q], problem.wanted_minutes[q]
        for i in by_request[q]:
            if not np.isnan(passes_cap) and taken_passes >= passes_cap:
                break
            if not np.isnan(minutes_cap) and taken_min + dur[i] > minutes_cap:
                continue
            if fit.take(i):
                chosen.append(i)
                taken_passes += 1
                taken_min += float(dur[i])
    idx = np.array(sorted(chosen), dtype=np.int64)
    return PlanResult(idx, problem.objective(idx), float("nan"), "greedy", time.perf_counter() - t0)


class _FirstFit:
    """The greedy baseline's bookkeeping: busy intervals per concrete
    antenna (pool, k) and per satellite."""

    def __init__(self, problem: PlanProblem) -> None:
        self.problem = problem
        self.antenna: dict[tuple[int, int], list[tuple[float, float]]] = {}
        self.satellite: dict[int, list[tuple[float, float]]] = {}

    def take(self, i: int) -> bool:
        """Candidate ``i`` on the first free antenna of its pool, if its
        satellite is free then; whether it was taken."""
        c = self.problem.candidates
        pool, sat = int(c.pool[i]), int(c.satellite[i])
        bs, be = float(c.blocked_start_s[i]), float(c.blocked_end_s[i])
        vs, ve = float(c.vis_start_s[i]), float(c.vis_end_s[i])
        sat_busy = self.satellite.setdefault(sat, [])
        if not _free(sat_busy, vs, ve):
            return False
        for k in range(int(self.problem.pool_capacity[pool])):
            ant_busy = self.antenna.setdefault((pool, k), [])
            if _free(ant_busy, bs, be):
                ant_busy.append((bs, be))
                sat_busy.append((vs, ve))
                return True
        return False


def _free(busy: list[tuple[float, float]], s: float, e: float) -> bool:
    return all(e <= bs or s >= be for bs, be in busy)


def assign_antennas(problem: PlanProblem, chosen: np.ndarray) -> np.ndarray:
    """Antenna slot (0..capacity-1 within its pool) for each chosen window:
    windows by start time onto the first free antenna, which never needs more
    than the pool's capacity when no instant is over-covered. Raises
    ``ValidationError`` if the windows do not fit."""
    c = problem.candidates
    chosen = np.asarray(chosen, dtype=np.int64)
    slots = np.full(chosen.size, -1, dtype=np.int64)
    free_at: dict[int, list[float]] = {}
    for j in np.argsort(c.blocked_start_s[chosen], kind="stable"):
        i = chosen[j]
        pool = int(c.pool[i])
        ends = free_at.setdefault(pool, [-np.inf] * int(problem.pool_capacity[pool]))
        for k, end in enumerate(ends):
            if end <= c.blocked_start_s[i]:
                ends[k] = float(c.blocked_end_s[i])
                slots[j] = k
                break
        else:
            raise ValidationError(
                f"window {i} does not fit on the {len(ends)} antennas of pool {pool}"
            )
    return slots


def is_feasible(problem: PlanProblem, chosen: np.ndarray) -> bool:
    """Whether ``chosen`` satisfies every constraint, checked directly
    (antenna assignment, pairwise satellite overlaps, request limits), not
    through the clique rows, so it also checks ``constraint_matrix``."""
    c = problem.candidates
    chosen = np.asarray(chosen, dtype=np.int64)
    try:
        assign_antennas(problem, chosen)
    except ValidationError:
        return False
    for g in np.unique(c.satellite[chosen]):
        idx = chosen[c.satellite[chosen] == g]
        order = idx[np.argsort(c.vis_start_s[idx])]
        if np.any(c.vis_start_s[order][1:] < c.vis_end_s[order][:-1]):
            return False
    for q in np.unique(c.request[chosen]):
        idx = chosen[c.request[chosen] == q]
        if not np.isnan(problem.wanted_passes[q]) and idx.size > problem.wanted_passes[q]:
            return False
        if not np.isnan(problem.wanted_minutes[q]) and (
            c.duration_min[idx].sum() > problem.wanted_minutes[q] + 1e-9
        ):
            return False
    return True


# ---------------------------------------------------------------- from passes


@dataclass(frozen=True)
class AntennaPool:
    """Identical antennas at one station: same setup/teardown and the same
    passes (band, minimum elevation), none with bookings in the plan range."""

    antenna_ids: tuple[str, ...]
    station_id: str
    setup_s: float
    teardown_s: float


@dataclass(frozen=True)
class CandidateWindow:
    request_index: int
    pool_index: int
    norad_id: int
    aos: datetime
    tca: datetime
    los: datetime
    max_elevation_deg: float


def candidates_from_passes(
    requests: Sequence[PlanRequest],
    pools: Sequence[AntennaPool],
    passes_per_pool: Sequence[Sequence[Pass]],
    *,
    prepass_s: float,
    postpass_s: float,
    min_duration_s: float,
    epoch: datetime,
    busy_per_pool: Sequence[Sequence[tuple[datetime, datetime]]] | None = None,
) -> tuple[Candidates, list[CandidateWindow]]:
    """Candidate windows: every pass of a requested satellite over a pool,
    inside the request's time range, at least ``min_duration_s`` long, whose
    blocked window does not overlap the pool's ``busy`` intervals (existing
    bookings, maintenance; give those antennas a pool of their own). Times
    become seconds from ``epoch``."""
    by_norad: dict[int, list[int]] = {}
    for q, r in enumerate(requests):
        by_norad.setdefault(r.norad_id, []).append(q)
    satellite_index = {norad: k for k, norad in enumerate(by_norad)}
    cols: list[tuple[int, int, int, float, float, float, float]] = []
    windows: list[CandidateWindow] = []
    for a, (pool, passes) in enumerate(zip(pools, passes_per_pool, strict=True)):
        busy = sorted(busy_per_pool[a]) if busy_per_pool is not None else []
        busy_s = [((s - epoch).total_seconds(), (e - epoch).total_seconds()) for s, e in busy]
        for p in passes:
            if p.duration_s < min_duration_s or p.norad_id not in by_norad:
                continue
            vs, ve = (p.aos - epoch).total_seconds(), (p.los - epoch).total_seconds()
            bs = vs - prepass_s - pool.setup_s
            be = ve + postpass_s + pool.teardown_s
            if any(s < be and bs < e for s, e in busy_s):
                continue
            for q in by_norad[p.norad_id]:
                r = requests[q]
                if p.aos < r.start or p.los > r.end:
                    continue
                cols.append((q, a, satellite_index[p.norad_id], bs, be, vs, ve))
                windows.append(
                    CandidateWindow(q, a, p.norad_id, p.aos, p.tca, p.los, p.max_elevation_deg)
                )
    arr = np.array(cols, dtype=float).reshape(-1, 7)
    candidates = Candidates(
        request=arr[:, 0].astype(np.int64),
        pool=arr[:, 1].astype(np.int64),
        satellite=arr[:, 2].astype(np.int64),
        blocked_start_s=arr[:, 3],
        blocked_end_s=arr[:, 4],
        vis_start_s=arr[:, 5],
        vis_end_s=arr[:, 6],
    )
    return candidates, windows
