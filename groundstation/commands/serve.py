"""``groundstation serve``: the API, the contact scheduler and the downlink
executor in one process (the usual production deployment).

Settings come from the environment (``GS_*``) and a ``.env`` file in the
working directory. At start-up datasets a crashed writer left behind are
cleaned up or resumed and missed transitions are reconciled (see
``groundstation.runtime``). SIGTERM or SIGINT stops the HTTP server, then the
scheduler: a pass in progress ends FAILED with the reason (its partial
dataset deleted), never left in PASS.
"""

from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path
from typing import Any

from groundstation.commands._context import int_in

log = logging.getLogger("groundstation.serve")

STOP_REASON = "service stopped (SIGTERM) during the pass"


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import attach_runtime, create_app, tune_gc_for_serving
    from groundstation.commands._context import load_settings
    from groundstation.db import RedactingFilter
    from groundstation.runtime import open_runtime

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    env_file = Path(args.env_file)
    settings = load_settings(env_file if env_file.is_file() else None)
    for handler in logging.getLogger().handlers:  # no password in any log line
        handler.addFilter(RedactingFilter(settings.effective_database_url()))
    runtime = open_runtime(settings)
    try:
        app = create_app(settings, clock=runtime.clock)
        attach_runtime(app, runtime)
        report = runtime.start()
        log.info(
            "scheduler %s: %d contact jobs, %d transitions reconciled; "
            "datasets resumed %d, cleaned %d",
            runtime.lifecycle.instance_id,
            report.jobs,
            len(report.events),
            len(runtime.recovery.resumed),
            len(runtime.recovery.cleaned),
        )
        tune_gc_for_serving()
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level.lower(),
            timeout_graceful_shutdown=5,
        )
        # uvicorn re-raises the signal that stopped it once it has shut down,
        # after restoring the handler found at start: install one that only
        # records it, so the scheduler below is stopped properly.
        received: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: received.append(signum))
        uvicorn.Server(config).run()  # returns on SIGTERM / SIGINT
        log.info("stopping (signal %s)", received or "none")
    finally:
        runtime.close(reason=STOP_REASON)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="API + scheduler + downlink executor in one process")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default %(default)s)")
    p.add_argument(
        "--port", type=int_in(0, 65535), default=8000, help="listen port (default %(default)s)"
    )
    p.add_argument("--env-file", default=".env", help="settings file (default %(default)s)")
    p.add_argument("--log-level", default="info", help="debug, info, warning, error")
    p.set_defaults(func=run)
