"""Astrocast's FX.25 variant: soft bits after its 64-bit correlation tag ->
frame bytes (gr-satellites' "Astrocast FX.25").

After the tag come 255 bytes sent least significant bit first: one CCSDS
RS(255,223) codeword in the dual basis. Its 223 data bytes hold an HDLC-like
frame without bit stuffing: a 0x7E flag, the frame, its CRC-16/X.25 FCS and a
closing 0x7E. The frame is returned without flags and FCS.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dsp.crc import crc16_x25
from dsp.hdlc import fcs_ok
from dsp.reed_solomon import rs_decode, rs_encode

ASTROCAST_TAG = 0x75FAC1A358D06476
CODEWORD_BITS = 8 * 255


def astrocast_fx25_decode(soft: NDArray[np.float32]) -> tuple[bytes, int] | None:
    """(frame, RS corrections) or None when RS or the FCS fails."""
    bits = (np.asarray(soft[:CODEWORD_BITS]) < 0).astype(np.uint8)
    codeword = np.packbits(bits, bitorder="little").tobytes()
    result = rs_decode(codeword, 1, "dual")
    if not result.ok:
        return None
    body = result.data[1:]  # after the opening flag
    end = body.find(0x7E)
    if end < 3 or not fcs_ok(body[:end]):
        return None
    return body[: end - 2], result.corrections[0]


def astrocast_fx25_encode(frame: bytes) -> bytes:
    """Frame -> the 255 bits after the tag in the order sent, packed MSB first
    (for tests and the simulator)."""
    fcs = crc16_x25(frame).to_bytes(2, "little")
    body = b"\x7e" + frame + fcs + b"\x7e"
    if len(body) > 223 or 0x7E in frame + fcs:
        raise ValueError(
            f"frame is {len(frame)} bytes or holds 0x7E in itself or its FCS; "
            "this format has no stuffing and room for 219 bytes"
        )
    codeword = rs_encode(body.ljust(223, b"\x00"), 1, "dual")
    bits = np.unpackbits(np.frombuffer(codeword, np.uint8), bitorder="little")
    return np.packbits(bits).tobytes()
