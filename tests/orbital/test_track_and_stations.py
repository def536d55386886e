from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from orbital.elements import ElementSet
from orbital.errors import OrbitalError, StationError
from orbital.passes import predict_passes
from orbital.stations import Station, parse_stations
from orbital.track import SPEED_OF_LIGHT_KM_S, compute_track, doppler_hz

START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)


def test_one_hertz_pointing_table_covers_the_pass_and_peaks_at_tca(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    noaa19 = next(e for e in weather if e.name == "NOAA 19")
    st = stations[1]
    p = next(
        p
        for p in predict_passes([noaa19], [st], START, START + timedelta(days=1)).passes
        if not p.truncated
    )
    track = compute_track(noaa19, st, start=p.aos, end=p.los, step_s=1.0)
    assert len(track) == int(p.duration_s) + 2  # every second, plus LOS itself
    assert track.times_utc[0] == p.aos and track.times_utc[-1] == p.los
    assert np.all(np.diff(track.t_s) <= 1.0 + 1e-9)
    assert abs(track.elevation_deg[0] - st.min_elevation_deg) < 0.01
    assert abs(track.elevation_deg.max() - p.max_elevation_deg) < 0.01
    peak_time = track.times_utc[int(np.argmax(track.elevation_deg))]
    assert abs((peak_time - p.tca).total_seconds()) <= 1.0
    # Approaching before TCA, receding after.
    assert track.range_rate_km_s[0] < 0 < track.range_rate_km_s[-1]


def test_doppler_shift_and_rate_follow_the_range_rate(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    noaa19 = next(e for e in weather if e.name == "NOAA 19")
    carrier = 137.1e6
    track = compute_track(noaa19, stations[0], start=START, end=START + timedelta(minutes=30))
    shift = track.doppler_hz(carrier)
    first_order = -track.range_rate_km_s / SPEED_OF_LIGHT_KM_S * carrier
    assert np.max(np.abs(shift - first_order)) < 1.0  # relativistic terms are < 1 Hz at VHF
    assert np.max(np.abs(shift)) < 3.6e3  # |v| < 7.5 km/s
    rate = track.doppler_rate_hz_s(carrier)
    assert np.allclose(rate[1:-1], np.diff(shift)[:-1], atol=2.0)
    with pytest.raises(OrbitalError, match="carrier_hz -5"):
        doppler_hz(track.range_rate_km_s, -5)


def test_track_at_explicit_times_matches_the_grid_track(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    e, st = weather[0], stations[2]
    grid = compute_track(e, st, start=START, end=START + timedelta(seconds=120), step_s=10)
    picked = compute_track(e, st, [grid.times_utc[3], grid.times_utc[7]])
    assert np.allclose(picked.azimuth_deg, grid.azimuth_deg[[3, 7]])
    assert np.allclose(picked.range_km, grid.range_km[[3, 7]])
    with pytest.raises(OrbitalError, match="has no timezone"):
        compute_track(e, st, [datetime(2023, 7, 4)])
    with pytest.raises(OrbitalError, match="step_s 0"):
        compute_track(e, st, start=START, end=START + timedelta(seconds=5), step_s=0)


def test_sample_station_file_has_six_sites_and_masks(stations: list[Station]) -> None:
    assert len(stations) >= 6
    masked = [s for s in stations if s.horizon_mask]
    assert masked
    sval = next(s for s in stations if s.id == "svalbard")
    # Mask points: (110, 9) and (160, 12): halfway is 10.5; below min elevation, min wins.
    assert sval.elevation_limit_deg(np.array([135.0]))[0] == pytest.approx(10.5)
    assert sval.elevation_limit_deg(np.array([0.0]))[0] == pytest.approx(5.0)
    # Wraps around north: between (300, 3) and (0, 3) -> 3, floored by min 5.
    assert sval.elevation_limit_deg(np.array([330.0]))[0] == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("stations: []", "non-empty list"),
        ("- {id: a, lat_deg: 95, lon_deg: 0}", "lat_deg 95.0 is outside -90..90"),
        ("- {id: a, lat_deg: 10}", "missing lon_deg"),
        ("- {id: a, lat_deg: ten, lon_deg: 0}", "lat_deg 'ten' is not a number"),
        ("- {id: a, lat_deg: 1, lon_deg: 0, horizon_mask: [[10, 5, 3]]}", "horizon_mask[0]"),
        ("- {id: a, lat_deg: 1, lon_deg: 0}\n- {id: a, lat_deg: 2, lon_deg: 0}", "'a' appears"),
        ("- {lat_deg: 1, lon_deg: 0}", "missing id"),
        ("{bad yaml", "not valid YAML"),
    ],
)
def test_bad_station_files_are_refused_naming_the_value(doc: str, message: str) -> None:
    with pytest.raises(StationError) as err:
        parse_stations(doc)
    assert message in str(err.value)
