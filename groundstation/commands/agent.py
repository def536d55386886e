"""`agent`: the station agent, run at a station's machine (issue 13).

Needs no database: it talks to the central service's REST API with a
``station`` key (GS_AGENT_STATION_ID, GS_AGENT_CENTRAL_URL, GS_AGENT_KEY).
With GS_KAFKA_BOOTSTRAP and GS_OBJECT_STORE=s3 (GS_S3_*), as ``serve`` takes
them, it publishes the frames to Kafka and uploads the datasets to S3
itself (``groundstation.station.edge``); without, it uploads them to the
central service over HTTP.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from groundstation.commands._context import finite_float, load_settings
from groundstation.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from groundstation.clock import Clock
    from groundstation.settings import Settings
    from groundstation.station.agent import CentralClient
    from groundstation.station.edge import EdgePublishing


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
    _check_required(settings)
    try:
        front_end = check_front_end(settings.agent_front_end)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    client = CentralClient(
        settings.agent_central_url, key=settings.agent_key, station_id=settings.agent_station_id
    )
    clock = _service_clock(settings, client, front_end)
    edge = edge_publishing(settings, clock)
    agent = StationAgent(
        client=client,
        clock=clock,
        spool=Spool(settings.agent_spool()),
        front_end=front_end,
        software_version=software_version(),
        heartbeat_s=settings.agent_heartbeat_s,
        poll_s=settings.agent_poll_s,
        rotctld=settings.agent_rotctld,
        edge=edge,
        spool_retention_s=settings.agent_spool_retention_h * 3600.0,
        iq_space=_raw_iq_space(settings),
    )
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    if args.run_for_s is not None:
        threading.Timer(args.run_for_s, agent.stop).start()
    where = "frames to Kafka, datasets to S3 from here" if edge else "frames over HTTP"
    print(
        f"station agent of {settings.agent_station_id} -> {settings.agent_central_url} "
        f"({front_end}; {where})",
        flush=True,
    )
    try:
        agent.run()
    finally:
        client.close()
        if edge is not None:
            edge.publisher.close()  # what the broker has not taken stays spooled
    return 0


def _raw_iq_space(settings: Settings) -> Callable[[Path], str | None]:
    """The central service's disk watermark (GS_DISK_REFUSE_FREE) applied to
    the spool before a pass records raw IQ."""
    from groundstation.housekeeping import check_raw_iq_space

    return functools.partial(check_raw_iq_space, settings)


def _check_required(settings: Settings) -> None:
    """ConfigurationError naming the agent's settings that are not set."""
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


def edge_publishing(settings: Settings, clock: Clock) -> EdgePublishing | None:
    """The agent's own Kafka publisher (its durable spool under the agent
    spool, fsynced) and S3 store when GS_KAFKA_BOOTSTRAP and
    GS_OBJECT_STORE=s3 are set; None when neither is (frames and datasets
    go to the central service over HTTP); ``ConfigurationError`` naming
    the missing one when only one is."""
    kafka, s3 = bool(settings.kafka_bootstrap), settings.object_store == "s3"
    if not kafka and not s3:
        return None
    if not (kafka and s3):
        have, missing = (
            ("GS_KAFKA_BOOTSTRAP", "GS_OBJECT_STORE=s3 (and GS_S3_BUCKET)")
            if kafka
            else ("GS_OBJECT_STORE=s3", "GS_KAFKA_BOOTSTRAP")
        )
        raise ConfigurationError(
            f"the station agent publishes at the edge with both Kafka and S3: {have} is set "
            f"but {missing} is not; set both, or neither to upload over HTTP"
        )
    import dataclasses

    from groundstation.station.edge import EdgePublishing
    from ingest.kafka_publisher import KafkaPublisher
    from ingest.objectstore import S3ObjectStore

    try:
        store = S3ObjectStore(settings.s3_config())
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    root = settings.agent_spool()
    config = dataclasses.replace(
        settings.kafka_config(), spool_dir=root / "kafka-spool", spool_fsync=True
    )
    return EdgePublishing(
        publisher=KafkaPublisher(config).start(),
        store=store,
        staging_root=root / "staging",
        clock=clock.now,
    )


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
