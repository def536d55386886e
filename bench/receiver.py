"""Multi-protocol receiver benchmark (issue 14): real recordings beside
gr-satellites, decode speed per family, memory of a long stream.

Measured in one run:
- the 15 real recordings (tests/data/dsp/recordings): distinct valid frames
  ours vs gr-satellites run on the same file in this bench (when
  /usr/bin/gr_satellites is installed) and vs the union of its three
  reference runs (frames/*.hex), with CPU seconds of each;
- decode speed of each family on simulated signals (dsp.amateur_sim; CPU time,
  one core): samples/s and times real time;
- peak RSS of a long stream (FSK 9600 audio, fed in chunks), in a subprocess,
  with RSS at 25 % and at the end (flat = bounded memory).

Usage: python bench/receiver.py [--quick] [--no-grsat] [--stream-seconds S]
The last line is ``RESULT receiver ...``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypedDict

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proc_status import current_rss_mb, peak_rss_mb  # noqa: E402
from dsp.amateur_sim import (  # noqa: E402
    FRAMERS,
    add_noise,
    afsk_audio,
    bpsk_baseband,
    ccsds_framer,
    differential_bits,
    fsk_audio,
    upconvert,
)
from dsp.chain import SatelliteReceiver, ccsds_profile, decode_satellite  # noqa: E402
from dsp.coding import ChannelCode  # noqa: E402
from dsp.kiss import kiss_decode  # noqa: E402
from dsp.satellite import SatelliteSpec, transmitter_from_mapping  # noqa: E402
from groundstation.satellites import load_catalogue  # noqa: E402
from groundstation.satellites.wav import read_wav  # noqa: E402

RECORDINGS = ROOT / "tests" / "data" / "dsp" / "recordings"
GRSAT_RUNNER = ROOT / "tests" / "dsp" / "grsat_run.py"
GRSAT = Path("/usr/bin/gr_satellites")
FILES = {
    "by701": "BY70-1",
    "trisat": "TRISAT",
    "ks_1q": "KS-1Q",
    "entrysat": "EntrySat",
    "fmn1": "FMN-1",
    "pwsat2": "PW-Sat2",
    "us01": "US01",
    "upmsat_2": "UPMSat 2",
    "facsat_1": "FACSAT-1",
    "luojia-1": "Luojia-1",
    "suomi_100": "Suomi 100",
    "ca03_9k6": "CA03",
    "gomx_3": "GOMX-3",
    "aisat": "AISAT",
    "ao73": "AO-73",
}
FS = 48_000.0


def grsat_frames(wav: Path, norad: int) -> tuple[set[bytes], float]:
    """Frames gr-satellites prints for a WAV (one run) and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        kiss = Path(tmp) / "out.kiss"
        subprocess.run(
            [
                "/usr/bin/python3",
                str(GRSAT_RUNNER),
                str(norad),
                "--wavfile",
                str(wav),
                "--kiss_out",
                str(kiss),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=tmp,  # its file receivers (BY70-1's camera) write images to the working directory
        )
        frames = set(kiss_decode(kiss.read_bytes())) if kiss.exists() else set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return frames, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


class RecordingRow(TypedDict):
    """One recording's line of the table: frames found and CPU seconds."""

    name: str
    ours: int
    ref: int
    ref_found: int
    grsat: int | None
    cpu_s: float
    grsat_cpu_s: float


def recordings(run_grsat: bool) -> list[RecordingRow]:
    catalogue = load_catalogue()
    rows: list[RecordingRow] = []
    print(
        f"{'recording':<10} {'ours':>5} {'ref hit':>8} {'grsat':>6} {'grsat ref':>10} "
        f"{'ours cpu s':>10} {'grsat cpu s':>11} {'audio s':>8}"
    )
    for name, satellite in FILES.items():
        sat = catalogue.find(satellite)
        samples, fs_hz = read_wav(RECORDINGS / f"{name}.wav")
        reference = {
            bytes.fromhex(x) for x in (RECORDINGS / "frames" / f"{name}.hex").read_text().split()
        }
        t0 = time.process_time()
        ours = {f.frame for f in decode_satellite(samples, fs_hz, sat)}
        cpu = time.process_time() - t0
        theirs, grsat_cpu = (
            grsat_frames(RECORDINGS / f"{name}.wav", sat.norad_id)
            if run_grsat
            else (set(), float("nan"))
        )
        row: RecordingRow = {
            "name": name,
            "ours": len(ours),
            "ref": len(reference),
            "ref_found": len(ours & reference),
            "grsat": len(theirs) if run_grsat else None,
            "cpu_s": cpu,
            "grsat_cpu_s": grsat_cpu,
        }
        rows.append(row)
        grsat_text = (
            f"{len(theirs):6d} {len(theirs & reference):>6d}/{len(reference):<3d}"
            if run_grsat
            else f"{'-':>6} {'-':>10}"
        )
        print(
            f"{name:<10} {len(ours):5d} {len(ours & reference):>4d}/{len(reference):<3d} {grsat_text} "
            f"{cpu:10.2f} {grsat_cpu:11.2f} {samples.size / fs_hz:8.1f}",
            flush=True,
        )
    return rows


def _satellite(**fields: object) -> SatelliteSpec:
    tx = transmitter_from_mapping(
        {"name": "downlink", "frequency_hz": 437_000_000, **fields}, "bench"
    )
    return SatelliteSpec("SIMULATED", 99999, (tx,))


def family_signal(
    family: str, seconds: float, seed: int = 1
) -> tuple[SatelliteSpec, np.ndarray, float]:
    """(satellite, simulated samples, fs) for one family, ~``seconds`` long."""
    rng = np.random.default_rng(seed)
    if family == "fsk-9600-ax100":
        sat = _satellite(modulation="fsk", baud_rate=9600, framing="ax100-asm-golay")
        per_frame_s = (32 + 24 + 8 * 232 + 96 + 150) / 9600
        frames = [
            rng.integers(0, 256, 200, np.uint8).tobytes() for _ in range(int(seconds / per_frame_s))
        ]
        x = add_noise(
            fsk_audio(FRAMERS["ax100-asm-golay"](frames, seed), FS, 9600, clock_ppm=300), 0.05, seed
        )
        return sat, x, FS
    if family == "fsk-9766-ccsds-conv":
        sat = _satellite(
            modulation="fsk", baud_rate=9766, framing="ccsds-concatenated", frame_size=223
        )
        tx = sat.transmitters[0]
        code = ChannelCode(ccsds_profile(tx, True))
        n = int(seconds * 9766 / code.channel_bits_per_frame)
        frames = [rng.integers(0, 256, 223, np.uint8).tobytes() for _ in range(n)]
        x = add_noise(
            fsk_audio(ccsds_framer(code)(frames, seed), FS, 9766, clock_ppm=-300), 0.05, seed
        )
        return sat, x, FS
    if family == "afsk-4800-u482c":
        sat = _satellite(
            modulation="afsk",
            baud_rate=4800,
            framing="u482c",
            af_carrier_hz=3600,
            deviation_hz=-1200,
        )
        per_frame_s = (32 + 24 + 8 * 232 + 96 + 150) / 4800
        frames = [
            rng.integers(0, 256, 200, np.uint8).tobytes() for _ in range(int(seconds / per_frame_s))
        ]
        bits = FRAMERS["u482c"](frames, seed)
        return (
            sat,
            add_noise(afsk_audio(bits, FS, 4800, 3600, -1200, clock_ppm=300), 0.03, seed),
            FS,
        )
    if family == "bpsk-9600-ax25":
        sat = _satellite(modulation="bpsk", baud_rate=9600, framing="ax25-g3ruh")
        frames = [rng.integers(0, 256, 200, np.uint8).tobytes() for _ in range(int(seconds / 0.23))]
        bb = bpsk_baseband(FRAMERS["ax25-g3ruh"](frames, seed), 5, clock_ppm=200)
        return sat, add_noise(0.2 * upconvert(bb, FS, 11_300).real, 0.03, seed), FS
    if family == "dbpsk-1200-ao40":
        sat = _satellite(modulation="dbpsk", baud_rate=1200, framing="ao40-fec")
        frames = [
            rng.integers(0, 256, 256, np.uint8).tobytes() for _ in range(max(int(seconds / 4.4), 1))
        ]
        bb = bpsk_baseband(differential_bits(FRAMERS["ao40-fec"](frames, seed)), 40, clock_ppm=-200)
        return sat, add_noise(0.2 * upconvert(bb, FS, 1_500).real, 0.03, seed), FS
    raise ValueError(f"unknown family {family!r}")


FAMILIES = (
    "fsk-9600-ax100",
    "fsk-9766-ccsds-conv",
    "afsk-4800-u482c",
    "bpsk-9600-ax25",
    "dbpsk-1200-ao40",
)


def speed(seconds: float) -> dict[str, tuple[float, float, int]]:
    out = {}
    print(f"{'family':<22} {'Msamples/s':>10} {'x real time':>11} {'frames':>7}")
    for family in FAMILIES:
        sat, x, fs_hz = family_signal(family, seconds)
        decode_satellite(x[: int(fs_hz)], fs_hz, sat)  # warm up (numba caches)
        t0 = time.process_time()
        frames = decode_satellite(x, fs_hz, sat)
        cpu = time.process_time() - t0
        rate = x.size / cpu
        out[family] = (rate, rate / fs_hz, len(frames))
        print(f"{family:<22} {rate / 1e6:10.2f} {rate / fs_hz:11.0f} {len(frames):7d}", flush=True)
    return out


def memory_child(stream_seconds: float) -> None:
    sat, block, fs_hz = family_signal("fsk-9600-ax100", 30.0, seed=5)
    receiver = SatelliteReceiver(sat, fs_hz, iq=False)
    repeats = max(int(stream_seconds / (block.size / fs_hz)), 1)
    chunk = 1 << 15
    frames = 0
    rss_quarter = float("nan")
    for r in range(repeats):
        for start in range(0, block.size, chunk):
            frames += len(receiver.process(block[start : start + chunk]))
        if r == repeats // 4:
            rss_quarter = current_rss_mb()
    frames += len(receiver.flush())
    print(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),  # VmHWM (bench.proc_status says why)
                "rss_quarter_mb": rss_quarter,
                "rss_end_mb": current_rss_mb(),
                "seconds": repeats * block.size / fs_hz,
                "frames": frames,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short simulated signals and stream")
    parser.add_argument("--no-grsat", action="store_true", help="do not run gr-satellites")
    parser.add_argument(
        "--stream-seconds", type=float, default=None, help="length of the memory stream"
    )
    parser.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    t_start = time.time()
    run_grsat = GRSAT.exists() and not args.no_grsat
    print(
        f"# receiver bench: 15 real recordings (48 kHz receiver audio); gr-satellites {'run here' if run_grsat else 'not run'}"
    )
    rows = recordings(run_grsat)
    complete = sum(r["ref_found"] == r["ref"] for r in rows)
    ours_total = sum(r["ours"] for r in rows)
    ref_total = sum(r["ref"] for r in rows)
    grsat_total = sum(r["grsat"] or 0 for r in rows)
    cpu_total = sum(r["cpu_s"] for r in rows)
    grsat_cpu = sum(r["grsat_cpu_s"] for r in rows)
    print(
        f"# recordings with every reference frame: {complete}/15; distinct frames ours {ours_total}, "
        f"gr-satellites here {grsat_total if run_grsat else '-'}, reference union {ref_total}; "
        f"CPU ours {cpu_total:.1f} s, gr-satellites {grsat_cpu:.1f} s"
    )
    seconds = 20.0 if args.quick else 120.0
    print(
        f"# decode speed on {seconds:.0f} s of simulated signal per family (CPU time, one core, 48 kHz audio)"
    )
    rates = speed(seconds)
    stream_s = args.stream_seconds or (120.0 if args.quick else 900.0)
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(stream_s)],
        check=True,
        capture_output=True,
        text=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"# memory: {mem['seconds']:.0f} s of FSK 9600 audio streamed in 32k chunks: peak RSS {mem['peak_rss_mb']:.0f} MB, "
        f"RSS at 25 % {mem['rss_quarter_mb']:.0f} MB -> end {mem['rss_end_mb']:.0f} MB ({mem['frames']} frames)"
    )
    print(f"# bench wall time {time.time() - t_start:.0f} s")
    slowest = min(rates.values(), key=lambda r: r[1])
    print(
        f"RESULT receiver recordings_complete={complete}/15 frames_ours={ours_total} "
        f"frames_grsat={grsat_total if run_grsat else 'na'} frames_reference_union={ref_total} "
        + " ".join(f"xrt_{k.split('-')[0]}_{k.split('-')[1]}={v[1]:.0f}" for k, v in rates.items())
        + f" slowest_xrt={slowest[1]:.0f} peak_rss_mb={mem['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
