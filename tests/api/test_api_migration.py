"""Migration 0002 on a database whose catalogue tables already exist."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from groundstation.db import make_engine, migrate
from groundstation.models import Base
from ingest.catalog import Base as CatalogBase
from ingest.catalog import CatalogService


def test_upgrade_keeps_catalogue_tables_made_by_the_catalog_service(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    migrate(engine, "0001")
    CatalogService(engine).create_schema()
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn),
            [Base.metadata, CatalogBase.metadata],  # type: ignore[arg-type]
        )
    engine.dispose()
    assert diff == []
