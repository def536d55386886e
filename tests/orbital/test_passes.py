"""Pass prediction: published results, special orbits, failures, the grid step."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.passes import coarse_step_s, predict_passes
from orbital.stations import Station
from orbital.tle import parse_tle, tle_checksum

TS = load.timescale(builtin=True)
START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)


def test_skyfield_documentation_iss_passes_over_bluffton_are_reproduced() -> None:
    # skyfield's documentation ("Finding when a satellite rises and sets").
    (iss,) = parse_tle(
        [
            "ISS (ZARYA)",
            "1 25544U 98067A   14020.93268519  .00009878  00000-0  18200-3 0  5082",
            "2 25544  51.6498 109.4756 0003572  55.9686 274.8005 15.49815350868473",
        ]
    ).elements
    bluffton = Station("bluffton", "Bluffton, Ohio", 40.8939, -83.8917, 0.0, 30.0)
    start = datetime(2014, 1, 23, tzinfo=UTC)
    result = predict_passes([iss], [bluffton], start, start + timedelta(days=1))
    published = [
        ("06:25:37", "06:26:58", "06:28:19"),
        ("12:54:56", "12:56:27", "12:57:58"),
    ]
    assert len(result.passes) == len(published)
    for p, (rise, culm, set_) in zip(result.passes, published, strict=True):
        for ours, text in ((p.aos, rise), (p.tca, culm), (p.los, set_)):
            expected = datetime.fromisoformat(f"2014-01-23T{text}+00:00")
            assert abs((ours - expected).total_seconds()) <= 1.0, (ours, expected)


def test_geostationary_satellite_always_visible_gives_one_pass_spanning_the_range(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    goes16 = next(e for e in weather if e.name == "GOES 16")
    # GOES 16 (75.2 W) is always up over Punta Arenas and never over Seoul.
    sts = [s for s in stations if s.id in ("punta-arenas", "seoul")]
    end = START + timedelta(days=3)
    result = predict_passes([goes16], sts, START, end)
    (p,) = result.passes
    assert p.station_id == "punta-arenas"
    assert p.truncated
    assert p.aos == START and p.los == end
    assert 20.0 < p.max_elevation_deg < 40.0


def test_passes_in_progress_at_the_range_ends_are_flagged_truncated(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    noaa19 = next(e for e in weather if e.name == "NOAA 19")
    full = predict_passes([noaa19], stations[:1], START, START + timedelta(days=1)).passes
    middle = next(p for p in full if not p.truncated and p.duration_s > 300)
    cut_start = middle.aos + timedelta(seconds=120)
    cut_end = middle.los - timedelta(seconds=60)
    (p,) = predict_passes([noaa19], stations[:1], cut_start, cut_end).passes
    assert p.truncated
    assert p.aos == cut_start and p.los == cut_end
    assert abs((p.tca - middle.tca).total_seconds()) < 1.0


ISS_L1 = "1 25544U 98067A   23186.10968024 -.00120065  00000+0 -21640-2 0  9990"
ISS_L2 = "2 25544  51.6388 239.6867 0000584  94.6274 310.4783 15.49533251404577"


def _decaying_iss() -> ElementSet:
    """The ISS elements with a drag term so large that it decays within a day or two."""
    l1 = "1 99999" + ISS_L1[7:53] + " 99999-0" + ISS_L1[61:68]
    l1 += str(tle_checksum(l1))
    l2 = "2 99999" + ISS_L2[7:68]
    l2 += str(tle_checksum(l2))
    (e,) = parse_tle(["DOOMED", l1, l2]).elements
    return e


def test_failing_satellite_is_reported_with_the_sgp4_error_and_the_batch_goes_on(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    iss_like = _decaying_iss()
    start = iss_like.epoch
    end = start + timedelta(days=3)
    alone = predict_passes(weather[:3], stations, start, end)
    mixed = predict_passes([iss_like, *weather[:3]], stations, start, end)
    (failure,) = mixed.failures
    assert failure.norad_id == 99999
    assert failure.error_code == 6
    assert "decayed" in failure.message
    assert failure.at is not None and start < failure.at < end
    others = [p for p in mixed.passes if p.norad_id != 99999]
    assert [(p.norad_id, p.station_id, p.aos) for p in others] == [
        (p.norad_id, p.station_id, p.aos) for p in alone.passes
    ]
    assert all(p.los <= failure.at for p in mixed.passes if p.norad_id == 99999)


def test_far_from_epoch_prediction_warns_with_the_age_in_days(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    later = weather[0].epoch + timedelta(days=200)
    result = predict_passes(weather[:1], stations[:1], later, later + timedelta(hours=6))
    (warning,) = result.warnings
    assert "200.2 days" in warning or "200.3 days" in warning
    assert weather[0].name is not None and weather[0].name in warning
    assert not predict_passes(weather[:1], stations[:1], START, START + timedelta(hours=6)).warnings


def test_bad_time_ranges_and_stations_are_refused_with_the_values(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    with pytest.raises(OrbitalError, match="has no timezone"):
        predict_passes(weather, stations, datetime(2023, 7, 4), datetime(2023, 7, 5, tzinfo=UTC))
    with pytest.raises(OrbitalError, match="must be after start"):
        predict_passes(weather, stations, START, START - timedelta(hours=1))
    with pytest.raises(OrbitalError, match="repeated: svalbard"):
        predict_passes(weather, [stations[0], stations[0]], START, START + timedelta(hours=1))
    with pytest.raises(OrbitalError, match="min_elevation_deg 95"):
        predict_passes(weather, stations, START, START + timedelta(hours=1), min_elevation_deg=95)


def test_times_in_other_zones_are_converted_to_utc(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    tz = timezone(timedelta(hours=9))
    a = predict_passes(weather[:2], stations, START, START + timedelta(hours=6)).passes
    b = predict_passes(
        weather[:2], stations, START.astimezone(tz), (START + timedelta(hours=6)).astimezone(tz)
    ).passes
    assert [p.aos for p in a] == [p.aos for p in b]
    assert all(p.aos.tzinfo == UTC for p in b)


def test_coarse_step_follows_the_orbit() -> None:
    two_pi = 2 * np.pi
    leo = coarse_step_s(15.5 * two_pi / 1440, 0.0005)
    geo = coarse_step_s(1.0027 * two_pi / 1440, 0.0002)
    molniya = coarse_step_s(2.006 * two_pi / 1440, 0.72)
    assert 240 < leo < 300
    assert geo > 1800
    assert molniya < 400  # sampled at its perigee speed


def test_low_passes_clearing_the_limit_by_half_a_degree_are_never_missed(
    catalogue: list[ElementSet], stations: list[Station]
) -> None:
    """The grid-step argument, checked: every pass whose culmination clears the
    station limit by 0.5..2 deg (the hardest to catch on a coarse grid) is found."""
    rng = random.Random(20230704)
    sample = rng.sample(catalogue, 400)
    plain = [s.with_min_elevation(s.min_elevation_deg) for s in stations]
    end = START + timedelta(days=1)
    result = predict_passes(sample, plain, START, end)
    ours: dict[tuple[int, str], list[tuple[datetime, datetime]]] = {}
    for p in result.passes:
        ours.setdefault((p.norad_id, p.station_id), []).append((p.aos, p.los))
    t0, t1 = TS.from_datetime(START), TS.from_datetime(end)
    low = 0
    for e in sample:
        sat = EarthSatellite(e.line1, e.line2, e.name, TS)
        for st in plain:
            topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
            times, events = sat.find_events(
                topos, t0, t1, altitude_degrees=st.min_elevation_deg - 3.0
            )
            culm = times[events == 1]
            if len(culm) == 0:
                continue
            alt = (sat - topos).at(culm).altaz()[0].degrees
            for t, a in zip(culm.utc_datetime(), alt, strict=True):
                if st.min_elevation_deg + 0.5 <= a <= st.min_elevation_deg + 2.0:
                    low += 1
                    found = ours.get((e.norad_id, st.id), [])
                    assert any(aos <= t <= los for aos, los in found), (
                        e.name,
                        st.id,
                        t,
                        a,
                    )
    assert low >= 100


def test_quintic_hermite_states_match_sgp4_between_grid_samples(
    catalogue: list[ElementSet],
) -> None:
    """The refinement interpolates near-Earth orbits between grid samples; its
    positions must stay within metres of SGP4 (what the pass accuracy rests on)."""
    from sgp4.api import SatrecArray

    from orbital.grid_kernels import hermite5_state
    from orbital.passes import _quantize_step
    from orbital.timescale import Epoch

    rng = np.random.default_rng(5)
    near = [e for e in random.Random(5).sample(catalogue, 600) if e.satrec().method == "n"]
    epoch = Epoch(START, 3 * 86400.0)
    worst_km = 0.0
    by_step: dict[float, list[ElementSet]] = {}
    for e in near:
        sat = e.satrec()
        by_step.setdefault(_quantize_step(coarse_step_s(sat.no_kozai, sat.ecco)), []).append(e)
    for step, group in by_step.items():
        n_t = int(2 * 86400 / step)
        grid = np.arange(n_t, dtype=np.float64) * step
        jd = epoch.julian(grid)
        sats = [e.satrec() for e in group]
        err, r, v = SatrecArray(sats).sgp4(jd.whole, jd.utc_fraction)
        assert not err.any()
        rows = np.repeat(np.arange(len(group)), 50)
        t = rng.uniform(0, grid[-1], rows.shape[0])
        r_i, v_i = hermite5_state(r, v, step, rows, t)
        jd_t = epoch.julian(t)
        for i, sat in enumerate(sats):
            sel = rows == i
            _, r_s, v_s = sat.sgp4_array(jd_t.whole[sel], jd_t.utc_fraction[sel])
            worst_km = max(worst_km, float(np.max(np.linalg.norm(r_i[sel] - r_s, axis=1))))
            assert np.max(np.linalg.norm(v_i[sel] - v_s, axis=1)) < 1e-3  # 1 m/s
    assert len(near) > 400
    assert worst_km < 0.05  # 50 m worst case; metres typically
