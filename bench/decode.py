"""``groundstation decode`` as a whole process beside gr-satellites on the
same files (issue 17, decode start-up; goal: >= 2x gr-satellites' samples/s).

Files, built in a temporary directory, each 60 s and 15 min long:
- ``ccsds-bpsk-iq``: BY70-1's downlink (BPSK 9600 Bd, CCSDS concatenated,
  differential, 114-byte frames) simulated as cf32 I/Q at 48 kHz
  (dsp.amateur_sim; 300 Hz off centre, 100 ppm clock, Es/N0 ~ 17 dB), a
  60-s block repeated; decoded by ``groundstation decode --satellite
  BY70-1``, by ``groundstation decode --profile by70-1`` (the CCSDS
  receiver) and by ``gr_satellites 41909 --iq``;
- ``fsk-ax100-audio``: the real FACSAT-1 recording (FSK 9600 Bd, AX100
  ASM+Golay, 48 kHz FM receiver audio) repeated; ``groundstation decode
  --satellite FACSAT-1`` and ``gr_satellites 43721 --wavfile``.

Each decoder runs as a whole process (interpreter start, imports, numba
cache loads, reading the file, decoding, output), ``--runs`` times in
turn; per run: wall time, CPU time (user + sys, all threads), peak RSS
(GNU time's %M), time to the first frame on stdout, frames. Printed: the
medians with their spread (min-max), samples/s = samples / wall time,
and the ratio ours / gr-satellites of each run pair, by wall time (the
goal's measure) and by CPU time (steadier on a shared machine, where
gr-satellites' threads get more of the cores than our one thread). Start-up
is taken apart too: a process that only imports what decode needs, the
largest imports (``-X importtime``), the same decode with an empty numba
cache (compiling every kernel) and a 1-s file for each decoder.

Usage: python bench/decode.py [--quick] [--runs N] [--keep DIR]
The last line is ``RESULT decode ...``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import wavfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.amateur_sim import add_noise, bpsk_baseband, ccsds_framer, upconvert  # noqa: E402
from dsp.chain import ccsds_profile  # noqa: E402
from dsp.coding import ChannelCode  # noqa: E402
from dsp.kiss import kiss_decode  # noqa: E402
from groundstation.satellites import load_catalogue  # noqa: E402

GROUNDSTATION = Path(sys.executable).with_name("groundstation")
GRSAT_RUNNER = ROOT / "tests" / "dsp" / "grsat_run.py"
GRSAT = Path("/usr/bin/gr_satellites")
GNU_TIME = Path("/usr/bin/time")
FACSAT_WAV = ROOT / "tests" / "data" / "dsp" / "recordings" / "facsat_1.wav"
FS_HZ = 48_000
GOAL_RATIO = 2.0


# ----- the files -----
def ccsds_block(seconds: float) -> tuple[np.ndarray, list[bytes]]:
    """``seconds`` of BY70-1's downlink as I/Q at 48 kHz, and the frames sent."""
    tx = load_catalogue().find("BY70-1").transmitters[0]
    code = ChannelCode(ccsds_profile(tx, True))
    rng = np.random.default_rng(17)
    n = int(seconds * tx.baud_rate / code.channel_bits_per_frame) - 1
    frames = [rng.integers(0, 256, tx.frame_size or 114, np.uint8).tobytes() for _ in range(n)]
    bits = ccsds_framer(code)(frames, 3)  # the code precodes differentially
    iq = upconvert(bpsk_baseband(bits, FS_HZ // int(tx.baud_rate), clock_ppm=100), FS_HZ, 300.0)
    return np.asarray(add_noise(0.5 * iq, 0.05, seed=4), np.complex64), frames


def write_repeated_cf32(path: Path, block: np.ndarray, seconds: float) -> int:
    """``block`` repeated (the last copy cut) to ``seconds`` at 48 kHz; samples written."""
    n = int(seconds * FS_HZ)
    with open(path, "wb") as out:
        for start in range(0, n, block.size):
            block[: min(block.size, n - start)].tofile(out)
    return n


def write_repeated_wav(path: Path, source: Path, seconds: float) -> int:
    """The 16-bit mono WAV ``source`` repeated to ``seconds``, written in blocks."""
    fs, x = wavfile.read(source)
    assert fs == FS_HZ and x.dtype == np.int16 and x.ndim == 1
    n = int(seconds * FS_HZ)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(FS_HZ)
        for start in range(0, n, x.size):
            out.writeframes(x[: min(x.size, n - start)].astype("<i2").tobytes())
    return n


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    n_samples: int
    sent: frozenset[bytes] | None  # the frames in the file, when simulated
    decoders: dict[str, list[str]]


#: our decode in one process (``--workers 1``), beside the default (the cores
#: available) on recordings long enough to be shared out (decode_pool)
ONE_CORE = "ours 1-core"
SHARED_FROM_S = 180.0


def with_one_core(decoders: dict[str, list[str]], seconds: float) -> dict[str, list[str]]:
    """``decoders`` plus our --satellite decode in one process, for a long file."""
    if seconds < SHARED_FROM_S:
        return decoders
    return {**decoders, ONE_CORE: [*decoders["ours --satellite"], "--workers", "1"]}


def build_cases(directory: Path, lengths_s: Sequence[float]) -> list[Case]:
    block, frames = ccsds_block(60.0)
    cases = []
    for seconds in lengths_s:
        tag = f"{seconds / 60:g}min"
        iq = directory / f"ccsds-bpsk-iq-{tag}.cf32"
        n = write_repeated_cf32(iq, block, seconds)
        cases.append(
            Case(
                f"ccsds-bpsk-iq {tag}",
                iq,
                n,
                frozenset(frames),
                with_one_core(
                    {
                        "ours --satellite": [
                            *ours(),
                            "--satellite",
                            "BY70-1",
                            "--iq",
                            str(iq),
                            "--sample-rate",
                            str(FS_HZ),
                        ],
                        "ours --profile": [
                            *ours(),
                            "--profile",
                            "by70-1",
                            "--iq",
                            str(iq),
                            "--sample-rate",
                            str(FS_HZ),
                        ],
                        "gr-satellites": [
                            *grsat("41909"),
                            "--iq",
                            "--rawfile",
                            str(iq),
                            "--samp_rate",
                            str(FS_HZ),
                        ],
                    },
                    seconds,
                ),
            )
        )
        wav = directory / f"fsk-ax100-audio-{tag}.wav"
        n = write_repeated_wav(wav, FACSAT_WAV, seconds)
        cases.append(
            Case(
                f"fsk-ax100-audio {tag}",
                wav,
                n,
                None,
                with_one_core(
                    {
                        "ours --satellite": [*ours(), "--satellite", "FACSAT-1", "--iq", str(wav)],
                        "gr-satellites": [*grsat("43721"), "--wavfile", str(wav)],
                    },
                    seconds,
                ),
            )
        )
    return cases


def ours() -> list[str]:
    return [str(GROUNDSTATION), "decode"]


def grsat(satellite: str) -> list[str]:
    return ["/usr/bin/python3", str(GRSAT_RUNNER), satellite, "--hexdump"]


# ----- one run -----
@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    first_frame_s: float  # nan: no frame
    frames: int
    distinct: set[bytes]


def is_frame_line(decoder: str, line: str) -> bool:
    if decoder.startswith("gr-satellites"):
        return line.startswith("pdu length")
    return bool(line) and not line.startswith("#")


def run_once(decoder: str, argv: list[str], work: Path, env: dict[str, str] | None = None) -> Run:
    """``argv`` under GNU time; stdout read line by line as it comes."""
    stats = work / "time.txt"
    kiss = work / "out.kiss"
    kiss.unlink(missing_ok=True)
    command = [*argv, "--kiss_out" if decoder == "gr-satellites" else "--kiss", str(kiss)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(GNU_TIME), "-o", str(stats), "-f", "%e %U %S %M", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=work,  # gr-satellites' file receivers write images here
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert proc.stdout is not None
    first = math.nan
    frames = 0
    for line in proc.stdout:
        if is_frame_line(decoder, line.strip()):
            frames += 1
            if math.isnan(first):
                first = time.perf_counter() - t0
    code = proc.wait()
    wall = time.perf_counter() - t0
    if code not in (0, 1):
        raise RuntimeError(f"{decoder} exited {code}: {' '.join(command)}")
    _, user, sys_s, rss_kb = stats.read_text().split()[-4:]
    distinct = set(kiss_decode(kiss.read_bytes())) if kiss.exists() else set()
    return Run(wall, float(user) + float(sys_s), float(rss_kb) / 1024, first, frames, distinct)


# ----- figures -----
def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    ok = [v for v in values if not math.isnan(v)]
    if not ok:
        return "nan"
    median = statistics.median(ok)
    return (fmt + " (" + fmt + "-" + fmt + ")").format(median, min(ok), max(ok))


def median(values: Sequence[float]) -> float:
    ok = [v for v in values if not math.isnan(v)]
    return statistics.median(ok) if ok else math.nan


def measure_case(case: Case, runs: int, work: Path) -> dict[str, list[Run]]:
    results: dict[str, list[Run]] = {d: [] for d in case.decoders}
    for _ in range(runs):  # decoders in turn, so load changes hit each alike
        for decoder, argv in case.decoders.items():
            results[decoder].append(run_once(decoder, argv, work))
    return results


def report_case(case: Case, results: dict[str, list[Run]]) -> dict[str, tuple[float, float]]:
    """Prints the table; (wall, CPU) ratio ours / gr-satellites of each of our decoders."""
    print(
        f"\n## {case.name}: {case.n_samples} samples ({case.n_samples / FS_HZ:.0f} s at "
        f"{FS_HZ} Hz), {case.path.stat().st_size / 1e6:.0f} MB"
    )
    print(
        f"{'decoder':<17} {'wall s':>17} {'Msamples/s':>17} {'CPU s':>17} {'first frame s':>17} "
        f"{'peak RSS MB':>11} {'frames':>7} {'distinct':>9}"
        + ("" if case.sent is None else f" {'of sent':>8}")
    )
    for decoder, rs in results.items():
        rates = [case.n_samples / r.wall_s / 1e6 for r in rs]
        sent = (
            ""
            if case.sent is None
            else f" {len(set.intersection(*(r.distinct for r in rs)) & case.sent):>4}/{len(case.sent):<3}"
        )
        print(
            f"{decoder:<17} {spread([r.wall_s for r in rs]):>17} {spread(rates):>17} "
            f"{spread([r.cpu_s for r in rs]):>17} {spread([r.first_frame_s for r in rs]):>17} "
            f"{median([r.peak_rss_mb for r in rs]):>11.0f} {median([r.frames for r in rs]):>7.0f} "
            f"{median([len(r.distinct) for r in rs]):>9.0f}" + sent
        )
    reference = results["gr-satellites"]
    ratios = {}
    for decoder in results:
        if decoder == "gr-satellites":
            continue
        pairs = [g.wall_s / o.wall_s for o, g in zip(results[decoder], reference, strict=True)]
        cpu = [g.cpu_s / o.cpu_s for o, g in zip(results[decoder], reference, strict=True)]
        ratios[decoder] = (median(pairs), median(cpu))
        print(
            f"# {decoder} / gr-satellites samples/s (wall): {spread(pairs)}; by CPU time: "
            f"{spread(cpu)}"
        )
    return ratios


def startup(work: Path, cases: list[Case]) -> dict[str, float]:
    """Start-up taken apart: imports alone, the largest imports, a 1-s file,
    the 60-s CCSDS file with an empty numba cache (compiling) and warm."""
    print("\n## start-up")
    imports = [
        sys.executable,
        "-c",
        "import groundstation.cli, groundstation.commands.dsp, groundstation.satellites, "
        "groundstation.satellites.wav, dsp.chain",
    ]
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(imports, check=True)
        walls.append(time.perf_counter() - t0)
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *imports[1:]], capture_output=True, text=True
    ).stderr
    cumulative = {}
    for line in out.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            cumulative[parts[2].strip()] = int(parts[1]) / 1e6
    top = {m: cumulative.get(m, math.nan) for m in ("numpy", "scipy.signal", "numba", "yaml")}
    print(
        f"interpreter + the imports decode needs: {spread(walls)} s; of them (cumulative, one run): "
        + ", ".join(
            f"{m} not imported" if math.isnan(s) else f"{m} {s:.2f} s" for m, s in top.items()
        )
    )
    one_second = work / "one-second.wav"
    wavfile.write(one_second, FS_HZ, np.zeros(FS_HZ, np.int16))
    tiny = {
        "ours --satellite": [*ours(), "--satellite", "FACSAT-1", "--iq", str(one_second)],
        "gr-satellites": [*grsat("43721"), "--wavfile", str(one_second)],
    }
    tiny_wall = {d: [run_once(d, argv, work).wall_s for _ in range(3)] for d, argv in tiny.items()}
    for decoder, w in tiny_wall.items():
        print(f"{decoder} on a 1-s silent WAV (whole process): {spread(w)} s")
    ccsds = next(c for c in cases if c.name.startswith("ccsds"))
    argv = ccsds.decoders["ours --satellite"]
    cold_dir = work / "numba-cold"
    cold = run_once("ours --satellite", argv, work, {"NUMBA_CACHE_DIR": str(cold_dir)})
    warm = run_once("ours --satellite", argv, work, {"NUMBA_CACHE_DIR": str(cold_dir)})
    shutil.rmtree(cold_dir, ignore_errors=True)
    print(
        f"ours --satellite on {ccsds.name}: empty numba cache (compiles every kernel): first frame "
        f"{cold.first_frame_s:.2f} s, whole {cold.wall_s:.2f} s; the next run (cache loaded): first "
        f"frame {warm.first_frame_s:.2f} s, whole {warm.wall_s:.2f} s"
    )
    return {
        "imports_s": median(walls),
        "scipy_signal_s": top["scipy.signal"],
        "tiny_ours_s": median(tiny_wall["ours --satellite"]),
        "tiny_grsat_s": median(tiny_wall["gr-satellites"]),
        "cold_first_frame_s": cold.first_frame_s,
        "warm_first_frame_s": warm.first_frame_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s and 3 min files, 2 runs")
    parser.add_argument("--runs", type=int, default=None, help="runs of each decoder (default 3)")
    parser.add_argument("--keep", type=Path, default=None, help="build the files in DIR, keep them")
    args = parser.parse_args()
    if not GRSAT.exists():
        sys.exit("bench/decode.py compares with gr-satellites: /usr/bin/gr_satellites is missing")
    runs = args.runs or (2 if args.quick else 3)
    lengths = (60.0, 180.0) if args.quick else (60.0, 900.0)
    t_start = time.time()
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-decode-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(
            f"# decode bench: whole processes, {runs} runs each, in turn; cpu count "
            f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start"
        )
        cases = build_cases(work, lengths)
        # warm numba's cache (the installed kernels compile once, here if the source changed)
        for case in cases[:2]:
            for decoder, argv in case.decoders.items():
                if decoder.startswith("ours"):
                    run_once(decoder, argv, work)
        ratios: dict[str, tuple[float, float]] = {}
        first: dict[str, float] = {}
        for case in cases:
            results = measure_case(case, runs, work)
            for decoder, ratio in report_case(case, results).items():
                ratios[f"{case.name} {decoder}"] = ratio
            for decoder, rs in results.items():
                first[f"{case.name} {decoder}"] = median([r.first_frame_s for r in rs])
        parts = startup(work, cases)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n# bench wall time {time.time() - t_start:.0f} s; load average now {os.getloadavg()[0]:.1f}"
    )

    def key(name: str) -> str:
        family, length, *decoder = name.split()
        mode = decoder[-1].lstrip("-").replace("-", "") if decoder else ""
        return f"{family.split('-')[0]}_{mode}_{length}".replace(".", "p")

    # the goal is the decode as a user runs it (default workers); one core is reported beside it
    worst = min(wall for name, (wall, _) in ratios.items() if not name.endswith(ONE_CORE))
    print(
        "RESULT decode "
        + " ".join(f"ratio_{key(k)}={wall:.2f}" for k, (wall, _) in ratios.items())
        + " "
        + " ".join(f"cpu_ratio_{key(k)}={cpu:.2f}" for k, (_, cpu) in ratios.items())
        + f" first_frame_s={first[cases[0].name + ' ours --satellite']:.2f}"
        f" grsat_first_frame_s={first[cases[0].name + ' gr-satellites']:.2f}"
        f" imports_s={parts['imports_s']:.2f} scipy_signal_s={parts['scipy_signal_s']:.2f}"
        f" cold_first_frame_s={parts['cold_first_frame_s']:.2f}"
        f" worst_ratio={worst:.2f} goal={GOAL_RATIO:g} met={'yes' if worst >= GOAL_RATIO else 'no'}"
    )


if __name__ == "__main__":
    main()
