"""Swath geolocation (orbital.swath) against skyfield's own geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.swath import scan_angles_deg, swath_lat_lon

START = datetime(2023, 7, 4, 12, 28, tzinfo=UTC)


def test_nadir_pixel_lies_under_the_satellite_as_skyfield_puts_it(
    weather: list[ElementSet],
) -> None:
    noaa = weather[0]
    t_s = np.array([0.0, 60.0, 300.0])
    lat, lon = swath_lat_lon(noaa, START, t_s, fov_deg=110.0, n_pixels=3)
    lines = noaa.text().splitlines()
    sat = EarthSatellite(lines[-2], lines[-1], ts=load.timescale())
    ts = load.timescale()
    times = ts.from_datetimes([START + timedelta(seconds=float(s)) for s in t_s])
    sub = wgs84.subpoint_of(sat.at(times))
    # geocentric nadir vs skyfield's geodetic subpoint: < 0.2 deg of latitude apart
    assert np.allclose(lat[:, 1], sub.latitude.degrees, atol=0.2)
    assert np.allclose(lon[:, 1], sub.longitude.degrees, atol=0.05)


def test_swath_edges_are_as_far_as_the_scan_angle_reaches_and_symmetric(
    weather: list[ElementSet],
) -> None:
    lat, lon = swath_lat_lon(weather[0], START, np.array([0.0]), fov_deg=110.0, n_pixels=181)
    r_km = 6371.0
    lat_r, lon_r = np.deg2rad(lat[0]), np.deg2rad(lon[0])
    # great-circle distance from the nadir pixel (index 90) to every pixel
    c = np.sin(lat_r[90]) * np.sin(lat_r) + np.cos(lat_r[90]) * np.cos(lat_r) * np.cos(
        lon_r - lon_r[90]
    )
    dist_km = r_km * np.arccos(np.clip(c, -1, 1))
    assert 1200 < dist_km[0] < 1700  # AVHRR-like: a ~2900 km swath from ~810 km
    assert abs(dist_km[0] - dist_km[-1]) < 0.01 * dist_km[0]
    assert np.all(np.diff(dist_km[90:]) > 0)  # monotonic away from nadir


def test_lines_of_sight_past_the_limb_are_nan_not_an_exception(
    weather: list[ElementSet],
) -> None:
    lat, lon = swath_lat_lon(weather[0], START, np.array([0.0]), fov_deg=170.0, n_pixels=171)
    assert np.isnan(lat[0, 0]) and np.isnan(lon[0, -1])
    assert np.isfinite(lat[0, 85])


@pytest.mark.parametrize(
    ("fov_deg", "n_pixels", "word"), [(0.0, 10, "fov_deg"), (90.0, 0, "n_pixels")]
)
def test_bad_scan_geometry_is_refused_naming_the_value(
    fov_deg: float, n_pixels: int, word: str
) -> None:
    with pytest.raises(OrbitalError, match=word):
        scan_angles_deg(fov_deg, n_pixels)
