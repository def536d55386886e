"""Manchester (bi-phase) BPSK: complex chip symbols (two per bit, the second
the negative of the first) -> complex bit symbols, streaming; and the
transmit side, bits -> chips.

AO-40's telemetry beacon, and QO-100's that copies it, send AO-40 FEC (or
uncoded) frames as differentially encoded, Manchester-coded BPSK
(gr-satellites' "DBPSK Manchester"): a bit's phase turns for a 1, and each
bit is sent as two chips of opposite sign, so the spectrum has a null at
the carrier. The demodulator runs at the chip rate; ``ManchesterSync`` finds
which chips pair into a bit (the pairing whose pairs are most nearly
opposite over the last ``history`` bits, as gr-satellites' manchester_sync
does) and returns (first - second) / 2 for each pair, so a bit carries the
energy of both chips. FUNcube-1 (AO-73) sends AO-40 FEC as plain 1200-baud
DBPSK, without Manchester coding (gr-satellites' AO-73 entry; the
recording of it decodes only that way).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def manchester_chips(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Bits -> chips: each bit b as (b, 1 - b)."""
    b = np.asarray(bits, dtype=np.uint8)
    return np.stack([b, b ^ 1], axis=1).reshape(-1)


def manchester_differential_bits(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Data bits -> the phases of Manchester DBPSK: the phase turns for a 1 bit
    (AO-40's convention; plain DBPSK, ``dsp.amateur_sim.differential_bits``,
    turns for a 0)."""
    b = np.asarray(bits, dtype=np.uint8)
    return (np.cumsum(b, dtype=np.int64) % 2).astype(np.uint8)


class ManchesterSync:
    """Streaming: complex chips (with their sample positions) -> complex bit
    symbols at the first chip's position. ``history``: bits over which the
    two possible pairings are weighed."""

    def __init__(self, history: int = 32) -> None:
        self.history = history
        # chips kept: the last 2 * history + 1 paired ones, then the unpaired
        self._chips = np.zeros(0, np.complex128)
        self._pos = np.zeros(0, np.float64)
        self._next = 0  # index in _chips of the first unpaired chip

    def process(
        self, chips: NDArray[np.complexfloating], sample_pos: NDArray[np.float64]
    ) -> tuple[NDArray[np.complex64], NDArray[np.float64]]:
        """Chips -> (bit symbols, their sample positions); an odd chip waits."""
        c = np.concatenate([self._chips, np.asarray(chips, np.complex128)])
        p = np.concatenate([self._pos, np.asarray(sample_pos, np.float64)])
        n_bits = (c.size - self._next) // 2
        symbols, pos = np.zeros(0, np.complex64), np.zeros(0, np.float64)
        if n_bits:
            # junction n: how opposite chips n and n + 1 are
            junction = -(c[:-1] * np.conj(c[1:])).real
            first = self._next + 2 * np.arange(n_bits)
            # pairing 0: (first, first + 1); pairing 1: (first - 1, first)
            w0 = _windowed(junction, first, self.history)
            w1 = _windowed(junction, first - 1, self.history)
            use1 = (w1 > w0) & (first >= 1)
            start = np.where(use1, first - 1, first)
            symbols = (0.5 * (c[start] - c[start + 1])).astype(np.complex64)
            pos = p[start]
        used = self._next + 2 * n_bits
        keep = max(used - 2 * self.history - 1, 0)
        self._chips, self._pos, self._next = c[keep:], p[keep:], used - keep
        return symbols, pos


def _windowed(w: NDArray[np.float64], end: NDArray[np.int64], history: int) -> NDArray[np.float64]:
    """Sum of w[end], w[end - 2], ... (``history`` terms, those at index >= 0)."""
    out = np.zeros(end.size, np.float64)
    for parity in (0, 1):
        cum = np.concatenate([[0.0], np.cumsum(w[parity::2])])
        sel = (end >= 0) & (end % 2 == parity)
        idx = (end[sel] - parity) // 2  # index of w[end] in w[parity::2]
        out[sel] = cum[idx + 1] - cum[np.maximum(idx + 1 - history, 0)]
    return out
