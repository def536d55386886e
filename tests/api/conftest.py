"""Fixtures of the API tests: the real app (``create_app``) over a real,
migrated database on SQLite and on PostgreSQL.

PostgreSQL comes from GS_TEST_POSTGRES_URL (scripts/services/postgres.sh);
without it the postgres variants skip locally and FAIL under CI=true. These
tests use their own database, ``<name>_api_<random>``, made per session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from groundstation import apikeys, ephemerides, inventory
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Base
from groundstation.settings import Settings
from ingest.catalog import Base as CatalogBase
from tests.service_env import scratch_database

REPO = Path(__file__).resolve().parents[2]
TLE = REPO / "tests" / "data" / "domain" / "sample.tle"
NOW = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)  # NOAA 19 elements: epoch 2023-07-04T16:11Z
NOAA19, NOAA18, FUNCUBE = 33591, 28654, 39444


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("api-sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_url(postgres_base_url: str) -> Iterator[str]:
    with scratch_database(postgres_base_url, "api") as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


def _truncate(url: str) -> None:
    engine = make_engine(url)
    tables = [t.name for t in Base.metadata.sorted_tables] + [
        t.name for t in CatalogBase.metadata.sorted_tables
    ]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "gs.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_url")
    _truncate(url)
    return url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=1.0,
    )


@dataclass
class World:
    app: FastAPI
    client: TestClient
    engine: Engine
    keys: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def session(self) -> Session:
        return make_session_factory(self.engine)()


def seed(session: Session) -> dict[str, str]:
    """Svalbard (two UHF antennas, one S-band), NOAA 19/18 of tenant acme,
    FUNCUBE-1 of tenant globex, profile leo, the sample TLEs; one key per role."""
    inventory.add_station(
        session,
        station_id="svalbard",
        name="SvalSat",
        lat_deg=78.2298,
        lon_deg=15.4078,
        alt_m=501.0,
        min_elevation_deg=5.0,
    )
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
        )
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
    for who, role, tenant, grants in (
        ("admin", "admin", "", ()),
        ("acme", "operator", "acme", ()),
        ("globex", "operator", "globex", ()),
        ("scientist", "scientist", "", ("acme",)),
        ("globex-scientist", "scientist", "", ("globex",)),
    ):
        _, keys[who] = apikeys.create_key(
            session, name=who, role=role, tenant=tenant, granted_tenants=grants, now=NOW
        )
    return keys


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    app = create_app(settings)
    engine = app.state.ctx.engine
    with make_session_factory(engine)() as session:
        keys = seed(session)
    with TestClient(app) as client:
        yield World(app, client, engine, keys)
    engine.dispose()


@contextmanager
def serve(app: FastAPI, **config_options: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port (real HTTP, real threads);
    yields its base URL. ``config_options`` go to ``uvicorn.Config``."""
    import threading
    import time

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


@pytest.fixture
def live_url(world: World) -> Iterator[str]:
    """The same app served by uvicorn on a loopback port (real HTTP, real threads)."""
    with serve(world.app) as url:
        yield url
