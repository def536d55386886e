"""CRC-16-CCITT (poly 0x1021, init 0xFFFF, no reflection, no final XOR): bytes -> int.

This is the TM transfer frame error control field (CCSDS 132.0-B section 4.1.6).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit
from numpy.typing import NDArray


@lru_cache(maxsize=1)
def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


@njit(cache=True, nogil=True)
def _crc_core(data: NDArray[np.uint8], table: NDArray[np.int64], init: int) -> int:
    crc = init
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def crc16_ccitt(data: bytes | bytearray | NDArray[np.uint8], init: int = 0xFFFF) -> int:
    """CRC-16-CCITT of ``data``; ``crc16_ccitt(b"123456789") == 0x29B1``."""
    arr = np.frombuffer(bytes(data), dtype=np.uint8)
    return int(_crc_core(arr, np.asarray(_table(), dtype=np.int64), init))


def crc16_ccitt_reference(data: bytes | bytearray, init: int = 0xFFFF) -> int:
    """Bit-by-bit CRC-16-CCITT (for tests)."""
    crc = init
    for byte in bytes(data):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc
