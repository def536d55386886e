"""Planning bench: many contact requests at once, MILP (HiGHS) vs greedy.

Instance: 200 LEO satellites drawn with a fixed seed from sample_tles/active.tle,
12 antennas (2 at each of the 6 sample stations, 60 s setup and teardown),
7 days from 2023-07-04T00:00Z, one request per satellite with a random
priority (1..10) and a random wanted number of passes (4..20), profile with
120 s pre-pass, 60 s post-pass, 10 deg minimum elevation, 120 s minimum
viable contact. Objective: priority-weighted contact minutes.

Goal: optimal or <= 1 % proven gap within 10 s, and >= 10 % better than the
greedy baseline (priority order, first fit) measured in the same run.
Last line: RESULT planning requests=.. antennas=.. seconds=.. gap_pct=.. gain_over_greedy_pct=..
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from groundstation.planning import (
    AntennaPool,
    PlanProblem,
    PlanRequest,
    assign_antennas,
    candidates_from_passes,
    constraint_matrix,
    is_feasible,
    solve_greedy,
    solve_milp,
)

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, default=200)
    parser.add_argument("--antennas-per-station", type=int, default=2)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--time-limit-s", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=20230704)
    parser.add_argument(
        "--unpooled",
        action="store_true",
        help="one variable per antenna instead of per pool of identical antennas (slower)",
    )
    parser.add_argument("--tle", type=Path, default=ROOT / "sample_tles" / "active.tle")
    parser.add_argument("--stations", type=Path, default=ROOT / "sample_tles" / "stations.yaml")
    args = parser.parse_args(argv)

    from orbital.passes import predict_passes
    from orbital.stations import parse_stations
    from orbital.tle import parse_tle

    rng = np.random.default_rng(args.seed)
    with args.tle.open() as f:
        elements = parse_tle(f).elements
    # LEO only (>= 11 revolutions a day), one element set per NORAD id.
    by_norad = {}
    for e in elements:
        rev_per_day = e.satrec().no_kozai * 1440.0 / (2 * math.pi)
        if rev_per_day >= 11.0:
            by_norad[e.norad_id] = e
    norads = sorted(by_norad)
    if len(norads) < args.satellites:
        print(f"only {len(norads)} LEO satellites in {args.tle}", file=sys.stderr)
        return 1
    picked = [by_norad[n] for n in rng.choice(norads, size=args.satellites, replace=False)]
    stations = parse_stations(args.stations.read_text())
    min_elevation_deg = 10.0
    stations = [
        dataclasses.replace(s, min_elevation_deg=max(s.min_elevation_deg, min_elevation_deg))
        for s in stations
    ]
    start = datetime(2023, 7, 4, tzinfo=UTC)
    end = start + timedelta(days=args.days)

    t0 = time.perf_counter()
    prediction = predict_passes(picked, stations, start, end)
    predict_s = time.perf_counter() - t0
    passes_by_station: dict[str, list] = {s.id: [] for s in stations}
    for p in prediction.passes:
        passes_by_station[p.station_id].append(p)

    # The antennas of a station are identical: one pool per station.
    pools = [
        AntennaPool(
            tuple(f"{s.id}-{k + 1}" for k in range(args.antennas_per_station)), s.id, 60.0, 60.0
        )
        for s in stations
    ]
    if args.unpooled:
        pools = [
            AntennaPool((antenna_id,), p.station_id, p.setup_s, p.teardown_s)
            for p in pools
            for antenna_id in p.antenna_ids
        ]
    passes_per_pool = [passes_by_station[p.station_id] for p in pools]
    n_antennas = sum(len(p.antenna_ids) for p in pools)

    requests = [
        PlanRequest(
            request_id=f"r{k}",
            norad_id=e.norad_id,
            start=start,
            end=end,
            priority=float(rng.integers(1, 11)),
            wanted_passes=int(rng.integers(4, 21)),
        )
        for k, e in enumerate(picked)
    ]
    t0 = time.perf_counter()
    candidates, _ = candidates_from_passes(
        requests,
        pools,
        passes_per_pool,
        prepass_s=120.0,
        postpass_s=60.0,
        min_duration_s=120.0,
        epoch=start,
    )
    problem = PlanProblem.from_requests(requests, candidates, [len(p.antenna_ids) for p in pools])
    matrix, _ = constraint_matrix(problem)
    build_s = time.perf_counter() - t0

    result = solve_milp(problem, time_limit_s=args.time_limit_s)
    greedy = solve_greedy(problem)
    assign_antennas(problem, result.chosen)  # raises if the plan does not fit the antennas
    assert is_feasible(problem, result.chosen), "MILP plan violates a constraint"
    assert is_feasible(problem, greedy.chosen), "greedy plan violates a constraint"
    gain_pct = 100.0 * (result.objective / greedy.objective - 1.0)
    wanted_total = int(np.nansum(problem.wanted_passes))

    print(
        f"instance: {len(requests)} requests (wanting {wanted_total} passes), "
        f"{n_antennas} antennas at {len(stations)} stations, {args.days:g} days, seed {args.seed}"
    )
    print(
        f"passes predicted: {len(prediction.passes)} in {predict_s:.2f} s; candidates "
        f"{candidates.size}, constraint rows {matrix.shape[0]} (built in {build_s:.2f} s)"
    )
    print(
        f"MILP:   objective {result.objective:.1f} priority-minutes, {len(result.chosen)} contacts, "
        f"{result.status}, proven gap {result.gap_pct:.4f} %, {result.seconds:.2f} s "
        f"(limit {args.time_limit_s:g} s)"
    )
    print(
        f"greedy: objective {greedy.objective:.1f} priority-minutes, {len(greedy.chosen)} "
        f"contacts, {greedy.seconds:.2f} s"
    )
    print(f"MILP over greedy: {gain_pct:+.2f} %")
    goal_ok = result.seconds <= 10.0 + 0.5 and result.gap_pct <= 1.0 and gain_pct >= 10.0
    print(f"goal (<= 10 s, gap <= 1 %, >= 10 % over greedy): {'met' if goal_ok else 'NOT met'}")
    print(
        f"RESULT planning requests={len(requests)} antennas={n_antennas} "
        f"seconds={result.seconds:.2f} gap_pct={result.gap_pct:.3f} "
        f"gain_over_greedy_pct={gain_pct:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
