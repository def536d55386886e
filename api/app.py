"""The FastAPI application: ``create_app(settings)`` builds everything from
the settings (database, clock, event hub, metrics); nothing happens at import.

Serve it with uvicorn's factory mode::

    GS_DATABASE_URL=... uvicorn --factory api.app:app_from_env

or ``groundstation serve``, which runs the contact lifecycle in the same
process and connects it with ``attach_runtime``: its frame counts and spool
depth reach the metrics. Contact events reach the SSE stream through the
database (``api.events``), whichever process made them, so several workers
(``--workers N``) may serve the API; ``GET /metrics`` reports all workers
of the run (prometheus_client's multiprocess mode, ``api.metrics``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console, errors
from api.context import AppContext
from api.deps import reject_unknown_query
from api.events import ContactEventHub
from api.inputs import reject_unstorable_input
from api.limits import RequestLimits
from api.metrics import Metrics
from api.routing import check_routes
from groundstation.clock import Clock, clock_from_settings
from groundstation.events import Event
from groundstation.logs import ContactLogSink
from groundstation.policy import BookingPolicy
from groundstation.settings import Settings
from groundstation.version import package_version

if TYPE_CHECKING:
    from groundstation.runtime import Runtime

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {
        "description": desc,
        "content": {errors.PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, desc in (
        (400, "malformed request (e.g. a body that is not JSON)"),
        (401, "missing, unknown or revoked API key"),
        (403, "the key's role may not do this"),
        (413, "request body larger than the limit"),
        (431, "request target and headers larger than GS_MAX_HEADER_BYTES"),
        (422, "invalid input; the detail names the field and value"),
    )
}


class _BodyLimit:
    """Refuse request bodies larger than ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send, _TooLarge(int(value), self.limit, known=True))
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException: FastAPI's body parsing passes it on
                    # (any other error there becomes 400), and the app's
                    # handler answers it as problem+json.
                    raise _TooLarge(seen, self.limit, known=False)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge as exc:  # raised where no handler of the app saw it
            await self._refuse(send, exc)

    async def _refuse(self, send: Send, exc: _TooLarge) -> None:
        response = errors.problem(413, exc.detail, kind=exc.kind)
        await response({"type": "http"}, _no_receive, send)


class _HeaderLimit:
    """Refuse a request whose target and headers together exceed ``limit``
    bytes with 431 (``GS_MAX_HEADER_BYTES``). The server has parsed the head
    by then; ``api.serving.HttpToolsWithHeaderLimit`` also stops reading one
    that grows past twice the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = head_size(scope)
            if size > self.limit:
                response = errors.problem(
                    431,
                    f"request target and headers of {size} bytes exceed the limit of "
                    f"{self.limit} bytes (GS_MAX_HEADER_BYTES)",
                    kind="headers-too-large",
                    headers={"Connection": "close"},
                )
                await response(scope, _no_receive, send)
                return
        await self.app(scope, receive, send)


def head_size(scope: Scope) -> int:
    """Bytes of a request's target (path and query) and header lines."""
    return (
        len(scope.get("raw_path") or scope["path"].encode())
        + len(scope.get("query_string", b""))
        + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
    )


class _Timing:
    """Request latency per route template into the metrics (pure ASGI),
    observed as the last body chunk is handed on: a client that has the whole
    response finds its request counted by the next scrape, whichever process
    answers it (a request that sends no complete response is observed when
    the app returns)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        pending = True
        observe = self.metrics.observe_request

        async def send_status(message: Message) -> None:
            nonlocal status, pending
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
            elif pending and kind == "http.response.body" and not message.get("more_body"):
                pending = False
                route = getattr(scope.get("route"), "path", "unmatched")
                observe(scope["method"], route, status, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            if pending:
                route = getattr(scope.get("route"), "path", "unmatched")
                observe(scope["method"], route, status, time.perf_counter() - started)


class _TooLarge(StarletteHTTPException):
    kind = "too-large"

    def __init__(self, size: int, limit: int, *, known: bool) -> None:
        amount = f"{size} bytes" if known else f"at least {size} bytes (no Content-Length)"
        super().__init__(413, f"request body of {amount} exceeds the limit of {limit} bytes")


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    max_upload_bytes: int = 1 << 20,
    metrics_dir: Path | None = None,
) -> FastAPI:
    """The API over the database ``settings`` name (migrated to head unless
    ``migrate=False``), with the service clock ``settings`` select.

    ``metrics_dir``: where the processes of one server run share their
    metrics, so ``GET /metrics`` reports them all (``app_from_env`` passes
    ``<data_dir>/metrics``; one such app per process, made before anything
    imports prometheus_client: see ``api.metrics``). Without it the page is
    this process's alone and nothing is written."""
    from groundstation.db import make_session_factory, open_database

    url = settings.effective_database_url()
    engine = (
        open_database(settings, migrate_schema=migrate)
        if url.startswith("sqlite")
        # More connections than the threads that run sync routes (and SSE
        # lookups), so a thread never waits for a connection.
        else open_database(
            settings,
            migrate_schema=migrate,
            pool_size=settings.api_threads + 4,
            max_overflow=20,
            pool_timeout=10,
        )
    )
    session_factory = make_session_factory(engine)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        clock=clock
        or clock_from_settings(
            settings.clock, start=settings.clock_start, speedup=settings.clock_speedup
        ),
        events=ContactEventHub(session_factory),
        metrics=Metrics(shared_dir=metrics_dir),
        policy=BookingPolicy.from_settings(settings),
        limits=RequestLimits(settings),
        max_upload_bytes=max_upload_bytes,
    )
    # Bookings, cancellations and window updates made through this process's
    # routes: one log line each (the runtime logs the lifecycle's own events).
    ctx.events.add_sink(ContactLogSink(simulated_clock=settings.clock == "simulated"))

    app = FastAPI(
        title="groundstation",
        version=package_version(),
        description=(
            "Self-hostable satellite ground station: stations, satellites, passes, "
            "contacts, plans and datasets. Authenticate with `Authorization: Bearer <API key>`."
        ),
        responses=PROBLEM_RESPONSES,
        dependencies=[Depends(reject_unknown_query), Depends(reject_unstorable_input)],
        lifespan=_lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)

    from api.routes import (
        agents,
        apikeys,
        contacts,
        datasets,
        ground_track,
        health,
        passes,
        plans,
        profiles,
        satellites,
        stations,
        tenants,
        usage,
        webhooks,
    )

    for module in (
        health,
        stations,
        satellites,
        profiles,
        passes,
        contacts,
        plans,
        datasets,
        usage,
        apikeys,
        ground_track,
        agents,
        tenants,
        webhooks,
    ):
        app.include_router(module.router)

    _add_problem_schema(app)
    console.install(app)  # the web console at /, and offline /docs and /redoc
    check_routes(app.routes)  # every sync route ends its session on its thread

    app.add_middleware(_Timing, metrics=ctx.metrics)
    app.add_middleware(_BodyLimit, limit=max_upload_bytes)
    app.add_middleware(_HeaderLimit, limit=settings.max_header_bytes)
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Size the thread pool that runs sync routes (``Settings.api_threads``);
    at shutdown, stop the contact-event poller (started by the first SSE
    client), take this process's gauges out of the shared metrics and close
    the pooled database connections (the engine reconnects if used again)."""
    ctx: AppContext = app.state.ctx
    anyio.to_thread.current_default_thread_limiter().total_tokens = ctx.settings.api_threads
    try:
        yield
    finally:
        await run_in_threadpool(ctx.events.close)
        await run_in_threadpool(ctx.metrics.close)
        await run_in_threadpool(ctx.engine.dispose)


def attach_runtime(app: FastAPI, runtime: Runtime) -> None:
    """Connect the app made by ``create_app`` to the pipeline ``serve`` runs in
    the same process: its contact events wake the SSE poller at once (they
    reach the stream from the database anyway), the events of the routes go
    to the runtime's events topic (not the hub itself into the runtime's
    sinks: the lifecycle's events would be published twice), and ``GET /metrics`` reports
    the executor's decoded and published frames and the spool depth."""
    from groundstation.runtime import contact_details
    from ingest.publisher import PublisherEventSink

    ctx: AppContext = app.state.ctx
    runtime.events.add(_PollerWaker(ctx.events))
    # Bookings, cancellations, plan commits and re-predictions made by the
    # routes reach the events topic too, as the lifecycle's changes do.
    ctx.events.add_sink(
        PublisherEventSink(
            runtime.publisher,
            details=contact_details(runtime.session_factory),  # type: ignore[arg-type]
        )
    )
    runtime.executor.add_frame_counter(ctx.metrics)
    ctx.metrics.gauge_source("groundstation_spool_depth_bytes", runtime.spool_depth_bytes)


class _PollerWaker:
    """Wakes the SSE poller on a lifecycle event; not forwarded to the hub's
    sinks, which the runtime's own sinks already are (no event logged twice)."""

    def __init__(self, hub: ContactEventHub) -> None:
        self.hub = hub

    def publish(self, event: Event) -> None:
        self.hub.wake()


def _add_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        from api.schemas import Problem

        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def tune_gc_for_serving() -> None:
    """Garbage-collector settings for a serving process (called by the uvicorn
    factory and ``groundstation serve``, not by ``create_app``: tests build
    many apps in one process).

    Python 3.11 runs a collection every 700 net allocations, and every tenth
    of those scans the older generation: a ``GET /passes`` answer (thousands of
    passes) triggered scans of the whole heap, modules included, which cost
    about 40 % of its CPU (measured: 40.6 -> 22.6 ms per cached answer).
    Freezing what start-up allocated takes it out of every scan, and a larger
    young generation makes scans rarer; cycles are still collected."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory api.app:app_from_env``: settings from
    ``GS_*``; the workers of one run share their metrics under
    ``<data_dir>/metrics``."""
    settings = Settings()
    app = create_app(settings, metrics_dir=settings.data_dir / "metrics")
    tune_gc_for_serving()
    return app
