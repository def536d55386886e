"""Cost of the metrics on the request path, and of a scrape.

Each configuration runs in its own spawned process (a shared-metrics process
must choose its metrics directory before prometheus_client is imported), on
an app made by ``api.app.create_app`` over a SQLite file, its lifespan
running, requests sent as ASGI calls (no sockets: the figures are the
server's own):

- CPU time of ``GET /healthz`` through the whole middleware stack, with the metrics
  (in memory, and shared: ``metrics_dir`` as ``app_from_env`` passes it,
  while a second process of the same run is live) and, as the reference
  measured in the same run, with the request-timing middleware removed;
- ``Metrics.observe_request`` alone (what one request adds), rotating over
  ``--routes`` label sets;
- ``Metrics.render``: one scrape, after the observations above, with the peer
  process live.

Each figure is the best of ``--rounds`` rounds (the machine is shared); the
others are wall-clock times of this process's calls.
Last line: RESULT metrics observe_memory_us=.. observe_shared_us=..
healthz_none_us=.. healthz_memory_us=.. healthz_shared_us=.. render_shared_ms=..
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROUTES = ("/healthz", "/contacts", "/passes", "/plans", "/datasets", "/usage")
STATUSES = (200, 201, 404, 422, 500)


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _requests(app: Any, n: int) -> float:
    """CPU seconds (all threads of this process: the sync route runs on the
    thread pool) for ``n`` sequential ``GET /healthz`` through ``app``."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.process_time()
    for _ in range(n):
        await app(_scope("/healthz"), receive, send)
    elapsed = time.process_time() - started
    assert statuses == [200] * n, statuses[:5]
    return elapsed


def _configure(data_dir: Path, mode: str) -> Any:
    from api.app import _Timing, create_app
    from groundstation.settings import Settings

    settings = Settings(data_dir=data_dir, metrics_public=True)
    shared = data_dir / "metrics" if mode == "shared" else None
    app = create_app(settings, metrics_dir=shared)
    if mode == "none":
        # starlette types Middleware.cls as a ParamSpec factory protocol, which
        # mypy takes for never being a class: a gap of those types, not of ours.
        app.user_middleware = [
            m
            for m in app.user_middleware
            if m.cls is not _Timing  # type: ignore[comparison-overlap]
        ]
    return app


def _measure(data_dir: str, mode: str, n: int, rounds: int, n_routes: int, out: Any) -> None:
    """One configuration, in this (spawned) process; figures sent on ``out``."""
    app = _configure(Path(data_dir), mode)
    metrics = app.state.ctx.metrics

    async def run() -> dict[str, float]:
        figures: dict[str, float] = {}
        async with app.router.lifespan_context(app):
            await _requests(app, 200)  # warm-up
            figures["healthz_us"] = min([await _requests(app, n) / n * 1e6 for _ in range(rounds)])
            if mode != "none":
                keys = [
                    ("GET", ROUTES[i % len(ROUTES)], STATUSES[i // len(ROUTES) % len(STATUSES)])
                    for i in range(n_routes)
                ]
                best = float("inf")
                for _ in range(rounds):
                    started = time.perf_counter()
                    for i in range(n):
                        method, route, status = keys[i % n_routes]
                        metrics.observe_request(method, route, status, 0.003)
                    best = min(best, (time.perf_counter() - started) / n * 1e6)
                figures["observe_us"] = best
                renders = []
                for _ in range(rounds * 5):
                    started = time.perf_counter()
                    page = metrics.render({"SCHEDULED": 3, "COMPLETED": 7})
                    renders.append(time.perf_counter() - started)
                figures["render_ms"] = min(renders) * 1e3
                figures["page_lines"] = float(len(page.splitlines()))
        return figures

    out.send(asyncio.run(run()))
    out.close()


def _peer(data_dir: str, ready: Any, stop: Any) -> None:
    """A second live process of the shared run (as a second worker)."""
    app = _configure(Path(data_dir), "shared")

    async def run() -> None:
        async with app.router.lifespan_context(app):
            await _requests(app, 10)
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)

    asyncio.run(run())


def _run(ctx: Any, data_dir: Path, mode: str, args: argparse.Namespace) -> dict[str, float]:
    receiver, sender = ctx.Pipe(duplex=False)
    p = ctx.Process(
        target=_measure, args=(str(data_dir), mode, args.requests, args.rounds, args.routes, sender)
    )
    p.start()
    if not receiver.poll(600):
        p.kill()
        raise SystemExit(f"the {mode} configuration gave no figures (exit code {p.exitcode})")
    figures: dict[str, float] = receiver.recv()
    p.join()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--routes", type=int, default=30, help="label sets observed")
    args = parser.parse_args(argv)
    # bench/api.py would shadow the api package (the children inherit sys.path).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    sys.path.insert(0, str(BENCH.parent))
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("none", "memory"):
            results[mode] = _run(ctx, Path(tmp) / mode, mode, args)
        shared_dir = Path(tmp) / "shared"
        ready, stop = ctx.Event(), ctx.Event()
        peer = ctx.Process(target=_peer, args=(str(shared_dir), ready, stop))
        peer.start()
        try:
            assert ready.wait(120), "the peer process did not start"
            results["shared"] = _run(ctx, shared_dir, "shared", args)
        finally:
            stop.set()
            peer.join(30)
    none_us = results["none"]["healthz_us"]
    print(
        f"{'configuration':<10} {'healthz cpu us':>15} {'vs none':>8} {'observe us':>11} {'render ms':>10}"
    )
    for mode, f in results.items():
        print(
            f"{mode:<10} {f['healthz_us']:>15.1f} {f['healthz_us'] / none_us:>8.3f} "
            f"{f.get('observe_us', 0.0):>11.2f} {f.get('render_ms', 0.0):>10.2f}"
        )
    print(f"page: {results['shared'].get('page_lines', 0):.0f} lines ({args.routes} label sets)")
    print(
        f"RESULT metrics observe_memory_us={results['memory']['observe_us']:.2f} "
        f"observe_shared_us={results['shared']['observe_us']:.2f} "
        f"healthz_none_us={none_us:.1f} healthz_memory_us={results['memory']['healthz_us']:.1f} "
        f"healthz_shared_us={results['shared']['healthz_us']:.1f} "
        f"render_shared_ms={results['shared']['render_ms']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
