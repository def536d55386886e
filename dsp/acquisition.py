"""Residual frequency acquisition: complex64 IQ block -> (offset_hz, rate_hz_s).

The M-th power of an M-PSK signal is a tone at M times the carrier offset.
A set of de-chirp hypotheses (frequency rates up to ``max_rate_hz_s``) keeps
the tone in one FFT bin during a LEO pass; the strongest bin over all
hypotheses, refined by parabolic interpolation, gives the offset at the
block's start and its rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Acquisition:
    """offset_hz at the block's first sample; rate_hz_s; peak_to_mean: strongest
    cell over the mean; n_cells: cells searched (bins x rates)."""

    offset_hz: float
    rate_hz_s: float
    peak_to_mean: float
    n_cells: int = 1

    @property
    def significance(self) -> float:
        """peak_to_mean over ln(n_cells), the typical peak of noise alone: ~1 for
        noise, far above for a signal."""
        return self.peak_to_mean / max(float(np.log(max(self.n_cells, 2))), 1e-9)


def _unit_mth_power(
    iq: NDArray[np.complex64], fs_hz: float, power: int, decimate: int
) -> tuple[NDArray[np.complexfloating], float]:
    """``iq`` averaged over ``decimate`` samples, normalised to unit magnitude
    (robust to amplitude) and raised to the M-th power; and its sample rate."""
    x = np.asarray(iq, dtype=np.complex64)
    if decimate > 1:
        n = x.size // decimate * decimate
        x = x[:n].reshape(-1, decimate).mean(axis=1)
    return (x / (np.abs(x) + 1e-12)) ** power, fs_hz / decimate


def _rate_hypotheses(
    bin_hz: float, power: int, duration_s: float, max_rate_hz_s: float
) -> NDArray[np.floating]:
    """Frequency rates to de-chirp with, symmetric about 0 (just 0 without a rate search)."""
    if not max_rate_hz_s > 0:  # also NaN
        return np.zeros(1)
    # rate step so the de-chirp residual sweeps at most two bins of the M-th power tone
    step = 2 * bin_hz / (power * duration_s)
    n_rates = int(np.ceil(max_rate_hz_s / step))
    return np.arange(-n_rates, n_rates + 1) * step


def _parabolic_delta(spectrum: NDArray[np.floating], k: int) -> float:
    """Offset in bins of the true peak from bin ``k``, by a parabola through the
    log power of bins k-1, k, k+1 (0 when they do not curve down)."""
    nfft = spectrum.size
    lo, hi = spectrum[(k - 1) % nfft], spectrum[(k + 1) % nfft]
    a, b, c = np.log(lo + 1e-30), np.log(spectrum[k] + 1e-30), np.log(hi + 1e-30)
    denom = a - 2 * b + c
    return float(0.5 * (a - c) / denom if denom < 0 else 0.0)


def _strongest_cell(
    y: NDArray[np.complexfloating],
    fs: float,
    rates: NDArray[np.floating],
    nfft: int,
    allowed: NDArray[np.bool_],
    power: int,
) -> tuple[tuple[float, float, float, int], float]:
    """The strongest (bin, rate) cell of the de-chirped spectra of ``y``:
    ((peak power, rate_hz_s, parabolic delta in bins, bin), mean allowed power
    of the spectrum it is in)."""
    t = np.arange(y.size) / fs
    best = (-1.0, 0.0, 0.0, 0)
    mean_level = 1.0
    # de-chirp incrementally: chirp(rate_k) = chirp(rates[0]) * step_chirp**k
    step_rate = rates[1] - rates[0] if rates.size > 1 else 0.0
    step_chirp = np.exp(-1j * np.pi * power * step_rate * t**2).astype(np.complex64)
    z = (y * np.exp(-1j * np.pi * power * rates[0] * t**2)).astype(np.complex64)
    for index, rate in enumerate(rates):
        if index:
            z *= step_chirp
        f = np.fft.fft(z, nfft)
        spectrum = f.real**2 + f.imag**2
        spectrum[~allowed] = 0
        k = int(np.argmax(spectrum))
        if spectrum[k] > best[0]:
            mean_level = float(np.mean(spectrum[allowed]))
            best = (float(spectrum[k]), float(rate), _parabolic_delta(spectrum, k), k)
    return best, mean_level


def acquire_frequency(
    iq: NDArray[np.complex64],
    fs_hz: float,
    power: int,
    *,
    max_offset_hz: float,
    max_rate_hz_s: float = 0.0,
    decimate: int = 1,
) -> Acquisition:
    """Estimate the carrier offset of ``iq`` (one block, e.g. 2**15 samples).

    power: 2 for BPSK, 4 for QPSK; decimate: average this many samples first
    (a crude low-pass that keeps the FFT small at high sample rates).
    """
    if iq.size < 256:
        raise ValueError(f"acquisition block is {iq.size} samples, expected at least 256")
    y, fs = _unit_mth_power(iq, fs_hz, power, decimate)
    n = y.size
    nfft = 1 << int(np.ceil(np.log2(n)))
    bin_hz = fs / nfft
    rates = _rate_hypotheses(bin_hz, power, n / fs, max_rate_hz_s)
    limit = min(power * max_offset_hz, fs / 2)
    freqs = np.fft.fftfreq(nfft, 1 / fs)
    allowed = np.abs(freqs) <= limit
    (peak, rate, delta, k), mean_level = _strongest_cell(y, fs, rates, nfft, allowed, power)
    tone_hz = (freqs[k] + delta * bin_hz) / power
    return Acquisition(
        offset_hz=float(tone_hz),
        rate_hz_s=rate,
        # all-zero input (a silent recording): no tone stands out of anything
        peak_to_mean=peak / mean_level if mean_level > 0 else 0.0,
        n_cells=int(np.count_nonzero(allowed)) * rates.size,
    )
