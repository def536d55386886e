"""A satellite of the catalogue (``framing_profile: catalogue``) over
stations with one UHF antenna each, with a strong-link mission profile for
its downlink: the inventory of the tests that work such a satellite through
a booked contact (tests/by70_1.py, tests/e2e/test_e2e_catalogue_satellites.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from groundstation.ephemerides import upload_ephemerides
from groundstation.inventory import add_profile, add_satellite, import_stations
from orbital.stations import parse_stations

#: A link budget under which every frame sent decodes.
STRONG_LINK = {"eirp_dbw": 10.0, "g_over_t_db_k": -10.0, "atmosphere_zenith_db": 0.0}


def seed_catalogue_satellite(
    session: Session,
    *,
    stations_yaml: str,
    norad_id: int,
    name: str,
    modulation: str,
    freq_hz: float,
    elements: str,
    now: datetime,
    profile_id: str,
    transmitter: str,
    **profile: Any,
) -> None:
    """The stations of ``stations_yaml`` (one 430-440 MHz antenna each, 30 s
    set-up and tear-down), the satellite of tenant ``demo`` with its
    ``elements``, and profile ``profile_id`` (60 s before, 30 s after the
    pass, ``STRONG_LINK``, decoding ``transmitter``; ``profile``: its other
    settings, ``inventory.add_profile``)."""
    import_stations(
        session,
        stations=parse_stations(stations_yaml),
        antennas_per_station=1,
        bands_hz=[(430e6, 440e6)],
        setup_s=30.0,
        teardown_s=30.0,
    )
    add_satellite(
        session,
        norad_id=norad_id,
        name=name,
        tenant="demo",
        downlink_freq_hz=freq_hz,
        downlink_bandwidth_hz=25e3,
        modulation=modulation,
        framing_profile="catalogue",
    )
    upload_ephemerides(session, text=elements, now=now, source="test")
    add_profile(
        session,
        profile_id=profile_id,
        prepass_s=60.0,
        postpass_s=30.0,
        demod=STRONG_LINK,
        decode={"transmitter": transmitter},
        **profile,
    )
