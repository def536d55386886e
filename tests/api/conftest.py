"""Fixtures of the API tests: the real app (``create_app``) over a real,
migrated database on SQLite and on PostgreSQL.

PostgreSQL comes from GS_TEST_POSTGRES_URL (scripts/services/postgres.sh);
without it the postgres variants skip locally and FAIL under CI=true. These
tests use their own database, ``<name>_api_<random>``, made per session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import create_app
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Base
from groundstation.settings import Settings
from ingest.catalog import Base as CatalogBase
from tests.service_env import scratch_database
from tests.support.world import FUNCUBE, NOAA18, NOAA19, NOW, REPO, TLE, seed, serve

__all__ = ["FUNCUBE", "NOAA18", "NOAA19", "NOW", "REPO", "TLE", "World", "seed", "serve"]


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


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    app = create_app(settings)
    engine = app.state.ctx.engine
    with make_session_factory(engine)() as session:
        keys = seed(session)
    with TestClient(app) as client:
        yield World(app, client, engine, keys)
    engine.dispose()


@pytest.fixture
def live_url(world: World) -> Iterator[str]:
    """The same app served by uvicorn on a loopback port (real HTTP, real threads)."""
    with serve(world.app) as url:
        yield url
