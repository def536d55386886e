"""Integer upsampling of real samples: float64 x at fs -> float64 at up * fs,
the same floats, bit for bit, as ``scipy.signal.resample_poly(x, up, 1)``
(its default Kaiser-windowed low-pass, beta 5, 10 * up taps each side).

Hand-written because importing ``scipy.signal`` costs ~0.55 s of CPU (it
parses every function's docstring at import), more than the FSK
demodulator spends on a 60-s recording; a decode of FSK audio then loads
no ``scipy.signal`` at all (bench/decode.py: start-up). The taps are
firwin's arithmetic (``scipy.special.i0`` for the Kaiser window, as
scipy's window does) and the filter loop is upfirdn's (zero padding, the
same order of sums); tests/dsp compare both with scipy bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray

KAISER_BETA = 5.0
MAX_UP = 64


@lru_cache(maxsize=8)
def lowpass_taps(up: int) -> NDArray[np.float64]:
    """``firwin(20 * up + 1, 1 / up, window=("kaiser", 5.0)) * up``, as
    ``resample_poly`` designs it: windowed sinc, scaled to unit DC gain."""
    from scipy.special import i0

    n_taps = 20 * up + 1
    m = np.arange(0, n_taps, dtype=np.float64) - 0.5 * (n_taps - 1)
    right = 1.0 / up
    h = right * np.sinc(right * m) - 0.0 * np.sinc(0.0 * m)
    k = np.arange(0, n_taps, dtype=np.float64)
    alpha = (n_taps - 1) / 2.0
    h *= i0(KAISER_BETA * np.sqrt(1 - ((k - alpha) / alpha) ** 2.0)) / i0(
        np.asarray(KAISER_BETA, dtype=np.float64)
    )
    h /= np.sum(h * np.cos(np.pi * m * 0.0))
    taps: NDArray[np.float64] = h * up
    return taps


def _phases(h: NDArray[np.float64], up: int) -> NDArray[np.float64]:
    """upfirdn's filter layout: phase p holds h[p], h[p + up], ... reversed,
    zero-padded in front to a common length (rows of the returned array)."""
    per_phase = -(-h.size // up)
    padded = np.concatenate([h, np.zeros(per_phase * up - h.size)])
    return np.ascontiguousarray(padded.reshape(per_phase, up).T[:, ::-1])


def upsample(x: NDArray[np.float64], up: int) -> NDArray[np.float64]:
    """``x`` (n,) at fs -> (n * up,) at up * fs through ``lowpass_taps(up)``,
    delay-compensated (output k * up is input k's instant)."""
    if not 1 <= up <= MAX_UP:
        raise ValueError(f"upsampling factor {up} is outside 1..{MAX_UP}")
    x = np.ascontiguousarray(x, dtype=np.float64)
    if up == 1:
        return x.copy()
    half_len = 10 * up
    # resample_poly puts one zero in front of the taps (n_pre_pad) and drops
    # the first half_len + 1 outputs (n_pre_remove)
    h = np.concatenate([[0.0], lowpass_taps(up)])
    skip = half_len + 1
    out = _upfirdn_core(x, _phases(h, up), up, skip + x.size * up)
    return out[skip:]


@njit(cache=True, nogil=True)
def _upfirdn_core(x, phases, up, n_out):  # type: ignore[no-untyped-def]
    """upfirdn(h, x, up, 1) with zero padding, its first ``n_out`` outputs:
    output y = x_idx * up + t sums x[x_idx - per_phase + 1 .. x_idx] against
    phase t's reversed taps, in that order (the zero-padded terms before the
    start are skipped, those after the end are added, as upfirdn does)."""
    per_phase = phases.shape[1]
    out = np.zeros(n_out)
    n_x = x.size
    y = 0
    x_idx = 0
    t = 0
    while x_idx < n_x + per_phase - 1 and y < n_out:
        first = x_idx - per_phase + 1
        h_idx = 0
        if first < 0 and x_idx < n_x:
            h_idx = -first
            first = 0
        acc = out[y]
        for j in range(first, x_idx + 1):
            xv = x[j] if 0 <= j < n_x else 0.0
            acc = acc + xv * phases[t, h_idx]
            h_idx += 1
        out[y] = acc
        y += 1
        t += 1
        x_idx += t // up
        t = t % up
    return out
