"""CCSDS Reed-Solomon (255,223) E=16 with interleaving and shortening: bytes -> bytes.

Field GF(2^8) from p(x) = x^8 + x^7 + x^2 + x + 1, generator roots
beta^(11*j), j = 112..143 (CCSDS 131.0-B section 4). ``reedsolo`` does the
arithmetic: building its tables on beta = alpha^11 (0xAD) makes its roots
``beta^(fcr + i)`` exactly the CCSDS ones. The dual (Berlekamp) basis is the
fixed 8x8 bit matrix of CCSDS 131.0-B Annex F, applied byte-wise before
encoding/decoding and after.

Codeword layout with interleaving depth I: byte k of the code block belongs
to codeword k mod I; the first I*223 - shortening bytes are data (the
transfer frame), the last 32*I the parity.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import reedsolo
from numpy.typing import NDArray

N_PARITY = 32
K_DATA = 223
N_CODE = 255
BASES = ("dual", "conventional")

# Rows of the conventional -> dual basis matrix (CCSDS 131.0-B Annex F, "T_alpha").
_TAL_ROWS = (0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B)


@lru_cache(maxsize=1)
def _basis_tables() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    to_dual = np.zeros(256, dtype=np.uint8)
    for value in range(256):
        out = 0
        for col in range(8):
            for row in range(8):
                if value & (1 << row):
                    out ^= _TAL_ROWS[7 - row] & (1 << col)
        to_dual[value] = out
    to_conv = np.zeros(256, dtype=np.uint8)
    to_conv[to_dual] = np.arange(256, dtype=np.uint8)
    to_dual.setflags(write=False)
    to_conv.setflags(write=False)
    return to_dual, to_conv


def conventional_to_dual(data: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Map bytes from the conventional (alpha^i) basis to the dual basis."""
    return _basis_tables()[0][data]


def dual_to_conventional(data: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Map bytes from the dual basis to the conventional basis."""
    return _basis_tables()[1][data]


@lru_cache(maxsize=1)
def _codec() -> reedsolo.RSCodec:
    return reedsolo.RSCodec(N_PARITY, nsize=N_CODE, fcr=112, prim=0x187, generator=0xAD, c_exp=8)


@dataclass(frozen=True)
class RsDecodeResult:
    """Outcome of decoding one interleaved code block.

    data: corrected data bytes (I*223 - shortening), or the received data when
    a codeword failed; corrections: per codeword, symbols corrected (-1 when
    uncorrectable).
    """

    data: bytes
    corrections: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return all(c >= 0 for c in self.corrections)


def _check_layout(n_data: int, interleave: int) -> int:
    if not 1 <= interleave <= 5:
        raise ValueError(f"rs_interleave is {interleave}, expected an integer in 1..5")
    if n_data <= 0 or n_data > K_DATA * interleave or n_data % interleave:
        raise ValueError(
            f"RS data length is {n_data} bytes, expected a multiple of the interleave depth "
            f"{interleave} between {interleave} and {K_DATA * interleave}"
        )
    return n_data // interleave


def rs_encode(data: bytes, interleave: int = 1, basis: str = "dual") -> bytes:
    """Append the 32*I parity bytes to ``data`` (length a multiple of I, <= 223*I)."""
    _check_basis(basis)
    k = _check_layout(len(data), interleave)
    arr = np.frombuffer(data, dtype=np.uint8).reshape(k, interleave)
    if basis == "dual":
        arr = dual_to_conventional(arr)
    parity = np.empty((N_PARITY, interleave), dtype=np.uint8)
    codec = _codec()
    for j in range(interleave):
        codeword = codec.encode(bytes(arr[:, j]))
        parity[:, j] = np.frombuffer(bytes(codeword[k:]), dtype=np.uint8)
    if basis == "dual":
        parity = conventional_to_dual(parity)
    return bytes(data) + parity.tobytes()


def rs_decode(block: bytes, interleave: int = 1, basis: str = "dual") -> RsDecodeResult:
    """Correct one code block (data + 32*I parity); never raises on bad data."""
    _check_basis(basis)
    n_data = len(block) - N_PARITY * interleave
    k = _check_layout(n_data, interleave)
    arr = np.frombuffer(block, dtype=np.uint8).reshape(k + N_PARITY, interleave)
    if basis == "dual":
        arr = dual_to_conventional(arr)
    out = np.array(arr[:k], copy=True)
    corrections = []
    codec = _codec()
    for j in range(interleave):
        column = bytes(arr[:, j])
        if codec.check(column)[0]:
            corrections.append(0)
            continue
        try:
            msg, _, errata = codec.decode(column)
        except reedsolo.ReedSolomonError:
            corrections.append(-1)
            continue
        out[:, j] = np.frombuffer(bytes(msg), dtype=np.uint8)
        corrections.append(len(errata))
    if basis == "dual":
        out = conventional_to_dual(out)
    return RsDecodeResult(data=out.tobytes(), corrections=tuple(corrections))


def _check_basis(basis: str) -> None:
    if basis not in BASES:
        raise ValueError(f"rs_basis is {basis!r}, expected one of {', '.join(BASES)}")
