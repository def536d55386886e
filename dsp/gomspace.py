"""GOMspace NanoCom framings: soft bits after the sync word -> frame bytes.

- AX100 "ASM+Golay": sync 0x930B51DE, a 24-bit Golay(24,12) word whose low
  8 bits give the length L of what follows, then L bytes: the frame with 32
  Reed-Solomon parity bytes (CCSDS RS(255,223), conventional basis, shortened),
  CCSDS-scrambled.
- U482C: sync 0xC3AA6655, the same Golay length field whose bits 8, 9 and 10
  say whether the L bytes are convolutionally coded (r=1/2 K=7, the CCSDS
  polynomials without inversion, a tail byte), scrambled and RS-coded.
- AX100 "Reed Solomon": G3RUH-scrambled bits, sync 0x930B51DE, one length
  byte L (counting itself), then L-1 bytes: frame + 32 RS parity bytes.

Decoders take the soft bits after the sync word (positive = bit 0, zero
padded at the end of a stream) and return None when the frame does not
decode. Encoders (for tests and the simulator) give the bytes after the sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.convolutional import conv_encode
from dsp.golay import golay24_decode, golay24_encode
from dsp.randomizer import randomize
from dsp.reed_solomon import N_PARITY, rs_decode, rs_encode
from dsp.viterbi import viterbi_decode

AX100_SYNC = 0x930B51DE
U482C_SYNC = 0xC3AA6655
GOLAY_BITS = 24
MAX_LENGTH = 255
VITERBI_FLAG, SCRAMBLER_FLAG, RS_FLAG = 0x100, 0x200, 0x400
# bits a decoder may look at after the sync word
ASM_GOLAY_BLOCK_BITS = GOLAY_BITS + 8 * MAX_LENGTH
RS_MODE_BLOCK_BITS = 8 * 256


@dataclass(frozen=True)
class GomspaceFrame:
    """frame: the decoded frame; block_bits: channel bits it used after the sync;
    golay_errors: bits fixed in the length field (-1 without one);
    rs_corrections: bytes fixed by Reed-Solomon (-1 without RS)."""

    frame: bytes
    block_bits: int
    golay_errors: int
    rs_corrections: int


def _hard_bytes(soft: NDArray[np.float32], n_bytes: int) -> bytes:
    bits = (np.asarray(soft[: 8 * n_bytes]) < 0).astype(np.uint8)
    return np.packbits(bits).tobytes()


def _length_field(soft: NDArray[np.float32]) -> tuple[int, int] | None:
    word = int.from_bytes(_hard_bytes(soft, 3), "big")
    result = golay24_decode(word)
    return (result.data, result.errors) if result.ok else None


def _rs_strip(packet: bytes) -> tuple[bytes, int] | None:
    if len(packet) <= N_PARITY:
        return None
    result = rs_decode(packet, 1, "conventional")
    return (result.data, result.corrections[0]) if result.ok else None


def ax100_asm_golay_decode(soft: NDArray[np.float32]) -> GomspaceFrame | None:
    """AX100 ASM+Golay: Golay length, CCSDS descrambling, RS (always on)."""
    header = _length_field(soft)
    if header is None:
        return None
    field, golay_errors = header
    length = field & 0xFF
    packet = bytes(randomize(_hard_bytes(soft[GOLAY_BITS:], length)))
    stripped = _rs_strip(packet)
    if stripped is None:
        return None
    return GomspaceFrame(stripped[0], GOLAY_BITS + 8 * length, golay_errors, stripped[1])


def _u482c_viterbi(soft: NDArray[np.float32], length: int) -> bytes | None:
    """``length`` coded bytes -> length/2 - 1 bytes (the tail byte ends the trellis)."""
    n_out = length // 2 - 1
    if n_out <= 0:
        return None
    n_bits = 8 * n_out + 6
    symbols = np.array(soft[: 2 * n_bits], dtype=np.float32)
    symbols[1::2] *= -1  # the radio does not invert the second polynomial
    known = np.full(n_bits, -1, dtype=np.int8)
    known[-6:] = 0
    bits = viterbi_decode(symbols, known, start_state=0)[: 8 * n_out]
    return np.packbits(bits).tobytes()


def u482c_decode(soft: NDArray[np.float32]) -> GomspaceFrame | None:
    """U482C: Golay length field with flags choosing Viterbi, scrambler and RS.
    A frame without RS has nothing to check it, and any 24 bits lie within 3
    errors of a Golay codeword, so a sync word that noise imitated would give
    a garbage frame about every other time (its RS flag is clear): such a
    frame is taken only when its length field needed no correction."""
    header = _length_field(soft)
    if header is None:
        return None
    field, golay_errors = header
    if not field & RS_FLAG and golay_errors > 0:
        return None
    length = field & 0xFF
    body = soft[GOLAY_BITS:]
    if field & VITERBI_FLAG:
        decoded = _u482c_viterbi(body, length)
        if decoded is None:
            return None
        packet = decoded
    else:
        packet = _hard_bytes(body, length)
    if field & SCRAMBLER_FLAG:
        packet = bytes(randomize(packet))
    corrections = -1
    if field & RS_FLAG:
        stripped = _rs_strip(packet)
        if stripped is None:
            return None
        packet, corrections = stripped
    return GomspaceFrame(packet, GOLAY_BITS + 8 * length, golay_errors, corrections)


def ax100_rs_decode(soft: NDArray[np.float32]) -> GomspaceFrame | None:
    """AX100 Reed Solomon mode (bits already G3RUH-descrambled)."""
    length = _hard_bytes(soft, 1)[0]
    if length <= N_PARITY + 1:
        return None
    codeword = _hard_bytes(soft[8:], length - 1)
    stripped = _rs_strip(codeword)
    if stripped is None:
        return None
    return GomspaceFrame(stripped[0], 8 * length, -1, stripped[1])


# ----- encoders -----
def _check_payload(payload: bytes, limit: int) -> None:
    if not 1 <= len(payload) <= limit:
        raise ValueError(f"frame is {len(payload)} bytes, expected 1..{limit}")


def ax100_asm_golay_encode(frame: bytes) -> bytes:
    """Frame -> bytes after the sync word (Golay length field + scrambled RS codeword)."""
    _check_payload(frame, MAX_LENGTH - N_PARITY)
    packet = rs_encode(frame, 1, "conventional")
    header = golay24_encode(len(packet) | SCRAMBLER_FLAG | RS_FLAG)
    return header.to_bytes(3, "big") + bytes(randomize(packet))


def u482c_encode(frame: bytes, *, viterbi: bool, scrambler: bool, rs: bool) -> bytes:
    """Frame -> bytes after the U482C sync word, with the chosen codes."""
    packet = rs_encode(frame, 1, "conventional") if rs else frame
    if scrambler:
        packet = bytes(randomize(packet))
    if viterbi:
        bits = np.concatenate(
            [np.unpackbits(np.frombuffer(packet, np.uint8)), np.zeros(8, np.uint8)]
        )
        coded, _ = conv_encode(bits, 0)
        coded[1::2] ^= 1
        packet = np.packbits(coded).tobytes()
    _check_payload(packet, MAX_LENGTH)
    flags = (VITERBI_FLAG * viterbi) | (SCRAMBLER_FLAG * scrambler) | (RS_FLAG * rs)
    return golay24_encode(len(packet) | flags).to_bytes(3, "big") + packet


def ax100_rs_encode(frame: bytes) -> bytes:
    """Frame -> bytes after the sync word in Reed Solomon mode (before G3RUH)."""
    _check_payload(frame, MAX_LENGTH - N_PARITY - 1)
    codeword = rs_encode(frame, 1, "conventional")
    return bytes([len(codeword) + 1]) + codeword
