"""`agent`: the station agent, run at a station's machine (issue 13).

Needs no database: it talks to the central service's REST API with a
``station`` key (GS_AGENT_STATION_ID, GS_AGENT_CENTRAL_URL, GS_AGENT_KEY).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from groundstation.commands._context import finite_float, load_settings
from groundstation.errors import ConfigurationError

if TYPE_CHECKING:
    from groundstation.clock import Clock
    from groundstation.settings import Settings
    from groundstation.station.agent import CentralClient


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "agent", help="run the station agent: work this station's passes, report to the centre"
    )
    p.add_argument(
        "--run-for-s", type=finite_float, default=None, help="stop after this many wall seconds"
    )
    p.set_defaults(func=_agent)


def _agent(args: argparse.Namespace) -> int:
    from groundstation.logs import configure_logging
    from groundstation.memory import limit_malloc_arenas
    from groundstation.station.agent import (
        CentralClient,
        StationAgent,
        check_front_end,
    )
    from groundstation.station.spool import Spool
    from groundstation.version import software_version

    settings = load_settings()
    configure_logging(settings)
    limit_malloc_arenas(settings.malloc_arena_max)  # before the pass's threads
    missing = [
        name
        for name, value in (
            ("GS_AGENT_STATION_ID", settings.agent_station_id),
            ("GS_AGENT_CENTRAL_URL", settings.agent_central_url),
            ("GS_AGENT_KEY", settings.agent_key),
        )
        if not value
    ]
    if missing:
        raise ConfigurationError(f"the station agent needs {', '.join(missing)}")
    try:
        front_end = check_front_end(settings.agent_front_end)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    client = CentralClient(
        settings.agent_central_url, key=settings.agent_key, station_id=settings.agent_station_id
    )
    clock = _service_clock(settings, client, front_end)
    agent = StationAgent(
        client=client,
        clock=clock,
        spool=Spool(settings.agent_spool()),
        front_end=front_end,
        software_version=software_version(),
        heartbeat_s=settings.agent_heartbeat_s,
        poll_s=settings.agent_poll_s,
        rotctld=settings.agent_rotctld,
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    if args.run_for_s is not None:
        threading.Timer(args.run_for_s, agent.stop).start()
    print(
        f"station agent of {settings.agent_station_id} -> {settings.agent_central_url} "
        f"({front_end})",
        flush=True,
    )
    agent.run()
    client.close()
    return 0


def _service_clock(settings: Settings, client: CentralClient, front_end: str) -> Clock:
    """The wall clock, or (GS_CLOCK=simulated) the central service's
    simulated clock: its time as read at registration, at the same speed-up."""
    from datetime import datetime

    from groundstation.clock import RealClock, SimulatedClock
    from groundstation.station.agent import CentralUnavailableError
    from groundstation.version import software_version

    if settings.clock != "simulated":
        return RealClock()
    while True:
        try:
            answer = client.heartbeat(
                software_version=software_version(), front_end=front_end, status={}
            )
            break
        except CentralUnavailableError as exc:
            logging.getLogger(__name__).warning("waiting for the central service: %s", exc)
            time.sleep(settings.agent_heartbeat_s)
    return SimulatedClock(
        datetime.fromisoformat(answer["service_now"]), speedup=settings.clock_speedup
    )
