"""A process of a shared-metrics server run, for the tests: started with
``multiprocessing``'s spawn context (a fresh interpreter that has not imported
prometheus_client, as a uvicorn worker; it inherits the test process's
authentication key, so the processes a test starts form one run)."""

from __future__ import annotations

from multiprocessing.connection import Connection
from pathlib import Path

SPOOL = "groundstation_spool_depth_bytes"


def member(
    root: str, decoded: int, published: int, spool: float, latency_s: float, conn: Connection
) -> None:
    """Join the run under ``root``; count frames, read the spool gauge as
    ``spool``, observe one ``GET /healthz`` of ``latency_s``; say "ready",
    then answer "render" with the page and "close" by closing and exiting."""
    from api.metrics import Metrics

    metrics = Metrics(shared_dir=Path(root))
    metrics.count_frames(decoded=decoded, published=published)
    metrics.gauge_source(SPOOL, lambda: spool)
    metrics.render({})  # reads the gauge source
    metrics.observe_request("GET", "/healthz", 200, latency_s)
    conn.send("ready")
    while True:
        command = conn.recv()
        if command == "render":
            conn.send(metrics.render({}))
        elif command == "close":
            metrics.close()
            conn.send("closed")
            return
