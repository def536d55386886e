from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from groundstation.errors import ValidationError
from groundstation.planning import (
    Candidates,
    PlanProblem,
    PlanRequest,
    assign_antennas,
    constraint_matrix,
    is_feasible,
    solve_greedy,
    solve_milp,
)


def _problem(
    rows: list[tuple[int, int, int, float, float]],
    priority: list[float],
    wanted_passes: list[float],
    wanted_minutes: list[float] | None = None,
    pad_s: float = 60.0,
    capacity: list[int] | None = None,
) -> PlanProblem:
    """rows: (request, pool, satellite, aos_s, los_s)."""
    a = np.array(rows, dtype=float)
    cands = Candidates(
        request=a[:, 0].astype(np.int64),
        pool=a[:, 1].astype(np.int64),
        satellite=a[:, 2].astype(np.int64),
        blocked_start_s=a[:, 3] - pad_s,
        blocked_end_s=a[:, 4] + pad_s,
        vis_start_s=a[:, 3],
        vis_end_s=a[:, 4],
    )
    n = len(priority)
    return PlanProblem(
        cands,
        np.array(priority, dtype=float),
        np.array(wanted_passes, dtype=float),
        np.array(wanted_minutes if wanted_minutes is not None else [np.nan] * n, dtype=float),
        np.array(capacity if capacity is not None else [1] * (int(a[:, 1].max()) + 1)),
    )


def _random_problem(seed: int, n_requests: int = 5, n_antennas: int = 2) -> PlanProblem:
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_requests):
        for _ in range(int(rng.integers(1, 4))):
            aos = float(rng.uniform(0, 7200))
            rows.append((q, int(rng.integers(0, n_antennas)), q, aos, aos + rng.uniform(120, 900)))
    wanted = [float(rng.integers(1, 3)) for _ in range(n_requests)]
    return _problem(rows, list(rng.uniform(1, 10, n_requests)), wanted)


def _brute_force_best(problem: PlanProblem) -> float:
    n = problem.candidates.size
    best = 0.0
    for bits in itertools.product([0, 1], repeat=n):
        chosen = np.flatnonzero(bits)
        if is_feasible(problem, chosen):
            best = max(best, problem.objective(chosen))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_milp_matches_brute_force_on_small_instances(seed: int) -> None:
    problem = _random_problem(seed)
    assert problem.candidates.size <= 14
    result = solve_milp(problem, time_limit_s=5)
    assert result.status == "optimal"
    assert is_feasible(problem, result.chosen)
    assert result.objective == pytest.approx(_brute_force_best(problem), rel=1e-6)


def test_milp_prefers_two_long_passes_to_one_first_fit_pass() -> None:
    # Request 0 (priority 2) wants one pass; its early pass on antenna 0 is
    # short and blocks request 1's long pass; its late pass is long and free.
    problem = _problem(
        [(0, 0, 0, 0.0, 300.0), (0, 0, 0, 5000.0, 5600.0), (1, 0, 1, 100.0, 900.0)],
        priority=[2.0, 1.0],
        wanted_passes=[1, 1],
    )
    greedy = solve_greedy(problem)
    best = solve_milp(problem)
    assert sorted(greedy.chosen.tolist()) == [0]
    assert sorted(best.chosen.tolist()) == [1, 2]
    assert best.objective == pytest.approx(2 * 10 + 1 * 800 / 60)


def test_setup_and_teardown_padding_makes_near_windows_conflict() -> None:
    rows = [(0, 0, 0, 0.0, 600.0), (1, 0, 1, 650.0, 1200.0)]
    padded = _problem(rows, [1.0, 1.0], [1, 1], pad_s=60.0)
    tight = _problem(rows, [1.0, 1.0], [1, 1], pad_s=10.0)
    assert len(solve_milp(padded).chosen) == 1
    assert len(solve_milp(tight).chosen) == 2


def test_one_satellite_is_not_booked_on_two_antennas_at_once() -> None:
    problem = _problem([(0, 0, 0, 0.0, 600.0), (0, 1, 0, 100.0, 700.0)], [1.0], [2])
    result = solve_milp(problem)
    assert len(result.chosen) == 1
    assert not is_feasible(problem, np.array([0, 1]))


def test_wanted_minutes_caps_a_request() -> None:
    problem = _problem(
        [(0, 0, 0, 0.0, 600.0), (0, 0, 0, 2000.0, 2600.0), (0, 0, 0, 4000.0, 4300.0)],
        [1.0],
        [np.nan],
        wanted_minutes=[15.0],
    )
    result = solve_milp(problem)
    assert problem.candidates.duration_min[result.chosen].sum() == pytest.approx(15.0)
    assert is_feasible(problem, result.chosen)


def test_clique_rows_forbid_every_overlapping_pair_on_an_antenna() -> None:
    problem = _random_problem(11, n_requests=8, n_antennas=1)
    matrix, ub = constraint_matrix(problem)
    dense = matrix.toarray()
    c = problem.candidates
    for i, j in itertools.combinations(range(c.size), 2):
        overlap = (
            c.blocked_start_s[i] < c.blocked_end_s[j] and c.blocked_start_s[j] < c.blocked_end_s[i]
        )
        x = np.zeros(c.size)
        x[[i, j]] = 1
        if overlap:
            assert np.any(dense @ x > ub + 1e-9)


def test_milp_beats_or_equals_greedy_and_both_are_feasible() -> None:
    problem = _random_problem(3, n_requests=30, n_antennas=3)
    best, greedy = solve_milp(problem), solve_greedy(problem)
    assert is_feasible(problem, best.chosen) and is_feasible(problem, greedy.chosen)
    assert best.objective >= greedy.objective - 1e-9
    assert best.gap_pct <= 0.01


def test_a_request_needs_exactly_one_kind_of_want() -> None:
    t = datetime(2023, 7, 4, tzinfo=UTC)
    with pytest.raises(ValidationError, match="exactly one"):
        PlanRequest("r1", 25544, t, t, 1.0, wanted_passes=2, wanted_minutes=10.0)


def test_a_pool_of_two_antennas_takes_two_overlapping_windows_but_not_three() -> None:
    rows = [(0, 0, 0, 0.0, 600.0), (1, 0, 1, 100.0, 700.0), (2, 0, 2, 200.0, 800.0)]
    problem = _problem(rows, [3.0, 2.0, 1.0], [1, 1, 1], capacity=[2])
    result = solve_milp(problem)
    assert sorted(result.chosen.tolist()) == [0, 1]
    assert sorted(assign_antennas(problem, result.chosen).tolist()) == [0, 1]
    assert not is_feasible(problem, np.array([0, 1, 2]))


def test_greedy_first_fit_uses_the_second_antenna_of_a_pool() -> None:
    rows = [(0, 0, 0, 0.0, 600.0), (1, 0, 1, 100.0, 700.0)]
    problem = _problem(rows, [2.0, 1.0], [1, 1], capacity=[2])
    assert sorted(solve_greedy(problem).chosen.tolist()) == [0, 1]


def test_pooled_milp_equals_brute_force_with_capacity_two() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for q in range(6):
        for _ in range(2):
            aos = float(rng.uniform(0, 3000))
            rows.append((q, 0, q, aos, aos + rng.uniform(300, 900)))
    problem = _problem(rows, list(rng.uniform(1, 10, 6)), [1] * 6, capacity=[2])
    result = solve_milp(problem)
    assert is_feasible(problem, result.chosen)
    assert result.objective == pytest.approx(_brute_force_best(problem), rel=1e-6)
