"""Soft-decision repair of AX.25 frames whose FCS fails: the soft channel bits
between two HDLC flags -> the frame, or None.

A channel bit error becomes a fixed pattern of data bit errors after the
line decoding (NRZI: the bit and the next; NRZI then G3RUH: those two each
at +0, +12 and +17). Between two flags whose frame fails its FCS, the
``candidates`` least reliable channel bits (smallest |soft|) are flipped,
one or two at a time (``max_flips``), cheapest first by the sum of their
|soft|; the first flip set whose frame de-stuffs to whole bytes with a
good FCS is the answer. Nothing is output that fails the FCS. Not
repaired: errors in a flag, and errors whose data bits make six 1s (a
false flag that splits the frame: neither part has a frame's FCS).

A bounded search that tries N flip sets (78 by default) accepts a wrong
frame from a segment it cannot correct with probability about N / 65536
(CRC-16): it must only search segments that its soft bits say it can
correct. Each bit's error probability is estimated from its soft value
(Gaussian: p = 1 / (1 + exp(2 a |s| / sigma^2)), a and sigma^2 from the
segment's |s|), and a segment is searched only when
- its soft symbols show an Es/N0 of at least ``min_snr_db`` (noise alone
  shows ~2.4 dB on that scale), and
- the chance that it holds an error the search cannot fix is at most
  ``max_miss``: an error outside the ``candidates`` weakest bits (the sum
  of their p) or more than ``max_flips`` errors among them (the
  Poisson-binomial tail of their p).
A wrong frame then needs both a miss (<= max_miss) and a CRC collision
(~N / 65536): under 1e-4 per searched segment. A repaired frame must
also have AX.25's address field (2 to 10 addresses of 7 bytes, the
extension bit, the first bit sent of each byte, set only at the end of the
last), which a random header passes with probability ~2^-14.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from numpy.typing import NDArray

from dsp.hdlc import bit_destuff, fcs_ok

#: data-bit offsets a channel bit error flips, per line code
ERROR_PATTERNS = {
    "nrzi": (0, 1),
    "nrzi+g3ruh": (0, 1, 12, 13, 17, 18),
}


@dataclass(frozen=True)
class RepairConfig:
    """candidates: least reliable channel bits considered; max_flips: most
    flipped at once; min_snr_db: least Es/N0 of a segment worth searching."""

    candidates: int = 12
    max_flips: int = 2
    min_snr_db: float = 5.0
    max_miss: float = 0.05


def has_ax25_address_field(frame: bytes) -> bool:
    """2 to 10 addresses of 7 bytes, extension bit set only on the last one."""
    ext = np.frombuffer(frame[:70], dtype=np.uint8) & 1
    ends = np.flatnonzero(ext)
    if ends.size == 0:
        return False
    last = int(ends[0])
    return last % 7 == 6 and 13 <= last < 70


def bit_error_probability(soft: NDArray[np.float32]) -> NDArray[np.float64]:
    """Each soft bit's chance of being wrong, from a Gaussian fit of |soft|."""
    a = np.abs(np.asarray(soft, dtype=np.float64))
    var = float(np.var(a))
    if var <= 0:
        return np.zeros(a.size)
    llr = np.minimum(2 * float(np.mean(a)) * a / var, 700.0)
    return np.asarray(1.0 / (1.0 + np.exp(llr)), dtype=np.float64)


def miss_probability(
    soft: NDArray[np.float32], weakest: NDArray[np.int64], max_flips: int
) -> float:
    """Chance that the errors of ``soft`` are not all among ``weakest``, or are
    more than ``max_flips`` of them."""
    p = bit_error_probability(soft)
    outside = float(p.sum() - p[weakest].sum())
    # Poisson-binomial distribution of the number of errors among the weakest
    count = np.zeros(max_flips + 2)
    count[0] = 1.0
    for q in p[weakest]:
        count[1:] = count[1:] * (1 - q) + count[:-1] * q
        count[0] *= 1 - q
    return outside + float(1.0 - count[: max_flips + 1].sum())


def repair_frame(
    data_bits: NDArray[np.uint8],
    channel_soft: NDArray[np.float32],
    line: str,
    snr_db: float,
    config: RepairConfig,
    *,
    min_bits: int,
    max_bits: int,
) -> tuple[bytes, int] | None:
    """(frame with its FCS, channel bits flipped) or None.

    data_bits: the hard data bits between the flags (after line decoding);
    channel_soft: the soft channel bits at the same indices; line: a key of
    ERROR_PATTERNS; snr_db: the segment's Es/N0 estimate; min_bits/max_bits:
    the de-stuffed lengths HDLC accepts."""
    if snr_db < config.min_snr_db or line not in ERROR_PATTERNS:
        return None
    pattern = np.array(ERROR_PATTERNS[line])
    n = data_bits.size
    # a flip must leave the flags alone: its whole pattern inside the segment
    usable = n - int(pattern[-1])
    if usable <= 0:
        return None
    reliability = np.abs(channel_soft[:usable]).astype(np.float64)
    k = min(config.candidates, usable)
    weakest = np.argsort(reliability, kind="stable")[:k]
    if miss_probability(channel_soft, weakest, config.max_flips) > config.max_miss:
        return None
    sets = [c for size in range(1, config.max_flips + 1) for c in combinations(weakest, size)]
    sets.sort(key=lambda c: float(reliability[list(c)].sum()))
    for flips in sets:
        trial = data_bits.copy()
        for position in flips:
            trial[position + pattern] ^= 1
        body = bit_destuff(trial)
        if body.size % 8 or not min_bits <= body.size <= max_bits:
            continue
        data = np.packbits(body, bitorder="little").tobytes()
        if fcs_ok(data) and has_ax25_address_field(data[:-2]):
            return data, len(flips)
    return None
