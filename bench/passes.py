"""Benchmark: catalogue-scale pass prediction against a loop of skyfield find_events.

Catalogue sample (real TLEs, 2023-07-04) x the sample stations x N days.
Measured in the same run:
  * our predict_passes on the whole sample (best of --repeat runs);
  * the bare SatrecArray propagation of the same coarse grids (best of --repeat);
  * skyfield's EarthSatellite.find_events for every (satellite, station) pair of a
    random subset (--skyfield-sats), scaled up to the whole sample (best of --repeat);
  * matched_pct: the share of skyfield's passes in that subset that we report with
    AOS and LOS both within 1 s.
Stations use their minimum elevation without the horizon mask for the comparison
(find_events takes one altitude); the masked run is timed and printed too.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sgp4.api import SatrecArray
from skyfield.api import EarthSatellite, load, wgs84

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orbital.passes import coarse_grids, predict_passes  # noqa: E402
from orbital.stations import parse_stations  # noqa: E402
from orbital.timescale import Epoch  # noqa: E402
from orbital.tle import parse_tle  # noqa: E402

START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sats", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--skyfield-sats", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    catalogue = parse_tle((ROOT / "sample_tles" / "active.tle").read_text().splitlines())
    rng = random.Random(args.seed)
    sample = rng.sample(catalogue.elements, args.sats)
    stations = parse_stations((ROOT / "sample_tles" / "stations.yaml").read_text())
    plain = [s.with_min_elevation(s.min_elevation_deg) for s in stations]
    end = START + timedelta(days=args.days)
    print(
        f"catalogue sample: {len(sample)} of {len(catalogue.elements)} satellites, "
        f"{len(plain)} stations, {args.days:g} days from {START.isoformat()}"
    )

    # Ours.
    best = float("inf")
    result = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = predict_passes(sample, plain, START, end)
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    rss_after_ours = peak_rss_mb()
    n_passes = len(result.table)
    t0 = time.perf_counter()
    objects = result.passes
    to_objects_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    masked = predict_passes(sample, stations, START, end)
    masked_s = time.perf_counter() - t0
    print(f"ours: {best:.2f} s, {n_passes} passes ({len(result.failures)} failed satellites)")
    print(f"  building {len(objects)} Pass objects from the table: {to_objects_s:.2f} s extra")
    print(f"  with horizon masks: {masked_s:.2f} s, {len(masked.table)} passes")

    # Bare propagation of the same coarse grids.
    satrecs = [e.satrec() for e in sample]
    epoch = Epoch(START, (end - START).total_seconds() + 2)
    duration_s = epoch.offset_of(end)
    bare = float("inf")
    samples = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        samples = 0
        for members, grid in coarse_grids(satrecs, duration_s):
            jd = epoch.julian(grid)
            per_chunk = max(1, 1_000_000 // grid.shape[0])
            for c in range(0, members.shape[0], per_chunk):
                rows = members[c : c + per_chunk].tolist()
                SatrecArray([satrecs[i] for i in rows]).sgp4(jd.whole, jd.utc_fraction)
                samples += len(rows) * grid.shape[0]
        bare = min(bare, time.perf_counter() - t0)
    print(f"bare SatrecArray propagation of the coarse grids: {bare:.2f} s ({samples} states)")

    # Skyfield loop on a subset, scaled up.
    ts = load.timescale(builtin=True)
    subset = random.Random(args.seed + 1).sample(sample, min(args.skyfield_sats, len(sample)))
    t_start, t_end = ts.from_datetime(START), ts.from_datetime(end)
    sky_best = float("inf")
    sky_passes: list[tuple[int, str, datetime, datetime]] = []
    for _ in range(args.repeat):
        sky_passes = []
        t0 = time.perf_counter()
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
        sky_best = min(sky_best, time.perf_counter() - t0)
    scale = len(sample) / len(subset)
    sky_scaled = sky_best * scale
    print(
        f"skyfield find_events loop: {sky_best:.2f} s for {len(subset)} satellites x "
        f"{len(plain)} stations, scaled x{scale:.2f} to {sky_scaled:.1f} s for {len(sample)}"
    )

    # Matching on the subset.
    ours_by_key: dict[tuple[int, str], list[tuple[datetime, datetime]]] = {}
    for p in objects:
        ours_by_key.setdefault((p.norad_id, p.station_id), []).append((p.aos, p.los))
    matched = 0
    for norad, sid, aos, los in sky_passes:
        cands = ours_by_key.get((norad, sid), [])
        if any(
            abs((a - aos).total_seconds()) <= 1.0 and abs((b - los).total_seconds()) <= 1.0
            for a, b in cands
        ):
            matched += 1
    subset_ids = {e.norad_id for e in subset}
    ours_in_subset = sum(1 for p in objects if p.norad_id in subset_ids)
    matched_pct = 100.0 * matched / max(1, len(sky_passes))
    print(
        f"skyfield passes in the subset: {len(sky_passes)}; ours: {ours_in_subset}; "
        f"matched within 1 s: {matched} ({matched_pct:.2f} %)"
    )
    speedup = sky_scaled / best
    ratio = best / bare
    print(f"speedup over the skyfield loop: {speedup:.1f}x (goal >= 30x)")
    print(f"search / bare propagation: {ratio:.2f} (goal <= ~3)")
    print(f"peak RSS after our runs: {rss_after_ours:.0f} MB (goal < 2048 MB)")
    print(
        f"RESULT passes sats={len(sample)} stations={len(plain)} days={args.days:g} "
        f"seconds={best:.3f} skyfield_seconds={sky_scaled:.1f} speedup={speedup:.1f} "
        f"bare_propagation_ratio={ratio:.2f} peak_rss_mb={rss_after_ours:.0f} "
        f"matched_pct={matched_pct:.2f}"
    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
