"""CCSDS rate 1/2, K=7 convolutional encoder (171/133 octal, G2 inverted): bits -> bits.

Bits are uint8 arrays of 0/1. ``state`` holds the previous six input bits,
most recent in bit 5. Output order per input bit: G1 then (inverted) G2,
CCSDS 131.0-B section 3.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

K = 7
N_STATES = 64
G1_OCTAL = 0o171
G2_OCTAL = 0o133


def _taps(poly_octal: int) -> NDArray[np.uint8]:
    # Coefficient of the newest input bit first: 171 = 1111001 -> taps on u_t, u_t-1, ...
    return np.array([(poly_octal >> (K - 1 - i)) & 1 for i in range(K)], dtype=np.uint8)


@lru_cache(maxsize=1)
def trellis() -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """(next_state[state, bit], output_pair[state, bit]) with output = 2*g1 + g2."""
    g1, g2 = _taps(G1_OCTAL), _taps(G2_OCTAL)
    next_state = np.zeros((N_STATES, 2), dtype=np.int64)
    outputs = np.zeros((N_STATES, 2), dtype=np.uint8)
    for state in range(N_STATES):
        for bit in range(2):
            register = [bit] + [(state >> (5 - i)) & 1 for i in range(6)]
            o1 = int(np.dot(g1, register) & 1)
            o2 = int(np.dot(g2, register) & 1) ^ 1
            next_state[state, bit] = (bit << 5) | (state >> 1)
            outputs[state, bit] = (o1 << 1) | o2
    next_state.setflags(write=False)
    outputs.setflags(write=False)
    return next_state, outputs


def conv_encode(bits: NDArray[np.uint8], state: int = 0) -> tuple[NDArray[np.uint8], int]:
    """Encode ``bits`` from encoder ``state``; returns (2*n coded bits, final state)."""
    bits = np.asarray(bits, dtype=np.uint8)
    if not 0 <= state < N_STATES:
        raise ValueError(f"encoder state is {state}, expected 0..63")
    history = np.array([(state >> i) & 1 for i in range(6)], dtype=np.uint8)  # oldest first
    full = np.concatenate([history, bits])
    out = np.empty(2 * bits.size, dtype=np.uint8)
    for index, poly in enumerate((G1_OCTAL, G2_OCTAL)):
        taps = _taps(poly)[::-1]  # oldest first to match np.convolve's 'valid' window order
        parity = np.convolve(full, taps[::-1], mode="valid")[: bits.size] & 1
        out[index::2] = parity if index == 0 else parity ^ 1
    final = 0
    for i in range(6):
        final |= int(full[full.size - 1 - i]) << (5 - i)
    return out, final
