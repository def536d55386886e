"""The global land/sea mask of the ``global-land-mask`` package (GLOBE, 1 km).

The package ships its 21600 x 43200 mask compressed (2.5 MB) and loads it
at import as a 933 MB bool array. Here it is loaded on first use only, read
from the package's own ``.npz`` file (no download), a slice of rows at a
time, and bit-packed along longitude (117 MB for the process's lifetime); the index arithmetic is the
package's own (``global_land_mask.globe.lat_to_index`` / ``lon_to_index``:
truncation toward the first grid row and column). ``coastline`` draws the
mask's edges on a lat/lon grid, the map product's coastlines (no shapefile
is needed offline).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

from ingest.errors import IngestError

_MASK_FILE = "globe_combined_mask_compressed.npz"


@dataclass(frozen=True)
class _PackedMask:
    bits: NDArray[np.uint8]  # (n_lat, ceil(n_lon / 8)): the package's ocean mask, bit-packed
    lat0_deg: float
    dlat_deg: float
    n_lat: int
    lon0_deg: float
    dlon_deg: float
    n_lon: int


_LOAD_LOCK = threading.Lock()


def _mask() -> _PackedMask:
    """The packed mask, loaded by the first caller (others wait for it)."""
    with _LOAD_LOCK:
        return _load_mask()


@functools.cache
def _load_mask() -> _PackedMask:
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise IngestError("the land mask needs the global-land-mask package (pip install it)")
    path = Path(next(iter(spec.submodule_search_locations))) / _MASK_FILE
    with np.load(path) as npz:
        lat, lon = npz["lat"], npz["lon"]
    with zipfile.ZipFile(path) as zf, zf.open("mask.npy") as stream:
        bits = _packed_rows(stream)
    return _PackedMask(
        bits,
        float(lat[0]),
        float(lat[1] - lat[0]),
        int(lat.size),
        float(lon[0]),
        float(lon[1] - lon[0]),
        int(lon.size),
    )


def _packed_rows(stream: IO[bytes], rows_per_read: int = 512) -> NDArray[np.uint8]:
    """A C-order 2-D bool ``.npy`` stream, bit-packed along its rows, read a
    slice of rows at a time (never the whole 933 MB array in memory)."""
    version = np.lib.format.read_magic(stream)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read_header(stream)
    if fortran or len(shape) != 2 or dtype != np.bool_:
        raise IngestError(
            f"land mask array is {dtype} {shape} fortran={fortran}, expected 2-D bool"
        )
    n_rows, n_cols = shape
    out = np.empty((n_rows, -(-n_cols // 8)), dtype=np.uint8)
    for first in range(0, n_rows, rows_per_read):
        count = min(rows_per_read, n_rows - first)
        chunk = np.frombuffer(stream.read(count * n_cols), dtype=np.bool_).reshape(count, n_cols)
        out[first : first + count] = np.packbits(chunk, axis=1)
    return out


def is_land(lat_deg: NDArray[np.floating], lon_deg: NDArray[np.floating]) -> NDArray[np.bool_]:
    """True where (lat, lon) is land, same shape as the inputs; NaN
    coordinates (a line of sight that misses the Earth, a lost line) are
    not land. Longitudes are wrapped to [-180, 180)."""
    m = _mask()
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon)
    lat = np.where(ok, np.clip(lat, -90.0, 90.0), 0.0)
    lon = np.where(ok, (lon + 180.0) % 360.0 - 180.0, 0.0)
    i = np.clip(((lat - m.lat0_deg) / m.dlat_deg).astype(np.int64), 0, m.n_lat - 1)
    j = np.clip(((lon - m.lon0_deg) / m.dlon_deg).astype(np.int64), 0, m.n_lon - 1)
    bit = (m.bits[i, j >> 3] >> (7 - (j & 7))) & 1
    return np.asarray(ok & (bit == 0))  # the package's array is True over the ocean


def coastline(land: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The cells of a land grid ``(rows, cols)`` that border a sea cell
    (4-neighbourhood): one-cell-wide coastlines to draw over a map."""
    edge = np.zeros_like(land)
    edge[1:, :] |= land[1:, :] != land[:-1, :]
    edge[:-1, :] |= land[1:, :] != land[:-1, :]
    edge[:, 1:] |= land[:, 1:] != land[:, :-1]
    edge[:, :-1] |= land[:, 1:] != land[:, :-1]
    return np.asarray(edge & land)
