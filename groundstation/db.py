"""Engine and session set-up, schema migration, and running a write
transaction again when the database aborted it to break a deadlock
(``retry_transient``).

SQLite (the embedded default) runs every transaction as ``BEGIN IMMEDIATE``:
write transactions are serialized, so the overlap check and the insert of a
booking happen under one database write lock; a trigger rejects overlapping
active contacts as a second line of defence. PostgreSQL enforces the same
rule with an exclusion constraint over (antenna, blocked window) using
``btree_gist`` (see the initial migration).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus, unquote

from sqlalchemy import Dialect, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

if TYPE_CHECKING:
    from groundstation.settings import Settings

# Written out, not derived from ``states.ACTIVE_STATE_VALUES``: a
# migration's DDL must stay what it was when it ran. The initial migration's
# active states; migration 0010c adds CANCELLING (a pass being stopped still
# holds its antenna).
ACTIVE_STATES_SQL = "('SCHEDULED', 'PREPASS', 'PASS', 'POSTPASS')"
ACTIVE_STATES_SQL_0010C = "('SCHEDULED', 'PREPASS', 'PASS', 'POSTPASS', 'CANCELLING')"


def pg_no_overlap(states_sql: str) -> str:
    """The exclusion constraint (PostgreSQL) enforcing no double booking
    among contacts in ``states_sql``."""
    return (
        "ALTER TABLE contacts ADD CONSTRAINT ex_contacts_antenna_no_overlap "
        "EXCLUDE USING gist (antenna_id WITH =, "
        "tstzrange(blocked_start, blocked_end, '[)') WITH &&) "
        f"WHERE (state IN {states_sql})"
    )


def sqlite_no_overlap(states_sql: str) -> tuple[str, str]:
    """The triggers (SQLite) enforcing no double booking among contacts in
    ``states_sql``."""
    check = f"""
  SELECT RAISE(ABORT, 'contact overlaps an active booking on the same antenna')
  WHERE NEW.state IN {states_sql} AND EXISTS (
    SELECT 1 FROM contacts c
    WHERE c.antenna_id = NEW.antenna_id AND c.id != NEW.id
      AND c.state IN {states_sql}
      AND c.blocked_start < NEW.blocked_end AND NEW.blocked_start < c.blocked_end);
"""
    return (
        f"CREATE TRIGGER tr_contacts_no_overlap_insert BEFORE INSERT ON contacts BEGIN {check} END",
        f"CREATE TRIGGER tr_contacts_no_overlap_update BEFORE UPDATE OF "
        f"antenna_id, blocked_start, blocked_end, state ON contacts "
        f"BEGIN {check} END",
    )


# Used by the initial migration.
PG_NO_OVERLAP = pg_no_overlap(ACTIVE_STATES_SQL)
SQLITE_NO_OVERLAP = sqlite_no_overlap(ACTIVE_STATES_SQL)


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


# Credentials in any URL (scheme://user:password@host) and libpq's
# key=value form (password=...), wherever they appear in a text.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s'\"]*:)[^@\s'\"]*@")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?:'[^']*'|\S+)", re.IGNORECASE)


def mask_url(url: str) -> str:
    """``url`` as it may be shown (CLI output, logs, errors, ``/readyz``):
    the password replaced by ``***`` (SQLAlchemy's ``hide_password``), also
    in a URL SQLAlchemy cannot parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: mask what looks like one
        return redact(url)


def redact(text: str, *, url: str | None = None) -> str:
    """``text`` (an error message, a log line) with every password of a URL
    or ``password=`` in it replaced by ``***``, and the password of ``url``
    wherever it appears (drivers may quote it without the URL around it)."""
    out = _URL_PASSWORD.sub(r"\g<head>***@", text)
    out = _KV_PASSWORD.sub(r"\g<head>***", out)
    if url:
        password = _password_of(url)
        if password:
            for form in {password, quote(password, safe=""), quote_plus(password)}:
                out = out.replace(form, "***")
    return out


def _password_of(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:
        match = re.match(r"[^:]+://[^:/@]*:([^@]*)@", url)
        return unquote(match.group(1)) if match else None


class RedactingFilter(logging.Filter):
    """Masks passwords (see ``redact``) in every record through a handler,
    its arguments and its exception text included."""

    def __init__(self, url: str | None = None) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, url=self.url)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, url=self.url)
        if clean != message:
            record.msg, record.args = clean, None
        return True


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

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A connection used in autocommit is handed back with the driver's own
        # transaction handling switched on (SQLAlchemy resets it to the
        # default): switch it off again, BEGIN is ours.
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A connection in autocommit (the API's key look-up) reads without a
        # transaction, so without the write lock.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def open_database(settings: Settings, *, migrate_schema: bool = True, **kwargs: Any) -> Engine:
    """The engine on the configured database (``kwargs`` to ``make_engine``),
    migrated to the latest schema unless ``migrate_schema=False``; the data
    directory is prepared first (``datadir.prepare_data_dir``). A URL that
    does not parse, or a database that cannot be opened, is a
    ``ConfigurationError`` naming ``GS_DATABASE_URL`` with the password masked."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from groundstation.datadir import prepare_data_dir
    from groundstation.errors import ConfigurationError

    prepare_data_dir(settings)
    url = settings.effective_database_url()
    shown = mask_url(url)
    try:
        engine = make_engine(url, **kwargs)
    except (ArgumentError, ValueError, ImportError) as exc:
        reason = redact(" ".join(str(exc).split()), url=url)
        raise ConfigurationError(
            f"GS_DATABASE_URL {shown!r} is not a database URL this service can use ({reason}); "
            "e.g. postgresql+psycopg://user:password@host:5432/dbname or sqlite:///path/to/file.db"
        ) from None
    if not migrate_schema:
        return engine
    try:
        migrate(engine)
    except DBAPIError as exc:
        engine.dispose()
        first = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        raise ConfigurationError(
            f"cannot open the database at {shown}: {redact(first, url=url)}"
        ) from None
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


def reads_hold_the_write_lock(session: Session) -> bool:
    """Whether a transaction on ``session``'s database holds the write lock
    from its first read (SQLite: every transaction is ``BEGIN IMMEDIATE``),
    so reads must end before slow work such as predicting a pass. On
    PostgreSQL (READ COMMITTED) a read takes no lock: a read transaction can
    go on into the write, saving its COMMIT and the next BEGIN."""
    return session.get_bind().dialect.name == "sqlite"


# ---------------------------------------------------------------- hot reads

#: A DB-API cursor (sqlite3's, psycopg's).
DBAPICursor = Any


@contextlib.contextmanager
def autocommit_cursor(engine: Engine) -> Iterator[DBAPICursor]:
    """A driver cursor on a pooled connection, outside any transaction: no
    BEGIN/ROLLBACK round trips, and on SQLite no write lock (its connections
    are in the driver's autocommit mode already, ``make_engine``; BEGIN is
    ours). For a hot read of one statement, with ``PreparedSQL``."""
    pooled = engine.raw_connection()
    try:
        dialect = engine.dialect
        sqlite = dialect.name == "sqlite"
        driver = pooled.dbapi_connection
        assert driver is not None  # a connection just checked out of the pool
        if not sqlite:
            dialect.set_isolation_level(driver, "AUTOCOMMIT")
        cursor = pooled.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            if not sqlite:
                dialect.reset_isolation_level(driver)
    finally:
        pooled.close()


class PreparedSQL:
    """A Core ``SELECT`` compiled once for ``dialect`` to the driver's SQL
    text, run on a driver cursor: parameters and row values go through the
    same type processors SQLAlchemy applies (``UTCDateTime``'s among them),
    without its per-execution connection, result and row objects (about a
    fifth of a ``GET /contacts`` answer's CPU, bench/api.py).

    ``lengths``: the number of values of each expanding (``IN``) parameter;
    the SQL is for those lengths (one ``PreparedSQL`` per combination)."""

    def __init__(self, statement: Executable, dialect: Dialect, lengths: Mapping[str, int]) -> None:
        binds = statement.compile(dialect=dialect).binds  # type: ignore[attr-defined]
        dummies = {
            name: [None] * lengths.get(name, 0) if bind.expanding else None
            for name, bind in binds.items()
            if bind.required
        }
        compiled = statement.params(dummies).compile(  # type: ignore[attr-defined]
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        self.sql = str(compiled)
        self.positional = compiled.positiontup is not None
        constants = {name: b.value for name, b in compiled.binds.items() if not b.required}
        names = compiled.positiontup or [
            *(name for name, b in binds.items() if b.required and not b.expanding),
            *(f"{name}_{i + 1}" for name, n in lengths.items() for i in range(n)),
            *constants,
        ]
        #: Each driver parameter: its name, where its value comes from (a
        #: parameter, the index in a list parameter's values or None, the
        #: type's bind processor) or a constant of the statement.
        self.params: list[tuple[str, str, int | None, Any]] = []
        self.constants: dict[str, Any] = {}
        for name in names:
            if name in constants:
                self.constants[name] = constants[name]
                self.params.append((name, "", None, None))
                continue
            source, index = name, None
            if name not in dummies:
                source, _, number = name.rpartition("_")
                index = int(number) - 1
            type_ = binds[source].type.dialect_impl(dialect)
            self.params.append((name, source, index, type_.bind_processor(dialect)))
        self._types = [
            column.type.dialect_impl(dialect)
            for column in statement.selected_columns  # type: ignore[attr-defined]
        ]
        self._dialect = dialect
        #: Each column's result processor that does something (its index and
        #: it), made at the first execution from the cursor's column types.
        self._results: list[tuple[int, Any]] | None = None

    def fetchall(self, cursor: DBAPICursor, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of the statement with ``params`` (list values for the
        expanding ones), their values converted as their column types say."""
        values = []
        for name, source, index, processor in self.params:
            if not source:
                value = self.constants[name]
            else:
                value = params[source] if index is None else params[source][index]
                if processor is not None and value is not None:
                    value = processor(value)
            values.append(value)
        cursor.execute(
            self.sql,
            values
            if self.positional
            else dict(zip((p[0] for p in self.params), values, strict=True)),
        )
        rows = cursor.fetchall()
        results = self._results
        if results is None:
            results = self._results = self._result_processors(cursor.description)
        if not results:
            return [tuple(row) for row in rows]
        out = []
        for row in rows:
            converted = list(row)
            for i, processor in results:
                converted[i] = processor(converted[i])
            out.append(tuple(converted))
        return out

    def _result_processors(self, description: Any) -> list[tuple[int, Any]]:
        """The columns' result processors for the driver's column types (as
        SQLAlchemy picks them from ``cursor.description``)."""
        processors = (
            (i, type_.result_processor(self._dialect, column[1]))
            for i, (type_, column) in enumerate(zip(self._types, description, strict=True))
        )
        return [(i, processor) for i, processor in processors if processor is not None]


# ---------------------------------------------------------------- transient failures

T = TypeVar("T")

#: How many times a write transaction runs at most when the database keeps
#: choosing it as the victim of a deadlock or a serialization failure.
TRANSIENT_ATTEMPTS = 3


def is_transient(exc: DBAPIError) -> bool:
    """A deadlock or serialization failure (SQLSTATE 40P01, 40001): running
    the transaction again is the documented remedy."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in ("40P01", "40001")


def retry_transient(
    session: Session, transaction: Callable[[], T], *, attempts: int = TRANSIENT_ATTEMPTS
) -> T:
    """``transaction()``: one write transaction on ``session``, which it
    commits. PostgreSQL may abort one of two transactions waiting on each
    other (two bookings' overlap checks, a re-prediction moving windows under
    a booking) as a deadlock or a serialization failure (``is_transient``):
    it is rolled back and run again, ``attempts`` times in all; then it sees
    what the other one committed. Any other error rolls back and propagates."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return transaction()
        except OperationalError as exc:
            session.rollback()
            if attempt < attempts and is_transient(exc):
                continue
            raise
        except BaseException:
            session.rollback()
            raise
