"""Root-raised-cosine pulse: (roll-off, samples per symbol) -> float taps.

``rrc_pulse(t_sym, alpha)`` evaluates the continuous pulse at times in
symbol periods; ``polyphase_table`` tabulates it at fractional offsets for
the matched filter/interpolator of the demodulator and for the modulator.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def rrc_pulse(t_sym: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Unit-peak-normalised RRC impulse response at times ``t_sym`` (symbol periods)."""
    if not 0 < alpha <= 1:
        raise ValueError(f"rrc_alpha is {alpha}, expected a number in (0, 1]")
    t = np.asarray(t_sym, dtype=np.float64)
    out = np.empty_like(t)
    at_zero = np.abs(t) < 1e-9
    singular = np.abs(np.abs(t) - 1 / (4 * alpha)) < 1e-9
    regular = ~(at_zero | singular)
    tr = t[regular]
    num = np.sin(np.pi * tr * (1 - alpha)) + 4 * alpha * tr * np.cos(np.pi * tr * (1 + alpha))
    den = np.pi * tr * (1 - (4 * alpha * tr) ** 2)
    out[regular] = num / den
    out[at_zero] = 1 - alpha + 4 * alpha / np.pi
    out[singular] = (alpha / np.sqrt(2)) * (
        (1 + 2 / np.pi) * np.sin(np.pi / (4 * alpha))
        + (1 - 2 / np.pi) * np.cos(np.pi / (4 * alpha))
    )
    return out


def rrc_taps(sps: int, alpha: float, span_symbols: int = 10) -> NDArray[np.float64]:
    """FIR taps (2*span/2*sps + 1) with unit energy, for integer ``sps``."""
    half = span_symbols * sps // 2
    taps = rrc_pulse(np.arange(-half, half + 1) / sps, alpha)
    return taps / np.sqrt(np.sum(taps**2))


def polyphase_table(
    sps: float, alpha: float, span_symbols: int, n_phases: int
) -> tuple[NDArray[np.float32], int]:
    """Matched filter taps at ``n_phases + 1`` fractional sample offsets.

    Row r, tap j is h((j - half - r/n_phases) / sps): the filter output at
    sample position base + r/n_phases is sum_j x[base + j - half] * row[j].
    Rows are normalised so that a unit-energy pulse gives unit peak output.
    Returns (table (n_phases+1, 2*half+1), half).
    """
    half = int(np.ceil(span_symbols * sps / 2))
    j = np.arange(2 * half + 1)
    frac = np.arange(n_phases + 1)[:, None] / n_phases
    table = rrc_pulse((j[None, :] - half - frac) / sps, alpha)
    table /= np.sqrt(np.sum(table[0] ** 2))
    return table.astype(np.float32), half
