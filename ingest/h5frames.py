"""``frames.h5``: a contact's decoded frames, per-frame table, pass track, quality.

Layout (netCDF-4 compatible, CF-style attributes, so
``xarray.open_dataset(path, engine="h5netcdf")`` reads the root, decoding
``time_unix_s`` to datetimes, and ``group="track"`` reads the track)::

    /frame                (frame,)        int64   per-contact sequence number (dimension)
    /byte                 (byte,)         int32   byte index in a frame (dimension)
    /frames               (frame, byte)   uint8   frame bytes as decoded, zero-padded
                                                  after ``frame_length`` bytes
    /frame_length         (frame,)        int32   bytes of the frame
    /time_unix_s          (frame,)        float64 frame time, seconds since 1970 UTC
    /frame_ok             (frame,)        int8    1 decoded (passed its checks), 0 failed
    /virtual_channel      (frame,)        uint8
    /frame_counter        (frame,)        uint32
    /rs_corrections       (frame,)        int16   -1 = uncorrectable
    /crc_ok               (frame,)        int8    1 ok, 0 bad, -1 no CRC
    /esn0_db              (frame,)        float32 Es/N0 the receiver estimated for the
                                                  frame (NaN: it gives none per frame)
    /esn0_predicted_db    (frame,)        float32 link-budget Es/N0 at the frame time
    /doppler_hz           (frame,)        float64 predicted Doppler shift at the frame time
    /track/time           (time,)         float64 seconds since 1970 UTC (dimension)
    /track/azimuth_deg, elevation_deg, range_km, range_rate_km_s   (time,) float64
    /table/frames         (frame,)        compound of the per-frame columns

Fixed-length writers (``variable_length=False``, the default) refuse a frame
of another length; variable-length ones widen ``byte`` to the longest frame
seen and record each frame's length in ``frame_length``.

Root attributes: satellite, norad_id, station, antenna, contact_id, aos, los
(ISO-8601 UTC) and aos_unix_s, los_unix_s (numbers), tle, profile (JSON; its
numeric entries also as numeric attributes ``profile_<name>``),
software_version, simulated (1/0) and simulated_note, the CF ``Conventions``,
and the quality summary (n_frames, n_frames_ok, n_frames_failed, n_crc_ok,
n_crc_bad, n_uncorrectable, rs_corrections_total), every number stored as a
number. Everything is chunked and gzip-compressed; frames are appended as
they arrive (buffered to whole chunks, at most ``chunk_frames`` frames in memory).

``read_frames_page`` reads a page of the per-frame table back (the frames
table of ``GET /datasets/{id}/frames``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import h5py
import numpy as np

from ingest.errors import DatasetError
from ingest.topics import FrameMeta, utc_iso

TABLE_DTYPE = np.dtype(
    [
        ("time_unix_s", "<f8"),
        ("frame_length", "<i4"),
        ("frame_ok", "i1"),
        ("virtual_channel", "u1"),
        ("frame_counter", "<u4"),
        ("rs_corrections", "<i2"),
        ("crc_ok", "i1"),
        ("esn0_db", "<f4"),
        ("esn0_predicted_db", "<f4"),
        ("doppler_hz", "<f8"),
    ]
)
_COLUMNS: tuple[str, ...] = tuple(TABLE_DTYPE.names or ())
#: Columns a caller may leave out of ``append`` (NaN: not known).
_OPTIONAL_COLUMNS = ("esn0_db", "esn0_predicted_db", "doppler_hz")
TIME_UNITS = "seconds since 1970-01-01 00:00:00 UTC"

#: CF-style attributes of the per-frame columns (units, long names, flags).
_COLUMN_ATTRS: dict[str, dict[str, Any]] = {
    "time_unix_s": {
        "units": TIME_UNITS,
        "calendar": "standard",
        "standard_name": "time",
        "long_name": "time of the frame's first symbol",
    },
    "frame_length": {"units": "bytes", "long_name": "length of the frame"},
    "frame_ok": {
        "long_name": "frame decoded and passed its checks (good) or not (failed)",
        "flag_values": np.array([0, 1], dtype=np.int8),
        "flag_meanings": "failed ok",
    },
    "virtual_channel": {"long_name": "virtual channel id"},
    "frame_counter": {"long_name": "virtual channel frame count"},
    "rs_corrections": {
        "long_name": "Reed-Solomon symbols corrected (-1: uncorrectable)",
        "flag_values": np.array([-1], dtype=np.int16),
        "flag_meanings": "uncorrectable",
    },
    "crc_ok": {
        "long_name": "frame CRC check",
        "flag_values": np.array([-1, 0, 1], dtype=np.int8),
        "flag_meanings": "no_crc bad ok",
    },
    "esn0_db": {
        "units": "dB",
        "long_name": "Es/N0 estimated by the receiver for this frame (NaN: not estimated)",
    },
    "esn0_predicted_db": {
        "units": "dB",
        "long_name": "Es/N0 the link budget predicts at the frame time",
    },
    "doppler_hz": {
        "units": "Hz",
        "long_name": "Doppler shift predicted from the track at the frame time",
    },
}

#: CF-style attributes of the track variables.
_TRACK_ATTRS: dict[str, dict[str, str]] = {
    "azimuth_deg": {"units": "degree", "long_name": "azimuth of the satellite from the station"},
    "elevation_deg": {
        "units": "degree",
        "long_name": "elevation of the satellite above the station's horizon",
    },
    "range_km": {"units": "km", "long_name": "slant range from the station to the satellite"},
    "range_rate_km_s": {
        "units": "km s-1",
        "long_name": "rate of change of the slant range (positive: receding)",
    },
}


@dataclass(frozen=True, slots=True)
class ContactAttrs:
    """Descriptive attributes stored on the root of ``frames.h5``.

    ``simulated``: a note saying how the data were simulated ("" for real data)."""

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
    simulated: str = ""


_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
# Frame bytes are often near-random (scrambled, compressed payloads):
# a light gzip level keeps the writer fast; idle fill still shrinks.
_FRAMES_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 1}


def _create_frame_datasets(f: h5py.File, frame_length: int, chunk_frames: int) -> h5py.Dataset:
    """The ``byte`` and ``frame`` dimensions and the ``frames`` bytes; returns ``frame``."""
    byte = f.create_dataset(
        "byte", data=np.arange(frame_length, dtype=np.int32), maxshape=(None,), chunks=True
    )
    byte.make_scale("byte")
    byte.attrs["long_name"] = "byte index in a frame"
    frame = f.create_dataset(
        "frame",
        shape=(0,),
        maxshape=(None,),
        dtype=np.int64,
        chunks=(chunk_frames,),
        **_COMPRESSION,
    )
    frame.make_scale("frame")
    frame.attrs["long_name"] = "per-contact frame sequence number"
    frames = f.create_dataset(
        "frames",
        shape=(0, frame_length),
        maxshape=(None, None),
        dtype=np.uint8,
        chunks=(chunk_frames, frame_length),
        **_FRAMES_COMPRESSION,
    )
    frames.dims[0].attach_scale(frame)
    frames.dims[1].attach_scale(byte)
    frames.attrs["long_name"] = "frame bytes as decoded, zero-padded after frame_length bytes"
    frames.attrs["coordinates"] = "time_unix_s"
    return frame


def _create_columns(f: h5py.File, frame: h5py.Dataset, chunk_frames: int) -> dict[str, Any]:
    """One (frame,) dataset per per-frame column, with CF-style attributes."""
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
        for key, value in _COLUMN_ATTRS[name].items():
            d.attrs[key] = value
        if name != "time_unix_s":
            d.attrs["coordinates"] = "time_unix_s"
        cols[name] = d
    return cols


def _write_contact_attrs(a: h5py.AttributeManager, attrs: ContactAttrs) -> None:
    a["Conventions"] = "CF-1.8"
    a["title"] = f"decoded frames of contact {attrs.contact_id}"
    a["satellite"] = attrs.satellite
    a["norad_id"] = np.int64(attrs.norad_id)
    a["station"] = attrs.station
    a["antenna"] = attrs.antenna
    a["contact_id"] = attrs.contact_id
    a["aos"] = utc_iso(attrs.aos)
    a["los"] = utc_iso(attrs.los)
    a["aos_unix_s"] = np.float64(attrs.aos.timestamp())
    a["los_unix_s"] = np.float64(attrs.los.timestamp())
    a["tle"] = attrs.tle
    a["profile"] = json.dumps(attrs.profile, sort_keys=True)
    for key, value in attrs.profile.items():
        if isinstance(value, bool):
            a[f"profile_{key}"] = np.int8(value)
        elif isinstance(value, int | float):
            a[f"profile_{key}"] = np.float64(value) if isinstance(value, float) else np.int64(value)
    a["software_version"] = attrs.software_version
    a["simulated"] = np.int8(bool(attrs.simulated))
    a["simulated_note"] = attrs.simulated
    if attrs.simulated:
        a["source"] = f"simulated: {attrs.simulated}"


class FramesH5Writer:
    """Appends frames to ``frames.h5`` in chunks; call `close` to finish the file.

    ``frame_length``: the length of every frame, or with ``variable_length``
    the expected (initial) width of ``frames``, widened when a longer frame comes."""

    def __init__(
        self,
        path: Path,
        *,
        frame_length: int,
        attrs: ContactAttrs,
        chunk_frames: int = 1024,
        variable_length: bool = False,
    ) -> None:
        if frame_length < 1:
            raise DatasetError(f"frame_length={frame_length} must be >= 1")
        self.path = Path(path)
        self.frame_length = frame_length
        self.variable_length = variable_length
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
        f.attrs["frame_length_fixed"] = np.int8(not variable_length)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_pending = 0
        self._written = 0
        self._width = frame_length
        self._ok = 0
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
        frame_length: np.ndarray | None = None,
        frame_ok: np.ndarray | None = None,
        esn0_db: np.ndarray | None = None,
        esn0_predicted_db: np.ndarray | None = None,
        doppler_hz: np.ndarray | None = None,
    ) -> None:
        """Append a batch: ``frames`` (n, width) uint8 and (n,) columns.

        ``frame_length``: bytes of each frame (default: the whole width; a
        fixed-length writer needs width == its frame_length); ``frame_ok``
        (default: CRC not bad and RS not uncorrectable); the optional Es/N0
        and Doppler columns are NaN when left out."""
        frames = np.asarray(frames, dtype=np.uint8)
        if frames.ndim != 2 or (not self.variable_length and frames.shape[1] != self.frame_length):
            raise DatasetError(
                f"frames have shape {frames.shape}, expected (n, {self.frame_length})"
            )
        n = frames.shape[0]
        crc = np.asarray(crc_ok)
        rs = np.asarray(rs_corrections)
        cols: dict[str, Any] = {
            "time_unix_s": time_unix_s,
            "frame_length": np.full(n, frames.shape[1]) if frame_length is None else frame_length,
            "frame_ok": ((crc != 0) & (rs >= 0)) if frame_ok is None else frame_ok,
            "virtual_channel": virtual_channel,
            "frame_counter": frame_counter,
            "rs_corrections": rs,
            "crc_ok": crc,
            "esn0_db": esn0_db,
            "esn0_predicted_db": esn0_predicted_db,
            "doppler_hz": doppler_hz,
        }
        for name, col in cols.items():
            if col is None:
                cols[name] = np.full(n, np.nan)
            elif np.shape(col) != (n,):
                raise DatasetError(f"column {name} has shape {np.shape(col)}, expected ({n},)")
        if np.shape(sequence) != (n,):
            raise DatasetError(f"sequence has shape {np.shape(sequence)}, expected ({n},)")
        table = np.empty(n, dtype=TABLE_DTYPE)
        for name, col in cols.items():
            table[name] = np.asarray(col, dtype=TABLE_DTYPE[name])
        self._pending.append((frames, np.asarray(sequence, dtype=np.int64), table))
        self._n_pending += n
        self._ok += int(np.count_nonzero(table["frame_ok"] == 1))
        self._crc_ok += int(np.count_nonzero(table["crc_ok"] == 1))
        self._crc_bad += int(np.count_nonzero(table["crc_ok"] == 0))
        rs = table["rs_corrections"]
        self._uncorrectable += int(np.count_nonzero(rs < 0))
        self._rs_total += int(rs[rs > 0].sum())
        self.n_frames += n
        if self._n_pending >= self.chunk_frames:
            self._flush(whole_chunks_only=True)

    def append_frames(
        self,
        frames: Sequence[bytes],
        metas: Sequence[FrameMeta],
        *,
        frame_ok: Sequence[bool] | None = None,
        esn0_db: Sequence[float] | None = None,
        esn0_predicted_db: Sequence[float] | None = None,
        doppler_hz: Sequence[float] | None = None,
    ) -> None:
        """Append decoded frames with the metadata they were published with
        (and, optionally, per-frame good/failed, Es/N0 and Doppler)."""
        if len(frames) != len(metas):
            raise DatasetError(f"{len(frames)} frames but {len(metas)} metadata records")
        if not frames:
            return
        lengths = np.array([len(fr) for fr in frames], dtype=np.int64)
        if self.variable_length:
            if np.any(lengths < 1):
                bad = int(np.flatnonzero(lengths < 1)[0])
                raise DatasetError(f"frame {bad} is empty; frames have at least 1 byte")
            arr = np.zeros((len(frames), int(lengths.max())), dtype=np.uint8)
            for i, fr in enumerate(frames):
                arr[i, : len(fr)] = np.frombuffer(fr, dtype=np.uint8)
        else:
            wrong = np.flatnonzero(lengths != self.frame_length)
            if wrong.size:
                i = int(wrong[0])
                raise DatasetError(f"frame {i} is {lengths[i]} bytes, expected {self.frame_length}")
            arr = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1)

        def column(values: Sequence[float] | None) -> np.ndarray | None:
            return None if values is None else np.asarray(values, dtype=np.float64)

        self.append(
            arr,
            sequence=np.array([m.sequence for m in metas], dtype=np.int64),
            time_unix_s=np.array([m.frame_time.timestamp() for m in metas]),
            virtual_channel=np.array([m.virtual_channel for m in metas]),
            frame_counter=np.array([m.frame_counter for m in metas]),
            rs_corrections=np.array([m.rs_corrections for m in metas]),
            crc_ok=np.array([-1 if m.crc_ok is None else int(m.crc_ok) for m in metas]),
            frame_length=lengths,
            frame_ok=None if frame_ok is None else np.asarray(frame_ok, dtype=np.int8),
            esn0_db=column(esn0_db),
            esn0_predicted_db=column(esn0_predicted_db),
            doppler_hz=column(doppler_hz),
        )

    def _widen(self, width: int) -> None:
        """Widen ``frames`` (and the ``byte`` dimension) to ``width`` bytes."""
        if width <= self._width:
            return
        f = self._f
        f["frames"].resize((self._written, width))
        f["byte"].resize((width,))
        f["byte"][self._width : width] = np.arange(self._width, width, dtype=np.int32)
        self._width = width

    def _flush(self, *, whole_chunks_only: bool) -> None:
        """Write buffered frames; whole chunks only while the pass runs, so no
        chunk is compressed twice."""
        if not self._pending:
            return
        self._widen(max(p[0].shape[1] for p in self._pending))
        frames = np.concatenate(
            [np.pad(p[0], ((0, 0), (0, self._width - p[0].shape[1]))) for p in self._pending]
        )
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
        f["frames"].resize((stop, self._width))
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
        t.attrs["units"] = TIME_UNITS
        t.attrs["calendar"] = "standard"
        t.attrs["standard_name"] = "time"
        t.attrs["axis"] = "T"
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
            for key, value in _TRACK_ATTRS[name].items():
                d.attrs[key] = value

    def quality(self) -> dict[str, int]:
        return {
            "n_frames": self.n_frames,
            "n_frames_ok": self._ok,
            "n_frames_failed": self.n_frames - self._ok,
            "n_crc_ok": self._crc_ok,
            "n_crc_bad": self._crc_bad,
            "n_uncorrectable": self._uncorrectable,
            "rs_corrections_total": self._rs_total,
        }

    def close(self) -> None:
        if self._f.id.valid:
            self._flush(whole_chunks_only=False)
            for k, v in self.quality().items():
                self._f.attrs[k] = np.int64(v)
            self._f.attrs["frame_length_max"] = np.int64(self._width)
            self._f.close()


@dataclass(frozen=True, slots=True)
class FrameRow:
    """One frame of ``frames.h5`` as a table row: its sequence number, time,
    length, checks, Es/N0 (None: not estimated) and its first bytes."""

    sequence: int
    time: datetime
    length_bytes: int
    frame_ok: bool
    crc_ok: bool | None
    rs_corrections: int
    virtual_channel: int
    frame_counter: int
    esn0_db: float | None
    head: bytes


@dataclass(frozen=True, slots=True)
class FramesPage:
    """``limit`` frames from ``offset`` of a file holding ``total`` frames."""

    total: int
    offset: int
    rows: tuple[FrameRow, ...]


def read_frames_page(
    source: Path | BinaryIO, *, offset: int, limit: int, head_bytes: int
) -> FramesPage:
    """Frames ``offset`` .. ``offset + limit`` of a ``frames.h5`` (a path or
    an open binary file), each with its first ``head_bytes`` bytes (at most
    its length). Reads only those rows of each column (chunks around them).
    ``DatasetError`` for a file that is not a frames file (naming what is missing)."""
    if offset < 0 or limit < 0 or head_bytes < 0:
        raise DatasetError(f"offset={offset}, limit={limit}, head_bytes={head_bytes} must be >= 0")
    try:
        f = h5py.File(source, "r")
    except OSError as exc:
        raise DatasetError(f"not an HDF5 file ({exc})") from exc
    with f:
        missing = [n for n in ("frame", "frames", *_COLUMNS) if n not in f]
        if missing:
            raise DatasetError(f"not a frames file: no {', '.join(missing)}")
        total = int(f["frame"].shape[0])
        start, stop = min(offset, total), min(offset + limit, total)
        cols = {name: f[name][start:stop] for name in _COLUMNS}
        seq = f["frame"][start:stop]
        width = min(head_bytes, int(f["frames"].shape[1]))
        heads = f["frames"][start:stop, :width] if width else np.zeros((stop - start, 0), np.uint8)
    rows = []
    for i in range(stop - start):
        length = int(cols["frame_length"][i])
        crc = int(cols["crc_ok"][i])
        esn0 = float(cols["esn0_db"][i])
        rows.append(
            FrameRow(
                sequence=int(seq[i]),
                time=datetime.fromtimestamp(float(cols["time_unix_s"][i]), tz=UTC),
                length_bytes=length,
                frame_ok=bool(cols["frame_ok"][i] == 1),
                crc_ok=None if crc < 0 else bool(crc),
                rs_corrections=int(cols["rs_corrections"][i]),
                virtual_channel=int(cols["virtual_channel"][i]),
                frame_counter=int(cols["frame_counter"][i]),
                esn0_db=esn0 if np.isfinite(esn0) else None,
                head=bytes(heads[i, : min(width, length)]),
            )
        )
    return FramesPage(total=total, offset=offset, rows=tuple(rows))


def write_image_h5(path: Path, image: np.ndarray, *, name: str = "image") -> None:
    """A product image as an HDF5 dataset (``/image``, (rows, cols[, channels]) uint8)."""
    with h5py.File(path, "w") as f:
        d = f.create_dataset(name, data=np.asarray(image), compression="gzip", shuffle=True)
        d.attrs["CLASS"] = "IMAGE"
        d.attrs["IMAGE_VERSION"] = "1.2"
