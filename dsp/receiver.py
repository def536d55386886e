"""The receiver: complex64 IQ chunks -> decoded frames with per-frame metadata
and a pass summary.

Chain (each stage its own module): Doppler pre-compensation (predicted
frequency profile + known centre offset) -> residual frequency acquisition
on the first block (dsp.acquisition) -> matched filter, timing and carrier
recovery (dsp.demodulator) -> frame sync with ambiguity resolution
(dsp.framesync) -> Viterbi / de-randomizer / Reed-Solomon (dsp.coding) ->
frame parsing by ``frame_format`` (FRAME_PARSERS). The stages are chosen from
registries keyed by the profile's names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.acquisition import acquire_frequency
from dsp.coding import ChannelCode, DecodedBlock
from dsp.demodulator import DemodConfig, SymbolDemodulator
from dsp.framesync import FrameCandidate, FrameSynchronizer
from dsp.modulation import MODULATION_REGISTRY
from dsp.profile import DownlinkProfile
from dsp.tm_frame import TmFrameHeader, parse_tm_frame


@dataclass(frozen=True)
class ParsedFrame:
    header: TmFrameHeader | None
    crc_ok: bool | None


def _parse_tm(frame: bytes, profile: DownlinkProfile) -> ParsedFrame:
    tm = parse_tm_frame(frame, fecf=profile.fecf)
    return ParsedFrame(tm.header, tm.crc_ok)


def _parse_raw(frame: bytes, profile: DownlinkProfile) -> ParsedFrame:
    return ParsedFrame(None, None)


# Keyed by the profile's frame_format.
FRAME_PARSERS: dict[str, Callable[[bytes, DownlinkProfile], ParsedFrame]] = {
    "tm": _parse_tm,
    "raw": _parse_raw,
}


@dataclass(frozen=True)
class FrameResult:
    """One frame out of the receiver.

    asm_time_s: time of the ASM's first symbol from the start of the stream;
    asm_errors: bit errors seen in the sync pattern (-1: placed by flywheel);
    rs_corrections: per codeword (-1 uncorrectable); ok: RS ok (if used) and CRC
    ok (if checked)."""

    sequence: int
    asm_time_s: float
    asm_sample: float
    asm_errors: int
    rotation: int
    rs_corrections: tuple[int, ...]
    crc_ok: bool | None
    ok: bool
    frame: bytes
    header: TmFrameHeader | None

    def to_dict(self) -> dict[str, object]:
        h = self.header
        return {
            "sequence": self.sequence,
            "asm_time_s": round(self.asm_time_s, 6),
            "asm_errors": self.asm_errors,
            "rotation": self.rotation,
            "rs_corrections": list(self.rs_corrections),
            "crc_ok": self.crc_ok,
            "ok": self.ok,
            "spacecraft_id": h.spacecraft_id if h else None,
            "virtual_channel_id": h.virtual_channel_id if h else None,
            "master_channel_frame_count": h.master_channel_frame_count if h else None,
            "virtual_channel_frame_count": h.virtual_channel_frame_count if h else None,
            "frame_hex": self.frame.hex(),
        }


@dataclass(frozen=True)
class PassSummary:
    """esn0_db: M2M4 estimate over the symbols of the stretches where frames
    were found (all symbols if none were); freq_time_s/freq_hz: carrier
    frequency track (total removed frequency, decimated); pre_fec_ber: channel
    bit errors / bits over frames that decoded OK (None if none did)."""

    frames_ok: int
    frames_failed: int
    frames_missing: int
    esn0_db: float
    pre_fec_ber: float | None
    acquired_offset_hz: float
    acquired_rate_hz_s: float
    freq_time_s: NDArray[np.float64]
    freq_hz: NDArray[np.float64]
    n_symbols: int

    def to_dict(self) -> dict[str, object]:
        return {
            "frames_ok": self.frames_ok,
            "frames_failed": self.frames_failed,
            "frames_missing": self.frames_missing,
            "esn0_db": round(self.esn0_db, 3),
            "pre_fec_ber": self.pre_fec_ber,
            "acquired_offset_hz": round(self.acquired_offset_hz, 3),
            "acquired_rate_hz_s": round(self.acquired_rate_hz_s, 3),
            "frequency_track": {
                "time_s": [round(float(t), 4) for t in self.freq_time_s],
                "freq_hz": [round(float(f), 2) for f in self.freq_hz],
            },
            "n_symbols": self.n_symbols,
        }


@dataclass
class ReceiverConfig:
    """fs_hz: sample rate; center_offset_hz: known offset of the carrier from
    the recording's centre; doppler_time_s/doppler_freq_hz: predicted Doppler
    (from an orbital track's range rate) to pre-compensate, time from the
    first sample; max_offset_hz/max_rate_hz_s: acquisition search range for
    what remains; track_interval_s: spacing of the frequency track;
    reacquire_frames: when no ASM is seen for this many frame durations the
    receiver acquires again and restarts its loops (signal after noise, loss
    of lock); detection_factor: acquisition blocks whose strongest cell is
    below this many times the typical noise peak are skipped as noise."""

    fs_hz: float
    center_offset_hz: float = 0.0
    doppler_time_s: NDArray[np.float64] | None = None
    doppler_freq_hz: NDArray[np.float64] | None = None
    acquire: bool = True
    max_offset_hz: float | None = None
    max_rate_hz_s: float = 0.0
    acquisition_symbols: int = 4096
    timing_bn_t: float = 0.001
    carrier_bn_t: float = 0.007
    track_interval_s: float = 0.5
    reacquire_frames: float = 8.0
    detection_factor: float = 2.0


def m2m4_esn0_db(m2_sum: float, m4_sum: float, count: int) -> float:
    """M2M4 Es/N0 estimate (complex, constant-modulus signal) from moment sums."""
    if count == 0:
        return float("nan")
    m2, m4 = m2_sum / count, m4_sum / count
    s = np.sqrt(max(2 * m2 * m2 - m4, 0.0))
    n = m2 - s
    if n <= 0:
        return float("inf")
    if s <= 0:
        return float("-inf")
    return float(10 * np.log10(s / n))


#: Samples per symbol the receiver works with: at least 2 (Nyquist), and at
#: most 1024, which bounds its acquisition block (4096 symbols: 32 MB).
MIN_SAMPLES_PER_SYMBOL = 2
MAX_SAMPLES_PER_SYMBOL = 1024


def _samples_per_symbol(fs_hz: float, symbol_rate_baud: float) -> float:
    """``fs_hz / symbol_rate_baud``, refused outside the receiver's range."""
    sps = fs_hz / symbol_rate_baud
    if not MIN_SAMPLES_PER_SYMBOL <= sps <= MAX_SAMPLES_PER_SYMBOL:
        raise ValueError(
            f"sample rate {fs_hz:g} Hz gives {sps:.4g} samples per symbol at "
            f"{symbol_rate_baud:g} baud, expected {MIN_SAMPLES_PER_SYMBOL} to "
            f"{MAX_SAMPLES_PER_SYMBOL} (decimate a recording sampled faster)"
        )
    return sps


class Receiver:
    """Streaming receiver for one profile: ``process`` chunks, then ``flush``."""

    def __init__(self, profile: DownlinkProfile, config: ReceiverConfig) -> None:
        if (config.doppler_time_s is None) != (config.doppler_freq_hz is None):
            raise ValueError("doppler_time_s and doppler_freq_hz must be given together")
        self.profile = profile
        self.config = config
        self.modulation = MODULATION_REGISTRY[profile.modulation]
        self.code = ChannelCode(profile)
        self.sps = _samples_per_symbol(config.fs_hz, float(profile.symbol_rate))
        self._n_acq = 1 << int(np.ceil(np.log2(config.acquisition_symbols * self.sps)))
        frame_samples = (
            self.code.channel_bits_per_frame / self.modulation.bits_per_symbol * self.sps
        )
        self._reacquire_samples = int(max(config.reacquire_frames * frame_samples, 2 * self._n_acq))
        self._init_stream()
        self._init_counts()
        #: Called with each batch of demodulated symbols and their absolute
        #: sample positions (quick-looks: a constellation snapshot); None: no one.
        self.symbol_tap: Callable[[NDArray[np.complex64], NDArray[np.float64]], None] | None = None

    def _init_stream(self) -> None:
        """Where the stream stands: samples pending, the demodulator and frame
        synchronizer of the current segment, and the acquired frequency."""
        self._pending = np.zeros(0, dtype=np.complex64)  # raw samples not yet demodulated
        self._pending_start = 0  # absolute index of _pending[0]
        self._segment_start = 0  # absolute sample index where the current demodulator began
        self._next_check = 0
        self._demod: SymbolDemodulator | None = None
        self.sync = self._new_sync()
        self._offset_hz = 0.0
        self._rate_hz_s = 0.0
        self._n_acquisitions = 0
        self._positions = np.zeros(0, dtype=np.float64)  # sample position per buffered symbol
        self._pos_base = 0  # segment symbol index of _positions[0]

    def _init_counts(self) -> None:
        """Frame counts, bit-error and moment sums and the frequency track, all zero."""
        self._n_frames = 0
        self._asm_frames = 0  # frames whose ASM was seen
        self._asm_frames_at_check = 0
        self._segment_asm_frames = 0
        self._ok = 0
        self._failed = 0
        self._missing = 0
        self._last_count: int | None = None
        self._bit_errors = 0
        self._bits_checked = 0
        self._moments = [0.0, 0.0, 0]  # M2M4 sums of finished segments
        self._track_t: list[float] = []
        self._track_f: list[float] = []
        self._next_track_sym = 0

    def _new_sync(self) -> FrameSynchronizer:
        pattern, offset = self.code.sync_pattern
        return FrameSynchronizer(
            self.modulation,
            pattern,
            offset,
            self.code.channel_bits_per_frame,
            self.code.block_bits,
        )

    # ----- frequency plan -----
    def _known_freq_hz(self, start: int, n: int) -> NDArray[np.float64]:
        c = self.config
        t = (start + np.arange(n)) / c.fs_hz
        f = np.full(n, c.center_offset_hz, dtype=np.float64)
        if c.doppler_time_s is not None and c.doppler_freq_hz is not None:
            f += np.interp(t, c.doppler_time_s, c.doppler_freq_hz)
        return f

    def _start(self, block: NDArray[np.complex64]) -> bool:
        """Acquire on ``block`` (the first samples from ``_segment_start``) and
        start a fresh demodulator and frame synchronizer there; False (nothing
        started) when no carrier stands out of the noise."""
        c = self.config
        if c.acquire:
            known = self._known_freq_hz(self._segment_start, block.size)
            phase = 2 * np.pi * np.cumsum(known) / c.fs_hz
            pre = (block * np.exp(-1j * phase)).astype(np.complex64)
            max_offset = c.max_offset_hz or 0.45 * float(self.profile.symbol_rate)
            decimate = max(int(self.sps // 2), 1)
            acq = acquire_frequency(
                pre,
                c.fs_hz,
                self.modulation.power,
                max_offset_hz=max_offset,
                max_rate_hz_s=c.max_rate_hz_s,
                decimate=decimate,
            )
            self._n_acquisitions += 1
            if acq.significance < c.detection_factor:
                return False
            self._offset_hz, self._rate_hz_s = acq.offset_hz, acq.rate_hz_s
        power = float(np.mean(np.abs(block) ** 2)) if block.size else 1.0
        gain = 1.0 / np.sqrt(max(power * self.sps, 1e-20))
        cfg = DemodConfig(
            sps=self.sps,
            rrc_alpha=self.profile.rrc_alpha,
            detector=self.modulation.detector,
            timing_bn_t=c.timing_bn_t,
            carrier_bn_t=c.carrier_bn_t,
            # the signal may begin anywhere in the acquisition block: pull in with
            # wide loops until well past it
            settle_symbols=int(self._n_acq / self.sps) + 1500,
        )
        self._demod = SymbolDemodulator(cfg, c.fs_hz, initial_gain=gain)
        self.sync = self._new_sync()
        self._positions = np.zeros(0, dtype=np.float64)
        self._pos_base = 0
        self._next_track_sym = 0
        self._next_check = self._segment_start + self._reacquire_samples
        self._asm_frames_at_check = self._asm_frames
        return True

    # ----- streaming -----
    def process(self, iq: NDArray[np.complex64]) -> list[FrameResult]:
        """Feed one chunk; returns the frames completed by it."""
        self._pending = np.concatenate([self._pending, np.asarray(iq, dtype=np.complex64)])
        return self._advance(final=False)

    def flush(self) -> list[FrameResult]:
        """End of stream: decode what remains."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> list[FrameResult]:
        """Demodulate pending samples, cutting at the re-acquisition checkpoints
        (absolute sample indices) so that chunking changes no decision: when no
        ASM was seen since the previous checkpoint, restart there."""
        results: list[FrameResult] = []
        while True:
            if self._demod is None:
                if self._pending.size < self._n_acq and not (final and self._pending.size >= 256):
                    return results
                if not self._start(self._pending[: self._n_acq]):
                    # no signal in this block: skip it and try the next one
                    skip = min(self._n_acq, self._pending.size)
                    self._pending = self._pending[skip:]
                    self._pending_start += skip
                    self._segment_start = self._pending_start
                    continue
            end = self._pending_start + self._pending.size
            stop = min(end, self._next_check)
            n = stop - self._pending_start
            at_end = final and stop == end
            results += self._run(self._pending[:n], final=at_end)
            self._pending = self._pending[n:]
            self._pending_start = stop
            if stop < self._next_check:
                return results
            if self._asm_frames == self._asm_frames_at_check:
                self._close_segment()
                self._segment_start = stop
                self._demod = None  # nothing seen for a while: acquire again here
            else:
                self._asm_frames_at_check = self._asm_frames
                self._next_check += self._reacquire_samples
            if at_end:
                return results

    def _close_segment(self) -> None:
        """Keep the Es/N0 moments of a segment only if it held frames."""
        if self._demod is not None and self._asm_frames > self._segment_asm_frames:
            m2, m4, count = self._demod.moments()
            self._moments = [self._moments[0] + m2, self._moments[1] + m4, self._moments[2] + count]
        self._segment_asm_frames = self._asm_frames

    def _run(self, iq: NDArray[np.complex64], final: bool) -> list[FrameResult]:
        assert self._demod is not None
        start = self._pending_start
        freq = self._known_freq_hz(start, iq.size) + self._offset_hz
        out = self._demod.process(iq, freq)
        positions = out.sample_pos + self._segment_start
        self._record_track(positions, out.freq_hz)
        if self.symbol_tap is not None:
            self.symbol_tap(out.symbols, positions)
        self._positions = np.concatenate([self._positions, positions])
        candidates = self.sync.push(out.symbols, final=final)
        decoded = (self._decode(c) for c in candidates)
        results = [r for r in decoded if r is not None]
        keep_from = self.sync._sym_base  # symbols the synchronizer may still need
        drop = max(keep_from - self._pos_base - 1, 0)
        self._positions = self._positions[drop:]
        self._pos_base += drop
        return results

    def _record_track(self, pos: NDArray[np.float64], freq: NDArray[np.float32]) -> None:
        assert self._demod is not None
        first = self._demod.n_symbols - pos.size
        every = max(int(self.config.track_interval_s * float(self.profile.symbol_rate)), 1)
        while self._next_track_sym < first + pos.size:
            i = self._next_track_sym - first
            self._track_t.append(float(pos[i]) / self.config.fs_hz)
            self._track_f.append(float(freq[i]))
            self._next_track_sym += every

    def _sample_of_bit(self, bit: int) -> float:
        sym = bit // self.modulation.bits_per_symbol
        i = min(max(sym - self._pos_base, 0), max(self._positions.size - 1, 0))
        return float(self._positions[i]) if self._positions.size else 0.0

    def _decode(self, cand: FrameCandidate) -> FrameResult | None:
        """Decode one candidate; None for a flywheel placement (ASM not seen)
        that does not decode either: no evidence of a frame there."""
        block = self.code.decode_block(cand.soft)
        rs_ok = block.rs_ok
        parsed = FRAME_PARSERS[self.profile.frame_format](block.frame, self.profile)
        ok = rs_ok and parsed.crc_ok is not False
        if not ok and cand.asm_errors < 0:
            return None
        if cand.asm_errors >= 0:
            self._asm_frames += 1
        if ok:
            self._ok += 1
            self._count_channel_errors(cand, block)
            if parsed.header is not None:
                count = parsed.header.master_channel_frame_count
                if self._last_count is not None:
                    self._missing += (count - self._last_count - 1) % 256
                self._last_count = count
        else:
            self._failed += 1
        sample = self._sample_of_bit(cand.start_bit)
        result = FrameResult(
            sequence=self._n_frames,
            asm_time_s=sample / self.config.fs_hz,
            asm_sample=sample,
            asm_errors=cand.asm_errors,
            rotation=cand.rotation,
            rs_corrections=block.rs_corrections,
            crc_ok=parsed.crc_ok,
            ok=ok,
            frame=block.frame,
            header=parsed.header,
        )
        self._n_frames += 1
        return result

    def _count_channel_errors(self, cand: FrameCandidate, block: DecodedBlock) -> None:
        """Re-encode a good frame and compare with the hard decisions."""
        bits = self.code.channel_bits_of(block.frame)
        skip = self.code.sync_pattern[1]
        n = min(bits.size, self.code.channel_bits_per_frame)
        hard = (cand.soft[skip:n] < 0).astype(np.uint8)
        self._bit_errors += int(np.count_nonzero(hard != bits[skip:n]))
        self._bits_checked += n - skip

    def summary(self) -> PassSummary:
        current = self._demod is not None and self._asm_frames > self._segment_asm_frames
        m2, m4, count = self._demod.moments() if current and self._demod else (0.0, 0.0, 0)
        if not current and self._moments[2] == 0 and self._demod is not None:
            m2, m4, count = self._demod.moments()  # no frames anywhere: report what was seen
        m2 += self._moments[0]
        m4 += self._moments[1]
        count += int(self._moments[2])
        return PassSummary(
            frames_ok=self._ok,
            frames_failed=self._failed,
            frames_missing=self._missing,
            esn0_db=m2m4_esn0_db(m2, m4, count),
            pre_fec_ber=self._bit_errors / self._bits_checked if self._bits_checked else None,
            acquired_offset_hz=self._offset_hz,
            acquired_rate_hz_s=self._rate_hz_s,
            freq_time_s=np.array(self._track_t),
            freq_hz=np.array(self._track_f),
            n_symbols=count,
        )
