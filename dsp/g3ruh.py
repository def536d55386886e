"""G3RUH scrambler (x^17 + x^12 + 1, self-synchronising): bits -> bits.

The multiplicative scrambler of 9600-baud amateur packet radio (James
Miller G3RUH's modem; gr-satellites' ``descrambler_bb(0x21, 0, 16)``):
transmit y[n] = x[n] ^ y[n-12] ^ y[n-17], receive x[n] = y[n] ^ y[n-12] ^ y[n-17].
The descrambler is a plain FIR over the channel bits, so it locks by itself
17 bits into a stream and a channel bit error becomes three data bit errors.
``history`` holds the last 17 channel bits (oldest first) across chunks.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

REGISTER_BITS = 17
TAP = 12


def _history(history: NDArray[np.uint8] | None) -> NDArray[np.uint8]:
    if history is None:
        return np.zeros(REGISTER_BITS, dtype=np.uint8)
    h = np.asarray(history, dtype=np.uint8)
    if h.shape != (REGISTER_BITS,):
        raise ValueError(f"history has shape {h.shape}, expected ({REGISTER_BITS},)")
    return h


def g3ruh_descramble(
    bits: NDArray[np.uint8], history: NDArray[np.uint8] | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Channel bits -> data bits; returns (data bits, new history)."""
    y = np.concatenate([_history(history), np.asarray(bits, dtype=np.uint8)])
    n = y.size - REGISTER_BITS
    out = y[REGISTER_BITS:] ^ y[REGISTER_BITS - TAP : REGISTER_BITS - TAP + n] ^ y[:n]
    return out.astype(np.uint8), y[-REGISTER_BITS:].copy()


@njit(cache=True)
def _scramble_core(x: NDArray[np.uint8], y: NDArray[np.uint8]) -> None:
    for n in range(x.size):
        i = n + 17
        y[i] = x[n] ^ y[i - 12] ^ y[i - 17]


def g3ruh_scramble(
    bits: NDArray[np.uint8], history: NDArray[np.uint8] | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Data bits -> channel bits; returns (channel bits, new history)."""
    x = np.asarray(bits, dtype=np.uint8)
    y = np.concatenate([_history(history), np.zeros(x.size, dtype=np.uint8)])
    _scramble_core(x, y)
    return y[REGISTER_BITS:].copy(), y[-REGISTER_BITS:].copy()
