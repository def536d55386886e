"""What the app leaves behind when it shuts down (its lifespan ends)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from groundstation.settings import Settings


def test_shutdown_closes_the_database_connections_the_app_opened(settings: Settings) -> None:
    app = create_app(settings)
    engine = app.state.ctx.engine
    with TestClient(app) as client:
        assert client.get("/ground-stations").status_code in (200, 401)
        assert client.get("/healthz").status_code == 200
        assert engine.pool.checkedin() >= 1  # the requests' connections, pooled
    # Shut down: no idle connection is kept open (a process, or a test
    # suite, that makes many apps does not pile them up on the server).
    assert engine.pool.checkedin() == 0
    # The engine still works for whoever holds it (it reconnects on demand).
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    engine.dispose()
