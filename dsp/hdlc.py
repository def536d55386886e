"""HDLC framing as AX.25 uses it: frame bytes <-> data bits (uint8 0/1).

Transmit (``hdlc_encode``): frame + FCS (CRC-16/X.25, low byte first), each
byte least significant bit first, a 0 stuffed after every five 1s, between
0x7E flags (01111110).
Receive (``HdlcDeframer``): data bits (after NRZI decoding and, for G3RUH
links, descrambling) -> a run of six or more 1s delimits frames -> the bits
between two delimiters are de-stuffed, packed LSB first and kept when they
are whole bytes whose FCS checks -> the frame without its FCS (as
gr-satellites prints AX.25). Streaming: bits are pushed in chunks; every
decision is taken at absolute bit positions, so chunking changes no output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.crc import crc16_x25

FLAG_BITS = np.array([0, 1, 1, 1, 1, 1, 1, 0], dtype=np.uint8)


def _fcs_bytes(frame: bytes) -> bytes:
    return crc16_x25(frame).to_bytes(2, "little")


def fcs_ok(frame_with_fcs: bytes) -> bool:
    """True when the last two bytes are the CRC-16/X.25 of the others."""
    return len(frame_with_fcs) > 2 and _fcs_bytes(frame_with_fcs[:-2]) == frame_with_fcs[-2:]


def bit_stuff(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Insert a 0 after every run of five 1s."""
    out: list[int] = []
    ones = 0
    for bit in np.asarray(bits, dtype=np.uint8).tolist():
        out.append(bit)
        ones = ones + 1 if bit else 0
        if ones == 5:
            out.append(0)
            ones = 0
    return np.array(out, dtype=np.uint8)


def _ones_runs(bits: NDArray[np.uint8]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(start, end) of every run of 1s, end exclusive."""
    edges = np.diff(np.concatenate([[0], bits.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def bit_destuff(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Remove the 0 that follows each run of exactly five 1s."""
    bits = np.asarray(bits, dtype=np.uint8)
    starts, ends = _ones_runs(bits)
    stuffed = ends[(ends - starts == 5) & (ends < bits.size)]
    return np.delete(bits, stuffed) if stuffed.size else bits


def hdlc_encode(frame: bytes, flags_before: int = 4, flags_after: int = 2) -> NDArray[np.uint8]:
    """Frame -> data bits: flags, stuffed frame + FCS, flags."""
    body = np.unpackbits(np.frombuffer(frame + _fcs_bytes(frame), np.uint8), bitorder="little")
    return np.concatenate(
        [np.tile(FLAG_BITS, flags_before), bit_stuff(body), np.tile(FLAG_BITS, flags_after)]
    )


@dataclass(frozen=True)
class HdlcFrame:
    """start_bit / end_bit: absolute data-bit indices of the frame's first bit
    after the opening flag and one past its last bit before the closing flag;
    frame: the bytes without the FCS."""

    start_bit: int
    end_bit: int
    frame: bytes


class HdlcDeframer:
    """Streaming HDLC deframer: push data bits, get frames whose FCS checks."""

    def __init__(self, min_bytes: int = 15, max_bytes: int = 1024) -> None:
        self.min_bits = 8 * (min_bytes + 2)
        self.max_bits = 8 * (max_bytes + 2)
        self._max_stuffed_bits = self.max_bits + self.max_bits // 5
        self._bits = np.zeros(0, dtype=np.uint8)
        self._base = 0  # absolute index of _bits[0]
        #: (start_bit, end_bit) of the segments between flags, of a frame's
        #: length, whose FCS failed (for a repair; the caller clears it)
        self.failed: list[tuple[int, int]] = []

    @property
    def retained_from(self) -> int:
        """Absolute index of the oldest bit still held (frames start after it)."""
        return self._base

    def push(self, bits: NDArray[np.uint8], final: bool = False) -> list[HdlcFrame]:
        """Add bits; returns the frames closed by a flag in them (all at ``final``)."""
        self._bits = np.concatenate([self._bits, np.asarray(bits, dtype=np.uint8)])
        starts, ends = _ones_runs(self._bits)
        complete = ends < self._bits.size  # a run touching the end may still grow
        delimiter = (ends - starts >= 6) & complete
        d_start, d_end = starts[delimiter], ends[delimiter]
        frames = []
        for i in range(d_start.size - 1):
            lo, hi = int(d_end[i]) + 1, int(d_start[i + 1]) - 1
            frame = self._frame(lo, hi)
            if frame is not None:
                frames.append(frame)
        keep = int(d_start[-1]) if d_start.size else 0
        # bits further back than the longest stuffed frame cannot end in a frame
        keep = max(keep, self._bits.size - self._max_stuffed_bits - 16)
        if final:
            keep = self._bits.size
        self._bits = self._bits[keep:]
        self._base += keep
        return frames

    def _frame(self, lo: int, hi: int) -> HdlcFrame | None:
        if hi - lo < self.min_bits or hi - lo > self._max_stuffed_bits:
            return None
        body = bit_destuff(self._bits[lo:hi])
        if body.size % 8 or not self.min_bits <= body.size <= self.max_bits:
            self.failed.append((self._base + lo, self._base + hi))
            return None
        data = np.packbits(body, bitorder="little").tobytes()
        if not fcs_ok(data):
            self.failed.append((self._base + lo, self._base + hi))
            return None
        return HdlcFrame(start_bit=self._base + lo, end_bit=self._base + hi, frame=data[:-2])
