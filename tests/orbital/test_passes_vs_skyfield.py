"""Pass prediction against skyfield's EarthSatellite.find_events and topocentric positions."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load, wgs84

from orbital.elements import ElementSet
from orbital.passes import Pass, predict_passes
from orbital.stations import Station

TS = load.timescale(builtin=True)
START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)
END = START + timedelta(days=2)


@dataclass
class SkyPass:
    aos: datetime
    los: datetime
    culminations: list[datetime]
    truncated: bool


def skyfield_passes(e: ElementSet, st: Station, start: datetime, end: datetime) -> list[SkyPass]:
    sat = EarthSatellite(e.line1, e.line2, e.name, TS)
    topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
    t0, t1 = TS.from_datetime(start), TS.from_datetime(end)
    times, events = sat.find_events(topos, t0, t1, altitude_degrees=st.min_elevation_deg)
    alt0 = (sat - topos).at(t0).altaz()[0].degrees
    out: list[SkyPass] = []
    current: SkyPass | None = None
    if alt0 > st.min_elevation_deg:
        current = SkyPass(start, end, [], True)
    for t, ev in zip(times, events, strict=True):
        when = t.utc_datetime()
        if ev == 0:
            current = SkyPass(when, end, [], False)
        elif ev == 1 and current is not None:
            current.culminations.append(when)
        elif ev == 2 and current is not None:
            current.los = when
            out.append(current)
            current = None
    if current is not None:
        current.truncated = True
        out.append(current)
    return out


def altaz(e: ElementSet, st: Station, when: list[datetime]) -> tuple[np.ndarray, np.ndarray]:
    sat = EarthSatellite(e.line1, e.line2, e.name, TS)
    topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
    alt, az, _ = (sat - topos).at(TS.from_datetimes(when)).altaz()
    return alt.degrees, az.degrees


@pytest.fixture(scope="module")
def plain_stations(stations: list[Station]) -> list[Station]:
    """The sample stations with their minimum elevation but no mask (skyfield has none)."""
    return [s.with_min_elevation(s.min_elevation_deg) for s in stations]


@pytest.fixture(scope="module")
def real_set(weather: list[ElementSet], amateur: list[ElementSet]) -> list[ElementSet]:
    # LEO weather and amateur satellites, the geostationary weather satellites,
    # and the highly elliptical AO-10.
    return weather + amateur


def test_every_skyfield_pass_is_found_and_no_other(
    real_set: list[ElementSet], plain_stations: list[Station]
) -> None:
    result = predict_passes(real_set, plain_stations, START, END)
    assert not result.failures
    ours: dict[tuple[int, str], list[Pass]] = {}
    for p in result.passes:
        ours.setdefault((p.norad_id, p.station_id), []).append(p)
    n_sky = 0
    for e in real_set:
        for st in plain_stations:
            sky = skyfield_passes(e, st, START, END)
            mine = ours.get((e.norad_id, st.id), [])
            label = f"{e.name} over {st.id}"
            assert len(mine) == len(sky), f"{label}: ours {len(mine)}, skyfield {len(sky)}"
            for p, q in zip(mine, sky, strict=True):
                n_sky += 1
                assert p.truncated == q.truncated, label
                assert abs((p.aos - q.aos).total_seconds()) <= 1.0, (label, p.aos, q.aos)
                assert abs((p.los - q.los).total_seconds()) <= 1.0, (label, p.los, q.los)
    assert n_sky > 2000


def test_elevation_at_our_aos_and_los_is_the_limit_and_max_elevation_agrees(
    real_set: list[ElementSet], plain_stations: list[Station]
) -> None:
    result = predict_passes(real_set, plain_stations, START, END)
    by_id = {e.norad_id: e for e in real_set}
    st_by_id = {s.id: s for s in plain_stations}
    worst_edge = worst_peak = 0.0
    groups: dict[tuple[int, str], list[Pass]] = {}
    for p in result.passes:
        groups.setdefault((p.norad_id, p.station_id), []).append(p)
    for (norad, sid), passes in groups.items():
        e, st = by_id[norad], st_by_id[sid]
        complete = [p for p in passes if not p.truncated]
        if complete:
            alt, _ = altaz(e, st, [p.aos for p in complete] + [p.los for p in complete])
            worst_edge = max(worst_edge, float(np.max(np.abs(alt - st.min_elevation_deg))))
        alt_tca, _ = altaz(e, st, [p.tca for p in passes])
        ours = np.array([p.max_elevation_deg for p in passes])
        worst_peak = max(worst_peak, float(np.max(np.abs(alt_tca - ours))))
        # Skyfield's own culminations (found to ~0.5 s) are never higher than ours.
        for p, q in zip(passes, skyfield_passes(e, st, START, END), strict=True):
            if q.culminations:
                sky_max = float(np.max(altaz(e, st, q.culminations)[0]))
                assert p.max_elevation_deg >= sky_max - 0.01, (e.name, sid, p.tca)
                if sky_max < 85.0:
                    assert abs(p.max_elevation_deg - sky_max) <= 0.01, (e.name, sid, p.tca)
    assert worst_edge <= 0.01
    assert worst_peak <= 0.01


def test_look_angles_agree_with_skyfield_topocentric_positions(
    real_set: list[ElementSet], stations: list[Station]
) -> None:
    from orbital.track import compute_track

    st = stations[0]
    topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
    for e in real_set[::5]:
        track = compute_track(e, st, start=START, end=START + timedelta(hours=6), step_s=37.0)
        sat = EarthSatellite(e.line1, e.line2, e.name, TS)
        topo = (sat - topos).at(TS.from_datetimes(track.times_utc))
        alt, az, dist = topo.altaz()
        _, _, _, _, _, range_rate = topo.frame_latlon_and_rates(topos)
        assert np.max(np.abs(track.elevation_deg - alt.degrees)) < 1e-3
        daz = (track.azimuth_deg - az.degrees + 180.0) % 360.0 - 180.0
        assert np.max(np.abs(daz)) < 1e-3
        assert np.max(np.abs(track.range_km - dist.km)) < 1e-3  # 1 m
        assert np.max(np.abs(track.range_rate_km_s - range_rate.km_per_s)) < 1e-6  # 1 mm/s


def test_masked_stations_rise_and_set_on_the_mask(
    real_set: list[ElementSet], stations: list[Station]
) -> None:
    masked = [s for s in stations if s.horizon_mask]
    assert len(masked) >= 1
    result = predict_passes(real_set, masked, START, START + timedelta(days=1))
    by_id = {e.norad_id: e for e in real_set}
    st_by_id = {s.id: s for s in masked}
    checked = 0
    for p in result.passes:
        if p.truncated:
            continue
        st = st_by_id[p.station_id]
        alt, az = altaz(by_id[p.norad_id], st, [p.aos, p.los])
        limit = st.elevation_limit_deg(az)
        assert np.max(np.abs(alt - limit)) <= 0.01, (p, alt, limit)
        checked += 1
    assert checked > 100


def test_masked_passes_match_a_fine_skyfield_scan(
    catalogue: list[ElementSet], stations: list[Station]
) -> None:
    """Every interval a 5 s skyfield scan sees above a horizon mask is one of our passes,
    and every pass of ours has scan samples above the mask (for passes >= 10 s)."""
    masked = [s for s in stations if s.horizon_mask]
    sample = random.Random(7).sample(catalogue, 150)
    start, end = START, START + timedelta(hours=24)
    result = predict_passes(sample, masked, start, end)
    scan_s = 5.0 * np.arange(24 * 720 + 1)
    scan = [start + timedelta(seconds=float(x)) for x in scan_s]
    t_scan = TS.utc(start.year, start.month, start.day, 0, 0, scan_s)
    intervals = 0
    for e in sample:
        sat = EarthSatellite(e.line1, e.line2, e.name, TS)
        for st in masked:
            topos = wgs84.latlon(st.lat_deg, st.lon_deg, st.alt_m)
            alt_a, az_a, _ = (sat - topos).at(t_scan).altaz()
            alt, az = alt_a.degrees, az_a.degrees
            up = np.r_[False, alt > st.elevation_limit_deg(az), False]
            edges = np.flatnonzero(np.diff(up.astype(int)))
            ours = [p for p in result.passes if p.norad_id == e.norad_id and p.station_id == st.id]
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                first, last = scan[a], scan[b - 1]
                intervals += 1
                assert any(p.aos <= first and last <= p.los for p in ours), (e.name, st.id, first)
            for p in ours:
                if p.duration_s >= 10.0:
                    i0 = math.ceil((p.aos - start).total_seconds() / 5.0)
                    i1 = math.floor((p.los - start).total_seconds() / 5.0)
                    assert i1 >= i0 and up[1 + i0 : 2 + i1].all(), (e.name, st.id, p.aos)
    assert intervals > 500
