"""A real ``frames.h5`` (written by ingest's ``FramesH5Writer``) of a
contact of NOAA 19 at the seeded world's svalbard/sv-uhf, for the tests that
read one back (GET /datasets/{id}/frames, the console's frames table)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ingest.h5frames import ContactAttrs, FramesH5Writer
from tests.support.world import NOAA19, NOW


def frames_h5(
    path: Path,
    frames: Sequence[bytes],
    *,
    contact_id: str,
    chunk_frames: int = 1024,
    **columns: Any,
) -> bytes:
    """``frames`` written to ``path`` as contact ``contact_id``'s frames.h5
    (sequence 0, 1, ...; of variable length when their lengths differ, each
    one's length stored) with ``columns`` (``time_unix_s``,
    ``virtual_channel``, ``frame_counter``, ``rs_corrections``, ``crc_ok``,
    optional ``esn0_db`` ...: ``FramesH5Writer.append``'s); the file's bytes."""
    attrs = ContactAttrs(
        satellite="NOAA 19",
        norad_id=NOAA19,
        station="svalbard",
        antenna="sv-uhf",
        contact_id=contact_id,
        aos=NOW,
        los=NOW,
    )
    lengths = np.array([len(f) for f in frames])
    width = int(lengths.max())
    variable = bool(np.any(lengths != width))
    padded = np.zeros((len(frames), width), dtype=np.uint8)
    for i, f in enumerate(frames):
        padded[i, : len(f)] = np.frombuffer(f, dtype=np.uint8)
    writer = FramesH5Writer(
        path, frame_length=width, attrs=attrs, chunk_frames=chunk_frames, variable_length=variable
    )
    if variable:
        columns["frame_length"] = lengths
    writer.append(padded, sequence=np.arange(len(frames)), **columns)
    writer.close()
    return path.read_bytes()
