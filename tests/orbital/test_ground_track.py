"""Ground tracks against skyfield's WGS84 sub-points, and the visibility
footprint's size against the geometry it stands for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.ground_track import (
    WGS84_A_KM,
    compute_ground_track,
    footprint_half_angle_deg,
    geodetic_from_itrs,
)

START = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)


def test_ground_track_matches_skyfields_wgs84_subpoints(weather: list[ElementSet]) -> None:
    ts = load.timescale(builtin=True)
    for e in weather[:5]:
        track = compute_ground_track(
            e, start=START, end=START + timedelta(minutes=100), step_s=60.0
        )
        assert len(track.times_utc) == 101
        geo = EarthSatellite(e.line1, e.line2, e.name, ts).at(ts.from_datetimes(track.times_utc))
        lat, lon = wgs84.latlon_of(geo)
        height_km = wgs84.height_of(geo).km
        # skyfield rotates with nutation and the equation of the equinoxes; we
        # with GMST only (as the look angles do): a few arcseconds apart
        assert np.max(np.abs(track.lat_deg - lat.degrees)) < 0.01
        dlon = (track.lon_deg - lon.degrees + 180.0) % 360.0 - 180.0
        assert np.max(np.abs(dlon)) < 0.01
        assert np.max(np.abs(track.height_km - height_km)) < 0.05
        assert np.all(track.error_code == 0)


def test_geodetic_conversion_of_points_on_the_axes() -> None:
    polar_km = WGS84_A_KM * (1 - 1 / 298.257223563)
    r = np.array([[WGS84_A_KM + 800.0, 0.0, 0.0], [0.0, 0.0, polar_km + 500.0]])
    lat, lon, height = geodetic_from_itrs(r)
    assert np.allclose(lat, [0.0, 90.0]) and lon[0] == 0.0
    assert np.allclose(height, [800.0, 500.0], atol=1e-6)


def test_footprint_is_where_the_satellite_stands_at_the_minimum_elevation() -> None:
    # at the circle's edge the satellite, seen along the ground, is at exactly
    # min elevation: law of sines in the Earth-centre/station/satellite triangle
    height_km, min_el_deg = 850.0, 10.0
    lam = np.radians(footprint_half_angle_deg(height_km, min_el_deg))
    r_sat = WGS84_A_KM + height_km
    slant = np.sqrt(WGS84_A_KM**2 + r_sat**2 - 2 * WGS84_A_KM * r_sat * np.cos(lam))
    elevation = np.degrees(np.arcsin((r_sat * np.cos(lam) - WGS84_A_KM) / slant))
    assert elevation == pytest.approx(min_el_deg, abs=1e-9)
    assert footprint_half_angle_deg(height_km, 0.0) > footprint_half_angle_deg(height_km, 10.0)
    with pytest.raises(OrbitalError, match="height_km -1"):
        footprint_half_angle_deg(-1.0, 10.0)
