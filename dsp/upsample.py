"""Integer upsampling of real samples: float64 x at fs -> float64 at up * fs,
the same floats, bit for bit, as ``scipy.signal.resample_poly(x, up, 1)``
(its default Kaiser-windowed low-pass, beta 5, 10 * up taps each side).

Hand-written because importing ``scipy.signal`` costs ~0.55 s of CPU (it
parses every function's docstring at import), more than the FSK
demodulator spends on a 60-s recording; a decode of FSK audio then loads
no ``scipy.signal`` at all (bench/decode.py: start-up). The taps are
firwin's arithmetic and the filter loop is upfirdn's (zero padding, the
same order of sums); tests/dsp compare both with scipy bit for bit. The
Kaiser window's Bessel function is ``scipy.special.i0``'s Cephes series
(``_bessel_i0``, the same floats: importing ``scipy.special`` costs
another ~0.2 s of start-up).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray

KAISER_BETA = 5.0
MAX_UP = 64

# Cephes' Chebyshev coefficients of exp(-x) I0(x) on [0, 8] and of
# exp(-x) sqrt(x) I0(x) on (8, inf) (as scipy.special.i0 and numpy.i0 use them)
_I0_A = (
    -4.4153416464793395e-18,
    3.3307945188222384e-17,
    -2.431279846547955e-16,
    1.715391285555133e-15,
    -1.1685332877993451e-14,
    7.676185498604936e-14,
    -4.856446783111929e-13,
    2.95505266312964e-12,
    -1.726826291441556e-11,
    9.675809035373237e-11,
    -5.189795601635263e-10,
    2.6598237246823866e-09,
    -1.300025009986248e-08,
    6.046995022541919e-08,
    -2.670793853940612e-07,
    1.1173875391201037e-06,
    -4.4167383584587505e-06,
    1.6448448070728896e-05,
    -5.754195010082104e-05,
    0.00018850288509584165,
    -0.0005763755745385824,
    0.0016394756169413357,
    -0.004324309995050576,
    0.010546460394594998,
    -0.02373741480589947,
    0.04930528423967071,
    -0.09490109704804764,
    0.17162090152220877,
    -0.3046826723431984,
    0.6767952744094761,
)
_I0_B = (
    -7.233180487874754e-18,
    -4.830504485944182e-18,
    4.46562142029676e-17,
    3.461222867697461e-17,
    -2.8276239805165836e-16,
    -3.425485619677219e-16,
    1.7725601330565263e-15,
    3.8116806693526224e-15,
    -9.554846698828307e-15,
    -4.150569347287222e-14,
    1.54008621752141e-14,
    3.8527783827421426e-13,
    7.180124451383666e-13,
    -1.7941785315068062e-12,
    -1.3215811840447713e-11,
    -3.1499165279632416e-11,
    1.1889147107846439e-11,
    4.94060238822497e-10,
    3.3962320257083865e-09,
    2.266668990498178e-08,
    2.0489185894690638e-07,
    2.8913705208347567e-06,
    6.889758346916825e-05,
    0.0033691164782556943,
    0.8044904110141088,
)


def _chebyshev(x: float, coefficients: tuple[float, ...]) -> float:
    """Cephes' chbevl: the Chebyshev series at x, in its order of operations."""
    b0, b1, b2 = coefficients[0], 0.0, 0.0
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _bessel_i0(x: float) -> float:
    """The modified Bessel function I0, Cephes' i0 as scipy.special.i0 computes
    it (libm's exp and sqrt on Python floats; tests/dsp compare the two bit
    for bit)."""
    x = abs(x)
    if x <= 8.0:
        return math.exp(x) * _chebyshev(x / 2.0 - 2.0, _I0_A)
    return math.exp(x) * _chebyshev(32.0 / x - 2.0, _I0_B) / math.sqrt(x)


@lru_cache(maxsize=8)
def lowpass_taps(up: int) -> NDArray[np.float64]:
    """``firwin(20 * up + 1, 1 / up, window=("kaiser", 5.0)) * up``, as
    ``resample_poly`` designs it: windowed sinc, scaled to unit DC gain."""
    n_taps = 20 * up + 1
    m = np.arange(0, n_taps, dtype=np.float64) - 0.5 * (n_taps - 1)
    right = 1.0 / up
    h = right * np.sinc(right * m) - 0.0 * np.sinc(0.0 * m)
    k = np.arange(0, n_taps, dtype=np.float64)
    alpha = (n_taps - 1) / 2.0
    window = [_bessel_i0(float(v)) for v in KAISER_BETA * np.sqrt(1 - ((k - alpha) / alpha) ** 2.0)]
    h *= np.asarray(window, dtype=np.float64) / _bessel_i0(KAISER_BETA)
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
