"""16-bit CRCs: bytes -> int.

- CRC-16-CCITT (poly 0x1021, init 0xFFFF, no reflection, no final XOR): the TM
  transfer frame error control field (CCSDS 132.0-B section 4.1.6).
- CRC-16/X.25: the HDLC / AX.25 frame check sequence (ISO/IEC 13239).
"""

from __future__ import annotations

import binascii
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


# Bit-reversal of every byte value: CRC-16/X.25 is the reflected form of the
# CCITT polynomial, binascii.crc_hqx the unreflected one.
_REFLECT = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def crc16_x25(data: bytes | bytearray) -> int:
    """CRC-16/X.25 (reflected poly 0x1021, init 0xFFFF, final XOR 0xFFFF): the
    HDLC / AX.25 frame check sequence, sent low byte first;
    ``crc16_x25(b"123456789") == 0x906E``.

    binascii.crc_hqx (C) computes the unreflected CRC; feeding it the bytes
    bit-reversed and reversing its 16-bit result gives the reflected CRC.
    """
    crc = binascii.crc_hqx(bytes(data).translate(_REFLECT), 0xFFFF)
    reflected = (_REFLECT[crc & 0xFF] << 8) | _REFLECT[crc >> 8]
    return reflected ^ 0xFFFF
