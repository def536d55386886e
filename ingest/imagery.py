"""The imaging payload's packet format, and rebuilding its image from frames.

The simulated weather satellite's scanning radiometer scans one line across
the ground track at a time (``groundstation.payload``) and downlinks each
(line, band) as one CCSDS Space Packet that fills one TM transfer frame's
data field exactly (first header pointer 0). A lost frame therefore loses
one line of one band and nothing else: the rebuilt image shows it as a gap.
Each packet carries its line's time tag, so a product can be geolocated from
the frames and the satellite's element set alone (``ingest.geoproducts``).

Packet user data (big-endian)::

    magic   4 bytes  b"CLD2"
    band    u8       0 visible, 1 near infrared, 2 thermal infrared
    row     u16      scan line index (along track)
    rows    u16      scan lines in the whole image
    width   u16      pixels per line
    time    u64      the line's time tag, microseconds since 1970-01-01 UTC
    pixels  width bytes (uint8), then zero fill to the end of the frame

This module only needs frame bytes, so the Kafka consumer example
(``ingest.rebuild``, ``groundstation consume frames --image``) and the
dataset's product step use the same code.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

MAGIC = b"CLD2"
BANDS = ("visible", "near-infrared", "thermal-infrared")
_HEADER = struct.Struct(">4sBHHHQ")
HEADER_LEN = _HEADER.size  # 19
TM_PRIMARY_HEADER_LEN = 6
SPACE_PACKET_HEADER_LEN = 6
FECF_LEN = 2


def image_width_for(frame_length: int, *, fecf: bool = True) -> int:
    """Most pixels per line when one packet fills one TM frame's data field."""
    field = frame_length - TM_PRIMARY_HEADER_LEN - (FECF_LEN if fecf else 0)
    width = field - SPACE_PACKET_HEADER_LEN - HEADER_LEN
    if width < 1:
        raise ValueError(f"frame_length {frame_length} leaves no room for image pixels")
    return width


def encode_row(
    band: int, row: int, rows: int, pixels: NDArray[np.uint8], *, time_unix_us: int = 0
) -> bytes:
    """The user data of one packet (``pixels``: one line of one band)."""
    px = np.asarray(pixels, dtype=np.uint8)
    return _HEADER.pack(MAGIC, band, row, rows, px.size, time_unix_us) + px.tobytes()


@dataclass(frozen=True)
class ImageRow:
    band: int
    row: int
    rows: int
    pixels: bytes
    time_unix_us: int = 0


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
    magic, band, row, rows, width, time_us = _HEADER.unpack_from(frame, start)
    first = start + HEADER_LEN
    if magic != MAGIC or band >= len(BANDS) or row >= rows or first + width > end:
        return None
    return ImageRow(band, row, rows, bytes(frame[first : first + width]), time_us)


@dataclass
class RebuiltImage:
    """image: (rows, width, bands) uint8, 0 where nothing arrived;
    received: (rows, bands) bool, which rows of which band arrived;
    line_time_unix_s: (rows,) float64, each scan line's time tag (s since
    1970-01-01 UTC), NaN for a line of which no band arrived."""

    image: NDArray[np.uint8]
    received: NDArray[np.bool_]
    line_time_unix_s: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float64)
    )

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
    times = np.full(n_rows, np.nan)
    for r in rows_seen:
        if r.row < n_rows:
            image[r.row, : len(r.pixels), r.band] = np.frombuffer(r.pixels, dtype=np.uint8)
            received[r.row, r.band] = True
            times[r.row] = r.time_unix_us / 1e6
    return RebuiltImage(image, received, times)
