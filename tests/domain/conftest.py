"""Fixtures of the domain tests: every DB test runs on SQLite and PostgreSQL.

PostgreSQL comes from GS_TEST_POSTGRES_URL (scripts/services/postgres.sh);
without it the postgres variants skip locally and FAIL under CI=true. The
tests use their own database, ``<name>_domain_<random>``, made per session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Base
from ingest.catalog import Base as CatalogBase
from tests.service_env import scratch_database

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def _postgres_engine(postgres_base_url: str) -> Iterator[Engine]:
    with scratch_database(postgres_base_url, "domain") as url:
        engine = make_engine(url, pool_size=10, max_overflow=70)
        migrate(engine)
        yield engine
        engine.dispose()


def _truncate_all(engine: Engine) -> None:
    metadata = [*Base.metadata.sorted_tables, *CatalogBase.metadata.sorted_tables]
    tables = ", ".join(t.name for t in metadata)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "gs.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        eng = make_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
    else:
        eng = request.getfixturevalue("_postgres_engine")
        _truncate_all(eng)
        yield eng


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s
