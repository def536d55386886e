"""Pulse shaping: complex symbols -> complex64 IQ at fs_hz, streaming.

Root-raised-cosine shaping evaluated at each output sample's exact time, so
a symbol-clock offset (ppm) is produced without resampling: output sample n
lies at n * (1 + clock_ppm * 1e-6) / sps symbol periods. The pulse has unit
energy per symbol at the sample rate (Es = 1).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from dsp.rrc import rrc_pulse

_TABLE_OVERSAMPLE = 512


@njit(cache=True, nogil=True)
def _shape_core(
    symbols: NDArray[np.complex64],
    first_symbol: int,
    n_first: int,
    n_out: int,
    sym_per_sample: float,
    table: NDArray[np.float64],
    half_span: int,
    oversample: int,
) -> NDArray[np.complex64]:
    out = np.zeros(n_out, dtype=np.complex64)
    n_sym = symbols.size
    for i in range(n_out):
        u = (n_first + i) * sym_per_sample  # time of this sample in symbol periods
        k_hi = int(np.floor(u)) + half_span
        for k in range(k_hi - 2 * half_span, k_hi + 1):
            idx = k - first_symbol
            if idx < 0 or idx >= n_sym:
                continue
            pos = (u - k + half_span) * oversample
            j = int(pos)
            if j < 0 or j >= table.size - 1:
                continue
            frac = pos - j
            h = table[j] * (1.0 - frac) + table[j + 1] * frac
            out[i] += symbols[idx] * np.float32(h)
    return out


@njit(cache=True, nogil=True)
def _shape_polyphase_core(
    symbols: NDArray[np.complex64],
    first_symbol: int,
    n_first: int,
    n_out: int,
    taps: NDArray[np.float32],
    half_span: int,
) -> NDArray[np.complex64]:
    """``_shape_core`` when every sample falls on the pulse table's grid (no
    clock offset, ``sps`` dividing the table's oversampling): sample n takes
    the taps of its phase n % sps (``taps[phase, k]``: the table value for
    the symbol n // sps - half_span + k, zero off the table), the same sums
    in the same order without locating and interpolating each tap."""
    out = np.zeros(n_out, dtype=np.complex64)
    sps, n_taps = taps.shape
    n_sym = symbols.size
    for i in range(n_out):
        n = n_first + i
        phase = n % sps
        base = n // sps - half_span - first_symbol
        acc = np.complex64(0)
        if base >= 0 and base + n_taps <= n_sym:
            for k in range(n_taps):
                acc += symbols[base + k] * taps[phase, k]
        else:
            for k in range(n_taps):
                idx = base + k
                if 0 <= idx < n_sym:
                    acc += symbols[idx] * taps[phase, k]
        out[i] = acc
    return out


class PulseShaper:
    """Streaming RRC modulator; ``process`` returns every sample its symbols fix."""

    def __init__(
        self, sps: int, rrc_alpha: float, clock_ppm: float = 0.0, span_symbols: int = 12
    ) -> None:
        if sps < 2:
            raise ValueError(f"sps is {sps}, expected an integer >= 2")
        self.sps = sps
        self.half_span = span_symbols // 2
        grid = np.arange(
            -self.half_span * _TABLE_OVERSAMPLE, self.half_span * _TABLE_OVERSAMPLE + 1
        )
        pulse = rrc_pulse(grid / _TABLE_OVERSAMPLE, rrc_alpha)
        # Unit energy per symbol at the output sample rate.
        on_grid = rrc_pulse(
            np.arange(-self.half_span * sps, self.half_span * sps + 1) / sps, rrc_alpha
        )
        self._table = pulse / np.sqrt(np.sum(on_grid**2))
        self._sym_per_sample = (1.0 + clock_ppm * 1e-6) / sps
        # Every sample on the table's grid: its taps, per phase, computed once.
        self._taps = (
            _polyphase_taps(self._table, sps, self.half_span)
            if clock_ppm == 0.0 and _TABLE_OVERSAMPLE % sps == 0 and sps & (sps - 1) == 0
            else None
        )
        self._symbols = np.zeros(0, dtype=np.complex64)
        self._first_symbol = 0  # absolute index of _symbols[0]
        self._n_next = 0  # absolute index of the next output sample
        self._n_symbols = 0

    def process(self, symbols: NDArray[np.complex64], final: bool = False) -> NDArray[np.complex64]:
        """Append symbols; return the samples that no later symbol can change
        (all remaining ones, pulse tails included, when ``final``)."""
        self._symbols = np.concatenate([self._symbols, np.asarray(symbols, np.complex64)])
        self._n_symbols += len(symbols)
        last_known = self._n_symbols - 1
        horizon = last_known + self.half_span if final else last_known - self.half_span
        n_end = int(np.floor(horizon / self._sym_per_sample)) + 1
        n_out = max(n_end - self._n_next, 0)
        if self._taps is not None:
            out = _shape_polyphase_core(
                self._symbols, self._first_symbol, self._n_next, n_out, self._taps, self.half_span
            )
        else:
            out = _shape_core(
                self._symbols,
                self._first_symbol,
                self._n_next,
                n_out,
                self._sym_per_sample,
                self._table,
                self.half_span,
                _TABLE_OVERSAMPLE,
            )
        self._n_next += n_out
        keep_from = int(np.floor(self._n_next * self._sym_per_sample)) - self.half_span - 1
        drop = max(keep_from - self._first_symbol, 0)
        self._symbols = self._symbols[drop:]
        self._first_symbol += drop
        return out


def _polyphase_taps(table: NDArray[np.float64], sps: int, half_span: int) -> NDArray[np.float32]:
    """(sps, 2 * half_span + 1) float32: the tap ``_shape_core`` takes for
    the symbol ``n // sps - half_span + k`` at a sample of phase ``n % sps``
    (the table entry at ``(phase / sps + 2 * half_span - k) * oversample``;
    exact for ``sps`` a power of two dividing the oversampling)."""
    n_taps = 2 * half_span + 1
    taps = np.zeros((sps, n_taps), dtype=np.float32)
    for phase in range(sps):
        for k in range(n_taps):
            j = phase * (_TABLE_OVERSAMPLE // sps) + (2 * half_span - k) * _TABLE_OVERSAMPLE
            if 0 <= j < table.size - 1:
                taps[phase, k] = np.float32(table[j])
    return taps
