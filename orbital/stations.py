"""Ground stations: geodetic position, minimum elevation and horizon mask.

A station file (YAML) is a list of stations, or a mapping with a
``stations`` list; each station is
``{id, name, lat_deg, lon_deg, alt_m, min_elevation_deg, horizon_mask}`` where
``horizon_mask`` is an optional list of ``[azimuth_deg, elevation_deg]``
points, interpolated linearly in azimuth and wrapping at 360 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from orbital.errors import StationError

# WGS84 ellipsoid.
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    min_elevation_deg: float = 0.0
    horizon_mask: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        where = f"station {self.id!r}"
        if not self.id:
            raise StationError("station id must not be empty")
        if not -90.0 <= self.lat_deg <= 90.0:
            raise StationError(f"{where} lat_deg {self.lat_deg} is outside -90..90")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise StationError(f"{where} lon_deg {self.lon_deg} is outside -180..360")
        if not -500.0 <= self.alt_m <= 10000.0:
            raise StationError(f"{where} alt_m {self.alt_m} is outside -500..10000")
        if not -5.0 <= self.min_elevation_deg < 90.0:
            raise StationError(
                f"{where} min_elevation_deg {self.min_elevation_deg} is outside -5..90"
            )
        for i, (az, el) in enumerate(self.horizon_mask):
            if not 0.0 <= az <= 360.0:
                raise StationError(f"{where} horizon_mask[{i}] azimuth {az} is outside 0..360")
            if not -5.0 <= el < 90.0:
                raise StationError(f"{where} horizon_mask[{i}] elevation {el} is outside -5..90")

    @property
    def has_mask(self) -> bool:
        return bool(self.horizon_mask)

    def itrs_km(self) -> NDArray[np.float64]:
        """Station position in ITRS (WGS84), km, shape (3,)."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        n = WGS84_A_KM / math.sqrt(1.0 - WGS84_E2 * math.sin(lat) ** 2)
        h = self.alt_m / 1000.0
        return np.array(
            [
                (n + h) * math.cos(lat) * math.cos(lon),
                (n + h) * math.cos(lat) * math.sin(lon),
                (n * (1.0 - WGS84_E2) + h) * math.sin(lat),
            ]
        )

    def enu_basis(self) -> NDArray[np.float64]:
        """Rows: east, north, up unit vectors in ITRS (geodetic vertical), shape (3, 3)."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl = math.sin(lat), math.cos(lat)
        so, co = math.sin(lon), math.cos(lon)
        return np.array(
            [
                [-so, co, 0.0],
                [-sl * co, -sl * so, cl],
                [cl * co, cl * so, sl],
            ]
        )

    def _mask_table(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        pts = sorted((az % 360.0, el) for az, el in self.horizon_mask)
        az = np.array([p[0] for p in pts])
        el = np.array([p[1] for p in pts])
        # Wrap: repeat the last point before 0 and the first after 360.
        az_w = np.concatenate(([az[-1] - 360.0], az, [az[0] + 360.0]))
        el_w = np.concatenate(([el[-1]], el, [el[0]]))
        return az_w, el_w

    def elevation_limit_deg(self, azimuth_deg: ArrayLike) -> NDArray[np.float64]:
        """Lowest usable elevation at ``azimuth_deg``: max(min elevation, mask)."""
        az = np.asarray(azimuth_deg, dtype=np.float64) % 360.0
        if not self.horizon_mask:
            return np.full(az.shape, self.min_elevation_deg)
        az_w, el_w = self._mask_table()
        return np.maximum(np.interp(az, az_w, el_w), self.min_elevation_deg)

    def elevation_limit_slope(self, azimuth_deg: ArrayLike) -> NDArray[np.float64]:
        """d(limit)/d(azimuth) in deg per deg (piecewise constant)."""
        az = np.asarray(azimuth_deg, dtype=np.float64) % 360.0
        if not self.horizon_mask:
            return np.zeros(az.shape)
        az_w, el_w = self._mask_table()
        seg = np.clip(np.searchsorted(az_w, az, side="right") - 1, 0, len(az_w) - 2)
        width = az_w[seg + 1] - az_w[seg]
        slope = np.where(width > 0, (el_w[seg + 1] - el_w[seg]) / np.where(width > 0, width, 1), 0)
        masked = np.interp(az, az_w, el_w) > self.min_elevation_deg
        return np.where(masked, slope, 0.0)

    def limit_range_deg(self) -> tuple[float, float]:
        """(lowest, highest) elevation limit over all azimuths."""
        if not self.horizon_mask:
            return self.min_elevation_deg, self.min_elevation_deg
        els = [el for _, el in self.horizon_mask]
        return max(min(els), self.min_elevation_deg), max(max(els), self.min_elevation_deg)

    def with_min_elevation(self, min_elevation_deg: float) -> Station:
        """Copy with a fixed minimum elevation and no mask (CLI ``--min-elevation``)."""
        return Station(
            self.id, self.name, self.lat_deg, self.lon_deg, self.alt_m, min_elevation_deg, ()
        )


def _number(raw: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in raw or raw[key] is None:
        if default is None:
            raise StationError(f"{where} is missing {key}")
        return default
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise StationError(f"{where} {key} {value!r} is not a number")
    try:
        out = float(value)
    except ValueError:
        raise StationError(f"{where} {key} {value!r} is not a number") from None
    if not math.isfinite(out):
        raise StationError(f"{where} {key} {value!r} is not finite")
    return out


def station_from_mapping(raw: Mapping[str, Any], index: int = 0) -> Station:
    """Build one :class:`Station` from a loaded YAML/JSON mapping."""
    if not isinstance(raw, Mapping):
        raise StationError(f"station #{index + 1} is not a mapping: {raw!r}")
    sid = str(raw.get("id") or "").strip()
    where = f"station #{index + 1} ({sid or 'no id'})"
    if not sid:
        raise StationError(f"{where} is missing id")
    mask_raw = raw.get("horizon_mask") or []
    if not isinstance(mask_raw, Sequence) or isinstance(mask_raw, str):
        raise StationError(f"{where} horizon_mask {mask_raw!r} is not a list of [az, el] pairs")
    mask: list[tuple[float, float]] = []
    for j, point in enumerate(mask_raw):
        if (
            not isinstance(point, Sequence)
            or isinstance(point, str)
            or len(point) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point)
        ):
            raise StationError(
                f"{where} horizon_mask[{j}] {point!r} is not an [azimuth_deg, elevation_deg] pair"
            )
        mask.append((float(point[0]), float(point[1])))
    return Station(
        id=sid,
        name=str(raw.get("name") or sid),
        lat_deg=_number(raw, "lat_deg", where),
        lon_deg=_number(raw, "lon_deg", where),
        alt_m=_number(raw, "alt_m", where, 0.0),
        min_elevation_deg=_number(raw, "min_elevation_deg", where, 0.0),
        horizon_mask=tuple(mask),
    )


def parse_stations(data: str | bytes | Sequence[Any] | Mapping[str, Any]) -> list[Station]:
    """Stations from YAML text, or from already-loaded data (list or ``{stations: [...]}``)."""
    loaded: Any = data
    if isinstance(data, str | bytes):
        try:
            loaded = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise StationError(f"stations file is not valid YAML: {exc}") from None
    if isinstance(loaded, Mapping):
        loaded = loaded.get("stations")
    if not isinstance(loaded, Sequence) or isinstance(loaded, str) or not loaded:
        raise StationError("stations file must hold a non-empty list of stations")
    stations = [station_from_mapping(raw, i) for i, raw in enumerate(loaded)]
    seen: set[str] = set()
    for st in stations:
        if st.id in seen:
            raise StationError(f"station id {st.id!r} appears more than once")
        seen.add(st.id)
    return stations
