"""Downlink DSP benchmark: coding performance, throughput and memory.

Measured in one run, each beside its reference:
- frames recovered vs Eb/N0 (per transfer-frame bit, so ASM and parity count
  as overhead) for BPSK with the CCSDS concatenated code (I=1) through the
  full receiver: random carrier phase, a 2.5 kHz oscillator offset plus the
  Doppler of a LEO pass at 437 MHz (up to 137 Hz/s, sweeping ~13 kHz, not
  pre-compensated), 30 ppm symbol-clock offset; beside it the same decoder
  with perfect synchronization (soft symbols straight from the AWGN channel:
  the coding limit of our own decoder);
- uncoded BPSK bit error rate through the full receiver vs 0.5*erfc(sqrt(Eb/N0))
  (Eb per channel bit here), and the Eb/N0 gap that BER corresponds to;
- receiver throughput on one core: 9600 baud at 5 samples/symbol, 1 Msym/s
  QPSK (I=5) at 4 samples/symbol (real-time factor);
- peak RSS of a streamed 1 Msym/s pass (run in a subprocess).

Usage: python bench/dsp.py [--quick] [--frames N] [--pass-seconds S]
The last line is ``RESULT dsp ...``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.special import erfc, erfcinv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.proc_status import current_rss_mb, peak_rss_mb  # noqa: E402
from dsp.coding import ChannelCode  # noqa: E402
from dsp.profile import DownlinkProfile, builtin_profile  # noqa: E402
from dsp.receiver import Receiver, ReceiverConfig  # noqa: E402
from dsp.simulate import LinkConfig, esn0_db_for, simulate_chunks  # noqa: E402
from dsp.transmitter import Transmitter, random_frames  # noqa: E402

CARRIER_HZ = 437e6
OSCILLATOR_OFFSET_HZ = 2500.0
CLOCK_PPM = 30.0
LEAD_SYMBOLS = 512


def leo_doppler(duration_s: float, start_s: float = -20.0) -> tuple[np.ndarray, np.ndarray]:
    """Doppler (Hz) of a straight-line LEO flyby: 7.5 km/s, 600 km at closest
    approach, 437 MHz; time from ``start_s`` seconds relative to closest approach."""
    t_s = np.arange(0.0, duration_s + 1.0, 0.5)
    tau = t_s + start_s
    v_km_s, d0_km = 7.5, 600.0
    range_rate_km_s = v_km_s**2 * tau / np.sqrt(d0_km**2 + (v_km_s * tau) ** 2)
    return t_s, -range_rate_km_s * 1e3 / 299_792_458.0 * CARRIER_HZ


def impaired_link(
    profile: DownlinkProfile, sps: int, ebn0_db: float, n_frames: int, seed: int
) -> LinkConfig:
    duration_s = (
        n_frames * profile.channel_bits_per_frame / profile.bits_per_symbol + LEAD_SYMBOLS
    ) / float(profile.symbol_rate)
    t_s, doppler_hz = leo_doppler(duration_s)
    rng = np.random.default_rng(seed)
    return LinkConfig(
        sps=sps,
        ebn0_db=ebn0_db,
        phase_rad=float(rng.uniform(0, 2 * np.pi)),
        freq_offset_hz=OSCILLATOR_OFFSET_HZ,
        doppler_time_s=t_s,
        doppler_freq_hz=doppler_hz,
        clock_ppm=CLOCK_PPM,
        seed=seed,
        lead_symbols=LEAD_SYMBOLS,
    )


def receiver_config(profile: DownlinkProfile, sps: int) -> ReceiverConfig:
    return ReceiverConfig(
        fs_hz=float(profile.symbol_rate) * sps, max_offset_hz=6000.0, max_rate_hz_s=200.0
    )


def run_full(
    profile: DownlinkProfile, sps: int, ebn0_db: float, frames: list[bytes], seed: int
) -> list:
    link = impaired_link(profile, sps, ebn0_db, len(frames), seed)
    rx = Receiver(profile, receiver_config(profile, sps))
    results = []
    for chunk in simulate_chunks(profile, frames, link, frames_per_chunk=64):
        results += rx.process(chunk)
    results += rx.flush()
    return results


def fer_full(profile: DownlinkProfile, ebn0_db: float, n_frames: int, seed: int) -> float:
    frames = random_frames(profile, n_frames, seed=seed)
    results = run_full(profile, 5, ebn0_db, frames, seed)
    good = {r.frame for r in results if r.ok}
    return 1.0 - sum(1 for f in frames if f in good) / n_frames


def fer_perfect_sync(profile: DownlinkProfile, ebn0_db: float, n_frames: int, seed: int) -> float:
    """Known frame positions, no carrier/timing error: AWGN on the channel symbols."""
    frames = random_frames(profile, n_frames, seed=seed)
    symbols = Transmitter(profile, 2).channel_symbols(frames)
    rng = np.random.default_rng(seed + 7)
    n0 = 10 ** (-esn0_db_for(profile, ebn0_db) / 10)
    soft = (symbols.real + np.sqrt(n0 / 2) * rng.standard_normal(symbols.size)).astype(np.float32)
    code = ChannelCode(profile)
    n = code.channel_bits_per_frame
    lost = 0
    for i, frame in enumerate(frames):
        block = code.decode_block(soft[i * n : i * n + code.block_bits])
        lost += int(not (block.rs_ok and block.frame == frame))
    return lost / n_frames


def ber_uncoded(ebn0_db: float, n_frames: int, seed: int) -> tuple[float, int, int]:
    """(bit error rate, bits compared, frames not found) through the full receiver;
    Eb per channel bit (Es = Eb for BPSK)."""
    profile = builtin_profile("bpsk-uncoded")
    ebn0_info_db = ebn0_db - 10 * np.log10(profile.info_bits_per_channel_bit)
    frames = random_frames(profile, n_frames, seed=seed)
    sps = 5
    results = run_full(profile, sps, ebn0_info_db, frames, seed)
    frame_symbols = profile.channel_bits_per_frame
    errors = bits = 0
    seen = set()
    for r in results:
        symbol = r.asm_sample * (1 + CLOCK_PPM * 1e-6) / sps - LEAD_SYMBOLS
        i = int(round(symbol / frame_symbols))
        if 0 <= i < n_frames and i not in seen:
            seen.add(i)
            sent = np.frombuffer(frames[i], np.uint8)
            got = np.frombuffer(r.frame, np.uint8)
            errors += int(np.unpackbits(sent ^ got).sum())
            bits += 8 * sent.size
    return errors / max(bits, 1), bits, n_frames - len(seen)


def throughput(profile: DownlinkProfile, sps: int, seconds: float) -> tuple[float, float, int]:
    """(samples/s of the receiver, real-time factor, frames ok) on a stored stream."""
    n_frames = int(
        np.ceil(
            seconds
            * float(profile.symbol_rate)
            * profile.bits_per_symbol
            / profile.channel_bits_per_frame
        )
    )
    frames = random_frames(profile, n_frames, seed=99)
    link = impaired_link(profile, sps, 5.0, n_frames, seed=5)
    if profile.symbol_rate > 1e5:  # Doppler is negligible against 1 Msym/s; keep the offset
        link.doppler_time_s = link.doppler_freq_hz = None
        link.freq_offset_hz = 20e3
    chunks = list(simulate_chunks(profile, frames, link, frames_per_chunk=max(1, n_frames // 20)))
    n_samples = sum(c.size for c in chunks)
    config = receiver_config(profile, sps)
    if profile.symbol_rate > 1e5:
        config.max_offset_hz, config.max_rate_hz_s = 100e3, 0.0
    warm = Receiver(profile, config)  # load numba caches outside the timing
    warm.process(chunks[0][:200_000])
    warm.flush()
    rx = Receiver(profile, config)
    t0 = time.process_time()
    ok = 0
    for chunk in chunks:
        ok += sum(r.ok for r in rx.process(chunk))
    ok += sum(r.ok for r in rx.flush())
    elapsed = time.process_time() - t0
    rate = n_samples / elapsed
    return rate, rate / (float(profile.symbol_rate) * sps), ok


def memory_child(pass_seconds: float) -> None:
    """Stream a 1 Msym/s pass through generator and receiver; print JSON."""
    profile = builtin_profile("ccsds-qpsk-conv-rs-i5")
    sps = 4
    frames_per_chunk = 8
    per_frame_s = (
        profile.channel_bits_per_frame / profile.bits_per_symbol / float(profile.symbol_rate)
    )
    n_frames = int(np.ceil(pass_seconds / per_frame_s))
    link = LinkConfig(
        sps=sps, ebn0_db=5.0, phase_rad=1.0, freq_offset_hz=20e3, clock_ppm=CLOCK_PPM, seed=3
    )
    config = ReceiverConfig(fs_hz=float(profile.symbol_rate) * sps, max_offset_hz=100e3)
    rx = Receiver(profile, config)
    ok = 0
    rss_quarter_mb = 0.0

    def frame_stream() -> Iterator[list[bytes]]:
        source_rng = 0
        for start in range(0, n_frames, frames_per_chunk):
            yield random_frames(
                profile, min(frames_per_chunk, n_frames - start), seed=source_rng + start
            )

    # Generate frames lazily so memory does not scale with the pass length.
    from dsp.channel import Channel, ChannelConfig

    tx = Transmitter(profile, sps, clock_ppm=link.clock_ppm)
    channel = Channel(
        ChannelConfig(
            fs_hz=tx.fs_hz,
            phase_rad=1.0,
            freq_offset_hz=20e3,
            esn0_db=esn0_db_for(profile, 5.0),
            seed=3,
        )
    )
    n_chunks = -(-n_frames // frames_per_chunk)
    for k, batch in enumerate(frame_stream()):
        iq = channel.process(tx.process(batch, final=k == n_chunks - 1))
        ok += sum(r.ok for r in rx.process(iq))
        if k == n_chunks // 4:
            rss_quarter_mb = current_rss_mb()
    ok += sum(r.ok for r in rx.flush())
    print(
        json.dumps(
            {
                # VmHWM of this process (ru_maxrss also counts the parent's RSS
                # at the fork), or the RSS read at 25 % if above it: with a flat
                # RSS, VmHWM was seen to read ~0.3 MB under that earlier VmRSS
                # (the kernel's RSS counters are updated in per-thread batches)
                "peak_rss_mb": max(peak_rss_mb(), rss_quarter_mb),
                "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_quarter_mb": rss_quarter_mb,
                "rss_end_mb": current_rss_mb(),
                "frames": n_frames,
                "ok": ok,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="few frames, short streams (smoke test)"
    )
    parser.add_argument(
        "--frames", type=int, default=None, help="frames per Eb/N0 point (default 1000)"
    )
    parser.add_argument(
        "--pass-seconds",
        type=float,
        default=None,
        help="seconds of 1 Msym/s pass for the memory figure",
    )
    parser.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return
    n_frames = args.frames or (60 if args.quick else 1000)
    pass_seconds = args.pass_seconds or (3.0 if args.quick else 60.0)
    ebn0_points = np.arange(1.5, 6.01, 0.5)
    coded = builtin_profile("ccsds-bpsk-conv-rs")
    t_start = time.time()

    print(
        f"# dsp bench: {n_frames} frames per point, profile {coded.name} (BPSK, conv K=7 + RS(255,223) I=1)"
    )
    print(
        "# full receiver: random phase, 2.5 kHz offset + LEO Doppler at 437 MHz (no pre-comp), 30 ppm clock, 9600 baud x5"
    )
    print(
        f"{'Eb/N0 dB':>8} {'FER full rx':>12} {'FER perfect':>12} {'uncoded BER':>12} {'theory BER':>12} {'gap dB':>7}"
    )
    fer_full_by = {}
    fer_limit_by = {}
    gaps = []
    for i, ebn0 in enumerate(ebn0_points):
        full = fer_full(coded, float(ebn0), n_frames, seed=100 + i)
        limit = fer_perfect_sync(coded, float(ebn0), n_frames, seed=200 + i)
        ber, n_bits, missing = ber_uncoded(float(ebn0), max(n_frames // 2, 30), seed=300 + i)
        theory = 0.5 * erfc(np.sqrt(10 ** (ebn0 / 10)))
        gap = float(ebn0 - 10 * np.log10(erfcinv(2 * ber) ** 2)) if 0 < ber < 0.5 else float("nan")
        if ber * n_bits >= 100:
            gaps.append(gap)
        fer_full_by[round(float(ebn0), 1)] = full
        fer_limit_by[round(float(ebn0), 1)] = limit
        print(
            f"{ebn0:8.1f} {full:12.4f} {limit:12.4f} {ber:12.3e} {theory:12.3e} {gap:7.3f}"
            + (f"  ({missing} uncoded frames not found)" if missing else ""),
            flush=True,
        )
    worst_gap = max(abs(g) for g in gaps) if gaps else float("nan")
    print(f"# uncoded BER: worst Eb/N0 gap to theory {worst_gap:.3f} dB (goal <= 0.3 dB)")
    print(
        f"# frames recovered at 3.0 dB: {100 * (1 - fer_full_by[3.0]):.2f} % (goal >= 99 %); "
        f"perfect sync at 2.5 dB: {100 * (1 - fer_limit_by[2.5]):.2f} %"
    )

    seconds_9600 = 30.0 if args.quick else 300.0
    rate_9600, rt_9600, ok_9600 = throughput(coded, 5, seconds_9600)
    print(
        f"# throughput 9600 baud x5: {rate_9600 / 1e6:.2f} Msamples/s on one core "
        f"({rt_9600:.0f}x real time; goal >= 4 Msamples/s), {ok_9600} frames ok"
    )
    fast = builtin_profile("ccsds-qpsk-conv-rs-i5")
    rate_1m, rt_1m, ok_1m = throughput(fast, 4, 0.5 if args.quick else 3.0)
    print(
        f"# throughput 1 Msym/s QPSK x4: {rate_1m / 1e6:.2f} Msamples/s, real-time factor {rt_1m:.2f} "
        f"(goal >= 1), {ok_1m} frames ok"
    )

    parent_rss_mb = current_rss_mb()
    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(pass_seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"# memory: {pass_seconds:.0f} s of a 1 Msym/s x4 pass streamed: peak RSS {mem['peak_rss_mb']:.0f} MB "
        f"(VmHWM of the child), RSS at 25 % {mem['rss_quarter_mb']:.0f} MB -> end {mem['rss_end_mb']:.0f} MB "
        f"({mem['ok']}/{mem['frames']} frames ok; goal < 1024 MB for 15 min); the child's ru_maxrss "
        f"says {mem['ru_maxrss_mb']:.0f} MB: it counts this bench's {parent_rss_mb:.0f} MB at the fork"
    )
    print(f"# bench wall time {time.time() - t_start:.0f} s")
    print(
        f"RESULT dsp fer_at_3db={fer_full_by[3.0]:.4f} fer_at_2p5db={fer_full_by[2.5]:.4f} "
        f"limit_fer_at_2p5db={fer_limit_by[2.5]:.4f} msps_9600={rate_9600 / 1e6:.2f} "
        f"realtime_factor_1msym={rt_1m:.2f} peak_rss_mb={mem['peak_rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
