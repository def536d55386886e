"""Deframers: soft symbols of one demodulator branch -> frames with metadata.

Each deframer takes ``SoftSymbols`` chunks (positive = bit 0, one channel
bit per symbol) and returns ``Deframed`` frames in the form gr-satellites
prints them (after FEC and deframing). State (line decoders, buffers, search
position) is kept between chunks and every decision is taken at absolute
symbol positions, so chunking changes no output.

- ``Ax25Deframer``: hard bits -> NRZI -> (G3RUH) -> HDLC with FCS.
- ``SyncWordDeframer``: a sync word, contiguous or spread (AO-40), searched
  in both polarities allowing ``max_errors`` bit errors, after an optional
  line decoder (NRZI, G3RUH); at every hit the block that follows goes to
  the framing's block decoder (Golay/RS, Viterbi/RS, ...), which says whether
  it is a frame and how many bits it took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.ax25_repair import RepairConfig, repair_frame
from dsp.g3ruh import g3ruh_descramble
from dsp.hdlc import HdlcDeframer
from dsp.nrzi import nrzi_decode
from dsp.segments import SoftSymbols


@dataclass(frozen=True)
class Deframed:
    """frame: the decoded frame; sample_pos: input sample index of its first
    channel bit (flag or sync word); n_bits: channel bits it spans from there;
    snr_db: Es/N0 estimated from its soft symbols; corrections: what the
    codes fixed, e.g. (("golay", 1), ("rs", 3)); bits: the n_bits received
    bits after line decoding (NRZI, G3RUH) and polarity, as the block decoder
    or HDLC saw them, packed MSB first (to check or decode the frame again);
    polarity: -1 when the frame was found in the inverted symbol stream."""

    frame: bytes
    sample_pos: float
    n_bits: int
    snr_db: float
    corrections: tuple[tuple[str, int], ...]
    bits: bytes
    polarity: int = 1


def soft_snr_db(soft: NDArray[np.float32]) -> float:
    """Es/N0 from soft symbols: squared mean magnitude over the variance of the
    magnitude (binary antipodal symbols in Gaussian noise, high SNR)."""
    a = np.abs(np.asarray(soft, dtype=np.float64))
    if a.size < 2:
        return float("nan")
    var = float(np.var(a))
    return float(10 * np.log10(np.mean(a) ** 2 / var)) if var > 0 else float("inf")


def _pack_hard(soft: NDArray[np.float32]) -> bytes:
    return np.packbits((soft < 0).astype(np.uint8)).tobytes()


class _SymbolBuffer:
    """Soft symbols and their sample positions from absolute index ``base``."""

    def __init__(self) -> None:
        self.soft = np.zeros(0, dtype=np.float32)
        self.pos = np.zeros(0, dtype=np.float64)
        self.base = 0

    @property
    def end(self) -> int:
        return self.base + self.soft.size

    def append(self, soft: NDArray[np.float32], pos: NDArray[np.float64]) -> None:
        self.soft = np.concatenate([self.soft, soft])
        self.pos = np.concatenate([self.pos, pos])

    def soft_range(self, lo: int, hi: int) -> NDArray[np.float32]:
        """Soft symbols [lo, hi), zeros (erasures) outside the buffer."""
        out = np.zeros(max(hi - lo, 0), dtype=np.float32)
        a, b = max(lo, self.base), min(hi, self.end)
        if b > a:
            out[a - lo : b - lo] = self.soft[a - self.base : b - self.base]
        return out

    def position(self, index: int) -> float:
        i = min(max(index - self.base, 0), self.pos.size - 1)
        return float(self.pos[i]) if self.pos.size else float("nan")

    def trim(self, keep_from: int) -> None:
        drop = min(max(keep_from - self.base, 0), self.soft.size)
        if drop:
            self.soft = self.soft[drop:]
            self.pos = self.pos[drop:]
            self.base += drop


class LineDecoder:
    """Stateful bit-level line decoding before the sync search: "none",
    "nrzi" or "g3ruh" (NRZI is polarity-free; G3RUH keeps polarity)."""

    KINDS = ("none", "nrzi", "g3ruh", "nrzi+g3ruh")

    def __init__(self, kind: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"line decoder is {kind!r}, expected one of {', '.join(self.KINDS)}")
        self.kind = kind
        self._level = 0
        self._history: NDArray[np.uint8] | None = None

    def decode(self, soft: NDArray[np.float32]) -> NDArray[np.float32]:
        """Soft channel bits -> soft data bits (sign from the decoded hard bit,
        magnitude from the channel bit)."""
        if self.kind == "none":
            return soft
        bits = (soft < 0).astype(np.uint8)
        if "nrzi" in self.kind:
            bits, self._level = nrzi_decode(bits, self._level)
        if "g3ruh" in self.kind:
            bits, self._history = g3ruh_descramble(bits, self._history)
        return ((1.0 - 2.0 * bits) * np.abs(soft)).astype(np.float32)


class Ax25Deframer:
    """AX.25 over HDLC: NRZI, optionally G3RUH, flags, de-stuffing, FCS; a
    frame whose FCS fails is repaired from its soft bits where
    dsp.ax25_repair can (``repair``: None for none)."""

    def __init__(self, g3ruh: bool, repair: RepairConfig | None = None) -> None:
        self._line = LineDecoder("nrzi+g3ruh" if g3ruh else "nrzi")
        self._hdlc = HdlcDeframer()
        self._repair = repair
        self._buffer = _SymbolBuffer()  # channel symbols
        self._bits = _SymbolBuffer()  # after line decoding

    def push(self, symbols: SoftSymbols, final: bool = False) -> list[Deframed]:
        self._buffer.append(symbols.soft, symbols.sample_pos)
        decoded = self._line.decode(symbols.soft)
        self._bits.append(decoded, symbols.sample_pos)
        bits = (decoded < 0).astype(np.uint8)
        out = []
        frames = self._hdlc.push(bits, final=final)
        found = [(f.start_bit, f.end_bit, f.frame, 0) for f in frames]
        found += self._repaired(self._hdlc.failed)
        self._hdlc.failed = []
        for start_bit, end_bit, frame, flips in sorted(found, key=lambda f: f[0]):
            first = start_bit - 8  # the opening flag
            n_bits = end_bit + 8 - first
            soft = self._buffer.soft_range(first, first + n_bits)
            out.append(
                Deframed(
                    frame,
                    self._buffer.position(first),
                    n_bits,
                    soft_snr_db(soft),
                    (("soft", flips),) if flips else (),
                    _pack_hard(self._bits.soft_range(first, first + n_bits)),
                )
            )
        self._buffer.trim(self._hdlc.retained_from - 16)
        self._bits.trim(self._hdlc.retained_from - 16)
        return out

    def _repaired(self, segments: list[tuple[int, int]]) -> list[tuple[int, int, bytes, int]]:
        """(start, end, frame, channel bits flipped) of the segments repaired."""
        if self._repair is None:
            return []
        out = []
        for lo, hi in segments:
            channel = self._buffer.soft_range(lo, hi)
            data = (self._bits.soft_range(lo, hi) < 0).astype(np.uint8)
            result = repair_frame(
                data,
                channel,
                self._line.kind,
                soft_snr_db(channel),
                self._repair,
                min_bits=self._hdlc.min_bits,
                max_bits=self._hdlc.max_bits,
            )
            if result is not None:
                out.append((lo, hi, result[0][:-2], result[1]))
        return out


@dataclass(frozen=True)
class BlockResult:
    """A block decoder's answer: the frame, the channel bits it used from the
    frame start (sync word included) and its corrections."""

    frame: bytes
    n_bits: int
    corrections: tuple[tuple[str, int], ...]


# soft bits from the frame start (block_bits long, zero padded) -> frame or None
BlockDecoder = Callable[[NDArray[np.float32]], BlockResult | None]


def bits_of(value: int, n_bits: int) -> NDArray[np.uint8]:
    """The n_bits of ``value``, most significant first."""
    return np.array([(value >> (n_bits - 1 - i)) & 1 for i in range(n_bits)], dtype=np.uint8)


class SyncWordDeframer:
    """Sync-word search (both polarities) + a block decoder at every hit.

    pattern: the sync bits; offsets: where each sync bit sits relative to the
    hit position (contiguous by default); sync_start: bits from the frame
    start to the first sync bit (the decoder gets soft bits from the frame
    start); block_bits: bits the decoder may need from the frame start.
    """

    def __init__(
        self,
        pattern: NDArray[np.uint8],
        *,
        max_errors: int,
        block_bits: int,
        decode: BlockDecoder,
        line: str = "none",
        offsets: NDArray[np.int64] | None = None,
        sync_start: int = 0,
    ) -> None:
        self.pattern = (1.0 - 2.0 * np.asarray(pattern, dtype=np.float32)).astype(np.float32)
        self.offsets = np.arange(pattern.size) if offsets is None else np.asarray(offsets)
        self.contiguous = offsets is None
        self.span = int(self.offsets[-1]) + 1
        self.max_errors = max_errors
        self.block_bits = block_bits
        self.decode = decode
        self.sync_start = sync_start
        self._line = LineDecoder(line)
        self._buffer = _SymbolBuffer()
        self._search = sync_start  # absolute index of the next hit position to test

    def _errors(self, hard: NDArray[np.float32], n: int) -> NDArray[np.float64]:
        """Correlation of the pattern with ``hard`` (+-1) at n positions."""
        if self.contiguous:
            return np.correlate(hard[: n + self.span - 1], self.pattern, mode="valid")
        corr = np.zeros(n, dtype=np.float64)
        for offset, sign in zip(self.offsets, self.pattern, strict=True):
            corr += sign * hard[offset : offset + n]
        return corr

    def _search_end(self, final: bool) -> int:
        """One past the last hit position that can be tested now: at the end of
        the stream any whose sync word is in; before, only those whose whole
        block is."""
        if final:
            return self._buffer.end - self.span + 1
        return self._buffer.end - (self.block_bits - self.sync_start) + 1

    def _sync_hits(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """(position - lo, polarity) of every sync word within ``max_errors``
        in hit positions [lo, hi), in order of position."""
        soft = self._buffer.soft_range(lo, hi + self.span - 1)
        hard = np.where(soft < 0, -1.0, 1.0).astype(np.float32)
        corr = self._errors(hard, hi - lo)
        n_sync = self.pattern.size
        upright = np.flatnonzero((n_sync - corr) / 2 <= self.max_errors)
        inverted = np.flatnonzero((n_sync + corr) / 2 <= self.max_errors)
        return sorted([(int(p), 1) for p in upright] + [(int(p), -1) for p in inverted])

    def _first_decoded(
        self, lo: int, hits: list[tuple[int, int]]
    ) -> tuple[int, int, BlockResult] | None:
        """(frame start, polarity, result) of the first hit the block decoder accepts."""
        for p, polarity in hits:
            start = lo + p - self.sync_start
            block = polarity * self._buffer.soft_range(start, start + self.block_bits)
            result = self.decode(block)
            if result is not None:
                return start, polarity, result
        return None

    def _deframed(self, start: int, polarity: int, result: BlockResult) -> Deframed:
        buf = self._buffer
        n_bits = max(result.n_bits, self.sync_start + self.span)
        soft_frame = buf.soft_range(start, start + n_bits)
        return Deframed(
            result.frame,
            buf.position(start),
            n_bits,
            soft_snr_db(soft_frame),
            result.corrections,
            _pack_hard(polarity * soft_frame),
            polarity,
        )

    def push(self, symbols: SoftSymbols, final: bool = False) -> list[Deframed]:
        self._buffer.append(self._line.decode(symbols.soft), symbols.sample_pos)
        out = []
        while True:
            lo = self._search
            hi = self._search_end(final)
            if hi <= lo:
                break
            found = self._first_decoded(lo, self._sync_hits(lo, hi))
            if found is None:
                self._search = hi
                break
            frame = self._deframed(*found)
            out.append(frame)
            self._search = found[0] + frame.n_bits + self.sync_start
        self._buffer.trim(self._search - self.sync_start)
        return out
