"""Frequency discriminators, per window of samples (pure functions for
dsp.fsk's ``transform``): complex IQ or AFSK audio -> instantaneous
frequency in units of the deviation (+1 at +deviation).

- ``fm_discriminate``: IQ of an FM/FSK signal -> the signal's centre found
  in the window's spectrum (the band of Carson's width holding the most
  power: Doppler and tuning offsets of many kHz) and shifted to zero ->
  low-pass at Carson's bandwidth -> phase difference between samples.
- ``afsk_discriminate``: receiver audio carrying two tones around
  ``af_carrier_hz`` -> analytic signal -> shifted to the carrier -> low-pass
  at 0.8 of Carson's half-bandwidth (|deviation| + baud/2: the best of the
  simulated sweep for Bell 202 and for 4800-baud AFSK, where twice the
  deviation cut the 4800-baud signal and cost ~1 dB at BER 1e-3) -> phase
  difference. A negative deviation (the higher tone is the 0 bit) flips
  the sign.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def lowpass(z: NDArray[np.complex128], cutoff_hz: float, fs_hz: float) -> NDArray[np.complex128]:
    if cutoff_hz >= 0.45 * fs_hz:
        return z
    n_taps = int(min(max(4 * fs_hz / cutoff_hz, 31), 511)) | 1
    from scipy.signal import firwin  # ~0.5 s import: when used

    taps = firwin(n_taps, cutoff_hz, fs=fs_hz)
    return np.convolve(z, taps, mode="same")


def discriminate(
    z: NDArray[np.complex128], fs_hz: float, deviation_hz: float
) -> NDArray[np.float64]:
    turn = np.angle(z[1:] * np.conj(z[:-1])) * fs_hz / (2 * np.pi * deviation_hz)
    return np.concatenate([turn[:1], turn]).astype(np.float64)


def signal_centre_hz(iq: NDArray[np.complex128], fs_hz: float, bandwidth_hz: float) -> float:
    """Centre of the band ``bandwidth_hz`` wide that holds the most power."""
    nseg = int(min(iq.size, 2 ** int(np.ceil(np.log2(max(fs_hz / 50.0, 256))))))
    from scipy.signal import welch  # ~0.5 s import: when used

    freqs, psd = welch(iq, fs_hz, nperseg=nseg, return_onesided=False, detrend=False)
    order = np.argsort(freqs)
    freqs, psd = freqs[order], psd[order]
    width = max(int(round(bandwidth_hz / (fs_hz / nseg))), 1)
    if width >= psd.size:
        return 0.0
    power = np.convolve(psd, np.ones(width), mode="valid")
    k = int(np.argmax(power))
    return float((freqs[k] + freqs[k + width - 1]) / 2)


def fm_discriminate(
    iq: NDArray[np.generic], fs_hz: float, deviation_hz: float, baud_rate: float
) -> NDArray[np.float64]:
    z = np.asarray(iq, dtype=np.complex128)
    carson = 2 * abs(deviation_hz) + baud_rate
    if carson < 0.9 * fs_hz:
        centre = signal_centre_hz(z, fs_hz, carson)
        z = z * np.exp(-2j * np.pi * centre * np.arange(z.size) / fs_hz)
    z = lowpass(z, carson / 2, fs_hz)
    return discriminate(z, fs_hz, deviation_hz)


# AFSK pre-detection low-pass, as a share of Carson's half-bandwidth |deviation| + baud/2
AFSK_FILTER_CARSON = 0.8


def afsk_discriminate(
    audio: NDArray[np.generic],
    fs_hz: float,
    af_carrier_hz: float,
    deviation_hz: float,
    baud_rate: float,
) -> NDArray[np.float64]:
    x = np.asarray(audio)
    from scipy.signal import hilbert  # ~0.5 s import: when used

    z = np.asarray(hilbert(x.real.astype(np.float64)), dtype=np.complex128)
    z = z * np.exp(-2j * np.pi * af_carrier_hz * np.arange(z.size) / fs_hz)
    z = lowpass(z, AFSK_FILTER_CARSON * (abs(deviation_hz) + baud_rate / 2), fs_hz)
    return discriminate(z, fs_hz, deviation_hz)
