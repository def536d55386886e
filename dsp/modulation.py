"""Modulations keyed by profile name: channel bits <-> complex symbols / soft bits.

Each entry gives the bit mapping (0 -> +1), soft-bit extraction (positive
means a 0 bit) under one of its phase-ambiguity rotations, the power that
strips the modulation for frequency acquisition, and the phase-detector
kind of the carrier loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Modulation:
    name: str
    bits_per_symbol: int
    n_rotations: int  # phase ambiguities the carrier loop may lock to
    power: int  # M-th power removes the modulation (acquisition)
    detector: int  # 0: BPSK Costas, 1: QPSK Costas (numba loop)

    def map_bits(self, bits: NDArray[np.uint8]) -> NDArray[np.complex64]:
        """Channel bits -> unit-energy symbols (QPSK: first bit on I, second on Q)."""
        levels = 1.0 - 2.0 * np.asarray(bits, dtype=np.float32)
        if self.bits_per_symbol == 1:
            return levels.astype(np.complex64)
        if levels.size % 2:
            raise ValueError(f"QPSK needs an even number of bits, got {levels.size}")
        pairs = levels.reshape(-1, 2) / np.sqrt(2.0)
        return (pairs[:, 0] + 1j * pairs[:, 1]).astype(np.complex64)

    def soft_bits(self, symbols: NDArray[np.complex64], rotation: int = 0) -> NDArray[np.float32]:
        """Soft bits of ``symbols`` after undoing ambiguity ``rotation`` (0..n_rotations-1)."""
        turned = symbols * np.complex64(np.exp(-2j * np.pi * rotation / self.n_rotations))
        if self.bits_per_symbol == 1:
            return np.ascontiguousarray(turned.real, dtype=np.float32)
        out = np.empty(2 * turned.size, dtype=np.float32)
        out[0::2] = turned.real
        out[1::2] = turned.imag
        return out


MODULATION_REGISTRY: dict[str, Modulation] = {
    "bpsk": Modulation("bpsk", bits_per_symbol=1, n_rotations=2, power=2, detector=0),
    "qpsk": Modulation("qpsk", bits_per_symbol=2, n_rotations=4, power=4, detector=1),
}
