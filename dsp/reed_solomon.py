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
from numba import njit
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


@lru_cache(maxsize=1)
def _gf_tables() -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """(exp, log, generator) with exp/log on base beta = alpha^11; exp has 510
    entries so products need no modulo; generator: 33 coefficients, highest first."""
    alpha_pow = np.zeros(255, dtype=np.int64)
    x = 1
    for i in range(255):
        alpha_pow[i] = x
        x <<= 1
        if x & 0x100:
            x ^= 0x187
    exp = np.array([alpha_pow[(11 * i) % 255] for i in range(510)], dtype=np.int64)
    log = np.zeros(256, dtype=np.int64)
    log[exp[:255]] = np.arange(255)
    gen = np.array([1], dtype=np.int64)
    for i in range(N_PARITY):
        root = exp[(FCR + i) % 255]
        nxt = np.zeros(gen.size + 1, dtype=np.int64)
        nxt[:-1] = gen
        for j in range(gen.size):  # nxt += root * gen shifted
            if gen[j]:
                nxt[j + 1] ^= exp[log[gen[j]] + log[root]]
        gen = nxt
    for arr in (exp, log, gen):
        arr.setflags(write=False)
    return exp, log, gen


FCR = 112


@njit(cache=True, nogil=True)
def _gf_mul(a: int, b: int, exp: NDArray[np.int64], log: NDArray[np.int64]) -> int:
    if a == 0 or b == 0:
        return 0
    return int(exp[log[a] + log[b]])


@njit(cache=True, nogil=True)
def _encode_columns(data: NDArray[np.uint8], exp, log, gen) -> NDArray[np.uint8]:  # type: ignore[no-untyped-def]
    """data (k, I) -> parity (32, I): remainder of d(x) x^32 / g(x) per column."""
    k, n_cols = data.shape
    parity = np.zeros((N_PARITY, n_cols), dtype=np.uint8)
    reg = np.zeros(N_PARITY, dtype=np.int64)
    for c in range(n_cols):
        reg[:] = 0
        for i in range(k):
            fb = data[i, c] ^ reg[0]
            for j in range(N_PARITY - 1):
                reg[j] = reg[j + 1] ^ _gf_mul(fb, gen[j + 1], exp, log)
            reg[N_PARITY - 1] = _gf_mul(fb, gen[N_PARITY], exp, log)
        for j in range(N_PARITY):
            parity[j, c] = reg[j]
    return parity


@njit(cache=True, nogil=True)
def _syndromes(cw: NDArray[np.int64], exp, log) -> NDArray[np.int64]:  # type: ignore[no-untyped-def]
    n = cw.size
    synd = np.zeros(N_PARITY, dtype=np.int64)
    for i in range(N_PARITY):
        root_log = (FCR + i) % 255
        s = 0
        for j in range(n):
            s = (exp[log[s] + root_log] if s else 0) ^ cw[j]
        synd[i] = s
    return synd


@njit(cache=True, nogil=True)
def _decode_column(cw: NDArray[np.int64], exp, log) -> int:  # type: ignore[no-untyped-def]
    """Correct ``cw`` (n <= 255 symbols, first = highest power) in place;
    returns symbols corrected or -1 if uncorrectable (cw then untouched)."""
    synd = _syndromes(cw, exp, log)
    if np.all(synd == 0):
        return 0
    lam, n_err = _berlekamp_massey(synd, exp, log)
    if n_err > N_PARITY // 2:
        return -1
    positions = _chien_search(lam, n_err, cw.size, exp, log)
    if positions.size != n_err:
        return -1
    fixed = cw.copy()
    if not _forney_correct(fixed, synd, lam, positions, exp, log):
        return -1
    if not np.all(_syndromes(fixed, exp, log) == 0):
        return -1
    cw[:] = fixed
    return n_err


@njit(cache=True, nogil=True)
def _berlekamp_massey(synd: NDArray[np.int64], exp, log):  # type: ignore[no-untyped-def]
    """Error locator Lambda(x) (coefficients, lowest power first) from the
    syndromes, and the number of errors it locates (its degree)."""
    two_t = N_PARITY
    lam = np.zeros(two_t + 1, dtype=np.int64)
    prev = np.zeros(two_t + 1, dtype=np.int64)
    tmp = np.zeros(two_t + 1, dtype=np.int64)
    lam[0] = 1
    prev[0] = 1
    n_err = 0
    shift = 1
    b = 1
    for r in range(two_t):
        d = synd[r]
        for i in range(1, n_err + 1):
            d ^= _gf_mul(lam[i], synd[r - i], exp, log)
        if d == 0:
            shift += 1
            continue
        coef = exp[(log[d] - log[b]) % 255]
        tmp[:] = lam
        for i in range(two_t + 1 - shift):
            if prev[i]:
                lam[i + shift] ^= _gf_mul(coef, prev[i], exp, log)
        if 2 * n_err <= r:
            n_err = r + 1 - n_err
            prev[:] = tmp
            b = d
            shift = 1
        else:
            shift += 1
    return lam, n_err


@njit(cache=True, nogil=True)
def _chien_search(lam: NDArray[np.int64], n_err: int, n: int, exp, log):  # type: ignore[no-untyped-def]
    """Powers p (symbol index n - 1 - p) among the n valid positions where
    Lambda(beta^-p) = 0; more or fewer than ``n_err`` of them means the
    codeword is uncorrectable (the result then has another length)."""
    positions = np.empty(n_err + 1, dtype=np.int64)
    found = 0
    for p in range(n):
        inv_log = (255 - p) % 255  # log of X^-1 = beta^-p
        val = 0
        for i in range(n_err + 1):
            if lam[i]:
                val ^= exp[(log[lam[i]] + inv_log * i) % 255]
        if val == 0:
            positions[found] = p
            found += 1
            if found > n_err:
                break
    return positions[:found]


@njit(cache=True, nogil=True)
def _forney_correct(cw, synd, lam, positions, exp, log) -> bool:  # type: ignore[no-untyped-def]
    """Forney's algorithm: add each located error's value to ``cw``; False
    when a value cannot be computed (the codeword is uncorrectable)."""
    two_t = N_PARITY
    n_err = positions.size
    n = cw.size
    # Omega = S * Lambda mod x^2t
    omega = np.zeros(two_t, dtype=np.int64)
    for i in range(two_t):
        acc = 0
        for j in range(min(i, n_err) + 1):
            acc ^= _gf_mul(synd[i - j], lam[j], exp, log)
        omega[i] = acc
    for k in range(n_err):
        p = positions[k]
        inv_log = (255 - p) % 255
        num = 0
        for i in range(two_t):
            if omega[i]:
                num ^= exp[(log[omega[i]] + inv_log * i) % 255]
        den = 0
        for i in range(1, n_err + 1, 2):  # formal derivative: odd terms
            if lam[i]:
                den ^= exp[(log[lam[i]] + inv_log * (i - 1)) % 255]
        # e = X^(1 - fcr) * Omega(X^-1) / Lambda'(X^-1)
        if den == 0 or num == 0:
            return False
        e_log = (p * (1 - FCR) + log[num] - log[den]) % 255
        cw[n - 1 - p] ^= exp[e_log]
    return True


@njit(cache=True, nogil=True)
def _decode_columns(block: NDArray[np.uint8], exp, log):  # type: ignore[no-untyped-def]
    """block (n, I), corrected in place per column; returns corrections (I,)."""
    n, n_cols = block.shape
    out = np.zeros(n_cols, dtype=np.int64)
    cw = np.empty(n, dtype=np.int64)
    for c in range(n_cols):
        for i in range(n):
            cw[i] = block[i, c]
        out[c] = _decode_column(cw, exp, log)
        if out[c] > 0:
            for i in range(n):
                block[i, c] = cw[i]
    return out


def rs_encode(data: bytes, interleave: int = 1, basis: str = "dual") -> bytes:
    """Append the 32*I parity bytes to ``data`` (length a multiple of I, <= 223*I)."""
    _check_basis(basis)
    k = _check_layout(len(data), interleave)
    arr = np.frombuffer(data, dtype=np.uint8).reshape(k, interleave)
    if basis == "dual":
        arr = dual_to_conventional(arr)
    exp, log, gen = _gf_tables()
    parity = _encode_columns(np.ascontiguousarray(arr), exp, log, gen)
    if basis == "dual":
        parity = conventional_to_dual(parity)
    return bytes(data) + parity.tobytes()


def rs_decode(block: bytes, interleave: int = 1, basis: str = "dual") -> RsDecodeResult:
    """Correct one code block (data + 32*I parity); never raises on bad data."""
    _check_basis(basis)
    n_data = len(block) - N_PARITY * interleave
    k = _check_layout(n_data, interleave)
    arr = np.frombuffer(block, dtype=np.uint8).reshape(k + N_PARITY, interleave)
    arr = dual_to_conventional(arr) if basis == "dual" else arr.copy()
    exp, log, _ = _gf_tables()
    corrections = _decode_columns(arr, exp, log)
    out = arr[:k]
    if basis == "dual":
        out = conventional_to_dual(out)
    return RsDecodeResult(data=out.tobytes(), corrections=tuple(int(c) for c in corrections))


def rs_encode_reference(data: bytes, interleave: int = 1, basis: str = "dual") -> bytes:
    """``rs_encode`` computed with reedsolo (slow; for tests)."""
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


def rs_decode_reference(block: bytes, interleave: int = 1, basis: str = "dual") -> RsDecodeResult:
    """``rs_decode`` computed with reedsolo (slow; for tests)."""
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
