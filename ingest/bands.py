"""``products/bands.h5``: the rebuilt image's bands, ready for xarray.

Layout (netCDF-4 compatible: ``xarray.open_dataset(path, engine="h5netcdf")``)::

    /row          (row,)               int32    scan line index along track (dimension)
    /column       (column,)            int32    pixel index across track (dimension)
    /band         (band,)              string   band names (dimension coordinate)
    /time         (row,)               float64  when the row's first band arrived,
                                                seconds since 1970 UTC (NaN: no band did)
    /bands        (row, column, band)  uint8    pixel counts, 0 where nothing arrived
    /received     (row, band)          int8     1 where the (row, band) packet was decoded

Rows whose packets were lost stay gaps: ``received`` is 0 there and ``time``
NaN for rows of which no band arrived; ``bands`` keeps the raw counts (the
attribute ``ancillary_variables`` points at ``received``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray

from ingest.errors import DatasetError
from ingest.h5frames import TIME_UNITS
from ingest.imagery import BANDS, row_from_frame


def row_times_unix_s(
    frames: Sequence[bytes], time_unix_s: Sequence[float], n_rows: int, *, fecf: bool
) -> NDArray[np.float64]:
    """(n_rows,) time the first band of each image row arrived (NaN: none did)."""
    if len(frames) != len(time_unix_s):
        raise DatasetError(f"{len(frames)} frames but {len(time_unix_s)} frame times")
    out = np.full(n_rows, np.nan)
    for frame, t in zip(frames, time_unix_s, strict=True):
        row = row_from_frame(frame, fecf=fecf)
        if row is not None and row.row < n_rows:
            out[row.row] = np.fmin(out[row.row], t)
    return out


def write_bands_h5(
    path: Path,
    image: NDArray[np.uint8],
    received: NDArray[np.bool_],
    *,
    row_time_unix_s: NDArray[np.float64],
    simulated: str = "",
    band_names: Sequence[str] = BANDS,
) -> None:
    """``image`` (rows, columns, bands) uint8, ``received`` (rows, bands) and
    ``row_time_unix_s`` (rows,) as the layout of the module docstring."""
    rows, columns, n_bands = image.shape
    if received.shape != (rows, n_bands) or np.shape(row_time_unix_s) != (rows,):
        raise DatasetError(
            f"received {received.shape} and row times {np.shape(row_time_unix_s)} do not "
            f"match an image of shape {image.shape}"
        )
    if len(band_names) != n_bands:
        raise DatasetError(f"{len(band_names)} band names for {n_bands} bands")
    with h5py.File(path, "w") as f:
        f.attrs["Conventions"] = "CF-1.8"
        f.attrs["title"] = "image rebuilt from the decoded frames, one row per scan line"
        f.attrs["simulated"] = np.int8(bool(simulated))
        f.attrs["simulated_note"] = simulated
        row, column, band = _dimensions(f, rows, columns, band_names)
        t = f.create_dataset("time", data=np.asarray(row_time_unix_s, dtype=np.float64))
        t.dims[0].attach_scale(row)
        t.attrs.update(
            {
                "units": TIME_UNITS,
                "calendar": "standard",
                "standard_name": "time",
                "long_name": "time the row's first band arrived (NaN: lost)",
            }
        )
        d = f.create_dataset(
            "bands", data=np.asarray(image, dtype=np.uint8), compression="gzip", shuffle=True
        )
        for i, scale in enumerate((row, column, band)):
            d.dims[i].attach_scale(scale)
        d.attrs.update(
            {
                "long_name": "pixel counts",
                "units": "1",
                "coordinates": "time",
                "ancillary_variables": "received",
                "band_names": json.dumps(list(band_names)),  # as before the band coordinate
            }
        )
        r = f.create_dataset("received", data=received.astype(np.int8))
        r.dims[0].attach_scale(row)
        r.dims[1].attach_scale(band)
        r.attrs["flag_values"] = np.array([0, 1], dtype=np.int8)
        r.attrs["flag_meanings"] = "lost received"
        r.attrs["long_name"] = "1 where the (row, band) packet was decoded"


def _dimensions(
    f: h5py.File, rows: int, columns: int, band_names: Sequence[str]
) -> tuple[h5py.Dataset, h5py.Dataset, h5py.Dataset]:
    """The ``row``, ``column`` and ``band`` dimension coordinates."""
    row = f.create_dataset("row", data=np.arange(rows, dtype=np.int32))
    column = f.create_dataset("column", data=np.arange(columns, dtype=np.int32))
    band = f.create_dataset("band", data=list(band_names), dtype=h5py.string_dtype())
    for d, name in ((row, "row"), (column, "column"), (band, "band")):
        d.make_scale(name)
    row.attrs["long_name"] = "scan line along track"
    column.attrs["long_name"] = "pixel across track"
    band.attrs["long_name"] = "spectral band"
    return row, column, band
