"""BPSK carrier search over a wide band: complex64 block -> carrier frequency
and its significance.

Squaring a BPSK signal removes the modulation and leaves a line at twice
the carrier. The averaged periodogram (Welch) of the squared block shows it
even when the signal is weak and drifting; a parabola through the peak bin
refines it. The line at f2 may come from a carrier at f2/2 or at
f2/2 +- fs/2 (the square wraps around): the candidate with more signal
power within half a symbol rate of it wins (for an analytic signal made
from real audio, the negative-frequency candidate has none). Significance
is the peak over the median of the squared spectrum, in dB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import welch


@dataclass(frozen=True)
class CarrierEstimate:
    freq_hz: float
    significance_db: float
    band_snr_db: float = float("-inf")


def segment_length(fs_hz: float) -> int:
    """Welch segment: a power of two giving ~12 Hz bins, 1024..65536 samples."""
    n = 2 ** int(round(np.log2(max(fs_hz / 12.0, 1.0))))
    return int(min(max(n, 1024), 65536))


def find_bpsk_carrier(
    block: NDArray[np.complex64],
    fs_hz: float,
    baud_rate: float,
    *,
    min_hz: float,
    max_hz: float,
) -> CarrierEstimate:
    """Strongest BPSK carrier of ``block`` with min_hz <= freq <= max_hz."""
    nseg = min(segment_length(fs_hz), block.size)
    z = np.asarray(block, dtype=np.complex128)
    f2, p2 = welch(z * z, fs_hz, nperseg=nseg, return_onesided=False, detrend=False)
    f1, p1 = welch(z, fs_hz, nperseg=nseg, return_onesided=False, detrend=False)
    wrapped = np.mod(f2, fs_hz) / 2  # candidate 1 in [0, fs/2); candidate 2 is it - fs/2
    in_band = lambda f: (f >= min_hz) & (f <= max_hz)  # noqa: E731
    usable = in_band(wrapped) | in_band(wrapped - fs_hz / 2)
    if not usable.any():
        return CarrierEstimate(float("nan"), float("-inf"))
    searched = (f1 >= min_hz) & (f1 <= max_hz)
    k = int(np.argmax(np.where(usable, p2, -1.0)))
    a, b, c = (np.log(p2[(k + d) % p2.size] + 1e-300) for d in (-1, 0, 1))
    curvature = a - 2 * b + c
    delta = 0.5 * (a - c) / curvature if curvature < 0 else 0.0
    line = np.mod(f2[k] + delta * fs_hz / nseg, fs_hz) / 2
    candidates = [f for f in (line, line - fs_hz / 2) if min_hz <= f <= max_hz]
    half_band = baud_rate / 2
    power = [float(p1[np.abs(f1 - f) <= half_band].sum()) for f in candidates]
    best = int(np.argmax(power))
    freq = candidates[best]
    # the noise of the squared spectrum near the line: within two symbol rates
    near = usable & (np.abs(np.mod(f2 - f2[k] + fs_hz / 2, fs_hz) - fs_hz / 2) <= 2 * baud_rate)
    reference = p2[near] if np.count_nonzero(near) >= 16 else p2[usable]
    significance = 10 * np.log10(p2[k] / max(float(np.median(reference)), 1e-300))
    in_band = np.abs(f1 - freq) <= half_band
    density = float(np.mean(p1[in_band])) if in_band.any() else 0.0
    floor = float(np.median(p1[searched])) if searched.any() else 0.0
    band_snr = 10 * np.log10(max(density, 1e-300) / max(floor, 1e-300))
    return CarrierEstimate(float(freq), float(significance), float(band_snr))
