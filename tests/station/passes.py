"""The passes the station tests run: sample elements and stations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orbital.elements import ElementSet
from orbital.passes import Pass, predict_passes
from orbital.stations import Station, parse_stations
from orbital.tle import parse_tle
from orbital.track import Track, compute_track

SAMPLES = Path(__file__).resolve().parents[2] / "sample_tles"
START = datetime(2023, 7, 4, 0, 0, tzinfo=UTC)
DUMMY_SPEED_DEG_S = 6.0  # hamlib rotators/dummy: 360 deg per minute on each axis


def satellite(name: str) -> ElementSet:
    elements = parse_tle((SAMPLES / "weather.tle").read_text().splitlines()).elements
    return next(e for e in elements if e.name == name)


def station(station_id: str) -> Station:
    stations = parse_stations((SAMPLES / "stations.yaml").read_text())
    return next(s for s in stations if s.id == station_id)


def first_pass(sat: ElementSet, where: Station, aos_after: datetime) -> Pass:
    passes = predict_passes([sat], [where], START, START + timedelta(days=1)).passes
    return next(p for p in passes if p.aos >= aos_after and not p.truncated)


def north_crossing_track() -> tuple[Track, Pass]:
    """NOAA 18 over Svalbard rising at 351 deg and setting at 68 deg (max el 11)."""
    sat, where = satellite("NOAA 18"), station("svalbard")
    p = first_pass(sat, where, START + timedelta(hours=5))
    return compute_track(sat, where, start=p.aos, end=p.los, step_s=1.0), p
