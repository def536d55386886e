"""Products benchmark: post-processing a 15-minute pass into its products.

For the demo's framing (ccsds-bpsk-conv-rs, 9600 baud) and the 1 Msym/s one
(ccsds-qpsk-conv-rs-i5), a 15-minute NOAA 15 pass: the simulated
radiometer's frames (the satellite, not timed), 2 % of them lost at random,
then the georeferenced products as the contact's product step makes them
(``ingest.geoproducts.georeferenced_products``: rebuild, geolocation of
every pixel, the CF swath NetCDF, the pyresample map as PNG and GeoTIFF);
then the quick-looks as the contact's post-processing makes them: the
streamed waterfall over the whole pass's IQ (4 samples a symbol, as the
executor's front end; noise-like samples, one buffer fed again and again:
the waterfall transforms a few segments per row whatever the samples), and
the three PNGs (``ingest.quicklook``: waterfall, Es/N0 and frequency per
frame, constellation of 4,000 symbols near TCA).

Figures per rate: wall and CPU time of the post-processing; its peak of
traced allocations (tracemalloc: Python and numpy buffers) and the
process's peak RSS; reference measured in the same run: rebuilding the
image alone (the product step before georeferencing), with the ratio. The
geolocation error (pixels) is the land mask's best shift against the
swath's clear land and sea (``check_geolocation``), and the fraction of
clear pixels that disagree with the mask beyond 2 pixels.

Each rate runs in a process of its own (its peak RSS is its own).
Last line: ``RESULT products demo_s=.. demo_peak_mb=.. msym_s=.. msym_peak_mb=..
geoloc_error_px=.. outside_2px=.. demo_quicklook_s=.. msym_quicklook_s=..
msym_quicklook_peak_mb=..``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dsp.profile import builtin_profile  # noqa: E402
from dsp.quicklook import Waterfall  # noqa: E402
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
from ingest.quicklook import (  # noqa: E402
    PassSeries,
    write_constellation,
    write_esn0_frequency,
    write_waterfall,
)
from orbital.omm import parse_element_set  # noqa: E402

START = datetime(2023, 7, 4, 12, 28, tzinfo=UTC)  # NOAA 15 along South America's west coast
RATES = {"demo": "ccsds-bpsk-conv-rs", "msym": "ccsds-qpsk-conv-rs-i5"}
SPS = 4  # samples per symbol of the executor's front end (DownlinkExecutor)
QUICKLOOK_SYMBOLS = 4000


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
    looks = quicklooks(profile, pass_s, n_frames, keep)
    out.send(
        {
            **looks,
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


def quicklooks(profile: Any, pass_s: float, n_frames: int, keep: Any) -> dict[str, Any]:
    """The pass's quick-looks: wall and CPU time, peak traced memory, samples."""
    fs_hz = float(profile.symbol_rate) * SPS
    total = int(pass_s * fs_hz)
    rng = np.random.default_rng(3)
    chunk_n = int(0.5 * fs_hz)  # the executor's chunks are 0.5 s of service time
    chunk = (rng.standard_normal(chunk_n) + 1j * rng.standard_normal(chunk_n)).astype(np.complex64)
    frame_t = START.timestamp() + np.arange(n_frames) * (pass_s / n_frames)
    esn0 = 8.0 + 4.0 * np.sin(np.linspace(0, np.pi, n_frames))
    series = PassSeries(
        frame_time_unix_s=list(frame_t),
        frame_esn0_db=list(np.where(keep, esn0 + rng.normal(0, 0.5, n_frames), np.nan)),
        frame_esn0_predicted_db=list(esn0),
        frame_ok=list(keep),
        track_time_unix_s=START.timestamp() + np.arange(int(pass_s), dtype=np.float64),
        track_doppler_hz=np.linspace(9e3, -9e3, int(pass_s)),
    )
    symbols = (
        rng.choice([-1.0, 1.0], QUICKLOOK_SYMBOLS) + rng.normal(0, 0.3, QUICKLOOK_SYMBOLS)
    ).astype(np.complex64)
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    waterfall = Waterfall(fs_hz=fs_hz, n_samples=total)
    for start in range(0, total, chunk_n):
        waterfall.process(chunk[: min(chunk_n, total - start)])
    waterfall.finish()
    stream_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        title, simulated = "NOAA 15 (bench)", "SIMULATED (bench)"
        write_waterfall(
            folder / "waterfall.png",
            waterfall,
            start_unix_s=START.timestamp(),
            series=series,
            title=title,
            simulated=simulated,
        )
        write_esn0_frequency(
            folder / "esn0_frequency.png", series, title=title, simulated=simulated
        )
        write_constellation(folder / "constellation.png", symbols, title=title, simulated=simulated)
        png_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    _, peak_b = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "ql_samples": total,
        "ql_stream_s": stream_s,
        "ql_wall_s": wall_s,
        "ql_cpu_s": cpu_s,
        "ql_peak_mb": peak_b / 1e6,
        "ql_png_mb": png_mb,
    }


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
        print(
            f"      quick-looks: {r['ql_samples'] / 1e6:.0f} M samples streamed in "
            f"{r['ql_stream_s']:.2f} s, with the 3 PNGs ({r['ql_png_mb']:.1f} MB) "
            f"{r['ql_wall_s']:.2f} s wall, {r['ql_cpu_s']:.2f} s CPU, "
            f"peak traced {r['ql_peak_mb']:.0f} MB"
        )
    d, m = results["demo"], results["msym"]
    print(
        f"RESULT products demo_s={d['wall_s']:.2f} demo_peak_mb={d['peak_mb']:.0f} "
        f"msym_s={m['wall_s']:.2f} msym_peak_mb={m['peak_mb']:.0f} "
        f"msym_rss_mb={m['rss_mb']:.0f} geoloc_error_px={max(d['error_px'], m['error_px']):.1f} "
        f"outside_2px={max(d['outside'], m['outside']):.4f} "
        f"demo_quicklook_s={d['ql_wall_s']:.2f} msym_quicklook_s={m['ql_wall_s']:.2f} "
        f"msym_quicklook_peak_mb={m['ql_peak_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
