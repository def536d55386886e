"""Products benchmark: post-processing a 15-minute pass into its products.

For the demo's framing (ccsds-bpsk-conv-rs, 9600 baud) and the 1 Msym/s one
(ccsds-qpsk-conv-rs-i5), a 15-minute NOAA 15 pass: the simulated
radiometer's frames (the satellite, not timed), 2 % of them lost at random,
then the georeferenced products as the contact's product step makes them
(``ingest.geoproducts.georeferenced_products``: rebuild, geolocation of
every pixel, the CF swath NetCDF, the pyresample map as PNG and GeoTIFF).
Quick-looks (waterfall etc.) are added to this script when they land.

Figures per rate: wall and CPU time of the post-processing; its peak of
traced allocations (tracemalloc: Python and numpy buffers) and the
process's peak RSS; reference measured in the same run: rebuilding the
image alone (the product step before georeferencing), with the ratio. The
geolocation error (pixels) is the land mask's best shift against the
swath's clear land and sea (``check_geolocation``), and the fraction of
clear pixels that disagree with the mask beyond 2 pixels.

Each rate runs in a process of its own (its peak RSS is its own).
Last line: ``RESULT products demo_s=.. demo_peak_mb=.. msym_s=.. msym_peak_mb=..
geoloc_error_px=.. outside_2px=..``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dsp.profile import builtin_profile  # noqa: E402
from groundstation.payload import (  # noqa: E402
    ImageFrameSource,
    line_ready_frames,
    radiometer_scene,
)
from ingest.geoproducts import (  # noqa: E402
    SwathGeometry,
    check_geolocation,
    georeferenced_products,
    swath_dataset,
)
from ingest.imagery import rebuild_image  # noqa: E402
from ingest.landmask import is_land  # noqa: E402
from orbital.omm import parse_element_set  # noqa: E402

START = datetime(2023, 7, 4, 12, 28, tzinfo=UTC)  # NOAA 15 along South America's west coast
RATES = {"demo": "ccsds-bpsk-conv-rs", "msym": "ccsds-qpsk-conv-rs-i5"}


def frame_s_of(profile: Any) -> float:
    return profile.channel_bits_per_frame / profile.bits_per_symbol / profile.symbol_rate


def run_case(name: str, pass_s: float, out: Any) -> None:
    """One rate, in its own process: the figures sent back through ``out``."""
    profile = builtin_profile(RATES[name])
    tle = "\n".join((REPO / "sample_tles" / "weather.tle").read_text().splitlines()[:3])
    frame_s = frame_s_of(profile)
    n_frames = int(pass_s / frame_s)
    is_land(np.zeros(1), np.zeros(1))  # the mask, loaded once per process (as warm_up does)
    seen = radiometer_scene(
        profile, parse_element_set(tle), START, n_frames=n_frames, duration_s=pass_s,
        frame_s=frame_s, seed=1,
    )  # fmt: skip
    source = ImageFrameSource(
        profile, seen.scene, seen.line_time_unix_us, line_ready_frames(seen.plan, frame_s)
    )
    rng = np.random.default_rng(2)
    keep = rng.random(n_frames) >= 0.02
    frames = [f for k in range(n_frames) if (f := source.next_frame()) and keep[k]]
    geometry = SwathGeometry("NOAA 15", 25338, tle, seen.plan.fov_deg)
    del seen, source

    t0 = time.perf_counter()
    rebuilt = rebuild_image(frames)
    ref_s = time.perf_counter() - t0
    assert rebuilt is not None

    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    products = georeferenced_products(frames, geometry)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    _, peak_b = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert products is not None
    check = check_geolocation(swath_dataset(rebuilt, geometry))
    out.send(
        {
            "frames": n_frames,
            "lines": int(rebuilt.image.shape[0]),
            "pixels": int(rebuilt.image.shape[1]),
            "wall_s": wall_s,
            "cpu_s": cpu_s,
            "ref_s": ref_s,
            "peak_mb": peak_b / 1e6,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "sizes_mb": {k: len(v) / 1e6 for k, v in products.files().items()},
            "shift_px": check.shift_px,
            "error_px": check.error_px,
            "outside": check.outside_tolerance,
        }
    )


def measure(name: str, pass_s: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=run_case, args=(name, pass_s, child))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pass-s", type=float, default=900.0, help="pass length, s")
    args = parser.parse_args()
    results = {}
    for name, profile in RATES.items():
        r = measure(name, args.pass_s)
        results[name] = r
        print(
            f"{name:5s} {profile}: {r['frames']} frames, {r['lines']} lines x {r['pixels']} px; "
            f"products {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU; "
            f"reference (rebuild only) {r['ref_s']:.2f} s, ratio {r['wall_s'] / r['ref_s']:.1f}; "
            f"peak traced {r['peak_mb']:.0f} MB, process peak RSS {r['rss_mb']:.0f} MB"
        )
        print("      files: " + ", ".join(f"{k} {v:.1f} MB" for k, v in r["sizes_mb"].items()))
        print(
            f"      geolocation: best mask shift {r['shift_px']} px ({r['error_px']:.1f} px), "
            f"{r['outside']:.2%} of clear pixels off the mask beyond 2 px"
        )
    d, m = results["demo"], results["msym"]
    print(
        f"RESULT products demo_s={d['wall_s']:.2f} demo_peak_mb={d['peak_mb']:.0f} "
        f"msym_s={m['wall_s']:.2f} msym_peak_mb={m['peak_mb']:.0f} "
        f"msym_rss_mb={m['rss_mb']:.0f} geoloc_error_px={max(d['error_px'], m['error_px']):.1f} "
        f"outside_2px={max(d['outside'], m['outside']):.4f}"
    )


if __name__ == "__main__":
    main()
