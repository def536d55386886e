"""Publishing to a real Kafka broker through the durable spool.

``publish_*`` appends the record to the on-disk `Spool` and returns: it never
waits for the broker. A producer process (`ingest.producer_process`) reads
the spool in order and hands the records to a kafka-python producer
configured for no loss (acks=all, idempotence, bounded retries with back-off,
batching and compression); a feeder thread here tells it how far the spool
goes and moves the spool cursor only past records the broker acknowledged.
Frames accepted while the broker is down -- or before this process or the
producer process was killed -- are sent once it is reachable again, in their
original order. A record whose delivery failed after the producer's bounded
retries is sent again from the cursor with a fresh producer; consumers drop
the rare duplicate by (contact id, sequence).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from ingest.config import KafkaConfig
from ingest.errors import IngestError
from ingest.spool import Spool, SpoolPosition, SpoolRecord
from ingest.topics import (
    ContactEventMessage,
    DatasetReadyMessage,
    FrameMeta,
    ResourceEventMessage,
    TopicNames,
)

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap_servers: str,
    names: tuple[str, ...] | list[str],
    *,
    partitions: int,
    replication_factor: int = 1,
    client_id: str = "groundstation-admin",
    timeout_s: float = 15.0,
    topic_configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics in ``names`` that do not exist yet, each with its
    ``topic_configs`` (e.g. ``retention.ms``); returns those created. Topics
    that exist already keep their configs."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        created: list[str] = []
        for name in missing:
            try:
                configs = dict((topic_configs or {}).get(name, {}))
                admin.create_topics(
                    [NewTopic(name, partitions, replication_factor, topic_configs=configs)],
                    timeout_ms=int(timeout_s * 1000),
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another process created it meanwhile
        if missing:
            _wait_until_described(admin, missing, timeout_s)
        return created
    finally:
        admin.close()


def _wait_until_described(admin: Any, names: list[str], timeout_s: float) -> None:
    """A new topic reaches the broker's metadata a moment after creation: wait for it."""
    deadline = time.monotonic() + timeout_s
    while True:
        described = admin.describe_topics(names)
        if all(t.get("error_code") == 0 and t.get("partitions") for t in described):
            return
        if time.monotonic() >= deadline:
            raise IngestError(
                f"topics {names} were created but not visible in the broker's metadata "
                f"after {timeout_s:.0f} s: {described}"
            )
        time.sleep(0.1)


class _ProducerChild:
    """The owner's handle on one producer process (`ingest.producer_process`)."""

    def __init__(self, config: KafkaConfig, start: SpoolPosition) -> None:
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[1])  # import the same `ingest` there
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ingest.producer_process",
                    str(theirs.fileno()),
                    str(os.getpid()),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send(("start", config, start))
        self.sent = start  # the last write position told to the child

    def exited(self) -> int | None:
        return self.proc.poll()

    def end(self, timeout_s: float) -> None:
        """Wait for the child to exit, then kill it (a killed child loses nothing)."""
        try:
            self.proc.wait(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()


class KafkaPublisher:
    """`ingest.publisher.Publisher` backed by a Kafka broker and a durable spool."""

    def __init__(self, config: KafkaConfig) -> None:
        if not config.bootstrap_servers:
            raise IngestError("KafkaPublisher needs bootstrap_servers (host:port)")
        self.config = config
        self.topics = TopicNames(config.topic_prefix)
        self.spool = Spool(
            config.spool_dir, fsync=config.spool_fsync, max_bytes=config.spool_max_bytes
        )
        self._stop = threading.Event()
        self._stop_deadline = 0.0
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.delivered_records = 0
        self.failed_attempts = 0
        self.last_error: str | None = None
        self.producer_pid: int | None = None

    # -- life cycle -----------------------------------------------------------
    def start(self) -> KafkaPublisher:
        self.spool.open()
        self._thread = threading.Thread(target=self._feed, name="kafka-feeder", daemon=True)
        self._thread.start()
        return self

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every accepted record is acknowledged by the broker."""
        deadline = time.monotonic() + timeout_s
        while not self.spool.is_drained():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what can be delivered within ``timeout_s``; the rest stays spooled."""
        self.flush(timeout_s)
        self._stop_deadline = time.monotonic() + 5
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s + 10)
        self.spool.close()

    # -- publishing -----------------------------------------------------------
    def publish_frame(self, frame: bytes, meta: FrameMeta, topic: str | None = None) -> None:
        self.spool.append(
            SpoolRecord(topic or self.topics.frames, meta.key, frame, tuple(meta.headers()))
        )

    def publish_contact_event(self, event: ContactEventMessage | ResourceEventMessage) -> None:
        self.spool.append(SpoolRecord(self.topics.contact_events, event.key, event.encode()))

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None:
        self.spool.append(SpoolRecord(self.topics.datasets, notice.key, notice.encode()))

    # -- feeding the producer process -------------------------------------------
    def _feed(self) -> None:
        """Run producer processes one after another until stopped: tell each how far
        the spool goes, commit what it reports acknowledged, replace it if it dies."""
        backoff_s = self.config.retry_backoff_ms / 1000
        while not self._stop.is_set():
            try:
                child = _ProducerChild(self.config, self.spool.committed)
            except OSError as exc:
                error = f"cannot start the producer process: {exc}"
            else:
                self.producer_pid = child.proc.pid
                try:
                    self._serve(child)
                except (EOFError, OSError) as exc:
                    log.debug("producer process connection ended: %s", exc)
                code = child.exited()
                child.end(self._stop_deadline - time.monotonic() if self._stop.is_set() else 1.0)
                self.connected.clear()
                if self._stop.is_set():
                    break
                error = f"producer process exited with code {code}"
            self.failed_attempts += 1
            self.last_error = error
            log.warning(
                "kafka delivery to %s: %s; records stay spooled, starting another in %.1f s",
                self.config.bootstrap_servers,
                error,
                backoff_s,
            )
            self._stop.wait(backoff_s)
            backoff_s = min(backoff_s * 2, self.config.retry_backoff_max_ms / 1000)

    def _serve(self, child: _ProducerChild) -> None:
        """Talk to one producer process until it stops or dies."""
        stop_sent = False
        while True:
            while child.conn.poll(0):
                if self._handle(child.conn.recv()):
                    return
            write_pos = self.spool.write_position
            if write_pos > child.sent:
                child.conn.send(("upto", write_pos))
                child.sent = write_pos
            if self._stop.is_set() and not stop_sent:
                child.conn.send(("stop",))
                stop_sent = True
            if stop_sent and time.monotonic() > self._stop_deadline:
                return
            if child.exited() is not None and not child.conn.poll(0):
                return
            if self.spool.is_drained():
                self.spool.wait_for_data(child.sent, 0.05)
            else:
                child.conn.poll(0.002)  # an acknowledgement, or the next batch of appends

    def _handle(self, msg: tuple[Any, ...]) -> bool:
        """Act on one message of the producer process; True when it has stopped."""
        kind = msg[0]
        if kind == "acked":
            self.spool.commit(msg[1])
            self.delivered_records += msg[2]
        elif kind == "connected":
            self.connected.set()
        elif kind == "failed":
            self.failed_attempts += 1
            self.last_error = msg[1]
            self.connected.clear()
            log.warning(
                "kafka delivery to %s failed (%s); records stay spooled, retrying in %.1f s",
                self.config.bootstrap_servers,
                msg[1],
                msg[2],
            )
        elif kind == "stopped":
            return True
        return False
