"""Az/el ephemerides: a station's pointing table stands for an element set;
its tracks from that station give the table's angles (issue 15)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from orbital.azel import AzElEphemeris, parse_azel_json
from orbital.elements import ElementSet
from orbital.omm import detect_format, parse_element_set, parse_elements
from orbital.passes import predict_passes
from orbital.stations import Station
from orbital.track import compute_track

from .conftest import load_tle

STATION = Station(id="gs", name="gs", lat_deg=48.0, lon_deg=11.0, alt_m=500.0)


@pytest.fixture(scope="module")
def iss() -> ElementSet:
    return next(e for e in load_tle("stations.tle") if e.norad_id == 25544)


@pytest.fixture(scope="module")
def iss_pass(iss: ElementSet) -> tuple[datetime, datetime]:
    start = iss.epoch.replace(microsecond=0)
    found = predict_passes([iss], [STATION], start, start + timedelta(days=1)).passes
    p = next(p for p in found if p.max_elevation_deg > 30 and not p.truncated)
    return p.aos.replace(microsecond=0) - timedelta(seconds=60), p.los + timedelta(seconds=60)


def _table(iss: ElementSet, start: datetime, end: datetime, step_s: float = 10.0, **kw: Any) -> str:
    track = compute_track(iss, STATION, start=start, end=end, step_s=step_s)
    rows = [
        {"dt": float(t), "az": float(a), "el": float(e)}
        for t, a, e in zip(track.t_s, track.azimuth_deg, track.elevation_deg, strict=True)
    ]
    doc = {
        "groundStation": "gs",
        "angleUnit": "DEGREE_ANGLE",
        "azElSegmentList": [
            {"referenceEpoch": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "azElList": rows}
        ],
        **kw,
    }
    return json.dumps(doc)


def _parse(text: str, norad_id: int | None = 25544) -> AzElEphemeris:
    result = parse_azel_json(text, norad_id=norad_id, stations={"gs": STATION})
    assert result.rejected == []
    (element,) = result.elements
    assert isinstance(element, AzElEphemeris)
    return element


def test_the_track_from_its_station_follows_the_table(
    iss: ElementSet, iss_pass: tuple[datetime, datetime]
) -> None:
    """10-s rows of a high ISS pass; the track every second between them
    within 0.01 deg of the ISS's own (measured ~1e-4 deg), at the rows 1e-6."""
    start, end = iss_pass
    table = _parse(_table(iss, start, end))
    assert detect_format(_table(iss, start, end)) == "AZ/EL JSON"
    truth = compute_track(iss, STATION, start=start, end=end, step_s=1.0)
    followed = compute_track(table, STATION, start=start, end=end, step_s=1.0)
    assert not followed.error_code.any()
    d_az = (followed.azimuth_deg - truth.azimuth_deg + 180.0) % 360.0 - 180.0
    d_el = followed.elevation_deg - truth.elevation_deg
    cos_el = np.cos(np.radians(truth.elevation_deg))
    assert np.max(np.hypot(d_az * cos_el, d_el)) < 0.01
    rows = np.arange(0, len(truth), 10)
    assert np.max(np.abs(d_el[rows])) < 1e-6


def test_its_pass_over_its_station_is_the_table_above_the_limit(
    iss: ElementSet, iss_pass: tuple[datetime, datetime]
) -> None:
    start, end = iss_pass
    table = _parse(_table(iss, start, end))
    station = STATION.with_min_elevation(10.0)
    (by_table,) = predict_passes([table], [station], start, end).passes
    (by_tle,) = predict_passes([iss], [station], start, end).passes
    assert abs((by_table.aos - by_tle.aos).total_seconds()) < 0.5
    assert abs((by_table.los - by_tle.los).total_seconds()) < 0.5
    assert abs(by_table.max_elevation_deg - by_tle.max_elevation_deg) < 0.01


def test_radians_and_the_stored_text_give_the_same_table(
    iss: ElementSet, iss_pass: tuple[datetime, datetime]
) -> None:
    start, end = iss_pass
    doc = json.loads(_table(iss, start, end))
    for row in doc["azElSegmentList"][0]["azElList"]:
        row["az"], row["el"] = math.radians(row["az"]), math.radians(row["el"])
    doc["angleUnit"] = "RADIAN"
    table = _parse(json.dumps(doc))
    again = parse_element_set(table.text())  # carries the station's location
    assert isinstance(again, AzElEphemeris) and again.text() == table.text()
    assert again.station is not None
    located = (again.station.lat_deg, again.station.lon_deg, again.station.alt_m)
    assert located == (STATION.lat_deg, STATION.lon_deg, STATION.alt_m)
    row = again.azel_segments[0].rows[5]
    assert row.elevation_deg == pytest.approx(
        doc["azElSegmentList"][0]["azElList"][5]["el"] * 180 / math.pi
    )


def _rejection(text: str, **kw: Any) -> str:
    result = parse_elements(text, stations={"gs": STATION}, **kw)
    assert result.elements == []
    (rejected,) = result.rejected
    return rejected.message


def test_bad_tables_are_refused_naming_segment_row_and_value(
    iss: ElementSet, iss_pass: tuple[datetime, datetime]
) -> None:
    start, end = iss_pass
    good = json.loads(_table(iss, start, end))
    bad = json.loads(json.dumps(good))
    bad["azElSegmentList"][0]["azElList"][3]["el"] = 97.0
    assert _rejection(json.dumps(bad), norad_id=1) == (
        "az/el segment 1, row 4: el 97 deg is outside -90..90"
    )
    bad = json.loads(json.dumps(good))
    bad["azElSegmentList"][0]["azElList"][3]["dt"] = 0.0
    assert "row 4: dt 0 is not after the previous 20" in _rejection(json.dumps(bad), norad_id=1)
    bad = {**good, "groundStation": "nowhere"}
    assert _rejection(json.dumps(bad), norad_id=1) == (
        "az/el ephemeris: groundStation 'nowhere' is not a known station; known: gs"
    )
    assert "noradId None is not a NORAD" in _rejection(json.dumps(good))
    bad = {**good, "angleUnit": "GRAD"}
    assert "angleUnit 'GRAD'" in _rejection(json.dumps(bad), norad_id=1)
