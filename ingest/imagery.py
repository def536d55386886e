"""The imaging payload's packet format, and rebuilding its image from frames.

The simulated weather satellite scans its image one row at a time along the
ground track and downlinks each (row, band) as one CCSDS Space Packet that
fills one TM transfer frame's data field exactly (first header pointer 0).
A lost frame therefore loses one row of one band and nothing else: the
rebuilt image shows it as a gap.

Packet user data (big-endian)::

    magic  4 bytes  b"CLD1"
    band   u8       0 visible, 1 near infrared, 2 thermal infrared
    row    u16      row index (along track)
    rows   u16      rows in the whole image
    pixels width bytes (uint8)

This module only needs frame bytes, so the Kafka consumer example
(``ingest.rebuild``, ``groundstation consume frames --image``) and the
dataset's product step use the same code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAGIC = b"CLD1"
BANDS = ("visible", "near-infrared", "thermal-infrared")
_HEADER = struct.Struct(">4sBHH")
HEADER_LEN = _HEADER.size  # 9
TM_PRIMARY_HEADER_LEN = 6
SPACE_PACKET_HEADER_LEN = 6
FECF_LEN = 2


def image_width_for(frame_length: int, *, fecf: bool = True) -> int:
    """Pixels per packet when one packet fills one TM frame's data field."""
    field = frame_length - TM_PRIMARY_HEADER_LEN - (FECF_LEN if fecf else 0)
    width = field - SPACE_PACKET_HEADER_LEN - HEADER_LEN
    if width < 1:
        raise ValueError(f"frame_length {frame_length} leaves no room for image pixels")
    return width


def encode_row(band: int, row: int, rows: int, pixels: NDArray[np.uint8]) -> bytes:
    """The user data of one packet."""
    return _HEADER.pack(MAGIC, band, row, rows) + np.asarray(pixels, dtype=np.uint8).tobytes()


@dataclass(frozen=True)
class ImageRow:
    band: int
    row: int
    rows: int
    pixels: bytes


def row_from_frame(frame: bytes, *, fecf: bool = True) -> ImageRow | None:
    """The image row a TM frame carries, or None (idle packet, other data, bad frame).

    The frame's CRC is not checked here; pass only frames that decoded OK.
    """
    end = len(frame) - (FECF_LEN if fecf else 0)
    start = TM_PRIMARY_HEADER_LEN + SPACE_PACKET_HEADER_LEN
    if end - start < HEADER_LEN:
        return None
    fhp = ((frame[4] & 0x07) << 8) | frame[5]
    if fhp != 0:
        return None
    sp = frame[TM_PRIMARY_HEADER_LEN : TM_PRIMARY_HEADER_LEN + SPACE_PACKET_HEADER_LEN]
    apid = ((sp[0] & 0x07) << 8) | sp[1]
    if apid == 0x7FF:
        return None
    magic, band, row, rows = _HEADER.unpack_from(frame, start)
    if magic != MAGIC or band >= len(BANDS) or row >= rows:
        return None
    return ImageRow(band, row, rows, bytes(frame[start + HEADER_LEN : end]))


@dataclass
class RebuiltImage:
    """image: (rows, width, bands) uint8, 0 where nothing arrived;
    received: (rows, bands) bool, which rows of which band arrived."""

    image: NDArray[np.uint8]
    received: NDArray[np.bool_]

    @property
    def fraction_received(self) -> float:
        return float(self.received.mean()) if self.received.size else 0.0

    def rgb(self) -> NDArray[np.uint8]:
        """A false-colour composite (R: near IR, G: visible, B: inverted thermal IR)
        for display; gaps stay black."""
        img = self.image
        out = np.zeros(img.shape[:2] + (3,), dtype=np.uint8)
        out[..., 0] = img[..., 1]
        out[..., 1] = img[..., 0]
        out[..., 2] = np.where(self.received[:, 2:3], 255 - img[..., 2], 0)
        return out


def rebuild_image(frames: Iterable[bytes], *, fecf: bool = True) -> RebuiltImage | None:
    """The image carried by decoded frames (any order, repeats allowed);
    None when no frame carries an image row."""
    rows_seen: list[ImageRow] = [r for f in frames if (r := row_from_frame(f, fecf=fecf))]
    if not rows_seen:
        return None
    n_rows = max(r.rows for r in rows_seen)
    width = max(len(r.pixels) for r in rows_seen)
    image = np.zeros((n_rows, width, len(BANDS)), dtype=np.uint8)
    received = np.zeros((n_rows, len(BANDS)), dtype=bool)
    for r in rows_seen:
        if r.row < n_rows:
            image[r.row, : len(r.pixels), r.band] = np.frombuffer(r.pixels, dtype=np.uint8)
            received[r.row, r.band] = True
    return RebuiltImage(image, received)
