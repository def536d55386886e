"""The request's database session is ended once, by its dependency, when the
route returns: before the response is sent, so a streamed body (or a slow
client) never holds a connection or, on SQLite, the write lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import anyio
import anyio.to_thread
import httpx
from fastapi import FastAPI, Response
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.deps import SessionDep
from groundstation import apikeys
from groundstation.db import make_engine, make_session_factory, migrate

from .conftest import NOW


def test_a_route_s_transaction_is_ended_before_its_response_is_sent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    app = FastAPI()
    app.state.ctx = SimpleNamespace(session_factory=make_session_factory(engine))
    seen: dict[str, int] = {}

    @app.get("/read-then-stream")
    def read_then_stream(session: SessionDep) -> StreamingResponse:
        session.execute(text("SELECT 1"))  # opens a transaction, left open
        seen["in_route"] = engine.pool.checkedout()  # type: ignore[attr-defined]

        def body() -> Iterator[bytes]:
            seen["while_sending"] = engine.pool.checkedout()  # type: ignore[attr-defined]
            yield b"ok"

        return StreamingResponse(body())

    with TestClient(app) as client:
        assert client.get("/read-then-stream").content == b"ok"
    assert seen == {"in_route": 1, "while_sending": 0}
    engine.dispose()


def test_a_key_is_checked_on_sqlite_while_another_transaction_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    """The key look-up runs in autocommit (``deps._look_up_key``): on SQLite it
    takes no write lock, so a long write transaction (a plan commit) does not
    hold up, or time out, every request's authentication."""
    url = f"sqlite:///{tmp_path / 'gs.db'}"
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as session:
        _, key = apikeys.create_key(session, name="k", role="admin", now=NOW)
    impatient = make_engine(url)
    with engine.connect() as writer:
        writer.execute(text("UPDATE api_keys SET name = 'k2'"))  # BEGIN IMMEDIATE: write lock
        with impatient.connect() as conn:
            row = apikeys.authenticate(
                conn.execution_options(isolation_level="AUTOCOMMIT"), key=key
            )
        assert row is not None and row[1] == "k"  # the committed name
        writer.rollback()
    impatient.dispose()
    engine.dispose()


def test_a_sqlite_connection_used_in_autocommit_goes_back_to_serialized_transactions(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}", pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.connection.dbapi_connection.isolation_level is None  # type: ignore[union-attr]
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master")).scalar() == 0
    engine.dispose()


def test_sessions_left_open_are_closed_while_every_route_thread_waits_for_a_connection(
    tmp_path: Path,
) -> None:
    """Routes that leave their transaction open, more at once than the pool
    has connections: each finished request's session is closed (handing its
    connection back) even while the route threads wait for a connection.
    Closing on the routes' own thread pool queued behind them until the
    pool's timeout (bench/api.py stalled with every connection idle in
    transaction)."""
    engine = make_engine(
        f"sqlite:///{tmp_path / 'gs.db'}", pool_size=1, max_overflow=0, pool_timeout=3
    )
    app = FastAPI()
    app.state.ctx = SimpleNamespace(session_factory=make_session_factory(engine))

    @app.get("/read")
    def read(session: SessionDep) -> Response:
        # Answers a Response, as the API's routes do (no serialization thread).
        return Response(str(session.execute(text("SELECT 1")).scalar_one()))  # left open

    async def main() -> list[int]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            statuses: list[int] = []

            async def one() -> None:
                statuses.append((await client.get("/read")).status_code)

            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(one)
            return statuses

    started = time.monotonic()
    assert anyio.run(main) == [200] * 4
    assert time.monotonic() - started < 3.0  # no request waited out the pool's timeout
    engine.dispose()
