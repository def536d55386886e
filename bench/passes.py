"""Benchmark: catalogue-scale pass prediction against a loop of skyfield find_events.

Catalogue sample (real TLEs, 2023-07-04) x the sample stations x N days.
Measured in the same run, interleaved (round i: ours, bare propagation, ours
with --workers processes, then the skyfield loop while i < --skyfield-repeat):
  * our predict_passes on the whole sample, in one process (--repeat runs);
  * the bare SatrecArray propagation of the same coarse grids;
  * predict_passes(workers=--workers) on the whole sample;
  * skyfield's EarthSatellite.find_events for every (satellite, station) pair of a
    random subset of --skyfield-sats satellites (200: ~10 s per run on a quiet
    core, large enough that the mix of LEO, MEO and GEO orbits in it is that of
    the sample), and our predict_passes on that same subset, timed just before it;
  * matched_pct: the share of skyfield's passes in that subset that we report with
    AOS and LOS both within 1 s.
The speed-up is given two ways: skyfield's subset time scaled to the whole
sample over our whole-sample time (``speedup``), and on the same subset
(``speedup_same_sats``); each as the median and the extremes over the runs
(min: the fastest skyfield run over our slowest; max: the reverse). Load averages
at the start and the end are printed: the machine may be shared.
Stations use their minimum elevation without the horizon mask for the comparison
(find_events takes one altitude); the masked run is timed and printed too.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
from sgp4.api import Satrec, SatrecArray
from skyfield.api import EarthSatellite, load, wgs84

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbital.elements import ElementSet  # noqa: E402
from orbital.passes import PassPrediction, coarse_grids, predict_passes  # noqa: E402
from orbital.stations import Station, parse_stations  # noqa: E402
from orbital.timescale import Epoch  # noqa: E402
from orbital.tle import parse_tle  # noqa: E402

START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)
T = TypeVar("T")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def spread(reference_s: list[float], ours_s: list[float]) -> tuple[float, float, float]:
    """(min, median, max) of reference / ours: the median of each over the
    median of the other, and the extremes pairing the slowest with the fastest."""
    return (
        min(reference_s) / max(ours_s),
        statistics.median(reference_s) / statistics.median(ours_s),
        max(reference_s) / min(ours_s),
    )


def fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def skyfield_loop(
    subset: list[ElementSet], plain: list[Station], end: datetime
) -> list[tuple[int, str, datetime, datetime]]:
    """Every pass of every (satellite, station) pair by find_events."""
    ts = load.timescale(builtin=True)
    t_start, t_end = ts.from_datetime(START), ts.from_datetime(end)
    sky_passes: list[tuple[int, str, datetime, datetime]] = []
    for e in subset:
        sat = EarthSatellite(e.line1, e.line2, e.name, ts)
        for st in plain:
            topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
            times, events = sat.find_events(
                topos, t_start, t_end, altitude_degrees=st.min_elevation_deg
            )
            up = (sat - topos).at(t_start).altaz()[0].degrees > st.min_elevation_deg
            aos = START if up else None
            for t, ev in zip(times.utc_datetime(), events, strict=True):
                if ev == 0:
                    aos = t
                elif ev == 2 and aos is not None:
                    sky_passes.append((e.norad_id, st.id, aos, t))
                    aos = None
            if aos is not None:
                sky_passes.append((e.norad_id, st.id, aos, end))
    return sky_passes


def bare_propagation(satrecs: Sequence[Satrec], end: datetime) -> int:
    """SatrecArray over the search's coarse grids, nothing else; returns the states."""
    epoch = Epoch(START, (end - START).total_seconds() + 2)
    samples = 0
    for members, grid in coarse_grids(satrecs, epoch.offset_of(end)):
        jd = epoch.julian(grid)
        per_chunk = max(1, 1_000_000 // grid.shape[0])
        for c in range(0, members.shape[0], per_chunk):
            rows = members[c : c + per_chunk].tolist()
            SatrecArray([satrecs[i] for i in rows]).sgp4(jd.whole, jd.utc_fraction)
            samples += len(rows) * grid.shape[0]
    return samples


def matched(
    result: PassPrediction, sky_passes: list[tuple[int, str, datetime, datetime]]
) -> tuple[int, int]:
    """(skyfield passes we report with AOS and LOS within 1 s, our passes)."""
    ours_by_key: dict[tuple[int, str], list[tuple[datetime, datetime]]] = {}
    for p in result.passes:
        ours_by_key.setdefault((p.norad_id, p.station_id), []).append((p.aos, p.los))
    hits = 0
    for norad, sid, aos, los in sky_passes:
        cands = ours_by_key.get((norad, sid), [])
        if any(
            abs((a - aos).total_seconds()) <= 1.0 and abs((b - los).total_seconds()) <= 1.0
            for a, b in cands
        ):
            hits += 1
    return hits, len(result.passes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--skyfield-sats", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skyfield-repeat", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    load_start = os.getloadavg()
    catalogue = parse_tle((ROOT / "sample_tles" / "active.tle").read_text().splitlines())
    rng = random.Random(args.seed)
    sample = rng.sample(catalogue.elements, args.sats)
    subset = random.Random(args.seed + 1).sample(sample, min(args.skyfield_sats, len(sample)))
    stations = parse_stations((ROOT / "sample_tles" / "stations.yaml").read_text())
    plain = [s.with_min_elevation(s.min_elevation_deg) for s in stations]
    end = START + timedelta(days=args.days)
    satrecs = [e.satrec() for e in sample]
    print(
        f"catalogue sample: {len(sample)} of {len(catalogue.elements)} satellites, "
        f"{len(plain)} stations, {args.days:g} days from {START.isoformat()}; "
        f"skyfield subset {len(subset)} satellites; {os.cpu_count()} CPUs, "
        f"load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}"
    )
    if args.workers > 1:  # start the process pool's server outside the timings
        predict_passes(sample[:2], plain, START, START + timedelta(hours=1), workers=2)

    ours: list[float] = []
    ours_cpu: list[float] = []
    bare: list[float] = []
    bare_cpu: list[float] = []
    multi: list[float] = []
    ours_subset: list[float] = []
    sky: list[float] = []
    sky_cpu: list[float] = []
    result = subset_result = None
    sky_passes: list[tuple[int, str, datetime, datetime]] = []
    samples = 0
    for i in range(max(args.repeat, args.skyfield_repeat)):
        if i < args.repeat:
            result, wall, cpu = timed(lambda: predict_passes(sample, plain, START, end))
            ours.append(wall)
            ours_cpu.append(cpu)
            samples, wall, cpu = timed(lambda: bare_propagation(satrecs, end))
            bare.append(wall)
            bare_cpu.append(cpu)
            if args.workers > 1:
                _, wall, _ = timed(
                    lambda: predict_passes(sample, plain, START, end, workers=args.workers)
                )
                multi.append(wall)
        if i < args.skyfield_repeat:
            subset_result, wall, _ = timed(lambda: predict_passes(subset, plain, START, end))
            ours_subset.append(wall)
            sky_passes, wall, cpu = timed(lambda: skyfield_loop(subset, plain, end))
            sky.append(wall)
            sky_cpu.append(cpu)
        print(f"  round {i + 1} done, load average {os.getloadavg()[0]:.1f}", flush=True)
    assert result is not None and subset_result is not None
    rss_after_ours = peak_rss_mb()
    n_passes = len(result.table)
    objects, to_objects_s, _ = timed(lambda: result.passes)
    masked, masked_s, _ = timed(lambda: predict_passes(sample, stations, START, end))
    load_end = os.getloadavg()

    scale = len(sample) / len(subset)
    sky_scaled = [t * scale for t in sky]
    speed = spread(sky_scaled, ours)
    speed_same = spread(sky, ours_subset)
    speed_cpu = spread([t * scale for t in sky_cpu], ours_cpu)
    speed_multi = spread(sky_scaled, multi) if multi else (0.0, 0.0, 0.0)
    ratio = statistics.median(ours) / statistics.median(bare)
    ratio_cpu = statistics.median(ours_cpu) / statistics.median(bare_cpu)
    hits, ours_in_subset = matched(subset_result, sky_passes)
    matched_pct = 100.0 * hits / max(1, len(sky_passes))
    print(f"ours, one process: {fmt(ours)}; CPU {fmt(ours_cpu)}")
    print(f"  {n_passes} passes ({len(result.failures)} failed satellites)")
    print(f"  building {len(objects)} Pass objects from the table: {to_objects_s:.2f} s extra")
    print(f"  with horizon masks: {masked_s:.2f} s, {len(masked.table)} passes")
    if multi:
        print(f"ours, workers={args.workers}: {fmt(multi)}")
    print(
        f"bare SatrecArray propagation of the coarse grids: {fmt(bare)}; CPU {fmt(bare_cpu)} "
        f"({samples} states)"
    )
    print(f"ours on the {len(subset)}-satellite subset: {fmt(ours_subset)}")
    print(
        f"skyfield find_events loop, {len(subset)} satellites x {len(plain)} stations: "
        f"{fmt(sky)}; CPU {fmt(sky_cpu)}; x{scale:.2f} for {len(sample)}: {fmt(sky_scaled)}"
    )
    print(
        f"skyfield passes in the subset: {len(sky_passes)}; ours: {ours_in_subset}; "
        f"matched within 1 s: {hits} ({matched_pct:.2f} %)"
    )

    def show(name: str, s: tuple[float, float, float]) -> str:
        return f"{name}: {s[1]:.1f}x (min {s[0]:.1f}, max {s[2]:.1f})"

    print(show("speedup over the skyfield loop, one process (goal >= 30x)", speed))
    print(show("  same on the subset's satellites", speed_same))
    print(show("  same in CPU seconds", speed_cpu))
    if multi:
        print(show(f"  with workers={args.workers}", speed_multi))
    print(f"search / bare propagation: {ratio:.2f}; in CPU seconds {ratio_cpu:.2f}")
    print(f"peak RSS after our runs: {rss_after_ours:.0f} MB (goal < 2048 MB)")
    print(f"load average at the end: {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f}")
    print(
        f"RESULT passes sats={len(sample)} stations={len(plain)} days={args.days:g} "
        f"seconds={statistics.median(ours):.3f} seconds_min={min(ours):.3f} "
        f"seconds_max={max(ours):.3f} skyfield_sats={len(subset)} "
        f"skyfield_seconds={statistics.median(sky_scaled):.1f} "
        f"speedup={speed[1]:.1f} speedup_min={speed[0]:.1f} speedup_max={speed[2]:.1f} "
        f"speedup_same_sats={speed_same[1]:.1f} speedup_cpu={speed_cpu[1]:.1f} "
        f"workers={args.workers} speedup_workers={speed_multi[1]:.1f} "
        f"bare_propagation_ratio={ratio:.2f} bare_propagation_ratio_cpu={ratio_cpu:.2f} "
        f"peak_rss_mb={rss_after_ours:.0f} "
        f"matched_pct={matched_pct:.2f} load_start={load_start[0]:.1f} load_end={load_end[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
