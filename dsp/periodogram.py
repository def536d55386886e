"""Welch's averaged periodogram of complex samples: complex128 x at fs_hz ->
(frequencies in FFT order, two-sided power spectral density), the same
floats, bit for bit, as ``scipy.signal.welch(x, fs_hz, nperseg=nseg,
return_onesided=False, detrend=False)`` (periodic Hann window, half
overlap, density scaling, mean of the segments).

Hand-written because importing ``scipy.signal`` costs ~0.5 s of CPU (it
parses every function's docstring at import): the BPSK carrier search
(dsp.carrier_search) runs a Welch periodogram on every block, and with this
one a decode of BPSK I/Q loads no ``scipy.signal`` (bench/decode.py:
start-up). The window is scipy's general_cosine arithmetic, the segments
are scipy's ShortTimeFFT slices (``p1 = (n - noverlap) // hop``) and the
mean runs over the same contiguous axis, so the sums come out in the same
order; tests/dsp compare it with scipy bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray


@lru_cache(maxsize=8)
def _scaled_hann(nseg: int, fs_hz: float) -> NDArray[np.float64]:
    """The periodic Hann window scaled to a power spectral density (read-only)."""
    fac = np.linspace(-np.pi, np.pi, nseg + 1)
    w = np.zeros(nseg + 1)
    for k, a in enumerate((0.5, 0.5)):
        w += a * np.cos(k * fac)
    win = w[:-1]
    win = win * (1 / np.sqrt(sum(win.real**2 + win.imag**2) / (1 / fs_hz)))
    win.setflags(write=False)
    return win


def welch_two_sided(
    x: NDArray[np.complex128], fs_hz: float, nseg: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(f_hz (nseg,), psd (nseg,)) of x (n,), n >= nseg >= 2, in FFT order."""
    x = np.asarray(x, dtype=np.complex128)
    if not 2 <= nseg <= x.size:
        raise ValueError(f"segment of {nseg} samples, expected 2..{x.size} (the samples)")
    noverlap = nseg // 2
    hop = nseg - noverlap
    n_segments = (x.size - noverlap) // hop
    segments = np.lib.stride_tricks.sliding_window_view(x, nseg)[::hop][:n_segments]
    spectra = np.fft.fft(segments * _scaled_hann(nseg, float(fs_hz)), axis=-1)
    power = spectra.real**2 + spectra.imag**2  # (n_segments, nseg)
    psd = np.ascontiguousarray(power.T).mean(axis=-1)
    return np.asarray(np.fft.fftfreq(nseg, 1 / fs_hz), np.float64), np.asarray(psd, np.float64)
