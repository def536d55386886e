"""Booking checks the antenna's slew rates along the pass (issue 13): a pass
straight over the station needs an az/el rotator to swing its azimuth far
faster than 10 deg/s near zenith, so booking refuses it, naming the speeds;
an antenna that slews fast enough books the same pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from skyfield.api import EarthSatellite, load, wgs84
from sqlalchemy.orm import Session

from groundstation import agents, ephemerides, inventory
from groundstation.booking import reserve
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.errors import SlewRateError, StationOfflineError

REPO = Path(__file__).resolve().parents[2]
TLE = REPO / "tests" / "data" / "domain" / "sample.tle"
NOW = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)
NOAA18 = 28654
ZENITH_AT = NOW + timedelta(hours=2)


def _under_the_track() -> tuple[float, float]:
    lines = TLE.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("1 28654"))
    sat = EarthSatellite(lines[i], lines[i + 1], "NOAA 18", load.timescale())
    point = wgs84.subpoint_of(sat.at(load.timescale().from_datetime(ZENITH_AT)))
    return float(point.latitude.degrees), float(point.longitude.degrees)


@pytest.fixture
def session(tmp_path: Path) -> Session:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    migrate(engine)
    s = make_session_factory(engine)()
    seed_under_the_track(s)
    return s


def seed_under_the_track(s: Session) -> None:
    """Station "under" (run by an agent, heartbeat at NOW) right below
    NOAA 18 at ZENITH_AT, antennas "azel-slow" (10 deg/s) and "azel-fast"
    (720 deg/s in azimuth), profile "leo", the sample elements."""
    lat, lon = _under_the_track()
    inventory.add_station(s, station_id="under", name="Under", lat_deg=lat, lon_deg=lon)
    band = [(400e6, 450e6)]
    inventory.add_antenna(s, antenna_id="azel-slow", station_id="under", bands_hz=band)
    inventory.add_antenna(
        s,
        antenna_id="azel-fast",
        station_id="under",
        bands_hz=band,
        max_az_slew_deg_s=720.0,
        max_el_slew_deg_s=20.0,
    )
    inventory.add_satellite(
        s, norad_id=NOAA18, name="NOAA 18", tenant="acme", downlink_freq_hz=437.5e6
    )
    inventory.add_profile(s, profile_id="leo", min_viable_duration_s=60)
    # The station is run by an agent: its contacts move a real rotator.
    agents.record_heartbeat(
        s, station_id="under", software_version="t", front_end="t", status={}, now=NOW
    )
    ephemerides.upload_ephemerides(s, text=TLE.read_text(), now=NOW)


def _book(session: Session, antenna_id: str) -> object:
    return reserve(
        session,
        norad_id=NOAA18,
        antenna_id=antenna_id,
        profile_id="leo",
        start=ZENITH_AT - timedelta(minutes=4),
        end=ZENITH_AT + timedelta(minutes=4),
        tenant="acme",
        now=NOW,
    )


def test_a_zenith_pass_is_refused_on_an_antenna_too_slow_to_follow_it(session: Session) -> None:
    with pytest.raises(SlewRateError) as refused:
        _book(session, "azel-slow")
    message = str(refused.value)
    assert "azimuth" in message and "antenna azel-slow slews 10 deg/s" in message
    speed = float(message.split("azimuth ")[1].split(" deg/s")[0])
    assert speed > 10.0


def test_the_same_pass_books_on_an_antenna_that_slews_fast_enough(session: Session) -> None:
    contact = _book(session, "azel-fast")
    assert getattr(contact, "max_elevation_deg", 0.0) > 85.0


def test_a_station_without_an_agent_books_it_its_contacts_move_no_rotator(
    session: Session,
) -> None:
    from groundstation.models import StationAgent

    session.delete(session.get(StationAgent, "under"))
    session.commit()
    contact = _book(session, "azel-slow")
    assert getattr(contact, "max_elevation_deg", 0.0) > 85.0


def test_booking_at_a_station_whose_agent_is_long_silent_is_refused_naming_since_when(
    session: Session,
) -> None:
    agents.record_heartbeat(
        session,
        station_id="under",
        software_version="t",
        front_end="t",
        status={},
        now=NOW - timedelta(hours=2),
    )
    with pytest.raises(StationOfflineError) as refused:
        _book(session, "azel-fast")
    assert "station under offline since 2023-07-04T16:00:00Z" in str(refused.value)
    assert "GS_AGENT_BOOKING_OFFLINE_S=3600" in str(refused.value)


def test_slowing_an_antennas_rotator_fails_the_passes_it_can_no_longer_follow(
    session: Session,
) -> None:
    from groundstation import maintenance
    from groundstation.models import Contact

    contact_id = str(getattr(_book(session, "azel-fast"), "id", ""))
    antenna, held = maintenance.update_antenna(
        session,
        antenna_id="azel-fast",
        changes={"max_az_slew_deg_s": 10.0},
        now=NOW,
        by="key admin",
    )
    assert (antenna.max_az_slew_deg_s, held.failed) == (10.0, [contact_id])
    contact = session.get(Contact, contact_id)
    assert contact is not None and contact.state == "PROVIDER_FAILED"
    assert "antenna azel-fast changed (max_az_slew_deg_s) by key admin" in contact.state_reason
    assert "antenna azel-fast slews 10 deg/s" in contact.state_reason


def test_a_rotator_still_fast_enough_keeps_its_booked_passes(session: Session) -> None:
    from groundstation import maintenance

    _book(session, "azel-fast")
    _, held = maintenance.update_antenna(
        session, antenna_id="azel-fast", changes={"max_az_slew_deg_s": 700.0}, now=NOW
    )
    assert held.failed == []
