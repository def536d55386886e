"""``groundstation decode`` and ``groundstation simulate``: the downlink DSP on files.

decode: a recording -> one line per frame (hex; lines starting with ``#`` are
comments) or JSON with per-frame metadata, optionally a KISS file. Two modes:

- ``--satellite NORAD-or-name``: every transmitter of that satellite from the
  catalogue (groundstation.satellites, dsp.chain); the receiver finds
  subcarrier, carrier offset, level and clock by itself. ``--json`` writes
  one JSON object per frame and line as frames come out (a long recording
  streams).
- ``--profile``: a CCSDS downlink profile (dsp.receiver) on complex I/Q, with
  the pass summary; ``--json`` writes one document at the end.

``--iq`` takes WAV (mono: receiver audio; stereo: I/Q), raw cf32 with
``--sample-rate``, or SigMF cf32_le; the format follows the file name unless
``--format`` says. Recordings are read in blocks, so a long pass runs in
bounded memory. simulate: a profile + frame count + link -> IQ (cf32 or
SigMF). Optional Doppler: a CSV of ``time_s,range_rate_km_s`` (an orbital
track) with ``--carrier-hz``.

Only what each mode uses is imported, when it runs: decoding loads no
database, web or Kafka module (see groundstation.cli).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from groundstation.commands._context import finite, finite_float, int_in, load_input, read_input
from groundstation.errors import ValidationError

if TYPE_CHECKING:
    from dsp.chain import DecodedFrame, SatelliteReceiver
    from dsp.profile import DownlinkProfile
    from dsp.receiver import FrameResult, PassSummary, Receiver
    from dsp.satellite import SatelliteSpec, TransmitterSpec
    from dsp.simulate import LinkConfig
    from dsp.space_packets import PacketExtractor
    from dsp.spectrum import SpectrumSurvey
    from groundstation.commands.decode_pool import SegmentTask

CHUNK_SAMPLES = 1 << 20
#: Block of a --satellite decode: 1.4 s of 48 kHz audio, so a frame is
#: printed soon after the block that ends it (as fast as larger blocks).
SATELLITE_CHUNK_SAMPLES = 1 << 16
#: Samples surveyed to explain a decode that found nothing.
SURVEY_SAMPLES = 1 << 20
MAX_SIMULATED_FRAMES = 100_000
#: What a receiver gives out: FrameResult (--profile) or DecodedFrame (--satellite).
_Frame = TypeVar("_Frame")


def resolve_profile(name_or_path: str) -> DownlinkProfile:
    """A profile from a YAML file path, else a built-in profile name."""
    from dsp.profile import ProfileError, builtin_profile, load_profile

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
    from dsp.channel import doppler_from_range_rate

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
        from dsp.space_packets import PacketExtractor

        self.profile = profile
        self.new_extractor = PacketExtractor
        self.extractors: dict[int, PacketExtractor] = {}
        self.last_count: dict[int, int] = {}

    def push(self, frame: FrameResult) -> list[bytes]:
        from dsp.tm_frame import parse_tm_frame

        if not frame.ok or frame.header is None:
            return []
        vc = frame.header.virtual_channel_id
        count = frame.header.virtual_channel_frame_count
        extractor = self.extractors.setdefault(vc, self.new_extractor())
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


FORMATS = ("auto", "wav", "cf32", "sigmf")


def guess_format(path: str) -> str:
    """The format of a recording by its name: .wav, SigMF (.sigmf-meta,
    .sigmf-data, .sigmf), else raw cf32."""
    name = path.lower()
    if name.endswith(".wav"):
        return "wav"
    if name.endswith((".sigmf-meta", ".sigmf-data", ".sigmf")):
        return "sigmf"
    return "cf32"


@dataclass(frozen=True)
class Recording:
    """A recording opened for decoding in blocks. iq: complex I/Q (else real
    receiver audio); what: how errors and summaries name it."""

    path: Path
    what: str
    fs_hz: float
    iq: bool
    n_samples: int
    _blocks: Callable[[int, int, int | None], Iterator[NDArray[np.generic]]]

    def blocks(
        self, block_samples: int, *, start_sample: int = 0, stop_sample: int | None = None
    ) -> Iterator[tuple[int, NDArray[np.generic]]]:
        """(first sample, samples) blocks of the samples [start_sample,
        stop_sample) (by default all); a sample that is not a finite number is
        a ``ValidationError`` naming the file and the sample."""
        start = start_sample
        for block in self._blocks(block_samples, start_sample, stop_sample):
            bad = np.flatnonzero(~np.isfinite(block))
            if bad.size:
                raise ValidationError(
                    f"{self.what} {str(self.path)!r} holds a sample that is not a finite number "
                    f"({block[bad[0]]}) at sample {start + int(bad[0])}"
                    + (": not a cf32 recording?" if self.what == "IQ file" else "")
                )
            yield start, block
            start += block.size

    def head(self, n_samples: int) -> NDArray[np.complex64]:
        """The first ``n_samples`` (fewer in a short file), as complex."""
        parts, have = [], 0
        for _, block in self.blocks(min(n_samples, 1 << 20)):
            parts.append(block[: n_samples - have])
            have += parts[-1].size
            if have >= n_samples:
                break
        return np.concatenate(parts).astype(np.complex64)

    @property
    def description(self) -> str:
        kind = "I/Q" if self.iq else "receiver audio"
        return f"{self.n_samples} samples ({self.n_samples / self.fs_hz:.3g} s) of {kind} at {self.fs_hz:g} Hz"


def _existing_file(path: Path, what: str) -> int:
    """The size of input file ``path``; missing, a directory or empty is a ValidationError."""
    if path.is_dir():
        raise ValidationError(f"{what} {str(path)!r} is a directory, not a file")
    if not path.is_file():
        raise ValidationError(f"{what} {str(path)!r} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise ValidationError(f"{what} {str(path)!r} is empty (0 bytes): nothing to decode")
    return size


def _same_rate(fs_hz: float | None, header_hz: float, header: str) -> None:
    if fs_hz is not None and abs(fs_hz - header_hz) > 1e-6:
        raise ValidationError(f"--sample-rate {fs_hz:g} disagrees with the {header} {header_hz:g}")


def _open_wav(args: argparse.Namespace) -> Recording:
    from groundstation.satellites.wav import open_wav

    path = Path(args.iq)
    _existing_file(path, "WAV file")
    try:
        wav = open_wav(path)
    except ValueError as exc:
        raise ValidationError(f"WAV file {str(path)!r}: {' '.join(str(exc).split())}") from None
    _same_rate(args.sample_rate, wav.fs_hz, "WAV header's sample rate")
    finite(wav.fs_hz, f"WAV file {str(path)!r}: sample rate", low=0.0)
    if wav.n_samples == 0:
        raise ValidationError(f"WAV file {str(path)!r} holds no samples: nothing to decode")
    return Recording(path, "WAV file", wav.fs_hz, wav.iq, wav.n_samples, wav.blocks)


def _open_cf32(args: argparse.Namespace, fmt: str) -> Recording:
    iq_path = Path(args.iq)
    fs_hz = args.sample_rate
    if fmt == "sigmf":
        iq_path, meta_path = sigmf_paths(args.iq)
        meta_rate = read_sigmf_meta(meta_path)
        _same_rate(fs_hz, meta_rate, "SigMF core:sample_rate")
        fs_hz = meta_rate
    elif fs_hz is None:
        raise ValidationError("--sample-rate is required for raw cf32 input")
    finite(fs_hz, "--sample-rate", low=0.0)
    size = _existing_file(iq_path, "IQ file")
    if size % 8:
        raise ValidationError(
            f"IQ file {str(iq_path)!r} is {size} bytes, not a whole number of cf32 samples "
            "(8 bytes each)"
        )
    n_samples = size // 8

    def blocks(n: int, first: int, stop: int | None) -> Iterator[NDArray[np.generic]]:
        end = n_samples if stop is None else min(stop, n_samples)
        with open(iq_path, "rb") as handle:  # read, not mapped: memory stays flat
            handle.seek(8 * first)
            for start in range(first, end, n):
                yield np.fromfile(handle, dtype=np.complex64, count=min(n, end - start))

    return Recording(iq_path, "IQ file", float(fs_hz), True, n_samples, blocks)


def open_recording(args: argparse.Namespace) -> Recording:
    """The recording ``--iq`` names, in ``--format`` (by default from its name)."""
    fmt = guess_format(args.iq) if args.format == "auto" else args.format
    if fmt == "wav":
        return _open_wav(args)
    return _open_cf32(args, fmt)


def _receiver(
    profile: DownlinkProfile,
    fs_hz: float,
    args: argparse.Namespace,
    doppler: tuple[NDArray[np.float64] | None, NDArray[np.float64] | None],
) -> Receiver:
    from dsp.receiver import Receiver, ReceiverConfig

    center_offset_hz = finite(args.center_offset_hz or 0.0, "--center-offset-hz")
    max_rate_hz_s = args.max_rate_hz_s or 0.0
    if finite(max_rate_hz_s, "--max-rate-hz-s") < 0:
        raise ValidationError(f"--max-rate-hz-s {max_rate_hz_s:g} must be >= 0")
    if args.max_offset_hz is not None:
        finite(args.max_offset_hz, "--max-offset-hz", low=0.0, high=fs_hz / 2)
    try:
        return Receiver(
            profile,
            ReceiverConfig(
                fs_hz=fs_hz,
                center_offset_hz=center_offset_hz,
                doppler_time_s=doppler[0],
                doppler_freq_hz=doppler[1],
                max_offset_hz=args.max_offset_hz,
                max_rate_hz_s=max_rate_hz_s,
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


class _Output:
    """Where decoded frames go: stdout (hex lines or JSON) and the KISS file."""

    def __init__(self, args: argparse.Namespace) -> None:
        from dsp.kiss import kiss_encode

        self.encode = kiss_encode
        # opened before decoding, so a bad path fails at once (exit 2, the path named)
        self.kiss: IO[bytes] | None = open(args.kiss, "wb") if args.kiss else None  # noqa: SIM115

    def kiss_frames(self, frames: list[bytes]) -> None:
        if self.kiss is not None and frames:
            self.kiss.write(self.encode(frames))
            self.kiss.flush()

    def close(self) -> None:
        if self.kiss is not None:
            self.kiss.close()


#: glibc mallopt parameters, and the values a decode sets (keep_freed_memory)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 256 << 20
_TRIM_THRESHOLD_BYTES = 512 << 20


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the memory of freed block-sized arrays for the
    next block instead of giving it back to the kernel: the receivers make
    temporaries of a few MB per block (upsampled audio, filter outputs), each
    otherwise a fresh mmap whose pages fault in again (an FSK decode of 60 s
    took 176,000 page faults and 0.45 s of system CPU; with this 23,000 and
    0.09 s). Peak memory is that of the largest block's arrays either way.
    False where the C library is not glibc (nothing changed)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)
    )


def run_decode(args: argparse.Namespace) -> int:
    keep_freed_memory()
    if args.satellite is not None:
        return run_satellite_decode(args)
    return run_profile_decode(args)


def _decode_blocks(
    recording: Recording,
    block_samples: int,
    process: Callable[[NDArray[np.generic]], list[_Frame]],
    flush: Callable[[], list[_Frame]],
    emit: Callable[[list[_Frame]], None],
    output: _Output,
) -> None:
    """The recording through a receiver (``process`` each block, then
    ``flush``), each batch of frames to ``emit``; the KISS file closed however
    it ends."""
    try:
        for _, block in recording.blocks(block_samples):
            emit(process(block))
        emit(flush())
    finally:
        output.close()


def survey_recording(recording: Recording) -> SpectrumSurvey:
    """The spectrum of the head of a recording, to explain a decode that found nothing."""
    from dsp.spectrum import survey_spectrum

    return survey_spectrum(recording.head(SURVEY_SAMPLES))


def _found_nothing(explanation: str) -> int:
    """Say why a decode found no frame (stderr); its exit code, 1."""
    print("groundstation decode: " + explanation, file=sys.stderr)
    return 1


def _open_iq_recording(args: argparse.Namespace) -> Recording:
    """The recording ``--iq`` names, refused unless complex I/Q (what --profile decodes)."""
    recording = open_recording(args)
    if not recording.iq:
        raise ValidationError(
            f"{recording.what} {str(recording.path)!r} is mono receiver audio; --profile decodes "
            "complex I/Q: decode receiver audio with --satellite"
        )
    return recording


class _ProfileFrames:
    """Frames of a --profile decode as the receiver gives them: kept, with
    their Space Packets, for the JSON document; printed as hex lines unless
    --json; the good ones written to the KISS file."""

    def __init__(self, profile: DownlinkProfile, args: argparse.Namespace, output: _Output) -> None:
        self.args = args
        self.output = output
        self.packets = _Packets(profile)
        self.results: list[FrameResult] = []
        self.packet_list: list[bytes] = []

    def emit(self, frames: list[FrameResult]) -> None:
        for frame in frames:
            self.results.append(frame)
            new_packets = self.packets.push(frame)
            self.packet_list.extend(new_packets)
            if not self.args.json:
                self._print(frame, new_packets)
        self.output.kiss_frames([f.frame for f in frames if f.ok])

    def _print(self, frame: FrameResult, new_packets: list[bytes]) -> None:
        """With --packets the frame's Space Packets, else the frame if good
        (a failed one as a ``# failed`` comment with --all)."""
        if self.args.packets:
            for packet in new_packets:
                print(packet.hex())
        elif frame.ok or self.args.all:
            print(frame.frame.hex() if frame.ok else f"# failed {frame.frame.hex()}")


def _print_pass(
    args: argparse.Namespace,
    profile: DownlinkProfile,
    frames: _ProfileFrames,
    summary: PassSummary,
) -> None:
    """With --json one document (frames, packets, pass summary) on stdout;
    else the pass summary as a comment line on stderr."""
    if args.json:
        print(
            json.dumps(
                {
                    "profile": profile.name,
                    "frames": [r.to_dict() for r in frames.results],
                    "packets": [p.hex() for p in frames.packet_list],
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


def run_profile_decode(args: argparse.Namespace) -> int:
    if args.workers is not None:
        raise ValidationError(
            f"--workers {args.workers}: only with --satellite (a --profile decode runs in one "
            "process)"
        )
    profile = resolve_profile(args.profile)
    doppler = _doppler(args)
    recording = _open_iq_recording(args)
    receiver = _receiver(profile, recording.fs_hz, args, doppler)
    output = _Output(args)
    frames = _ProfileFrames(profile, args, output)
    _decode_blocks(
        recording,
        CHUNK_SAMPLES,
        lambda block: receiver.process(np.asarray(block, np.complex64)),
        receiver.flush,
        frames.emit,
        output,
    )
    summary = receiver.summary()
    _print_pass(args, profile, frames, summary)
    if summary.frames_ok == 0:
        survey = survey_recording(recording)
        return _found_nothing(
            nothing_found(profile, receiver, summary, survey, recording.fs_hz, recording.n_samples)
        )
    return 0


#: Options of the --profile mode, refused with --satellite (the receiver finds them itself).
PROFILE_ONLY = (
    ("center_offset_hz", "--center-offset-hz"),
    ("range_rate_csv", "--range-rate-csv"),
    ("carrier_hz", "--carrier-hz"),
    ("max_offset_hz", "--max-offset-hz"),
    ("max_rate_hz_s", "--max-rate-hz-s"),
    ("all", "--all"),
    ("packets", "--packets"),
)


def _satellite_receiver(sat: SatelliteSpec, recording: Recording) -> SatelliteReceiver:
    from dsp.chain import SatelliteReceiver

    try:
        return SatelliteReceiver(sat, recording.fs_hz, iq=recording.iq)
    except ValueError as exc:  # no transmitter's baud rate fits the sample rate
        raise ValidationError(f"{recording.what} {str(recording.path)!r}: {exc}") from None


def describe_transmitter(tx: TransmitterSpec) -> str:
    """'name: FSK 4800 Bd, ax100-asm-golay (deviation_hz 1600)'."""
    options = ", ".join(
        f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in vars(tx).items()
        if key not in ("name", "frequency_hz", "modulation", "baud_rate", "framing")
        and value is not None
    )
    return f"{tx.name}: {tx.modulation.upper()} {tx.baud_rate:g} Bd, {tx.framing}" + (
        f" ({options})" if options else ""
    )


def _refuse_profile_options(args: argparse.Namespace) -> None:
    """Options of the --profile mode given with --satellite are a ValidationError naming them."""
    given = [flag for key, flag in PROFILE_ONLY if getattr(args, key) not in (None, False)]
    if given:
        raise ValidationError(
            f"{', '.join(given)}: only with --profile; with --satellite the receiver finds "
            "carrier, offset and clock by itself"
        )


class _SatelliteFrames:
    """Frames of a --satellite decode as they come out, in time order within a
    batch: one hex line (or JSON object with --json) each on stdout, flushed so
    a long recording streams; counted per transmitter; written to the KISS file."""

    def __init__(self, args: argparse.Namespace, output: _Output) -> None:
        self.json = bool(args.json)
        self.output = output
        self.counts: Counter[str] = Counter()

    def emit(self, frames: list[DecodedFrame]) -> None:
        if not frames:
            return
        frames.sort(key=lambda f: (f.time_s, f.transmitter))
        for frame in frames:
            self.counts[frame.transmitter] += 1
            print(json.dumps(frame.to_dict()) if self.json else frame.frame.hex())
        sys.stdout.flush()
        self.output.kiss_frames([f.frame for f in frames])

    def tally(self) -> str:
        """'# 3 frames: 2 from a, 1 from b' ('# 0 frames' when none)."""
        total = sum(self.counts.values())
        return f"# {total} frames" + (
            ": " + ", ".join(f"{n} from {tx}" for tx, n in self.counts.items()) if total else ""
        )


def _satellite_blocks(
    args: argparse.Namespace,
    sat: SatelliteSpec,
    recording: Recording,
    receiver: SatelliteReceiver,
    frames: _SatelliteFrames,
    output: _Output,
) -> None:
    """The recording through the receiver in one process, or in segments on
    ``--workers`` processes when it is long enough (decode_pool)."""
    from groundstation.commands.decode_pool import (
        available_cores,
        decode_in_segments,
        plan_segments,
    )

    workers = available_cores() if args.workers is None else args.workers
    segments = plan_segments(recording.n_samples, recording.fs_hz, workers)
    if len(segments) == 1:
        _decode_blocks(
            recording,
            SATELLITE_CHUNK_SAMPLES,
            receiver.process,
            receiver.flush,
            frames.emit,
            output,
        )
        return
    try:
        for batch in decode_in_segments(args, sat, segments, workers, decode_segment):
            frames.emit(batch)
    finally:
        output.close()


def decode_segment(task: SegmentTask) -> list[DecodedFrame]:
    """In a pool worker: one segment of the recording through its own
    receiver, the frames it owns (``decode_pool.segment_frames``)."""
    from groundstation.commands.decode_pool import segment_frames

    args, sat, segment = task
    recording = open_recording(args)
    receiver = _satellite_receiver(sat, recording)
    found = []
    blocks = recording.blocks(
        SATELLITE_CHUNK_SAMPLES, start_sample=segment.read_start, stop_sample=segment.read_stop
    )
    for _, block in blocks:
        found += receiver.process(block)
    found += receiver.flush()
    return segment_frames(found, segment, recording.fs_hz)


def run_satellite_decode(args: argparse.Namespace) -> int:
    from groundstation.satellites import load_catalogue

    _refuse_profile_options(args)
    sat = load_catalogue().find(args.satellite)
    recording = open_recording(args)
    receiver = _satellite_receiver(sat, recording)
    used = [chain.tx for chain in receiver.chains]
    comment = sys.stderr if args.json else sys.stdout
    print(
        f"# {sat.name} ({sat.norad_id}) from {recording.path.name}: {recording.description}; "
        + "; ".join(describe_transmitter(tx) for tx in used),
        file=comment,
    )
    output = _Output(args)
    frames = _SatelliteFrames(args, output)
    _satellite_blocks(args, sat, recording, receiver, frames, output)
    print(frames.tally(), file=comment)
    if not frames.counts:
        skipped = [tx for tx in sat.transmitters if tx not in used]
        survey = survey_recording(recording)
        return _found_nothing(nothing_decoded(sat, recording, used, skipped, survey))
    return 0


def nothing_decoded(
    sat: SatelliteSpec,
    recording: Recording,
    used: list[TransmitterSpec],
    skipped: list[TransmitterSpec],
    survey: SpectrumSurvey,
) -> str:
    """Why a --satellite decode found no frame, what it tried, and hints
    (stderr, exit 1)."""
    lines = [
        f"no frame of {sat.name} ({sat.norad_id}) decoded from {str(recording.path)!r}: "
        f"{recording.description}; tried " + "; ".join(describe_transmitter(tx) for tx in used)
    ]
    for tx in skipped:
        lines.append(
            f"not tried: {describe_transmitter(tx)}: its baud rate needs a sample rate of at "
            f"least twice that, not {recording.fs_hz:g} Hz"
        )
    if survey.silent:
        lines.append("hint: every sample surveyed is zero: the recording is silent")
    elif not survey.stands_out:
        lines.append(
            f"hint: the spectrum is flat ({survey.peak_to_floor_db:.1f} dB above its floor): "
            "no signal stands out of the noise in this recording"
        )
    else:
        where = abs(survey.centre_fraction) * recording.fs_hz
        width = survey.width_fraction * recording.fs_hz
        kind = (
            "I/Q"
            if recording.iq
            else "receiver audio (an FM receiver's for FSK and AFSK, an SSB receiver's for BPSK)"
        )
        lines.append(
            f"hint: a signal stands {survey.peak_to_floor_db:.1f} dB above the noise near "
            f"{'+-' if not recording.iq else ''}{where:.0f} Hz, {width:.0f} Hz wide: check that "
            f"this is {sat.name}, that the file is {kind}, and its sample rate"
        )
    return "\n".join(lines)


def _check_simulate_options(args: argparse.Namespace) -> None:
    """Frame count, samples per symbol and link numbers in range, else a ValidationError."""
    from dsp.receiver import MAX_SAMPLES_PER_SYMBOL, MIN_SAMPLES_PER_SYMBOL

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


def _link_config(
    args: argparse.Namespace,
    doppler: tuple[NDArray[np.float64] | None, NDArray[np.float64] | None],
) -> LinkConfig:
    from dsp.simulate import LinkConfig

    doppler_time_s, doppler_hz = doppler
    return LinkConfig(
        sps=args.sps,
        ebn0_db=args.ebn0,
        phase_rad=args.phase_rad,
        freq_offset_hz=args.freq_offset_hz,
        doppler_time_s=doppler_time_s,
        doppler_freq_hz=doppler_hz,
        clock_ppm=args.clock_ppm,
        seed=args.seed,
    )


def _write_sigmf(
    args: argparse.Namespace,
    profile: DownlinkProfile,
    chunks: Iterable[NDArray[np.complex64]],
    fs_hz: float,
) -> tuple[int, str]:
    """(samples written, data file path) of a SigMF recording named by ``--out``."""
    from ingest.sigmf import SigMFWriter

    data_path, _ = sigmf_paths(args.out)
    writer = SigMFWriter(
        data_path.with_name(data_path.name[: -len(".sigmf-data")]),
        sample_rate_hz=fs_hz,
        center_freq_hz=args.carrier_hz or 0.0,
        capture_start=datetime.now(UTC),
        description=f"groundstation simulate: {args.frames} frames, profile {profile.name}",
        extra_global={"groundstation:simulated": "simulated by groundstation simulate"},
    )
    n_samples = 0
    try:
        for chunk in chunks:
            writer.write(chunk)
            n_samples += chunk.size
    finally:
        writer.close()
    return n_samples, str(data_path)


def _write_cf32(path: str, chunks: Iterable[NDArray[np.complex64]]) -> int:
    """Samples written to the raw cf32 file ``path``."""
    n_samples = 0
    with open(path, "wb") as handle:
        for chunk in chunks:
            chunk.astype(np.complex64).tofile(handle)
            n_samples += chunk.size
    return n_samples


def run_simulate(args: argparse.Namespace) -> int:
    from dsp.simulate import simulate_chunks
    from dsp.transmitter import random_frames

    profile = resolve_profile(args.profile)
    doppler = _doppler(args)
    _check_simulate_options(args)
    frames = random_frames(profile, args.frames, seed=args.seed)
    chunks = simulate_chunks(profile, frames, _link_config(args, doppler))
    fs_hz = float(profile.symbol_rate) * args.sps
    if args.format == "sigmf":
        n_samples, out = _write_sigmf(args, profile, chunks, fs_hz)
    else:
        n_samples, out = _write_cf32(args.out, chunks), args.out
    print(
        f"wrote {n_samples} cf32 samples at {fs_hz:g} Hz ({args.frames} frames, "
        f"profile {profile.name}) to {out}"
    )
    if args.frames_out:
        Path(args.frames_out).write_text("".join(f.hex() + "\n" for f in frames), encoding="utf-8")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_decode(subparsers)
    _register_simulate(subparsers)


def _register_decode(subparsers: argparse._SubParsersAction) -> None:
    decode = subparsers.add_parser(
        "decode",
        help="decode a recording: every transmitter of a satellite, or a CCSDS profile",
        description="Decode a recording: --satellite decodes every transmitter of a satellite "
        "of the catalogue (receiver audio or I/Q; the receiver finds subcarrier, offset, level "
        "and clock itself); --profile decodes a CCSDS downlink profile from I/Q. One hex line "
        "per frame (lines starting with # are comments). Exit 1 when nothing is decoded.",
    )
    mode = decode.add_mutually_exclusive_group(required=True)
    mode.add_argument("--satellite", help="NORAD id or name of a satellite of the catalogue")
    mode.add_argument("--profile", help="built-in profile name or YAML file")
    decode.add_argument(
        "--iq",
        required=True,
        help="recording: WAV (mono: receiver audio; stereo: I/Q), raw interleaved float32 "
        "I/Q (cf32), or SigMF",
    )
    decode.add_argument(
        "--sample-rate",
        type=finite_float,
        default=None,
        help="sample rate in Hz (required for cf32; WAV and SigMF give it)",
    )
    decode.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        help="recording format (default: from the file name: .wav, .sigmf-meta/-data, else cf32)",
    )
    decode.add_argument("--kiss", metavar="FILE", help="also write the frames to a KISS file")
    decode.add_argument(
        "--json",
        action="store_true",
        help="JSON: with --satellite one object per frame and line (transmitter, time, "
        "carrier, SNR, corrections); with --profile one document with the pass summary",
    )
    decode.add_argument(
        "--workers",
        type=int_in(1, 256),
        default=None,
        help="--satellite: processes decoding a recording of 3 minutes or more in overlapping "
        "segments (default: the cores available; 1: one process)",
    )
    _add_profile_only_options(decode.add_argument_group("--profile only"))
    decode.set_defaults(func=run_decode)


def _add_profile_only_options(profile_only: argparse._ArgumentGroup) -> None:
    """Options of the --profile mode (refused with --satellite: PROFILE_ONLY)."""
    profile_only.add_argument(
        "--center-offset-hz", type=finite_float, default=None, help="carrier offset from the centre"
    )
    profile_only.add_argument(
        "--range-rate-csv", help="time_s,range_rate_km_s track to pre-compensate Doppler"
    )
    profile_only.add_argument(
        "--carrier-hz", type=finite_float, help="carrier frequency for --range-rate-csv"
    )
    profile_only.add_argument(
        "--max-offset-hz",
        type=finite_float,
        default=None,
        help="acquisition range (default 0.45*symbol rate)",
    )
    profile_only.add_argument(
        "--max-rate-hz-s",
        type=finite_float,
        default=None,
        help="Doppler rate searched at acquisition (default 0)",
    )
    profile_only.add_argument(
        "--all", action="store_true", help="also print frames that failed RS/CRC"
    )
    profile_only.add_argument(
        "--packets", action="store_true", help="print Space Packets (hex) instead of frames"
    )


def _register_simulate(subparsers: argparse._SubParsersAction) -> None:
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
