"""The request's database session is ended once, by its dependency, when the
route returns: before the response is sent, so a streamed body (or a slow
client) never holds a connection or, on SQLite, the write lock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.deps import SessionDep
from groundstation.db import make_engine, make_session_factory


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
