"""``groundstation serve``: the API, the contact scheduler and the downlink
executor in one process (the usual production deployment).

Settings come from the environment (``GS_*``) and a ``.env`` file in the
working directory. At start-up datasets a crashed writer left behind are
cleaned up or resumed and missed transitions are reconciled (see
``groundstation.runtime``). SIGTERM or SIGINT stops the HTTP server, then the
scheduler: a pass in progress ends FAILED with the reason (its partial
dataset deleted), never left in PASS. Housekeeping (retention and disk
watermarks, ``groundstation.housekeeping``) runs in its own thread every
``GS_HOUSEKEEPING_INTERVAL_S``, and the webhook delivery worker in its own
(``groundstation.webhooks``, ``GS_WEBHOOK_DELIVERY``). Logging is set up
here from ``GS_LOG_FORMAT`` and ``GS_LOG_LEVEL`` (``--log-level`` overrides
the level); uvicorn's lines go through the same handler.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from groundstation.commands._context import int_in

if TYPE_CHECKING:
    from groundstation.housekeeping import HousekeepingThread
    from groundstation.runtime import Runtime
    from groundstation.settings import Settings
    from groundstation.webhooks import WebhookWorker

log = logging.getLogger("groundstation.serve")

STOP_REASON = "service stopped (SIGTERM) during the pass"

#: Seconds the HTTP server waits for requests in flight after SIGTERM; the
#: whole stop is bounded in deploy/systemd/groundstation.service (TimeoutStopSec).
HTTP_DRAIN_S = 5


def run(args: argparse.Namespace) -> int:
    from groundstation.commands._context import load_settings
    from groundstation.logs import configure_logging
    from groundstation.memory import limit_malloc_arenas

    env_file = Path(args.env_file)
    settings = load_settings(env_file if env_file.is_file() else None)
    if args.log_level:
        settings = settings.model_copy(update={"log_level": args.log_level.upper()})
    configure_logging(settings)  # passwords masked in every line (db.RedactingFilter)
    limit_malloc_arenas(settings.malloc_arena_max)  # before the passes' threads
    serve_until_stopped(settings, host=args.host, port=args.port)
    return 0


def serve_until_stopped(
    settings: Settings,
    *,
    host: str,
    port: int,
    on_started: Callable[[str], None] | None = None,
) -> None:
    """The API (with the console), the scheduler and housekeeping on
    ``settings`` until SIGTERM or SIGINT; ``on_started(base_url)`` once the
    HTTP server listens. A pass in progress at the stop ends FAILED."""
    import uvicorn

    from api.app import attach_runtime, create_app, tune_gc_for_serving
    from api.serving import HttpToolsWithHeaderLimit
    from groundstation.runtime import open_runtime

    runtime = open_runtime(settings)
    housekeeping: HousekeepingThread | None = None
    background: list[HousekeepingThread] = []
    hooks: WebhookWorker | None = None
    try:
        app = create_app(settings, clock=runtime.clock)
        attach_runtime(app, runtime)
        hooks = _start_webhooks(settings, runtime, app)
        _start_scheduler(runtime)
        background = [_start_agent_watch(settings, runtime)]
        housekeeping = _start_housekeeping(settings, runtime)
        tune_gc_for_serving()
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            log_config=None,  # keep configure_logging's handler and format
            timeout_graceful_shutdown=HTTP_DRAIN_S,
            http=HttpToolsWithHeaderLimit,  # stops reading endless request heads (431)
        )
        # uvicorn re-raises the signal that stopped it once it has shut down,
        # after restoring the handler found at start: install one that only
        # records it, so the scheduler below is stopped properly.
        received: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: received.append(signum))
        server = _listening_server(config, on_started)
        server.run()  # returns on SIGTERM / SIGINT
        log.info("stopping (signal %s)", received or "none")
    finally:
        for thread in [*background, *([housekeeping] if housekeeping else [])]:
            thread.stop()
        if hooks is not None:  # events of the stop below are relayed at the next start
            hooks.stop()
        runtime.close(reason=STOP_REASON)


def _listening_server(config: Any, on_started: Callable[[str], None] | None) -> Any:
    """A ``uvicorn.Server`` that calls ``on_started(base_url)`` once it listens."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if on_started is not None and self.started:
                host, port = self.servers[0].sockets[0].getsockname()[:2]
                on_started(f"http://{host}:{port}")

    return Server(config)


def _start_scheduler(runtime: Runtime) -> None:
    """Start the lifecycle (reconciling missed transitions) and log what it found."""
    report = runtime.start()
    log.info(
        "scheduler %s: %d contact jobs, %d transitions reconciled; datasets resumed %d, cleaned %d",
        runtime.lifecycle.instance_id,
        report.jobs,
        len(report.events),
        len(runtime.recovery.resumed),
        len(runtime.recovery.cleaned),
    )


def _start_housekeeping(settings: Settings, runtime: Runtime) -> HousekeepingThread | None:
    """The housekeeping thread, every GS_HOUSEKEEPING_INTERVAL_S (None when 0)."""
    from groundstation.housekeeping import HousekeepingThread, run_housekeeping

    if settings.housekeeping_interval_s <= 0:
        return None
    return HousekeepingThread(
        lambda: run_housekeeping(
            settings,
            session_factory=runtime.session_factory,
            catalog=runtime.catalog,
            store=runtime.store,
            clock=runtime.clock,
            stores=runtime.stores,
        ),
        interval_s=settings.housekeeping_interval_s,
    ).start()


def _start_agent_watch(settings: Settings, runtime: Runtime) -> HousekeepingThread:
    """Announces silent station agents offline (``agents.announce_offline``)
    and expired ephemerides (``ephemerides.announce_expired``) every half
    GS_AGENT_OFFLINE_AFTER_S, to the runtime's sinks (events topic, SSE
    poller, webhooks)."""
    from groundstation.agents import announce_offline
    from groundstation.ephemerides import announce_expired
    from groundstation.housekeeping import HousekeepingThread

    def watch() -> None:
        now = runtime.clock.now()
        sessions = runtime.session_factory
        offline_after_s = settings.agent_offline_after_s
        announce_offline(sessions, now=now, offline_after_s=offline_after_s, events=runtime.events)
        announce_expired(sessions, now=now, events=runtime.events)

    return HousekeepingThread(watch, interval_s=settings.agent_offline_after_s / 2).start()


def _start_webhooks(settings: Settings, runtime: Runtime, app: Any) -> WebhookWorker | None:
    """The webhook delivery worker (None with GS_WEBHOOK_DELIVERY=false),
    woken by the lifecycle's events and the routes' (``groundstation.webhooks``)."""
    from groundstation.webhooks import DeliveryConfig, WebhookWorker

    if not settings.webhook_delivery:
        return None
    worker = WebhookWorker(runtime.session_factory, DeliveryConfig.from_settings(settings))
    runtime.events.add(worker)
    app.state.ctx.events.add_sink(worker)
    return worker.start()


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="API + scheduler + downlink executor in one process")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    p.add_argument(
        "--port", type=int_in(0, 65535), default=8000, help="listen port (default %(default)s)"
    )
    p.add_argument("--env-file", default=".env", help="settings file (default %(default)s)")
    p.add_argument(
        "--log-level", default=None, help="debug, info, warning, error (default GS_LOG_LEVEL)"
    )
    p.set_defaults(func=run)
