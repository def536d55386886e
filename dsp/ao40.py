"""AO-40 FEC (Phil Karn's format, used by FUNcube / AO-73): 5200 soft channel
bits -> 256 frame bytes, and back.

Transmit: 256 bytes -> two interleaved Reed-Solomon codewords (CCSDS
RS(255,223) conventional basis, shortened to 160 bytes: 320 bytes) -> CCSDS
scrambler -> r=1/2 K=7 convolutional code (CCSDS polynomials, second one
inverted) with 6 zero tail bits (5132 symbols) -> block interleaver of 80 rows x
65 columns whose first row carries the 65-bit sync vector. On the air the
matrix is read by columns: 65 groups of 80 symbols, each opening with one
sync bit, so the sync word is spread every 80 symbols. The last 3 cells of
the matrix are padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from dsp.convolutional import conv_encode
from dsp.randomizer import randomize
from dsp.reed_solomon import rs_decode, rs_encode
from dsp.viterbi import viterbi_decode

SYNC_VECTOR = np.array(
    [int(c) for c in "11111110000111011110010110010010000001000100110001011101011011000"],
    dtype=np.uint8,
)
ROWS, COLUMNS = 80, 65
FRAME_SYMBOLS = ROWS * COLUMNS  # 5200
DATA_BYTES = 256
RS_INTERLEAVE = 2
CODED_BYTES = 320
TAIL_BITS = 6
CODED_SYMBOLS = 2 * (8 * CODED_BYTES + TAIL_BITS)  # 5132


@lru_cache(maxsize=1)
def _air_index() -> NDArray[np.int64]:
    """air_index[i]: position on the air of matrix cell i (row-major, 65 columns)."""
    i = np.arange(FRAME_SYMBOLS)
    out = ROWS * (i % COLUMNS) + i // COLUMNS
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class Ao40Frame:
    """frame: the 256 data bytes; rs_corrections: per codeword (-1 uncorrectable)."""

    frame: bytes
    rs_corrections: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return all(c >= 0 for c in self.rs_corrections)


def ao40_encode(frame: bytes) -> NDArray[np.uint8]:
    """256 bytes -> the 5200 channel bits of one frame, in the order they are sent."""
    if len(frame) != DATA_BYTES:
        raise ValueError(f"AO-40 frame is {len(frame)} bytes, expected {DATA_BYTES}")
    block = randomize(rs_encode(frame, RS_INTERLEAVE, "conventional"))
    bits = np.concatenate([np.unpackbits(block), np.zeros(TAIL_BITS, dtype=np.uint8)])
    coded, _ = conv_encode(bits, 0)
    matrix = np.zeros(FRAME_SYMBOLS, dtype=np.uint8)
    matrix[:COLUMNS] = SYNC_VECTOR
    matrix[COLUMNS : COLUMNS + CODED_SYMBOLS] = coded
    air = np.empty(FRAME_SYMBOLS, dtype=np.uint8)
    air[_air_index()] = matrix
    return air


def ao40_sync_positions() -> NDArray[np.int64]:
    """Positions of the 65 sync bits within a frame on the air."""
    return ROWS * np.arange(COLUMNS)


def ao40_decode(soft: NDArray[np.float32]) -> Ao40Frame:
    """5200 soft channel bits (positive = bit 0) from the frame's first sync bit -> frame."""
    soft = np.asarray(soft, dtype=np.float32)
    if soft.size != FRAME_SYMBOLS:
        raise ValueError(f"AO-40 block is {soft.size} soft bits, expected {FRAME_SYMBOLS}")
    matrix = soft[_air_index()]
    coded = matrix[COLUMNS : COLUMNS + CODED_SYMBOLS]
    known = np.full(CODED_SYMBOLS // 2, -1, dtype=np.int8)
    known[-TAIL_BITS:] = 0
    bits = viterbi_decode(coded, known, start_state=0)[: 8 * CODED_BYTES]
    block = randomize(np.packbits(bits))
    result = rs_decode(block.tobytes(), RS_INTERLEAVE, "conventional")
    return Ao40Frame(frame=result.data, rs_corrections=result.corrections)
