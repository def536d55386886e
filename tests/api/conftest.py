"""Fixtures of the API tests: the real app (``create_app``) over a real,
migrated database on SQLite and on PostgreSQL; ``kafka_world``, the same app
attached to a runtime publishing to the real Kafka broker.

PostgreSQL comes from GS_TEST_POSTGRES_URL (scripts/services/postgres.sh);
without it the postgres variants skip locally and FAIL under CI=true. These
tests use their own database, ``<name>_api_<random>``, made per session.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from api.app import attach_runtime, create_app
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Base
from groundstation.runtime import Runtime, open_runtime
from groundstation.settings import Settings
from ingest.catalog import Base as CatalogBase
from ingest.consumer import KafkaSource, RawRecord
from ingest.topics import TopicNames
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


@dataclass
class KafkaWorld:
    """``world``'s app attached (``attach_runtime``, as ``serve`` does) to
    ``runtime``, which publishes to the broker at ``bootstrap`` under a topic
    prefix of its own."""

    world: World
    runtime: Runtime
    bootstrap: str
    prefix: str
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Stop the runtime, flushing its spool to the broker (once)."""
        if not self._closed:
            self._closed = True
            self.runtime.close()

    def contact_event_records(self, want: int) -> list[RawRecord]:
        """``close``, then the first ``want`` records of the contact-events
        topic (fewer when none arrives for 15 s)."""
        self.close()
        source = KafkaSource(self.bootstrap, TopicNames(self.prefix).contact_events)
        got: list[RawRecord] = []
        try:
            for record in source.records(idle_timeout_s=15.0):
                got.append(record)
                if len(got) >= want:
                    break
        finally:
            source.close()
        return got


@pytest.fixture
def kafka_world(settings: Settings, kafka_bootstrap: str) -> Iterator[KafkaWorld]:
    """The seeded app on a runtime publishing to GS_TEST_KAFKA_BOOTSTRAP (its
    topics prefixed ``api<random>``)."""
    prefix = f"api{uuid.uuid4().hex[:10]}"
    s = settings.model_copy(
        update={"kafka_bootstrap": kafka_bootstrap, "kafka_topic_prefix": prefix}
    )
    runtime = open_runtime(s)
    app = create_app(s, clock=runtime.clock)
    engine = app.state.ctx.engine
    kafka = None
    try:
        attach_runtime(app, runtime)
        with make_session_factory(engine)() as session:
            keys = seed(session)
        with TestClient(app) as client:
            kafka = KafkaWorld(World(app, client, engine, keys), runtime, kafka_bootstrap, prefix)
            yield kafka
    finally:
        if kafka is None:
            runtime.close()
        else:
            kafka.close()
        engine.dispose()
