"""The seeded world and the loopback server shared by the API tests
(tests/api) and the console's browser tests (tests/console): one Svalbard
station, satellites of two tenants, profile ``leo``, the sample elements and
one key per role, on the service clock at ``NOW``; ``serve`` runs an app under
uvicorn on a loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session

from groundstation import apikeys, ephemerides, inventory

REPO = Path(__file__).resolve().parents[2]
TLE = REPO / "tests" / "data" / "domain" / "sample.tle"
NOW = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)  # NOAA 19 elements: epoch 2023-07-04T16:11Z
NOAA19, NOAA18, FUNCUBE = 33591, 28654, 39444

#: (key name, role, tenant, granted tenants) of the keys ``seed`` makes.
KEYS = (
    ("admin", "admin", "", ()),
    ("acme", "operator", "acme", ()),
    ("globex", "operator", "globex", ()),
    ("scientist", "scientist", "", ("acme",)),
    ("globex-scientist", "scientist", "", ("globex",)),
)


def add_svalbard(
    session: Session,
    *,
    horizon_mask: Iterable[tuple[float, float]] = (),
    offline_antennas: Iterable[str] = (),
) -> None:
    """Station ``svalbard`` (with ``horizon_mask``): antennas sv-uhf and
    sv-uhf-2 (400-450 MHz) and sv-s (2.2-2.3 GHz), 60 s set-up and tear-down,
    ``offline_antennas`` offline."""
    inventory.add_station(
        session,
        station_id="svalbard",
        name="SvalSat",
        lat_deg=78.2298,
        lon_deg=15.4078,
        alt_m=501.0,
        min_elevation_deg=5.0,
        horizon_mask=list(horizon_mask),
    )
    offline = set(offline_antennas)
    for antenna_id, band in (
        ("sv-uhf", (400e6, 450e6)),
        ("sv-uhf-2", (400e6, 450e6)),
        ("sv-s", (2.2e9, 2.3e9)),
    ):
        inventory.add_antenna(
            session,
            antenna_id=antenna_id,
            station_id="svalbard",
            bands_hz=[band],
            setup_s=60,
            teardown_s=60,
            status="offline" if antenna_id in offline else "online",
        )


def seed(
    session: Session,
    *,
    horizon_mask: Iterable[tuple[float, float]] = (),
    offline_antennas: Iterable[str] = (),
) -> dict[str, str]:
    """Svalbard (two UHF antennas, one S-band; ``offline_antennas`` offline,
    the station with ``horizon_mask``), NOAA 19/18 of tenant acme, FUNCUBE-1
    of tenant globex, profile leo, the sample TLEs; one key per ``KEYS`` row:
    key name -> the key."""
    add_svalbard(session, horizon_mask=horizon_mask, offline_antennas=offline_antennas)
    for norad, name, tenant in (
        (NOAA19, "NOAA 19", "acme"),
        (NOAA18, "NOAA 18", "acme"),
        (FUNCUBE, "FUNCUBE-1", "globex"),
    ):
        inventory.add_satellite(
            session,
            norad_id=norad,
            name=name,
            tenant=tenant,
            downlink_freq_hz=437.5e6,
            downlink_bandwidth_hz=25e3,
        )
    inventory.add_profile(
        session, profile_id="leo", prepass_s=120, postpass_s=60, min_viable_duration_s=120
    )
    result = ephemerides.upload_ephemerides(session, text=TLE.read_text(), now=NOW)
    assert len(result.stored) == 3
    keys = {}
    for who, role, tenant, grants in KEYS:
        _, keys[who] = apikeys.create_key(
            session, name=who, role=role, tenant=tenant, granted_tenants=grants, now=NOW
        )
    return keys


@contextmanager
def serve(app: FastAPI, **config_options: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port (real HTTP, real threads);
    yields its base URL. ``config_options`` go to ``uvicorn.Config``."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        timeout_graceful_shutdown=1,
        **config_options,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
