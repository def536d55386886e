"""Spectrum survey: complex IQ -> where its power sits (width, centre, height).

Used to explain a decode that found nothing: the -3 dB width of the
strongest spectral region as a fraction of the sample rate (an RRC-shaped
signal is one symbol rate wide at -3 dB, so width x sample rate should be
the symbol rate), its centre (a carrier offset), and how far it stands above
the noise floor (a flat spectrum is noise alone). Welch's averaged
periodogram over the given samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: A region this far above the noise floor (dB) counts as a signal.
STANDS_OUT_DB = 3.0


@dataclass(frozen=True)
class SpectrumSurvey:
    """width_fraction: -3 dB width of the strongest region / sample rate
    (0..1); centre_fraction: its power-weighted centre / sample rate
    (-0.5..0.5); peak_to_floor_db: its peak over the noise floor (the 10th
    percentile of the spectrum); silent: every sample is zero."""

    width_fraction: float
    centre_fraction: float
    peak_to_floor_db: float
    silent: bool = False

    @property
    def stands_out(self) -> bool:
        return self.peak_to_floor_db >= STANDS_OUT_DB


def survey_spectrum(iq: NDArray[np.complex64], *, nfft: int = 1024) -> SpectrumSurvey:
    """Survey ``iq`` (complex, any length; fewer than 64 samples say nothing)."""
    if iq.size < 64:
        return SpectrumSurvey(0.0, 0.0, 0.0)
    x = iq.astype(np.complex128)
    scale = float(np.max(np.abs(x)))
    if scale == 0:
        return SpectrumSurvey(0.0, 0.0, 0.0, silent=True)
    if not np.isfinite(scale):
        return SpectrumSurvey(0.0, 0.0, 0.0)
    n = min(nfft, int(x.size))
    # scaled to 1: the survey does not depend on the level (nor overflow)
    from scipy.signal import welch  # ~0.5 s import: when used

    freq, psd = welch(x / scale, nperseg=n, return_onesided=False, detrend=False)
    order = np.argsort(freq)
    freq, psd = freq[order], np.convolve(psd[order], np.ones(5) / 5, mode="same")
    floor = float(np.percentile(psd, 10))
    peak_index = int(np.argmax(psd))
    peak = float(psd[peak_index])
    if not floor > 0 or not peak > 0:
        return SpectrumSurvey(0.0, 0.0, 0.0)
    above = psd >= floor + (peak - floor) / 2
    low = peak_index
    while low > 0 and above[low - 1]:
        low -= 1
    high = peak_index
    while high < n - 1 and above[high + 1]:
        high += 1
    excess = psd[low : high + 1] - floor
    total = float(np.sum(excess))
    centre = float(np.sum(freq[low : high + 1] * excess) / total) if total > 0 else 0.0
    return SpectrumSurvey(
        width_fraction=(high - low + 1) / n,
        centre_fraction=centre,
        peak_to_floor_db=10 * float(np.log10(peak / floor)),
    )
