"""BY70-1 (NORAD 41909) for tests that work its real recording through a
booked contact: the recording (the satellite-recordings collection that
gr-satellites tests with, tests/data/dsp/recordings/README.md) and what
gr-satellites decoded from it, its element set of the time, and three real
ground-station sites of the far north that see its passes together."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from groundstation.passes import AvailableWindow as Window
from groundstation.passes import availability
from tests.support.catalogue import seed_catalogue_satellite

NORAD_ID = 41909
TRANSMITTER = "9k6 BPSK downlink"
FREQ_HZ = 436.2e6
PROFILE = "by70-1"
#: The element set in force when the recording was published (AMSAT's
#: nasabare.txt of 2017-01-07); the satellite re-entered later in 2017.
ELEMENTS = (
    "BY70-1\n"
    "1 41909U 16083C   17007.00151180  .00394953  23696-5  76574-3 0  9998\n"
    "2 41909  97.5837  85.2882 0200235 329.9655  28.9838 15.73432531  1539\n"
)
EPOCH = datetime.fromisoformat("2017-01-07T00:02:10+00:00")
#: Real sites close enough together to see one pass at once.
STATIONS = """
stations:
  - id: svalbard
    name: SvalSat, Svalbard (Norway)
    lat_deg: 78.2298
    lon_deg: 15.4078
    alt_m: 501.0
    min_elevation_deg: 5.0
  - id: tromso
    name: Tromso (Norway)
    lat_deg: 69.6625
    lon_deg: 18.9408
    alt_m: 100.0
    min_elevation_deg: 5.0
  - id: kiruna
    name: Esrange, Kiruna (Sweden)
    lat_deg: 67.8833
    lon_deg: 21.0667
    alt_m: 330.0
    min_elevation_deg: 5.0
"""


def recordings_dir() -> Path:
    """GS_TEST_RECORDINGS (e.g. a shared copy), else the repository's copy.
    Never skipped: a missing recording fails the test that needs it."""
    where = Path(
        os.environ.get("GS_TEST_RECORDINGS")
        or Path(__file__).resolve().parent / "data" / "dsp" / "recordings"
    )
    if not (where / "by701.wav").is_file():
        pytest.fail(f"BY70-1 recording not found: {where / 'by701.wav'} (GS_TEST_RECORDINGS)")
    return where


def recording() -> Path:
    return recordings_dir() / "by701.wav"


def reference_frames() -> set[bytes]:
    """Every frame gr-satellites printed for the recording (three runs' union)."""
    text = (recordings_dir() / "frames" / "by701.hex").read_text()
    return {bytes.fromhex(line) for line in text.split()}


def seed_by70_1(session: Session, *, now: datetime) -> None:
    """The three stations (one antenna each, UHF), BY70-1 linked to the
    catalogue with its element set, and a mission profile for its downlink."""
    seed_catalogue_satellite(
        session,
        stations_yaml=STATIONS,
        norad_id=NORAD_ID,
        name="BY70-1",
        modulation="bpsk",
        freq_hz=FREQ_HZ,
        elements=ELEMENTS,
        now=now,
        profile_id=PROFILE,
        transmitter=TRANSMITTER,
        min_viable_duration_s=60.0,
        min_elevation_deg=10.0,
    )


def free_windows(session: Session, *, now: datetime, hours: float = 24.0) -> list[Window]:
    """BY70-1's free windows after ``now`` (``groundstation.passes.availability``)."""
    return [
        w
        for w in availability(
            session,
            norad_id=NORAD_ID,
            profile_id=PROFILE,
            start=now,
            end=now + timedelta(hours=hours),
            now=now,
        )
        if w.free
    ]


def common_windows(windows: list[Window], count: int) -> list[Window]:
    """The first ``count`` windows on distinct stations that overlap one
    another (one pass seen from several sites)."""
    for i, first in enumerate(windows):
        group = [first]
        for w in windows[i + 1 :]:
            if w.station_id not in {g.station_id for g in group} and w.aos < min(
                g.los for g in group
            ):
                group.append(w)
            if len(group) == count:
                return group
    raise AssertionError(f"no pass of BY70-1 seen from {count} stations at once: {windows}")
