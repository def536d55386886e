"""CCSDS pseudo-randomizer (CCSDS 131.0-B section 10): bytes -> bytes.

The sequence comes from h(x) = x^8 + x^7 + x^5 + x^3 + 1 with all ones as the
initial state, repeats every 255 bytes and is XORed onto each code block
(the CADU after the ASM), restarting at every frame.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray


@lru_cache(maxsize=1)
def _sequence_255() -> NDArray[np.uint8]:
    state = [1] * 8  # x1..x8, all ones
    bits = np.empty(255 * 8, dtype=np.uint8)
    for i in range(bits.size):
        bits[i] = state[0]
        # Fibonacci form of h(x): feedback taps x^8 x^7 x^5 x^3 (state[0] is the oldest).
        feedback = state[0] ^ state[3] ^ state[5] ^ state[7]
        state = state[1:] + [feedback]
    out = np.packbits(bits)
    out.setflags(write=False)
    return out


def randomizer_sequence(n_bytes: int) -> NDArray[np.uint8]:
    """The first ``n_bytes`` of the CCSDS pseudo-random sequence (period 255 bytes)."""
    if n_bytes < 0:
        raise ValueError(f"n_bytes is {n_bytes}, expected a non-negative length")
    seq = _sequence_255()
    reps = -(-n_bytes // 255) if n_bytes else 0
    return np.tile(seq, reps)[:n_bytes]


def randomize(data: bytes | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """XOR the CCSDS sequence onto one code block (its own inverse)."""
    arr = np.frombuffer(bytes(data), dtype=np.uint8) if isinstance(data, bytes) else data
    return np.bitwise_xor(arr.astype(np.uint8, copy=False), randomizer_sequence(arr.size))


derandomize = randomize
