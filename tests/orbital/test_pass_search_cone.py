"""The visibility-cone filter of the grid search and the multi-process search.

The cone filter must never change a result: the search with it gives
exactly the table of the dense search (every grid sample looked at by every
station), over catalogue satellites, eccentric near-Earth orbits, deep-space
ones, and stations from the pole to the equator with low and high limits.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sgp4.api import SatrecArray

import orbital.pass_search as pass_search
from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.geometry import teme_to_itrs
from orbital.passes import PassPrediction, predict_passes
from orbital.stations import Station
from orbital.timescale import Epoch
from orbital.tle import parse_tle, tle_checksum

START = datetime(2023, 7, 4, tzinfo=UTC)
TABLE_COLUMNS = (
    "sat_index",
    "station_index",
    "aos_s",
    "tca_s",
    "los_s",
    "max_elevation_deg",
    "aos_azimuth_deg",
    "tca_azimuth_deg",
    "los_azimuth_deg",
    "truncated",
)


def _synthetic(
    norad: int, rev_per_day: float, ecc: float, incl_deg: float, epoch: str = "23186.10968024"
) -> ElementSet:
    """An element set with the given mean motion, eccentricity and inclination
    (epoch 2023-07-05 unless given in the TLE's yyddd.dddddddd form, no drag)."""
    l1 = f"1 {norad:05d}U 23001A   {epoch}  .00000000  00000+0  00000+0 0  999"
    l2 = (
        f"2 {norad:05d} {incl_deg:8.4f} 239.6867 {round(ecc * 1e7):07d}  94.6274 310.4783 "
        f"{rev_per_day:11.8f}    1"
    )
    l1 += str(tle_checksum(l1))
    l2 += str(tle_checksum(l2))
    (e,) = parse_tle([f"SYNTH {norad}", l1, l2]).elements
    return e


ECCENTRIC = [
    _synthetic(90001, 9.5, 0.25, 63.4),  # near-Earth, 152 min, perigee ~1,000 km
    _synthetic(90002, 11.0, 0.15, 98.0),
    _synthetic(90003, 7.0, 0.35, 30.0),  # 206 min: the longest near-Earth periods
    _synthetic(90004, 16.2, 0.0005, 97.0),  # very low
    _synthetic(90005, 2.006, 0.74, 63.4),  # Molniya (deep space)
    _synthetic(90006, 1.0027, 0.0002, 0.05),  # geostationary
]

EXTRA_STATIONS = [
    Station("south-pole", "Amundsen-Scott", -89.98, 0.0, 2835.0, 0.0),
    Station("alert", "Alert", 82.5, -62.3, 30.0, -2.0),
    Station("quito", "Quito", -0.2, -78.5, 2850.0, 45.0),
    Station("masked-low", "Masked", 10.0, 100.0, 0.0, -5.0, ((0.0, 20.0), (180.0, -5.0))),
]


def _dense(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every station looks at every grid sample (the search before the filter)."""
    monkeypatch.setattr(
        pass_search,
        "_near_cone_cos",
        lambda ev, rows, step_s: np.full((rows.shape[0], len(ev.stations)), -np.inf),
    )


def _assert_same(a: PassPrediction, b: PassPrediction) -> None:
    for name in TABLE_COLUMNS:
        assert np.array_equal(getattr(a.table, name), getattr(b.table, name)), name
    assert a.failures == b.failures
    assert a.warnings == b.warnings


def test_cone_filter_gives_exactly_the_dense_search_result(
    catalogue: list[ElementSet], stations: list[Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    sats = random.Random(17).sample(catalogue, 250) + ECCENTRIC
    sts = [*stations, *EXTRA_STATIONS]
    end = START + timedelta(days=2)
    kept: list[tuple[int, int]] = []
    station_samples = pass_search.station_samples

    def counting(*args: Any) -> Any:
        out = station_samples(*args)
        kept.append((out[0].size, args[4].size))  # samples kept, grid samples
        return out

    monkeypatch.setattr(pass_search, "station_samples", counting)
    filtered = predict_passes(sats, sts, START, end)
    # The filter did leave most samples out.
    assert sum(k for k, _ in kept) < 0.5 * sum(n for _, n in kept)
    _dense(monkeypatch)
    dense = predict_passes(sats, sts, START, end)
    assert len(dense.table) > 10_000
    _assert_same(filtered, dense)
    # Every kind of orbit and station has passes in the comparison.
    norad = {e.norad_id for e in ECCENTRIC}
    found = {filtered.table.elements[i].norad_id for i in filtered.table.sat_index.tolist()}
    assert norad - found <= {90006}  # GEO at 0.05 deg is below the horizon of most
    assert set(filtered.table.station_index.tolist()) == set(range(len(sts)))


def test_cone_filter_keeps_near_misses_and_masked_passes_of_the_dense_search(
    amateur: list[ElementSet], stations: list[Station], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A high limit makes most passes near misses of a lower one; masks as in the samples.
    sts = [*stations, *(s.with_min_elevation(30.0) for s in EXTRA_STATIONS)]
    sts = [s if s.id != "quito" else s.with_min_elevation(30.0) for s in sts]
    end = START + timedelta(days=3)
    filtered = predict_passes(amateur, sts, START, end)
    _dense(monkeypatch)
    _assert_same(filtered, predict_passes(amateur, sts, START, end))


def test_rate_and_radius_bounds_hold_for_every_near_earth_catalogue_satellite(
    catalogue: list[ElementSet],
) -> None:
    satrecs = [e.satrec() for e in [*catalogue, *ECCENTRIC]]
    bounded, rate_rad_s, radius_km = pass_search.satellite_bounds(satrecs)
    rows = np.flatnonzero(bounded)
    assert rows.size > 7000
    epoch = Epoch(START, 86400.0 + 2.0)
    t = np.arange(0.0, 86400.0, 20.0)
    jd = epoch.julian(t)
    theta, theta_dot = jd.gmst_rad()
    for chunk in np.array_split(rows, 8):
        err, r, v = SatrecArray([satrecs[i] for i in chunk.tolist()]).sgp4(
            jd.whole, jd.utc_fraction
        )
        r, v = teme_to_itrs(r, v, theta, theta_dot)
        ok = err == 0
        r_norm = np.linalg.norm(r, axis=-1)
        turn = np.linalg.norm(np.cross(r, v), axis=-1) / (r_norm * r_norm)
        assert np.all((r_norm <= radius_km[chunk, None]) | ~ok)
        assert np.all((turn <= rate_rad_s[chunk, None]) | ~ok)


def _decaying() -> ElementSet:
    l1 = "1 99999U 98067A   23186.10968024 -.00120065  00000+0  99999-0 0  999"
    l2 = "2 99999  51.6388 239.6867 0000584  94.6274 310.4783 15.49533251404577"
    l1 += str(tle_checksum(l1))
    l2 = l2[:68] + str(tle_checksum(l2[:68]))
    (e,) = parse_tle(["DOOMED", l1, l2]).elements
    return e


def test_workers_give_exactly_the_one_process_result(
    weather: list[ElementSet], amateur: list[ElementSet], stations: list[Station]
) -> None:
    doomed = _decaying()
    old = _synthetic(90007, 14.2, 0.001, 98.7, epoch="23020.50000000")  # warned about
    sats = [doomed, *weather, old, *amateur, *ECCENTRIC]
    start = doomed.epoch
    end = start + timedelta(days=2)
    one = predict_passes(sats, stations, start, end)
    assert one.failures and one.warnings  # the merge of both is checked too
    two = predict_passes(sats, stations, start, end, workers=2)
    _assert_same(one, two)
    assert [p.aos for p in one.passes] == [p.aos for p in two.passes]
    three = predict_passes(sats, stations, start, end, min_elevation_deg=20.0, workers=3)
    _assert_same(predict_passes(sats, stations, start, end, min_elevation_deg=20.0), three)


def test_workers_below_one_are_refused_with_the_value(
    weather: list[ElementSet], stations: list[Station]
) -> None:
    with pytest.raises(OrbitalError, match="workers 0"):
        predict_passes(weather, stations, START, START + timedelta(hours=1), workers=0)
