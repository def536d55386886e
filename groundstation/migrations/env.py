"""Alembic environment shipped inside the package.

Run through ``groundstation.db.migrate(engine)`` (which passes an open
connection) or ``groundstation db upgrade``; the URL comes from the caller,
never from this file.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from groundstation.models import Base
from ingest.catalog import Base as CatalogBase

# The service schema and the dataset catalogue (ingest/catalog.py) share one database.
target_metadata = [Base.metadata, CatalogBase.metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "groundstation migrations need a connection: use groundstation.db.migrate(engine) "
        "or `groundstation db upgrade`"
    )
_run(connection)
