"""Engine and session set-up, and schema migration.

SQLite (the embedded default) runs every transaction as ``BEGIN IMMEDIATE``:
write transactions are serialized, so the overlap check and the insert of a
booking happen under one database write lock; a trigger rejects overlapping
active contacts as a second line of defence. PostgreSQL enforces the same
rule with an exclusion constraint over (antenna, blocked window) using
``btree_gist`` (see the initial migration).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

ACTIVE_STATES_SQL = "('SCHEDULED', 'PREPASS', 'PASS', 'POSTPASS')"

# Exclusion constraint (PostgreSQL) and triggers (SQLite) enforcing no double
# booking; used by the initial migration.
PG_NO_OVERLAP = (
    "ALTER TABLE contacts ADD CONSTRAINT ex_contacts_antenna_no_overlap "
    "EXCLUDE USING gist (antenna_id WITH =, "
    "tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
    f"WHERE (state IN {ACTIVE_STATES_SQL})"
)

_SQLITE_OVERLAP_CHECK = f"""
  SELECT RAISE(ABORT, 'contact overlaps an active booking on the same antenna')
  WHERE NEW.state IN {ACTIVE_STATES_SQL} AND EXISTS (
    SELECT 1 FROM contacts c
    WHERE c.antenna_id = NEW.antenna_id AND c.id != NEW.id
      AND c.state IN {ACTIVE_STATES_SQL}
      AND c.blocked_start < NEW.blocked_end AND NEW.blocked_start < c.blocked_end);
"""
SQLITE_NO_OVERLAP = (
    f"CREATE TRIGGER tr_contacts_no_overlap_insert BEFORE INSERT ON contacts "
    f"BEGIN {_SQLITE_OVERLAP_CHECK} END",
    f"CREATE TRIGGER tr_contacts_no_overlap_update BEFORE UPDATE OF "
    f"antenna_id, blocked_start, blocked_end, state ON contacts "
    f"BEGIN {_SQLITE_OVERLAP_CHECK} END",
)


def read_json(text: str | bytes) -> Any:
    """``json.loads`` for JSON columns, except that a document nested deeper
    than Python's parser can read (only the database itself, or a writer
    other than this code, can have stored one) is read as a string saying
    so, instead of failing the whole query: the row's reader reports it as
    a bad value (``profile_settings.read_profile``) and other rows are read."""
    try:
        return json.loads(text)
    except RecursionError:
        return f"<JSON nested too deep to read, {len(text)} characters>"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, make the file's directory, enable WAL,
    foreign keys and serialized (``BEGIN IMMEDIATE``) transactions. JSON
    columns are read with ``read_json``."""
    parsed = make_url(url)
    kwargs.setdefault("json_deserializer", read_json)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)

    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 60.0)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the Alembic environment shipped in
    ``groundstation/migrations``."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "groundstation:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    if engine.dialect.name == "sqlite":
        refresh_sqlite_statistics(engine)


def refresh_sqlite_statistics(engine: Engine) -> None:
    """Give SQLite's planner table statistics (a full ``ANALYZE``: it reads
    each index once, about a second per million rows). Without them it ranks
    indexes by their shape alone: filtered contact lists chose the (state,
    booked start) index, read most of the table, and took 15 ms instead of
    0.9 ms (12,000 contacts); sampled statistics (``analysis_limit``) misjudged
    the same index. PostgreSQL keeps its own statistics (autovacuum)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
