"""``groundstation decode`` and ``groundstation simulate``: the downlink DSP on files.

decode: an IQ recording (raw cf32, or SigMF cf32_le) -> one line per frame
(hex) or JSON with per-frame metadata and the pass summary. simulate: a
profile + frame count + link -> IQ (cf32 or SigMF). Optional Doppler: a CSV
of ``time_s,range_rate_km_s`` (an orbital track) with ``--carrier-hz``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from dsp.channel import doppler_from_range_rate
from dsp.profile import DownlinkProfile, ProfileError, builtin_profile, load_profile
from dsp.receiver import (
    MAX_SAMPLES_PER_SYMBOL,
    MIN_SAMPLES_PER_SYMBOL,
    FrameResult,
    PassSummary,
    Receiver,
    ReceiverConfig,
)
from dsp.simulate import LinkConfig, simulate_chunks
from dsp.space_packets import PacketExtractor
from dsp.spectrum import SpectrumSurvey, survey_spectrum
from dsp.tm_frame import parse_tm_frame
from dsp.transmitter import random_frames
from groundstation.commands._context import finite, finite_float, int_in, load_input, read_input
from groundstation.errors import ValidationError
from ingest.sigmf import SigMFWriter

CHUNK_SAMPLES = 1 << 20
#: Samples surveyed to explain a decode that found nothing.
SURVEY_SAMPLES = 1 << 20
MAX_SIMULATED_FRAMES = 100_000


def resolve_profile(name_or_path: str) -> DownlinkProfile:
    """A profile from a YAML file path, else a built-in profile name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ProfileError(f"profile file {name_or_path!r} does not exist")
        return load_input(path, "profile file", lambda text: load_profile(text, source=str(path)))
    return builtin_profile(name_or_path)


def read_doppler_csv(
    path: Path, carrier_hz: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(time_s, doppler_hz) from a ``time_s,range_rate_km_s`` CSV (header optional)."""
    lines = read_input(path, "range-rate CSV").splitlines()
    skip = 1 if lines and not (lines[0][:1].isdigit() or lines[0][:1] in "-+.") else 0
    rows = [line for line in lines[skip:] if line.strip() and not line.lstrip().startswith("#")]
    if len(rows) < 2:
        raise ValidationError(
            f"range-rate CSV {str(path)!r} has {len(rows)} data rows, expected >= 2 rows of "
            "time_s,range_rate_km_s"
        )
    try:
        table = np.loadtxt(rows, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise ValidationError(f"range-rate CSV {str(path)!r}: {exc}") from None
    if table.ndim != 2 or table.shape[1] < 2 or table.shape[0] < 2:
        raise ValidationError(
            f"range-rate CSV {str(path)!r} has shape {table.shape}, expected >= 2 rows of "
            "time_s,range_rate_km_s"
        )
    if not np.all(np.isfinite(table[:, :2])):
        raise ValidationError(f"range-rate CSV {str(path)!r} holds a value that is not finite")
    time_s = table[:, 0]
    if np.any(np.diff(time_s) <= 0):
        raise ValidationError(f"range-rate CSV {str(path)!r}: time_s must increase")
    return time_s, doppler_from_range_rate(table[:, 1], carrier_hz)


def _doppler(
    args: argparse.Namespace,
) -> tuple[NDArray[np.float64] | None, NDArray[np.float64] | None]:
    if args.range_rate_csv is None:
        return None, None
    if args.carrier_hz is None:
        raise ValidationError(
            "--range-rate-csv needs --carrier-hz (the downlink carrier frequency)"
        )
    carrier_hz = finite(args.carrier_hz, "--carrier-hz", low=0.0)
    return read_doppler_csv(Path(args.range_rate_csv), carrier_hz)


class _Packets:
    """Space Packets out of good TM frames, one extractor per virtual channel
    (reset on a virtual channel frame counter gap)."""

    def __init__(self, profile: DownlinkProfile) -> None:
        self.profile = profile
        self.extractors: dict[int, PacketExtractor] = {}
        self.last_count: dict[int, int] = {}

    def push(self, frame: FrameResult) -> list[bytes]:
        if not frame.ok or frame.header is None:
            return []
        vc = frame.header.virtual_channel_id
        count = frame.header.virtual_channel_frame_count
        extractor = self.extractors.setdefault(vc, PacketExtractor())
        if vc in self.last_count and (count - self.last_count[vc]) % 256 != 1:
            extractor.reset()
        self.last_count[vc] = count
        tm = parse_tm_frame(frame.frame, fecf=self.profile.fecf)
        return extractor.push(tm.data_field, tm.header.first_header_pointer)


def sigmf_paths(path: str) -> tuple[Path, Path]:
    """(data, meta) paths of a SigMF recording named by its base, data or meta file."""
    p = Path(path)
    for suffix in (".sigmf-data", ".sigmf-meta", ".sigmf"):
        if p.name.endswith(suffix):
            p = p.with_name(p.name[: -len(suffix)])
            break
    return p.with_name(p.name + ".sigmf-data"), p.with_name(p.name + ".sigmf-meta")


def read_sigmf_meta(meta_path: Path) -> float:
    """The sample rate of a cf32_le SigMF recording; other datatypes are refused."""
    meta = load_input(meta_path, "SigMF metadata", json.loads)
    glob = meta.get("global", {}) if isinstance(meta, dict) else {}
    glob = glob if isinstance(glob, dict) else {}
    datatype = glob.get("core:datatype")
    if datatype != "cf32_le":
        raise ValidationError(
            f"SigMF metadata {str(meta_path)!r}: core:datatype is {datatype!r}; "
            "decode reads 'cf32_le'"
        )
    rate = glob.get("core:sample_rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise ValidationError(
            f"SigMF metadata {str(meta_path)!r}: core:sample_rate is {rate!r}; "
            "expected a positive number"
        )
    return float(rate)


def _decode_input(args: argparse.Namespace) -> tuple[Path, float]:
    """(cf32 data path, sample rate in Hz) of the recording ``args`` name."""
    iq_path = Path(args.iq)
    fs_hz = args.sample_rate
    if args.format == "sigmf":
        iq_path, meta_path = sigmf_paths(args.iq)
        meta_rate = read_sigmf_meta(meta_path)
        if fs_hz is not None and abs(fs_hz - meta_rate) > 1e-6:
            raise ValidationError(
                f"--sample-rate {fs_hz:g} disagrees with the SigMF core:sample_rate {meta_rate:g}"
            )
        fs_hz = meta_rate
    elif fs_hz is None:
        raise ValidationError("--sample-rate is required for raw cf32 input")
    finite(fs_hz, "--sample-rate", low=0.0)
    if iq_path.is_dir():
        raise ValidationError(f"IQ file {str(iq_path)!r} is a directory, not a file")
    if not iq_path.is_file():
        raise ValidationError(f"IQ file {str(iq_path)!r} does not exist")
    size = iq_path.stat().st_size
    if size == 0:
        raise ValidationError(f"IQ file {str(iq_path)!r} is empty (0 bytes): nothing to decode")
    if size % 8:
        raise ValidationError(
            f"IQ file {str(iq_path)!r} is {size} bytes, not a whole number of cf32 samples "
            "(8 bytes each)"
        )
    return iq_path, fs_hz


def _receiver(
    profile: DownlinkProfile,
    fs_hz: float,
    args: argparse.Namespace,
    doppler: tuple[NDArray[np.float64] | None, NDArray[np.float64] | None],
) -> Receiver:
    finite(args.center_offset_hz, "--center-offset-hz")
    if finite(args.max_rate_hz_s, "--max-rate-hz-s") < 0:
        raise ValidationError(f"--max-rate-hz-s {args.max_rate_hz_s:g} must be >= 0")
    if args.max_offset_hz is not None:
        finite(args.max_offset_hz, "--max-offset-hz", low=0.0, high=fs_hz / 2)
    try:
        return Receiver(
            profile,
            ReceiverConfig(
                fs_hz=fs_hz,
                center_offset_hz=args.center_offset_hz,
                doppler_time_s=doppler[0],
                doppler_freq_hz=doppler[1],
                max_offset_hz=args.max_offset_hz,
                max_rate_hz_s=args.max_rate_hz_s,
            ),
        )
    except ValueError as exc:  # the samples per symbol the receiver works with
        raise ValidationError(
            f"--sample-rate {fs_hz!r} with profile {profile.name!r}: {exc}"
        ) from None


def nothing_found(
    profile: DownlinkProfile,
    receiver: Receiver,
    summary: PassSummary,
    survey: SpectrumSurvey,
    fs_hz: float,
    n_samples: int,
) -> str:
    """Why a decode found no good frame, and what to try (stderr, exit 1)."""
    cfg = receiver.config
    max_offset = cfg.max_offset_hz or 0.45 * float(profile.symbol_rate)
    found = (
        f"{summary.frames_failed} frames found, none passed {profile.coding.upper()}/CRC"
        if summary.frames_failed
        else "no frame found (no attached sync marker)"
    )
    lines = [
        f"{found} in {n_samples} samples ({n_samples / fs_hz:.3g} s at --sample-rate "
        f"{fs_hz:g} Hz); tried profile {profile.name}: {profile.modulation.upper()} "
        f"{profile.symbol_rate:g} baud ({receiver.sps:.3g} samples/symbol), coding "
        f"{profile.coding}, {profile.frame_format} frames of {profile.frame_length} bytes, "
        f"carrier searched {cfg.center_offset_hz:+g} +- {max_offset:g} Hz",
    ]
    if survey.silent:
        lines.append("hint: every sample surveyed is zero: the recording is silent")
        return "\n".join(lines)
    if not survey.stands_out:
        lines.append(
            f"hint: the spectrum is flat ({survey.peak_to_floor_db:.1f} dB above its floor): "
            "no signal stands out of the noise in this recording"
        )
        return "\n".join(lines)
    centre_hz = survey.centre_fraction * fs_hz
    implied_fs_hz = float(profile.symbol_rate) / max(survey.width_fraction, 1e-9)
    if not 0.8 <= implied_fs_hz / fs_hz <= 1.25:
        lines.append(
            f"hint: the signal's -3 dB width is {survey.width_fraction:.1%} of the band; at "
            f"{profile.symbol_rate:g} baud that means a sample rate near {implied_fs_hz:.0f} Hz, "
            f"not {fs_hz:g}: check --sample-rate (or the profile's symbol rate)"
        )
    if abs(centre_hz - cfg.center_offset_hz) > max_offset:
        lines.append(
            f"hint: the signal is centred near {centre_hz:+.0f} Hz, outside the searched "
            f"{cfg.center_offset_hz:+g} +- {max_offset:g} Hz: try --center-offset-hz "
            f"{centre_hz:.0f} (or a larger --max-offset-hz)"
        )
    lines.append(
        f"hint: a signal stands {survey.peak_to_floor_db:.1f} dB above the noise; if sample "
        "rate and offset are right, try another profile (modulation, coding, framing)"
    )
    return "\n".join(lines)


def run_decode(args: argparse.Namespace) -> int:
    profile = resolve_profile(args.profile)
    doppler = _doppler(args)
    iq_path, fs_hz = _decode_input(args)
    receiver = _receiver(profile, fs_hz, args, doppler)
    samples = np.memmap(iq_path, dtype=np.complex64, mode="r")
    packets = _Packets(profile)
    results: list[FrameResult] = []
    packet_list: list[bytes] = []

    def emit(frames: list[FrameResult]) -> None:
        for frame in frames:
            results.append(frame)
            new_packets = packets.push(frame)
            packet_list.extend(new_packets)
            if args.json:
                continue
            if args.packets:
                for packet in new_packets:
                    print(packet.hex())
            elif frame.ok or args.all:
                print(frame.frame.hex() if frame.ok else f"# failed {frame.frame.hex()}")

    for start in range(0, samples.size, CHUNK_SAMPLES):
        chunk = np.array(samples[start : start + CHUNK_SAMPLES])
        bad = np.flatnonzero(~np.isfinite(chunk))
        if bad.size:
            raise ValidationError(
                f"IQ file {str(iq_path)!r} holds a sample that is not a finite number "
                f"({chunk[bad[0]]}) at sample {start + int(bad[0])}: not a cf32 recording?"
            )
        emit(receiver.process(chunk))
    emit(receiver.flush())
    summary = receiver.summary()
    if args.json:
        print(
            json.dumps(
                {
                    "profile": profile.name,
                    "frames": [r.to_dict() for r in results],
                    "packets": [p.hex() for p in packet_list],
                    "summary": summary.to_dict(),
                }
            )
        )
    else:
        print(
            f"# {summary.frames_ok} frames ok, {summary.frames_failed} failed, {summary.frames_missing} missing; "
            f"Es/N0 {summary.esn0_db:.1f} dB; offset {summary.acquired_offset_hz:.1f} Hz",
            file=sys.stderr,
        )
    if summary.frames_ok == 0:
        survey = survey_spectrum(np.array(samples[:SURVEY_SAMPLES]))
        print(
            "groundstation decode: "
            + nothing_found(profile, receiver, summary, survey, fs_hz, int(samples.size)),
            file=sys.stderr,
        )
        return 1
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    profile = resolve_profile(args.profile)
    doppler_time_s, doppler_hz = _doppler(args)
    if not 1 <= args.frames <= MAX_SIMULATED_FRAMES:
        raise ValidationError(f"--frames {args.frames} must be 1 to {MAX_SIMULATED_FRAMES}")
    if not MIN_SAMPLES_PER_SYMBOL <= args.sps <= MAX_SAMPLES_PER_SYMBOL:
        raise ValidationError(
            f"--sps {args.sps} must be an integer from {MIN_SAMPLES_PER_SYMBOL} to "
            f"{MAX_SAMPLES_PER_SYMBOL}"
        )
    for flag, value in (
        ("--ebn0", args.ebn0),
        ("--phase-rad", args.phase_rad),
        ("--freq-offset-hz", args.freq_offset_hz),
        ("--clock-ppm", args.clock_ppm),
    ):
        if value is not None:
            finite(value, flag)
    frames = random_frames(profile, args.frames, seed=args.seed)
    link = LinkConfig(
        sps=args.sps,
        ebn0_db=args.ebn0,
        phase_rad=args.phase_rad,
        freq_offset_hz=args.freq_offset_hz,
        doppler_time_s=doppler_time_s,
        doppler_freq_hz=doppler_hz,
        clock_ppm=args.clock_ppm,
        seed=args.seed,
    )
    n_samples = 0
    fs_hz = float(profile.symbol_rate) * args.sps
    out = args.out
    if args.format == "sigmf":
        data_path, _ = sigmf_paths(args.out)
        writer = SigMFWriter(
            data_path.with_name(data_path.name[: -len(".sigmf-data")]),
            sample_rate_hz=fs_hz,
            center_freq_hz=args.carrier_hz or 0.0,
            capture_start=datetime.now(UTC),
            description=f"groundstation simulate: {args.frames} frames, profile {profile.name}",
        )
        try:
            for chunk in simulate_chunks(profile, frames, link):
                writer.write(chunk)
                n_samples += chunk.size
        finally:
            writer.close()
        out = str(data_path)
    else:
        with open(args.out, "wb") as handle:
            for chunk in simulate_chunks(profile, frames, link):
                chunk.astype(np.complex64).tofile(handle)
                n_samples += chunk.size
    print(
        f"wrote {n_samples} cf32 samples at {fs_hz:g} Hz ({args.frames} frames, "
        f"profile {profile.name}) to {out}"
    )
    if args.frames_out:
        Path(args.frames_out).write_text("".join(f.hex() + "\n" for f in frames), encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    decode = subparsers.add_parser(
        "decode", help="decode a cf32 IQ recording with a downlink profile"
    )
    decode.add_argument("--profile", required=True, help="built-in profile name or YAML file")
    decode.add_argument(
        "--iq", required=True, help="IQ file: raw interleaved float32 I/Q, or a SigMF recording"
    )
    decode.add_argument(
        "--sample-rate",
        type=finite_float,
        default=None,
        help="sample rate in Hz (required for cf32; SigMF gives it)",
    )
    decode.add_argument(
        "--format", choices=["cf32", "sigmf"], default="cf32", help="IQ format (default cf32)"
    )
    decode.add_argument(
        "--center-offset-hz", type=finite_float, default=0.0, help="carrier offset from the centre"
    )
    decode.add_argument(
        "--range-rate-csv", help="time_s,range_rate_km_s track to pre-compensate Doppler"
    )
    decode.add_argument(
        "--carrier-hz", type=finite_float, help="carrier frequency for --range-rate-csv"
    )
    decode.add_argument(
        "--max-offset-hz",
        type=finite_float,
        default=None,
        help="acquisition range (default 0.45*symbol rate)",
    )
    decode.add_argument(
        "--max-rate-hz-s",
        type=finite_float,
        default=0.0,
        help="Doppler rate searched at acquisition",
    )
    decode.add_argument(
        "--json", action="store_true", help="JSON with per-frame metadata and pass summary"
    )
    decode.add_argument("--all", action="store_true", help="also print frames that failed RS/CRC")
    decode.add_argument(
        "--packets", action="store_true", help="print Space Packets (hex) instead of frames"
    )
    decode.set_defaults(func=run_decode)

    simulate = subparsers.add_parser("simulate", help="simulate a downlink to a cf32 IQ file")
    simulate.add_argument("--profile", required=True, help="built-in profile name or YAML file")
    simulate.add_argument("--frames", type=int, required=True, help="number of frames")
    simulate.add_argument(
        "--ebn0", type=finite_float, default=None, help="Eb/N0 in dB per frame bit (omit: no noise)"
    )
    simulate.add_argument("--out", required=True, help="output file (cf32) or SigMF base name")
    simulate.add_argument(
        "--format", choices=["cf32", "sigmf"], default="cf32", help="output format (default cf32)"
    )
    simulate.add_argument("--sps", type=int, default=4, help="samples per symbol")
    simulate.add_argument("--freq-offset-hz", type=finite_float, default=0.0)
    simulate.add_argument("--phase-rad", type=finite_float, default=0.0)
    simulate.add_argument("--clock-ppm", type=finite_float, default=0.0)
    simulate.add_argument(
        "--range-rate-csv", help="time_s,range_rate_km_s track giving the Doppler"
    )
    simulate.add_argument(
        "--carrier-hz", type=finite_float, help="carrier frequency for --range-rate-csv"
    )
    simulate.add_argument("--seed", type=int_in(0, 2**63 - 1), default=0)
    simulate.add_argument("--frames-out", help="also write the sent frames as hex lines")
    simulate.set_defaults(func=run_simulate)
