"""`serve-scheduler` (the contact lifecycle) and `db upgrade` subcommands."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import Any

from groundstation.clock import iso_utc
from groundstation.commands._context import Context, finite_float, open_context, run
from groundstation.events import Event, ResourceEvent
from groundstation.executor import NoOpExecutor
from groundstation.lifecycle import lifecycle_from_settings


class PrintingEventSink:
    def publish(self, event: Event) -> None:
        if isinstance(event, ResourceEvent):
            print(f"{iso_utc(event.at)} {event.kind} {event.subject_id}: {event.new_status}")
            return
        print(
            f"{iso_utc(event.at)} contact {event.contact_id}: {event.old_state} -> "
            f"{event.new_state}: {event.reason}",
            flush=True,
        )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve-scheduler", help="run the contact lifecycle scheduler until interrupted"
    )
    p.add_argument(
        "--run-for-s", type=finite_float, default=None, help="stop after this many wall seconds"
    )
    p.set_defaults(func=run(_serve))

    db = subparsers.add_parser("db", help="database schema")
    d = db.add_subparsers(dest="action", required=True)
    p = d.add_parser("upgrade", help="migrate the schema to the latest revision")
    p.set_defaults(func=_upgrade)


def _serve(args: argparse.Namespace, ctx: Context) -> int:
    service = lifecycle_from_settings(
        ctx.settings,
        session_factory=ctx.session_factory,
        clock=ctx.clock,
        events=PrintingEventSink(),
        executor=NoOpExecutor(),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    report = service.start()
    print(
        f"scheduler {service.instance_id} started at {iso_utc(ctx.clock.now())}: {report.jobs} "
        f"contact jobs, {len(report.events)} reconciled",
        flush=True,
    )
    deadline = time.monotonic() + args.run_for_s if args.run_for_s is not None else None
    try:
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        service.shutdown()
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    from groundstation.db import mask_url

    ctx = open_context()  # migrates
    ctx.engine.dispose()
    print(
        f"database at {mask_url(ctx.settings.effective_database_url())} is at the latest revision"
    )
    return 0
