"""Extended Golay (24,12) code: 12-bit words <-> 24-bit codewords.

Systematic form c = (p, d) with the parity p = B d in the high 12 bits and
the data d in the low 12 bits, B the 12x12 matrix below (the one of
Morelos-Zaragoza, "The Art of Error Correcting Coding", section 2.2.3, as
the GOMspace radios use it for their length field). The code corrects every
pattern of up to 3 bit errors and detects 4: decoding looks the syndrome
up in a table of the 2325 coset leaders of weight <= 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

# Row i of B (its most significant bit is column 0); row i gives parity bit 11 - i.
B_ROWS = (0x8ED, 0x1DB, 0x3B5, 0x769, 0xED1, 0xDA3, 0xB47, 0x68F, 0xD1D, 0xA3B, 0x477, 0xFFE)


def _parity_bits(data12: int) -> int:
    out = 0
    for row in B_ROWS:
        out = (out << 1) | (bin(row & data12).count("1") & 1)
    return out


def golay24_encode(data12: int) -> int:
    """12-bit word -> 24-bit codeword (parity << 12 | data)."""
    if not 0 <= data12 < 1 << 12:
        raise ValueError(f"Golay data word is {data12}, expected 0..4095")
    return (_parity_bits(data12) << 12) | data12


def _syndrome(word24: int) -> int:
    return (word24 >> 12) ^ _parity_bits(word24 & 0xFFF)


@lru_cache(maxsize=1)
def _leaders() -> NDArray[np.int64]:
    """Error pattern of weight <= 3 for each syndrome (-1: 4 errors detected)."""
    table = np.full(1 << 12, -1, dtype=np.int64)
    for weight in range(4):
        for positions in combinations(range(24), weight):
            error = sum(1 << p for p in positions)
            table[_syndrome(error)] = error
    table.setflags(write=False)
    return table


@dataclass(frozen=True)
class GolayResult:
    """data: the corrected 12-bit word (-1 if uncorrectable); errors: bits corrected."""

    data: int
    errors: int

    @property
    def ok(self) -> bool:
        return self.errors >= 0


def golay24_decode(word24: int) -> GolayResult:
    """24-bit received word -> corrected data word and the number of bits fixed."""
    if not 0 <= word24 < 1 << 24:
        raise ValueError(f"Golay codeword is {word24}, expected 0..2**24-1")
    error = int(_leaders()[_syndrome(word24)])
    if error < 0:
        return GolayResult(data=-1, errors=-1)
    return GolayResult(data=(word24 ^ error) & 0xFFF, errors=bin(error).count("1"))
