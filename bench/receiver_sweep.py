"""Simulated-signal sweeps of the multi-protocol receiver (issue 14): per
modulation family, raw-bit error rate and frames found vs Eb/N0 beside the
theoretical curve, and gr-satellites' frames on the same files in the same
run (when /usr/bin/gr_satellites is installed).

Every signal is simulated (dsp.sweep: families, impairments, Eb/N0
convention, theory). Per family and Eb/N0 point:
- BER of our demodulator's hard decisions on the raw channel bits and the
  theoretical BER of that modulation/detection;
- FER (frames sent that were not decoded) of our receiver and of
  gr-satellites given the same samples (float32 audio or complex64 IQ, told
  the nominal subcarrier an SSB operator would set); for framings without
  FEC (AX.25) also the FER that the theoretical BER gives;
then, per family, the loss vs theory at BER 1e-3 and (AX.25) at FER 10 %,
and the Eb/N0 each receiver needs for FER 10 %.

Usage: python bench/receiver_sweep.py [--quick] [--no-grsat] [--frames N]
                                      [--families a,b] [--seed S]
The last line is ``RESULT receiver_sweep ...``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsp.kiss import kiss_decode  # noqa: E402
from dsp.sweep import (  # noqa: E402
    FAMILIES,
    THEORY_LABEL,
    Family,
    SimulatedSignal,
    ber_for_frame_error_rate,
    crossing_db,
    frame_error_rate,
    measure,
    simulate,
    theory_ber,
    theory_ebn0_db,
)

GRSAT_RUNNER = ROOT / "tests" / "dsp" / "grsat_run.py"
GRSAT = Path("/usr/bin/gr_satellites")
REFERENCE_BER = 1e-3
REFERENCE_FER = 0.1

# our framing and modulation names -> gr-satellites' satyaml names
GRSAT_FRAMING = {
    "ax25": "AX.25",
    "ax25-g3ruh": "AX.25 G3RUH",
    "ax100-asm-golay": "AX100 ASM+Golay",
    "u482c": "U482C",
    "ao40-fec": "AO-40 FEC",
}


#: gr-satellites' names where ours are not theirs in capitals
GRSAT_MODULATION = {"bpsk-manchester": "BPSK Manchester", "dbpsk-manchester": "DBPSK Manchester"}


def grsat_satyaml(family: Family) -> str:
    tx = family.tx
    lines = [
        "name: GSSWEEP",
        "norad: 99999",
        "data:",
        "  &tlm Telemetry:",
        "    unknown",
        "transmitters:",
        "  downlink:",
        "    frequency: 437.000e+6",
        f"    modulation: {GRSAT_MODULATION.get(tx.modulation, tx.modulation.upper())}",
        f"    baudrate: {tx.baud_rate:g}",
        f"    framing: {GRSAT_FRAMING[tx.framing]}",
    ]
    if tx.modulation in ("fsk", "afsk"):
        lines.append(f"    deviation: {family.deviation_hz:g}")
    if tx.af_carrier_hz:
        lines.append(f"    af_carrier: {tx.af_carrier_hz:g}")
    return "\n".join([*lines, "    data:", "    - *tlm", ""])


def grsat_frames(family: Family, signal: SimulatedSignal) -> tuple[set[bytes], float]:
    """Frames gr-satellites prints for the simulated samples, and its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    iq = np.iscomplexobj(signal.samples)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "signal.raw"
        signal.samples.astype(np.complex64 if iq else np.float32).tofile(raw)
        yml = Path(tmp) / "gssweep.yml"
        yml.write_text(grsat_satyaml(family))
        kiss = Path(tmp) / "out.kiss"
        args = [
            "/usr/bin/python3",
            str(GRSAT_RUNNER),
            str(yml),
            "--rawfile",
            str(raw),
            "--samp_rate",
            f"{signal.fs_hz:g}",
            "--kiss_out",
            str(kiss),
        ]
        if iq:
            args.append("--iq")
        if family.subcarrier_hz is not None:
            args += ["--f_offset", f"{family.subcarrier_hz:g}"]
        # in the temporary directory: file receivers write images to the working directory
        run = subprocess.run(
            args, capture_output=True, text=True, timeout=1800, check=False, cwd=tmp
        )
        if run.returncode != 0:
            raise RuntimeError(f"gr-satellites failed on {family.name}: {run.stderr[-1500:]}")
        frames = set(kiss_decode(kiss.read_bytes())) if kiss.exists() else set()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return frames, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


@dataclass
class Point:
    ebn0_db: float
    ber: float
    bits: int
    fer: float
    fer_grsat: float
    extra: int
    theory_ber: float
    theory_fer: float


@dataclass
class Summary:
    family: Family
    points: list[Point]
    ber_loss_db: float  # ours vs theory at REFERENCE_BER
    need_ours_db: float  # Eb/N0 for REFERENCE_FER
    need_grsat_db: float
    need_theory_db: float  # AX.25: from the theoretical BER
    cpu_ours_s: float
    cpu_grsat_s: float
    signal_s: float


def frames_for(family: Family, frames: int) -> int:
    """Frames per point: ``frames`` of the framing's usual size, fewer for the
    long AO-40 blocks (5200 symbols each)."""
    return max(frames // 3, 8) if family.tx.framing == "ao40-fec" else frames


def sweep(family: Family, grid: list[float], n_frames: int, seed: int, run_grsat: bool) -> Summary:
    print(f"## {family.name}: {family.note}; {THEORY_LABEL[family.detection]}")
    print(
        f"#  {family.source}, {family.tx.baud_rate:g} Bd at {family.fs_hz:g} Hz, clock "
        f"{family.clock_ppm:+g} ppm, offset {family.offset_hz:g} Hz drifting "
        f"{family.drift_hz_s:g} Hz/s, random phase; {n_frames} frames of "
        f"{family.frame_bytes} bytes per point"
    )
    print(
        f"{'Eb/N0':>6} {'BER ours':>10} {'BER theory':>10} {'FER ours':>9} "
        f"{'FER grsat':>9} {'FER theory':>10}"
    )
    points, cpu, cpu_grsat, signal_s = [], 0.0, 0.0, 0.0
    for i, ebn0 in enumerate(grid):
        signal = simulate(family, ebn0, n_frames, seed + 1000 * i)
        t0 = time.process_time()
        m = measure(family, signal)
        cpu += time.process_time() - t0
        signal_s += signal.samples.size / signal.fs_hz
        fer_grsat = float("nan")
        if run_grsat:
            theirs, cpu_g = grsat_frames(family, signal)
            cpu_grsat += cpu_g
            fer_grsat = 1.0 - len(theirs & set(signal.frames)) / n_frames
        th = theory_ber(family.detection, ebn0)
        th_fer = frame_error_rate(th, signal.frame_bits) if family.uncoded else float("nan")
        points.append(Point(ebn0, m.ber, m.bits, m.fer, fer_grsat, m.extra, th, th_fer))
        print(
            f"{ebn0:6.1f} {m.ber:10.2e} {th:10.2e} {m.fer:9.3f} {fer_grsat:9.3f} {th_fer:10.3f}"
            + (f"  ({m.extra} frames not sent!)" if m.extra else ""),
            flush=True,
        )
    x = [p.ebn0_db for p in points]
    half_bit, half_frame = 0.5 / max(min(p.bits for p in points), 1), 0.5 / n_frames
    loss = crossing_db(x, [p.ber for p in points], REFERENCE_BER, half_bit) - theory_ebn0_db(
        family.detection, REFERENCE_BER
    )
    need_theory = float("nan")
    if family.uncoded:
        frame_bits = simulate(family, 20.0, 4, seed).frame_bits
        need_theory = theory_ebn0_db(
            family.detection, ber_for_frame_error_rate(REFERENCE_FER, frame_bits)
        )
    summary = Summary(
        family,
        points,
        loss,
        crossing_db(x, [p.fer for p in points], REFERENCE_FER, half_frame),
        crossing_db(x, [p.fer_grsat for p in points], REFERENCE_FER, half_frame)
        if run_grsat
        else float("nan"),
        need_theory,
        cpu,
        cpu_grsat,
        signal_s,
    )
    print(
        f"#  loss vs theory at BER {REFERENCE_BER:g}: {summary.ber_loss_db:.2f} dB; Eb/N0 for FER "
        f"{REFERENCE_FER:g}: ours {summary.need_ours_db:.2f} dB, gr-satellites "
        f"{summary.need_grsat_db:.2f} dB, theory {summary.need_theory_db:.2f} dB; CPU ours "
        f"{cpu:.1f} s, gr-satellites {cpu_grsat:.1f} s for {signal_s:.0f} s of signal",
        flush=True,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few points and frames (CI smoke)")
    parser.add_argument("--no-grsat", action="store_true", help="do not run gr-satellites")
    parser.add_argument("--frames", type=int, default=None, help="frames per point (default 100)")
    parser.add_argument("--families", default=None, help="comma-separated subset of families")
    parser.add_argument("--seed", type=int, default=1, help="base seed of the simulations")
    args = parser.parse_args()
    names = args.families.split(",") if args.families else list(FAMILIES)
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        parser.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
    run_grsat = GRSAT.exists() and not args.no_grsat
    n_frames = args.frames or (12 if args.quick else 100)
    t_start = time.time()
    print(
        f"# receiver sweep (simulated signals): {len(names)} families, gr-satellites "
        f"{'run here on the same samples' if run_grsat else 'not run'}; Eb/N0 per channel bit"
    )
    summaries = []
    for name in names:
        family = FAMILIES[name]
        grid = list(family.ebn0_db[1::3] if args.quick else family.ebn0_db)
        summaries.append(sweep(family, grid, frames_for(family, n_frames), args.seed, run_grsat))
    print(
        f"\n{'family':<20} {'loss @BER1e-3':>13} {'need ours':>9} {'need grsat':>10} "
        f"{'need theory':>11} {'grsat-ours':>10} {'best FER ours':>13} {'best FER grsat':>14}"
    )
    for s in summaries:
        print(
            f"{s.family.name:<20} {s.ber_loss_db:13.2f} {s.need_ours_db:9.2f} "
            f"{s.need_grsat_db:10.2f} {s.need_theory_db:11.2f} "
            f"{s.need_grsat_db - s.need_ours_db:10.2f} {min(p.fer for p in s.points):13.3f} "
            f"{min(p.fer_grsat for p in s.points):14.3f}"
        )
    extra = sum(p.extra for s in summaries for p in s.points)
    print(
        f"# 'need': Eb/N0 (dB) for FER {REFERENCE_FER:g}; theory only for AX.25 (no FEC); "
        f"nan: the curve does not reach it in the grid (see the best FER); frames decoded "
        f"that were not sent: {extra}"
    )
    print(f"# bench wall time {time.time() - t_start:.0f} s")
    fields = [f"extra_frames={extra}"]
    for s in summaries:
        key = s.family.name.replace("-", "_")
        fields.append(f"loss_db_{key}={s.ber_loss_db:.2f}")
        if s.family.uncoded:
            fields.append(f"fer_loss_db_{key}={s.need_ours_db - s.need_theory_db:.2f}")
        if run_grsat:
            fields.append(f"grsat_minus_ours_db_{key}={s.need_grsat_db - s.need_ours_db:.2f}")
    print("RESULT receiver_sweep " + " ".join(fields))


if __name__ == "__main__":
    main()
