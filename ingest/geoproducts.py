"""Georeferenced products of the scanning radiometer, from decoded frames.

The frames carry scan lines (``ingest.imagery``, each with its time tag);
the satellite's element set and the imager's field of view place every
pixel on the WGS84 ellipsoid (``orbital.swath``). From those:

- the swath file (``swath_file_name``: ``<platform>-radiometer-<start>-<end>.nc``,
  the name satpy's reader finds it by): the Level-1 swath (NetCDF4/HDF5, CF-1.8): ``visible`` and
  ``near_infrared`` reflectance (%), ``thermal_infrared`` brightness
  temperature (K), each ``(y, x)`` = (scan line, pixel), with ``latitude``
  and ``longitude`` per pixel, ``time`` per scan line, ``scan_angle`` per
  pixel and ``line_received`` per line and band. xarray and satpy (reader
  ``satpy_cf_nc``) load it as it is.
- ``map.png`` and ``map.tif``: the swath resampled by pyresample (nearest
  neighbour) to a Plate Carree grid centred on the pass (``+proj=eqc``, WGS84),
  coastlines drawn from the land mask's edges (``ingest.landmask``); the PNG
  is a false-colour composite, the GeoTIFF holds the three calibrated bands.

Lost frames stay gaps: NaN in the swath's bands (never 0), NaN in the
GeoTIFF (its nodata), transparent in the PNG. Lines of which no band
arrived have their time interpolated from the regular scan and flagged in
``line_received``. Everything is labelled SIMULATED: the imager is.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ingest.errors import IngestError
from ingest.imagery import BANDS, RebuiltImage, rebuild_image
from ingest.landmask import coastline, is_land
from orbital.omm import parse_element_set
from orbital.swath import scan_angles_deg, swath_lat_lon

if TYPE_CHECKING:
    import xarray as xr

    from ingest.dataset import ProductFolder

SIMULATED_NOTE = (
    "SIMULATED: synthetic clouds over the GLOBE land/sea mask (global-land-mask package) "
    "seen by a simulated cross-track scanning radiometer; not a real observation"
)
#: Variable name, long name, units, CF standard name and central wavelength (um) of each band.
BAND_VARIABLES = (
    ("visible", "visible reflectance", "%", "toa_bidirectional_reflectance", 0.63),
    ("near_infrared", "near-infrared reflectance", "%", "toa_bidirectional_reflectance", 0.86),
    ("thermal_infrared", "thermal-infrared brightness temperature", "K",
     "toa_brightness_temperature", 10.8),
)  # fmt: skip
#: Calibration of the 8-bit counts: reflectance 0..100 %, brightness temperature 180..320 K.
BT_MIN_K = 180.0
BT_SPAN_K = 140.0
MAX_MAP_CELLS = 2500  # longest side of the map, cells
CELLS_PER_SEGMENT = 500_000  # map cells resampled (and masked) at a time
_NBSP = "\N{NO-BREAK SPACE}"  # satpy's WavelengthRange.to_cf separates its fields with it


@dataclass(frozen=True)
class SwathGeometry:
    """What geolocating a contact's scan lines needs besides the frames: the
    satellite's element set (``tle``: TLE or OMM text, as stored) and the
    imager's field of view."""

    satellite: str
    norad_id: int
    tle: str
    fov_deg: float


def line_times_filled(times_unix_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each line's time, NaN ones (lines of which no band arrived)
    interpolated linearly from the received ones (the scan is regular)."""
    ok = np.isfinite(times_unix_s)
    if not ok.any():
        raise IngestError("no scan line carries a time tag")
    rows = np.arange(times_unix_s.size)
    if ok.sum() == 1:
        return np.full(times_unix_s.size, times_unix_s[ok][0])
    slope, intercept = np.polyfit(rows[ok], times_unix_s[ok], 1)
    return np.where(ok, times_unix_s, slope * rows + intercept)


def calibrated_bands(rebuilt: RebuiltImage) -> list[NDArray[np.float32]]:
    """The three bands in physical units, ``(lines, pixels)`` float32, NaN where lost."""
    out = []
    for b in range(len(BANDS)):
        counts = rebuilt.image[..., b].astype(np.float32) / np.float32(255.0)
        value = counts * 100.0 if b < 2 else BT_MIN_K + counts * BT_SPAN_K
        value[~rebuilt.received[:, b], :] = np.nan
        out.append(value.astype(np.float32))
    return out


def swath_dataset(rebuilt: RebuiltImage, geometry: SwathGeometry) -> xr.Dataset:
    """The Level-1 swath as a CF ``xarray.Dataset`` (see the module docstring)."""
    import xarray as xr

    times = line_times_filled(rebuilt.line_time_unix_s)
    start = datetime.fromtimestamp(float(times[0]), UTC)
    n_pixels = rebuilt.image.shape[1]
    lat, lon = swath_lat_lon(
        parse_element_set(geometry.tle),
        start,
        times - times[0],
        fov_deg=geometry.fov_deg,
        n_pixels=n_pixels,
    )
    time_ns = (np.round(times * 1e6).astype("int64") * 1000).astype("datetime64[ns]")
    coords: dict[str, Any] = {
        "time": ("y", time_ns, {"standard_name": "time", "long_name": "scan line time tag"}),
        "latitude": (("y", "x"), lat.astype(np.float32), _LAT_ATTRS),
        "longitude": (("y", "x"), lon.astype(np.float32), _LON_ATTRS),
    }
    data_vars: dict[str, Any] = {}
    for (name, long_name, units, standard, wl), values in zip(
        BAND_VARIABLES, calibrated_bands(rebuilt), strict=True
    ):
        attrs = {
            "long_name": long_name,
            "units": units,
            "standard_name": standard,
            # satpy's form of a wavelength range (satpy.dataset.dataid.WavelengthRange.to_cf)
            "wavelength": f"{wl:g}{_NBSP}um{_NBSP}({wl * 0.9:.3f}-{wl * 1.1:.3f}{_NBSP}um)",
            "coordinates": "latitude longitude",
            "comment": SIMULATED_NOTE,
        }
        data_vars[name] = (("y", "x"), values, attrs)
    data_vars["scan_angle"] = (
        "x",
        scan_angles_deg(geometry.fov_deg, n_pixels).astype(np.float32),
        {"long_name": "scan angle from nadir, positive right of the ground track",
         "units": "degree"},
    )  # fmt: skip
    data_vars["line_received"] = (
        ("y", "band"),
        rebuilt.received.astype(np.int8),
        {"long_name": "1 where the scan line's band was decoded", "flag_values": [0, 1],
         "flag_meanings": "lost received"},
    )  # fmt: skip
    ds = xr.Dataset(data_vars, coords={**coords, "band": ("band", [b[0] for b in BAND_VARIABLES])})
    ds.attrs.update(_global_attrs(geometry, start, times))
    return ds


_LAT_ATTRS = {"standard_name": "latitude", "units": "degrees_north", "long_name": "latitude"}
_LON_ATTRS = {"standard_name": "longitude", "units": "degrees_east", "long_name": "longitude"}


def _global_attrs(
    geometry: SwathGeometry, start: datetime, times: NDArray[np.float64]
) -> dict[str, Any]:
    end = datetime.fromtimestamp(float(times[-1]), UTC)
    return {
        "Conventions": "CF-1.8",
        "title": f"Level-1 swath of {geometry.satellite} (SIMULATED)",
        "summary": SIMULATED_NOTE,
        "source": "simulated cross-track scanning radiometer, groundstation",
        "simulated": "true",
        "platform_name": geometry.satellite,
        "norad_id": geometry.norad_id,
        "sensor": "radiometer",
        "instrument_fov_deg": geometry.fov_deg,
        "tle": geometry.tle,
        "time_coverage_start": start.isoformat(),
        "time_coverage_end": end.isoformat(),
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "end_time": end.strftime("%Y-%m-%dT%H:%M:%S.%f"),
    }


def swath_netcdf_bytes(ds: xr.Dataset) -> bytes:
    """``ds`` as a NetCDF4 (HDF5) file's bytes, bands compressed, NaN as fill."""
    encoding = {
        name: {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)}
        for name, *_ in BAND_VARIABLES
    }
    encoding["time"] = {"units": "microseconds since 1970-01-01 00:00:00", "dtype": "int64"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swath.nc"
        ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
        return path.read_bytes()


@dataclass
class MapProduct:
    """The swath on a map grid: ``bands`` (3, rows, cols) float32 (NaN: no
    data), ``coast`` (rows, cols) bool, and the grid (pyresample AreaDefinition)."""

    bands: NDArray[np.float32]
    coast: NDArray[np.bool_]
    area: Any

    def rgb(self) -> NDArray[np.uint8]:
        """False-colour RGBA (R near IR, G visible, B inverted thermal IR),
        coastlines yellow, gaps transparent."""
        vis, nir, bt = self.bands
        r = np.clip(nir / 100.0, 0, 1)
        g = np.clip(vis / 100.0, 0, 1)
        b = np.clip(1.0 - (bt - BT_MIN_K) / BT_SPAN_K, 0, 1)
        valid = np.isfinite(self.bands).all(axis=0)
        out = np.zeros(self.coast.shape + (4,), dtype=np.uint8)
        for i, c in enumerate((r, g, b)):
            out[..., i] = np.where(valid, np.nan_to_num(c) * 255, 0).astype(np.uint8)
        out[..., 3] = np.where(valid, 255, 0)
        out[self.coast] = (255, 255, 0, 255)
        return out


def map_area(ds: xr.Dataset) -> Any:
    """A Plate Carree grid (``+proj=eqc``, WGS84) centred on the swath,
    covering it at about its nadir pixel spacing (at most ``MAX_MAP_CELLS``
    a side)."""
    from pyproj import Proj
    from pyresample.geometry import AreaDefinition

    lat = ds["latitude"].values.astype(np.float64)
    lon = ds["longitude"].values.astype(np.float64)
    mid = lat.shape[1] // 2
    lon0 = float(np.rad2deg(np.angle(np.nanmean(np.exp(1j * np.deg2rad(lon[:, mid]))))))
    proj = f"+proj=eqc +lon_0={lon0:.4f} +datum=WGS84 +units=m +no_defs"
    x, y = Proj(proj)(lon, lat)
    finite = np.isfinite(x) & np.isfinite(y) & (np.abs(x) < 1e15)
    spacing = np.nanmedian(np.hypot(np.diff(x[:, mid]), np.diff(y[:, mid])))
    spacing = max(float(spacing) if np.isfinite(spacing) else 1000.0, 100.0)
    x0, x1 = float(x[finite].min()), float(x[finite].max())
    y0, y1 = float(y[finite].min()), float(y[finite].max())
    spacing = max(spacing, max(x1 - x0, y1 - y0) / MAX_MAP_CELLS)
    cols = max(int(np.ceil((x1 - x0) / spacing)), 1)
    rows = max(int(np.ceil((y1 - y0) / spacing)), 1)
    return AreaDefinition(
        "swath_eqc", "Plate Carree centred on the pass", "swath_eqc", proj, cols, rows,
        (x0, y0, x0 + cols * spacing, y0 + rows * spacing),
    )  # fmt: skip


def resample_map(ds: xr.Dataset) -> MapProduct:
    """The swath resampled to ``map_area`` (nearest neighbour; lost lines
    stay NaN since their pixels are in the swath with NaN values)."""
    from pyresample import kd_tree
    from pyresample.geometry import SwathDefinition

    area = map_area(ds)
    lat = ds["latitude"].values.astype(np.float64)
    lon = ds["longitude"].values.astype(np.float64)
    off_earth = ~(np.isfinite(lat) & np.isfinite(lon))
    swath = SwathDefinition(np.where(off_earth, 0.0, lon), np.where(off_earth, 0.0, lat))
    stack = np.stack([ds[name].values for name, *_ in BAND_VARIABLES], axis=-1)
    stack[off_earth] = np.nan
    spacing = float(max(area.pixel_size_x, area.pixel_size_y))
    cells = area.width * area.height
    out = kd_tree.resample_nearest(
        swath,
        stack,
        area,
        radius_of_influence=4.0 * spacing,
        fill_value=np.nan,
        segments=max(1, cells // CELLS_PER_SEGMENT),  # bounded query buffers
    )
    bands = np.moveaxis(np.asarray(out, dtype=np.float32), -1, 0)
    return MapProduct(bands, coastline(_grid_land(area)), area)


def _grid_land(area: Any) -> NDArray[np.bool_]:
    """The land mask on every cell of ``area``, a band of rows at a time."""
    land = np.zeros((area.height, area.width), dtype=bool)
    step = max(1, CELLS_PER_SEGMENT // area.width)
    for first in range(0, area.height, step):
        rows = slice(first, min(first + step, area.height))
        lon, lat = area.get_lonlats(data_slice=(rows, slice(None)))
        land[rows] = is_land(lat, lon)
    return land


def map_png_bytes(product: MapProduct) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(product.rgb(), mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def map_geotiff_bytes(product: MapProduct) -> bytes:
    """The three calibrated bands as a GeoTIFF (float32, NaN nodata, the
    map's CRS and transform), coastlines as a fourth band (1 on the coast)."""
    import rasterio
    from affine import Affine

    area = product.area
    x0, _, _, y1 = area.area_extent
    transform = Affine(area.pixel_size_x, 0.0, x0, 0.0, -area.pixel_size_y, y1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=area.width, height=area.height, count=4,
            dtype="float32", crs=area.crs.to_wkt(), transform=transform, nodata=np.nan,
            compress="deflate",
        ) as dst:  # fmt: skip
            for i, (name, long_name, units, *_) in enumerate(BAND_VARIABLES, start=1):
                dst.write(product.bands[i - 1], i)
                dst.set_band_description(i, f"{name} ({long_name}, {units})")
            dst.write(product.coast.astype(np.float32), 4)
            dst.set_band_description(4, "coastline (1 on the coast), from the land mask")
            dst.update_tags(simulated="true", comment=SIMULATED_NOTE)
        return path.read_bytes()


def swath_file_name(ds: xr.Dataset) -> str:
    """The swath file's name, in the pattern satpy's ``satpy_cf_nc`` reader
    finds files by: ``{platform}-{sensor}-{start:%Y%m%d%H%M%S}-{end:...}.nc``
    (the platform name without spaces or dashes)."""
    platform = re.sub(r"[^A-Za-z0-9_]", "", str(ds.attrs["platform_name"])) or "satellite"
    start = datetime.fromisoformat(ds.attrs["time_coverage_start"])
    end = datetime.fromisoformat(ds.attrs["time_coverage_end"])
    return f"{platform}-{ds.attrs['sensor']}-{start:%Y%m%d%H%M%S}-{end:%Y%m%d%H%M%S}.nc"


@dataclass
class GeoProducts:
    """What ``georeferenced_products`` makes, as file bytes; ``swath_name``
    is the swath file's name (``swath_file_name``)."""

    swath_name: str
    swath_nc: bytes
    map_png: bytes
    map_tif: bytes

    def files(self) -> dict[str, bytes]:
        """File name -> bytes, as they go in a dataset's ``products/``."""
        return {self.swath_name: self.swath_nc, "map.png": self.map_png, "map.tif": self.map_tif}


def georeferenced_products(
    frames: Iterable[bytes], geometry: SwathGeometry, *, fecf: bool = True
) -> GeoProducts | None:
    """The swath file, ``map.png`` and ``map.tif`` from decoded frames (good ones
    only, any order); None when no frame carries a scan line."""
    rebuilt = rebuild_image(frames, fecf=fecf)
    return None if rebuilt is None else products_of_image(rebuilt, geometry)


def products_of_image(rebuilt: RebuiltImage, geometry: SwathGeometry) -> GeoProducts:
    """The swath file, ``map.png`` and ``map.tif`` of a rebuilt image."""
    ds = swath_dataset(rebuilt, geometry)
    product = resample_map(ds)
    return GeoProducts(
        swath_file_name(ds),
        swath_netcdf_bytes(ds),
        map_png_bytes(product),
        map_geotiff_bytes(product),
    )


def add_georeferenced_products(
    writer: ProductFolder,
    frames: Iterable[bytes],
    geometry: SwathGeometry | None,
    fecf: bool | None,
) -> GeoProducts | None:
    """The contact's georeferenced products in its dataset (``products/`` the
    swath ``<platform>-radiometer-<start>-<end>.nc``, ``map.png``, ``map.tif``);
    nothing when the satellite has no imager."""
    if geometry is None or fecf is None:
        return None
    products = georeferenced_products(frames, geometry, fecf=fecf)
    if products is not None:
        for name, data in products.files().items():
            writer.add_product_bytes(name, data)
    return products


#: Clear-sky thresholds of the simulated scene (``groundstation.payload.cloud_scene``):
#: sea is dark in the near infrared, land bright there and dark in the visible;
#: clouds (bright in both) and mixed pixels are left unclassified.
SEA_MAX_NIR_PCT = 12.0
LAND_NIR_PCT = (38.0, 55.0)
LAND_MAX_VIS_PCT = 30.0


def classify_land_sea(ds: xr.Dataset) -> NDArray[np.int8]:
    """Per pixel of a swath: 1 clear land, 0 clear sea, -1 cloud, mixed or lost."""
    vis = ds["visible"].values
    nir = ds["near_infrared"].values
    out = np.full(vis.shape, -1, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[nir < SEA_MAX_NIR_PCT] = 0
        land = (nir >= LAND_NIR_PCT[0]) & (nir <= LAND_NIR_PCT[1]) & (vis < LAND_MAX_VIS_PCT)
    out[land] = 1
    return out


@dataclass(frozen=True)
class GeolocationCheck:
    """The swath's land/sea (``classify_land_sea``) against the land mask at
    its latitude/longitude: ``shift_px`` (lines, pixels), the shift of the
    mask that agrees best (the geolocation error, 0 when right);
    ``agreement``, the fraction of classified pixels that agree unshifted;
    ``outside_tolerance``, the fraction whose class is nowhere in the mask
    within ``tolerance_px`` pixels; ``classified``, pixels compared."""

    shift_px: tuple[int, int]
    agreement: float
    outside_tolerance: float
    classified: int
    tolerance_px: int

    @property
    def error_px(self) -> float:
        return float(np.hypot(*self.shift_px))


def check_geolocation(
    ds: xr.Dataset, *, tolerance_px: int = 2, search_px: int = 6
) -> GeolocationCheck:
    """How well the swath's land lies where the land mask says (see ``GeolocationCheck``)."""
    cls = classify_land_sea(ds)
    mask = is_land(ds["latitude"].values, ds["longitude"].values).astype(np.int8)
    known = cls >= 0
    if not known.any():
        raise IngestError("no clear pixel in the swath to check geolocation with")
    n = search_px
    padded = np.pad(mask, n, mode="edge")
    rows, cols = mask.shape
    best = (-1.0, (0, 0))
    near_land = np.zeros(mask.shape, dtype=bool)
    near_sea = np.zeros(mask.shape, dtype=bool)
    for dy in range(-n, n + 1):
        for dx in range(-n, n + 1):
            shifted = padded[n + dy : n + dy + rows, n + dx : n + dx + cols]
            score = float(np.mean(shifted[known] == cls[known]))
            if score > best[0] or (score == best[0] and abs(dy) + abs(dx) < sum(map(abs, best[1]))):
                best = (score, (dy, dx))
            if max(abs(dy), abs(dx)) <= tolerance_px:
                near_land |= shifted == 1
                near_sea |= shifted == 0
    found = np.where(cls == 1, near_land, near_sea)
    return GeolocationCheck(
        shift_px=best[1],
        agreement=float(np.mean(mask[known] == cls[known])),
        outside_tolerance=float(np.mean(~found[known])),
        classified=int(known.sum()),
        tolerance_px=tolerance_px,
    )
