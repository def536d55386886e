"""``frames.h5``: a contact's decoded frames, per-frame table, pass track, quality.

Layout (netCDF-4 compatible, so ``xarray.open_dataset(path, engine="h5netcdf")``
reads the root and ``group="track"`` reads the track)::

    /frame                (frame,)        int64   per-contact sequence number (dimension)
    /byte                 (byte,)         int32   byte index in a frame (dimension)
    /frames               (frame, byte)   uint8   frame bytes exactly as decoded
    /time_unix_s          (frame,)        float64 frame time, seconds since 1970 UTC
    /virtual_channel      (frame,)        uint8
    /frame_counter        (frame,)        uint32
    /rs_corrections       (frame,)        int16   -1 = uncorrectable
    /crc_ok               (frame,)        int8    1 ok, 0 bad, -1 no CRC
    /track/time           (time,)         float64 seconds since 1970 UTC (dimension)
    /track/azimuth_deg, elevation_deg, range_km, range_rate_km_s   (time,) float64
    /table/frames         (frame,)        compound (time_unix_s, virtual_channel,
                                          frame_counter, rs_corrections, crc_ok)

Root attributes: satellite, norad_id, station, antenna, contact_id, aos, los
(ISO-8601 UTC), tle, profile (JSON), software_version, and the quality summary
(n_frames, n_crc_ok, n_crc_bad, n_uncorrectable, rs_corrections_total).
Everything is chunked and gzip-compressed; frames are appended as they arrive
(buffered to whole chunks, at most ``chunk_frames`` frames in memory).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ingest.errors import DatasetError
from ingest.topics import FrameMeta, utc_iso

TABLE_DTYPE = np.dtype(
    [
        ("time_unix_s", "<f8"),
        ("virtual_channel", "u1"),
        ("frame_counter", "<u4"),
        ("rs_corrections", "<i2"),
        ("crc_ok", "i1"),
    ]
)
_COLUMNS = ("time_unix_s", "virtual_channel", "frame_counter", "rs_corrections", "crc_ok")


@dataclass(frozen=True, slots=True)
class ContactAttrs:
    """Descriptive attributes stored on the root of ``frames.h5``."""

    satellite: str
    norad_id: int
    station: str
    antenna: str
    contact_id: str
    aos: datetime
    los: datetime
    tle: str = ""
    profile: dict[str, Any] = field(default_factory=dict)
    software_version: str = ""


_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
# Frame bytes are often near-random (scrambled, compressed payloads):
# a light gzip level keeps the writer fast; idle fill still shrinks.
_FRAMES_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 1}


def _create_frame_datasets(f: h5py.File, frame_length: int, chunk_frames: int) -> h5py.Dataset:
    """The ``byte`` and ``frame`` dimensions and the ``frames`` bytes; returns ``frame``."""
    byte = f.create_dataset("byte", data=np.arange(frame_length, dtype=np.int32))
    byte.make_scale("byte")
    frame = f.create_dataset(
        "frame",
        shape=(0,),
        maxshape=(None,),
        dtype=np.int64,
        chunks=(chunk_frames,),
        **_COMPRESSION,
    )
    frame.make_scale("frame")
    frames = f.create_dataset(
        "frames",
        shape=(0, frame_length),
        maxshape=(None, frame_length),
        dtype=np.uint8,
        chunks=(chunk_frames, frame_length),
        **_FRAMES_COMPRESSION,
    )
    frames.dims[0].attach_scale(frame)
    frames.dims[1].attach_scale(byte)
    return frame


def _create_columns(f: h5py.File, frame: h5py.Dataset, chunk_frames: int) -> dict[str, Any]:
    """One (frame,) dataset per per-frame column, with units and flag meanings."""
    cols: dict[str, Any] = {}
    for name in _COLUMNS:
        d = f.create_dataset(
            name,
            shape=(0,),
            maxshape=(None,),
            dtype=TABLE_DTYPE[name],
            chunks=(chunk_frames,),
            **_COMPRESSION,
        )
        d.dims[0].attach_scale(frame)
        cols[name] = d
    f["time_unix_s"].attrs["units"] = "seconds since 1970-01-01T00:00:00Z"
    f["crc_ok"].attrs["flag_meanings"] = "1 ok, 0 bad, -1 no CRC"
    f["rs_corrections"].attrs["flag_meanings"] = "-1 uncorrectable"
    return cols


def _write_contact_attrs(a: h5py.AttributeManager, attrs: ContactAttrs) -> None:
    a["satellite"] = attrs.satellite
    a["norad_id"] = attrs.norad_id
    a["station"] = attrs.station
    a["antenna"] = attrs.antenna
    a["contact_id"] = attrs.contact_id
    a["aos"] = utc_iso(attrs.aos)
    a["los"] = utc_iso(attrs.los)
    a["tle"] = attrs.tle
    a["profile"] = json.dumps(attrs.profile, sort_keys=True)
    a["software_version"] = attrs.software_version


class FramesH5Writer:
    """Appends frames to ``frames.h5`` in chunks; call `close` to finish the file."""

    def __init__(
        self, path: Path, *, frame_length: int, attrs: ContactAttrs, chunk_frames: int = 1024
    ) -> None:
        if frame_length < 1:
            raise DatasetError(f"frame_length={frame_length} must be >= 1")
        self.path = Path(path)
        self.frame_length = frame_length
        self.chunk_frames = chunk_frames
        self._f = h5py.File(self.path, "w")
        self.n_frames = 0
        f = self._f
        frame = _create_frame_datasets(f, frame_length, chunk_frames)
        self._cols: dict[str, Any] = _create_columns(f, frame, chunk_frames)
        self._table = f.create_group("table").create_dataset(
            "frames",
            shape=(0,),
            maxshape=(None,),
            dtype=TABLE_DTYPE,
            chunks=(chunk_frames,),
            **_COMPRESSION,
        )
        _write_contact_attrs(f.attrs, attrs)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_pending = 0
        self._written = 0
        self._crc_ok = 0
        self._crc_bad = 0
        self._uncorrectable = 0
        self._rs_total = 0

    def append(
        self,
        frames: np.ndarray,
        *,
        sequence: np.ndarray,
        time_unix_s: np.ndarray,
        virtual_channel: np.ndarray,
        frame_counter: np.ndarray,
        rs_corrections: np.ndarray,
        crc_ok: np.ndarray,
    ) -> None:
        """Append a batch: ``frames`` (n, frame_length) uint8 and (n,) columns."""
        frames = np.asarray(frames, dtype=np.uint8)
        if frames.ndim != 2 or frames.shape[1] != self.frame_length:
            raise DatasetError(
                f"frames have shape {frames.shape}, expected (n, {self.frame_length})"
            )
        n = frames.shape[0]
        cols = {
            "time_unix_s": time_unix_s,
            "virtual_channel": virtual_channel,
            "frame_counter": frame_counter,
            "rs_corrections": rs_corrections,
            "crc_ok": crc_ok,
        }
        for name, col in cols.items():
            if np.shape(col) != (n,):
                raise DatasetError(f"column {name} has shape {np.shape(col)}, expected ({n},)")
        if np.shape(sequence) != (n,):
            raise DatasetError(f"sequence has shape {np.shape(sequence)}, expected ({n},)")
        table = np.empty(n, dtype=TABLE_DTYPE)
        for name, col in cols.items():
            table[name] = np.asarray(col, dtype=TABLE_DTYPE[name])
        self._pending.append((frames, np.asarray(sequence, dtype=np.int64), table))
        self._n_pending += n
        crc = table["crc_ok"]
        self._crc_ok += int(np.count_nonzero(crc == 1))
        self._crc_bad += int(np.count_nonzero(crc == 0))
        rs = table["rs_corrections"]
        self._uncorrectable += int(np.count_nonzero(rs < 0))
        self._rs_total += int(rs[rs > 0].sum())
        self.n_frames += n
        if self._n_pending >= self.chunk_frames:
            self._flush(whole_chunks_only=True)

    def append_frames(self, frames: Sequence[bytes], metas: Sequence[FrameMeta]) -> None:
        """Append decoded frames with the metadata they were published with."""
        if len(frames) != len(metas):
            raise DatasetError(f"{len(frames)} frames but {len(metas)} metadata records")
        if not frames:
            return
        bad = [i for i, fr in enumerate(frames) if len(fr) != self.frame_length]
        if bad:
            raise DatasetError(
                f"frame {bad[0]} is {len(frames[bad[0]])} bytes, expected {self.frame_length}"
            )
        arr = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1)
        self.append(
            arr,
            sequence=np.array([m.sequence for m in metas], dtype=np.int64),
            time_unix_s=np.array([m.frame_time.timestamp() for m in metas]),
            virtual_channel=np.array([m.virtual_channel for m in metas]),
            frame_counter=np.array([m.frame_counter for m in metas]),
            rs_corrections=np.array([m.rs_corrections for m in metas]),
            crc_ok=np.array([-1 if m.crc_ok is None else int(m.crc_ok) for m in metas]),
        )

    def _flush(self, *, whole_chunks_only: bool) -> None:
        """Write buffered frames; whole chunks only while the pass runs, so no
        chunk is compressed twice."""
        if not self._pending:
            return
        frames = np.concatenate([p[0] for p in self._pending])
        seq = np.concatenate([p[1] for p in self._pending])
        table = np.concatenate([p[2] for p in self._pending])
        n = frames.shape[0]
        k = (n // self.chunk_frames) * self.chunk_frames if whole_chunks_only else n
        if k < n:
            self._pending = [(frames[k:], seq[k:], table[k:])]
        else:
            self._pending = []
        self._n_pending = n - k
        if k == 0:
            return
        start, stop = self._written, self._written + k
        f = self._f
        f["frames"].resize((stop, self.frame_length))
        f["frames"][start:stop] = frames[:k]
        f["frame"].resize((stop,))
        f["frame"][start:stop] = seq[:k]
        for name in _COLUMNS:
            self._cols[name].resize((stop,))
            self._cols[name][start:stop] = table[name][:k]
        self._table.resize((stop,))
        self._table[start:stop] = table[:k]
        self._written = stop

    def write_track(
        self,
        *,
        time_unix_s: np.ndarray,
        azimuth_deg: np.ndarray,
        elevation_deg: np.ndarray,
        range_km: np.ndarray,
        range_rate_km_s: np.ndarray,
    ) -> None:
        """The pass geometry: (n,) arrays sampled at ``time_unix_s``."""
        n = np.shape(time_unix_s)[0]
        g = self._f.require_group("track")
        t = g.create_dataset("time", data=np.asarray(time_unix_s, dtype=np.float64))
        t.make_scale("time")
        t.attrs["units"] = "seconds since 1970-01-01T00:00:00Z"
        for name, arr in (
            ("azimuth_deg", azimuth_deg),
            ("elevation_deg", elevation_deg),
            ("range_km", range_km),
            ("range_rate_km_s", range_rate_km_s),
        ):
            if np.shape(arr) != (n,):
                raise DatasetError(f"track {name} has shape {np.shape(arr)}, expected ({n},)")
            d = g.create_dataset(name, data=np.asarray(arr, dtype=np.float64))
            d.dims[0].attach_scale(t)

    def quality(self) -> dict[str, int]:
        return {
            "n_frames": self.n_frames,
            "n_crc_ok": self._crc_ok,
            "n_crc_bad": self._crc_bad,
            "n_uncorrectable": self._uncorrectable,
            "rs_corrections_total": self._rs_total,
        }

    def close(self) -> None:
        if self._f.id.valid:
            self._flush(whole_chunks_only=False)
            for k, v in self.quality().items():
                self._f.attrs[k] = v
            self._f.close()


def write_image_h5(path: Path, image: np.ndarray, *, name: str = "image") -> None:
    """A product image as an HDF5 dataset (``/image``, (rows, cols[, channels]) uint8)."""
    with h5py.File(path, "w") as f:
        d = f.create_dataset(name, data=np.asarray(image), compression="gzip", shuffle=True)
        d.attrs["CLASS"] = "IMAGE"
        d.attrs["IMAGE_VERSION"] = "1.2"
