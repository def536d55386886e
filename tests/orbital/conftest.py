from __future__ import annotations

from pathlib import Path

import pytest

from orbital.elements import ElementSet
from orbital.stations import Station, parse_stations
from orbital.tle import parse_tle

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_tles"


def load_tle(name: str) -> list[ElementSet]:
    result = parse_tle((SAMPLES / name).read_text().splitlines())
    assert not result.rejected
    return result.elements


@pytest.fixture(scope="session")
def weather() -> list[ElementSet]:
    return load_tle("weather.tle")


@pytest.fixture(scope="session")
def amateur() -> list[ElementSet]:
    return load_tle("amateur.tle")


@pytest.fixture(scope="session")
def catalogue() -> list[ElementSet]:
    return load_tle("active.tle")


@pytest.fixture(scope="session")
def stations() -> list[Station]:
    return parse_stations((SAMPLES / "stations.yaml").read_text())
