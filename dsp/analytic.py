"""Real audio -> complex analytic signal (streaming Hilbert FIR).

The imaginary part is the audio through a Kaiser-windowed ideal Hilbert
transformer (odd length, taps 2/(pi n) at odd n); the real part is the audio
delayed by the filter's half length, so output sample k belongs to input
sample k - ``delay``. A signal on an audio subcarrier (SSB receiver output)
becomes a one-sided complex signal at the subcarrier frequency. Filter state
is carried between chunks, so chunking changes no output.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def hilbert_taps(n_taps: int, beta: float = 8.0) -> NDArray[np.float64]:
    if n_taps % 2 == 0 or n_taps < 3:
        raise ValueError(f"Hilbert filter length is {n_taps}, expected an odd number >= 3")
    n = np.arange(n_taps) - n_taps // 2
    ideal = np.where(n % 2 == 1, 2.0 / (np.pi * np.where(n == 0, 1, n)), 0.0)
    return ideal * np.kaiser(n_taps, beta)


class AnalyticSignal:
    def __init__(self, n_taps: int = 255) -> None:
        self.taps = hilbert_taps(n_taps)
        self.delay = n_taps // 2
        self._zi = np.zeros(n_taps - 1)
        self._history = np.zeros(self.delay)

    def process(self, audio: NDArray[np.floating]) -> NDArray[np.complex64]:
        from scipy.signal import lfilter  # when used: its import costs ~0.5 s

        x = np.asarray(audio, dtype=np.float64)
        imag, self._zi = lfilter(self.taps, 1.0, x, zi=self._zi)
        delayed = np.concatenate([self._history, x])
        self._history = delayed[delayed.size - self.delay :]
        return (delayed[: x.size] + 1j * imag).astype(np.complex64)
