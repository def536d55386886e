"""Quick-look computations of a pass, in bounded time and memory.

``Waterfall``: complex64 IQ chunks at fs_hz -> power spectra over time,
(n_rows, nfft) float32. The pass of ``n_samples`` is cut into at most
``max_rows`` rows; from each row only the first ``segments_per_row`` FFT
segments of ``nfft`` samples are transformed and averaged (decimated in
time), so the work per row, and the memory, do not grow with the sample
rate or the pass length. Chunk boundaries change no output.

``constellation_density``: complex symbols -> a 2-D histogram of the
I/Q plane (what a constellation plot shows, at any number of symbols).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray


class Waterfall:
    """Streaming, decimated spectrogram of ``n_samples`` samples at ``fs_hz``."""

    def __init__(
        self,
        *,
        fs_hz: float,
        n_samples: int,
        nfft: int = 1024,
        max_rows: int = 600,
        segments_per_row: int = 8,
    ) -> None:
        if fs_hz <= 0 or n_samples < 0 or nfft < 2 or max_rows < 1 or segments_per_row < 1:
            raise ValueError(
                f"waterfall needs fs_hz > 0, n_samples >= 0, nfft >= 2, max_rows >= 1 and "
                f"segments_per_row >= 1 (got {fs_hz}, {n_samples}, {nfft}, {max_rows}, "
                f"{segments_per_row})"
            )
        self.fs_hz = fs_hz
        self.nfft = nfft
        self.row_samples = max(math.ceil(n_samples / max_rows), nfft)
        self.n_rows = max(math.ceil(n_samples / self.row_samples), 1)
        self.n_samples = n_samples
        #: samples transformed per row: whole segments that fit in a row
        self.used_per_row = nfft * min(segments_per_row, self.row_samples // nfft)
        self.power = np.full((self.n_rows, nfft), np.nan, dtype=np.float32)
        self._window = np.hanning(nfft).astype(np.float32)
        self._position = 0
        self._row = -1
        self._buf: list[NDArray[np.complex64]] = []
        self._buffered = 0

    def process(self, iq: NDArray[np.complex64]) -> None:
        """Take the next ``iq`` samples of the pass."""
        iq = np.asarray(iq, dtype=np.complex64)
        p0, n = self._position, iq.size
        self._position += n
        if n == 0:
            return
        first = p0 // self.row_samples
        last = min((p0 + n - 1) // self.row_samples, self.n_rows - 1)
        for row in range(first, last + 1):
            a = row * self.row_samples
            lo, hi = max(a, p0), min(a + self.used_per_row, p0 + n)
            if hi > lo:
                self._collect(row, iq[lo - p0 : hi - p0])

    def _collect(self, row: int, samples: NDArray[np.complex64]) -> None:
        if row != self._row:
            self._finish_row()
            self._row = row
        self._buf.append(samples)
        self._buffered += samples.size
        if self._buffered >= self.used_per_row:
            self._finish_row()

    def _finish_row(self) -> None:
        """Average the power spectra of the row's whole segments."""
        if self._row < 0 or self._buffered < self.nfft:
            self._buf, self._buffered = [], 0
            return
        x = np.concatenate(self._buf)
        k = x.size // self.nfft
        segments = x[: k * self.nfft].reshape(k, self.nfft) * self._window
        spectra = np.abs(np.fft.fft(segments, axis=1)) ** 2
        self.power[self._row] = np.fft.fftshift(spectra.mean(axis=0)).astype(np.float32)
        self._buf, self._buffered = [], 0
        self._row = -1

    def finish(self) -> None:
        """End of the pass: the last, possibly short, row is computed."""
        self._finish_row()

    def power_db(self) -> NDArray[np.float32]:
        """(n_rows, nfft) power in dB (relative), NaN for rows without samples."""
        with np.errstate(divide="ignore"):
            return (10 * np.log10(np.maximum(self.power, 1e-30))).astype(np.float32)

    def freq_hz(self) -> NDArray[np.float64]:
        """(nfft,) frequency of each column from the centre frequency."""
        return np.fft.fftshift(np.fft.fftfreq(self.nfft, 1.0 / self.fs_hz))

    def row_time_s(self) -> NDArray[np.float64]:
        """(n_rows,) time of each row's transformed samples (their middle), from the first sample."""
        starts = np.arange(self.n_rows, dtype=np.float64) * self.row_samples
        return (starts + self.used_per_row / 2) / self.fs_hz


def constellation_density(
    symbols: NDArray[np.complex64], *, bins: int = 96, extent: float = 2.0
) -> NDArray[np.float64]:
    """(bins, bins) histogram of ``symbols`` over [-extent, extent]^2 after
    scaling them to unit mean power; rows are Q (bottom to top), columns I."""
    z = np.asarray(symbols, dtype=np.complex128)
    z = z[np.isfinite(z)]
    if z.size == 0:
        return np.zeros((bins, bins))
    z = z / np.sqrt(np.mean(np.abs(z) ** 2) or 1.0)
    hist, _, _ = np.histogram2d(
        z.imag, z.real, bins=bins, range=[[-extent, extent], [-extent, extent]]
    )
    return hist


class SymbolSnapshot:
    """Keeps at most ``max_symbols`` symbols whose sample positions fall in
    ``[start_sample, stop_sample)`` (e.g. a window around TCA), as they
    stream out of a demodulator."""

    def __init__(self, *, start_sample: float, stop_sample: float, max_symbols: int = 4096) -> None:
        self.start_sample = start_sample
        self.stop_sample = stop_sample
        self.max_symbols = max_symbols
        self._kept: list[NDArray[np.complex64]] = []
        self._n = 0

    def __call__(self, symbols: NDArray[np.complex64], sample_pos: NDArray[np.float64]) -> None:
        if self._n >= self.max_symbols:
            return
        inside = (sample_pos >= self.start_sample) & (sample_pos < self.stop_sample)
        take = np.asarray(symbols)[inside][: self.max_symbols - self._n]
        if take.size:
            self._kept.append(take.astype(np.complex64))
            self._n += take.size

    @property
    def symbols(self) -> NDArray[np.complex64]:
        if not self._kept:
            return np.zeros(0, dtype=np.complex64)
        return np.concatenate(self._kept)
