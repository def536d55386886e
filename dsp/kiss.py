"""KISS framing (the format gr-satellites and SatNOGS tools exchange frames
in): frames <-> bytes.

Each frame is sent as FEND (0xC0), a command byte (0x00: data on port 0),
the frame with FEND escaped as FESC TFEND (0xDB 0xDC) and FESC as FESC TFESC
(0xDB 0xDD), and FEND. Decoding keeps only data frames (command 0; other
commands, such as gr-satellites' timestamps, are skipped).
"""

from __future__ import annotations

from collections.abc import Iterable

FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD
DATA = 0x00


def kiss_encode(frames: Iterable[bytes]) -> bytes:
    out = bytearray()
    for frame in frames:
        escaped = frame.replace(bytes([FESC]), bytes([FESC, TFESC])).replace(
            bytes([FEND]), bytes([FESC, TFEND])
        )
        out += bytes([FEND, DATA]) + escaped + bytes([FEND])
    return bytes(out)


def kiss_decode(data: bytes) -> list[bytes]:
    frames = []
    for raw in data.split(bytes([FEND])):
        if len(raw) < 2 or raw[0] != DATA:
            continue
        frames.append(
            raw[1:]
            .replace(bytes([FESC, TFEND]), bytes([FEND]))
            .replace(bytes([FESC, TFESC]), bytes([FESC]))
        )
    return frames
