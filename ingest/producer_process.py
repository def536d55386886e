"""The Kafka producer of a `KafkaPublisher`, in a process of its own.

kafka-python's producer spends about as much interpreter time per record as
the spool append does; in one process they share one GIL and the publish rate
was capped near the producer's own rate halved (bench/ingest.py, issue 17).
Here the producer runs in a child process started with ``python -m
ingest.producer_process FD``; the publishing process only appends to the
spool.

Durability stays with the spool: the child reads records from the spool's
files (`ingest.spool.SpoolReader`), never writes there, and only reports what
the broker acknowledged; the owning process moves the cursor. A child that
crashes or is killed loses nothing: the owner starts another one from the
cursor. The child exits when the owner dies (pipe closed; on Linux also
``PR_SET_PDEATHSIG``).

Messages over the socket pair (pickled tuples, `multiprocessing.connection`):

* owner -> child: ``("start", KafkaConfig, SpoolPosition)`` once, then
  ``("upto", SpoolPosition)`` (the spool holds whole records up to there)
  and ``("stop",)``;
* child -> owner: ``("connected",)``, ``("acked", SpoolPosition, n_records)``,
  ``("failed", text, retry_in_s)`` and ``("stopped",)``.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from kafka import KafkaProducer
from kafka.partitioner.default import DefaultPartitioner

from ingest.config import KafkaConfig
from ingest.kafka_publisher import ensure_topics
from ingest.spool import SpoolPosition, SpoolReader
from ingest.topics import TopicNames

# Keep what is handed to the producer well below its buffer (32 MiB by
# default), so send() never blocks on a full buffer and times out.
MAX_INFLIGHT_BYTES = 16 * 1024 * 1024
ACK_REPORT_INTERVAL_S = 0.02


class KeyPartitionCache(DefaultPartitioner):
    """kafka-python's default partitioner (murmur2 of the key, as Java's), with
    the answer kept per (topic, key, partition count): our keys are a few
    NORAD ids, and the pure-Python murmur2 per record showed in the profile."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple[str, bytes, int], int] = {}

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        n = len(cluster.partitions_for_topic(topic) or ())
        cached = self._cache.get((topic, serialized_key, n))
        if cached is None:
            cached = super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            if len(self._cache) < 65536:
                self._cache[(topic, serialized_key, n)] = cached
        return cached


def new_producer(config: KafkaConfig) -> Any:
    """A kafka-python producer configured for no loss: acks=all, idempotence."""
    c = config
    return KafkaProducer(
        bootstrap_servers=c.bootstrap_servers,
        client_id=c.client_id,
        acks="all",
        enable_idempotence=True,
        retries=c.retries,
        retry_backoff_ms=c.retry_backoff_ms,
        reconnect_backoff_ms=50,
        reconnect_backoff_max_ms=c.retry_backoff_max_ms,
        delivery_timeout_ms=c.delivery_timeout_ms,
        request_timeout_ms=c.request_timeout_ms,
        max_in_flight_requests_per_connection=5,
        compression_type=c.compression_type,
        linger_ms=c.linger_ms,
        batch_size=c.batch_bytes,
        max_block_ms=5000,
        partitioner=KeyPartitionCache(),
    )


class OwnerGone(Exception):
    """The owning process closed its end of the pipe (it exited or was killed)."""


class Drainer:
    """Sends the spool from ``start`` in order and reports acknowledged positions."""

    def __init__(self, conn: Connection, config: KafkaConfig, start: SpoolPosition) -> None:
        self.conn = conn
        self.config = config
        self.reader = SpoolReader(config.spool_dir)
        self.limit = start  # the owner's write position, as last reported
        self.acked = start  # reported to the owner
        self.read_pos = start
        self.inflight: collections.deque[tuple[SpoolPosition, Any, int]] = collections.deque()
        self.inflight_bytes = 0
        self.pending: SpoolPosition | None = None
        self.pending_n = 0
        self.last_report = time.monotonic()
        self.producer: Any = None
        self.topics_ready = False
        self.known_topics: set[str] = set()
        self.stopping = False

    # -- messages ---------------------------------------------------------------
    def receive(self, timeout_s: float) -> None:
        """Handle the owner's messages, waiting up to ``timeout_s`` for the first."""
        try:
            ready = self.conn.poll(timeout_s)
            while ready:
                msg = self.conn.recv()
                if msg[0] == "upto":
                    self.limit = max(self.limit, msg[1])
                elif msg[0] == "stop":
                    self.stopping = True
                ready = self.conn.poll(0)
        except (EOFError, OSError) as exc:
            raise OwnerGone from exc

    def report_acked(self) -> None:
        if self.pending is not None:
            self.conn.send(("acked", self.pending, self.pending_n))
            self.acked = self.pending
            self.pending = None
            self.pending_n = 0
            self.last_report = time.monotonic()

    # -- the loop ---------------------------------------------------------------
    def run(self) -> None:
        backoff_s = self.config.retry_backoff_ms / 1000
        timeout_s = 0.0
        while True:
            self.receive(timeout_s)
            if self.stopping and (not self.inflight or self.producer is None):
                break
            try:
                if self.producer is None:
                    if not self.connect():
                        timeout_s = 0.05
                        continue
                    backoff_s = self.config.retry_backoff_ms / 1000
                timeout_s = self.step()
            except OwnerGone:
                raise
            except Exception as exc:  # any failure: the spool keeps the records
                self.recover(f"{type(exc).__name__}: {exc}", backoff_s)
                backoff_s = min(backoff_s * 2, self.config.retry_backoff_max_ms / 1000)
                timeout_s = 0.0
        self.report_acked()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                self.producer.close(timeout=5)
        self.conn.send(("stopped",))

    def connect(self) -> bool:
        """Make the topics (once) and a producer when there is something to send."""
        if self.read_pos >= self.limit and self.topics_ready:
            return False
        if not self.topics_ready:
            self.ensure(TopicNames(self.config.topic_prefix).all())
            self.topics_ready = True
        self.producer = new_producer(self.config)
        self.read_pos = self.acked
        self.conn.send(("connected",))
        return True

    def ensure(self, names: tuple[str, ...] | list[str]) -> None:
        """Create the topics in ``names`` this process has not seen yet, with
        the partitions and retention configured (a mission profile's own
        frames topic is made on its first frame: the broker does not
        auto-create topics)."""
        c = self.config
        assert c.bootstrap_servers is not None
        new = [n for n in names if n not in self.known_topics]
        if not new:
            return
        ensure_topics(
            c.bootstrap_servers,
            new,
            partitions=c.partitions,
            replication_factor=c.replication_factor,
            client_id=f"{c.client_id}-admin",
            topic_configs={t: c.retention_for(t).kafka_configs() for t in new},
        )
        self.known_topics.update(new)

    def step(self) -> float:
        """Hand the next records to the producer, collect acknowledgements; returns
        how long to wait for the owner's next message."""
        batch = [] if self.stopping else self.reader.read(self.read_pos, self.limit)
        unseen = {record.topic for record, _ in batch} - self.known_topics
        if unseen:
            self.ensure(sorted(unseen))
        send = self.producer.send
        for record, end in batch:
            future = send(
                record.topic, value=record.value, key=record.key, headers=list(record.headers)
            )
            size = len(record.value) + 256  # + key, headers and record overhead
            self.inflight.append((end, future, size))
            self.inflight_bytes += size
        if batch:
            self.read_pos = batch[-1][1]
        self.collect_acks()
        if self.pending is not None and (
            not self.inflight or time.monotonic() - self.last_report > ACK_REPORT_INTERVAL_S
        ):
            self.report_acked()
        if self.inflight_bytes > MAX_INFLIGHT_BYTES:
            self.producer.flush(timeout=self.config.delivery_timeout_ms / 1000)
        if batch and self.read_pos < self.limit:
            return 0.0
        return 0.002 if self.inflight or batch else 0.05

    def collect_acks(self) -> None:
        """Move past every acknowledged record at the head of the in-flight queue."""
        inflight = self.inflight
        while inflight and inflight[0][1].is_done:
            end, future, size = inflight[0]
            if future.failed():
                raise future.exception
            inflight.popleft()
            self.inflight_bytes -= size
            self.pending = end
            self.pending_n += 1

    def recover(self, error: str, backoff_s: float) -> None:
        """After a failed delivery: report, drop the producer, rewind to the last
        acknowledged record and wait ``backoff_s`` (still listening to the owner)."""
        self.report_acked()
        self.conn.send(("failed", error, backoff_s))
        if self.producer is not None:
            with contextlib.suppress(Exception):  # closing a broken producer must not stop us
                self.producer.close(timeout=0)
        self.producer = None
        self.inflight.clear()
        self.inflight_bytes = 0
        self.read_pos = self.acked
        until = time.monotonic() + backoff_s
        while not self.stopping and (left := until - time.monotonic()) > 0:
            self.receive(left)


def _die_with_owner(owner_pid: int) -> None:
    """Linux: have the kernel kill this process when the owner dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != owner_pid:  # it died before the line above
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    fd, owner_pid = int(args[0]), int(args[1])
    _die_with_owner(owner_pid)
    conn = Connection(fd)
    try:
        msg = conn.recv()
        if msg[0] != "start":
            raise SystemExit(f"expected a start message, got {msg[0]!r}")
        Drainer(conn, msg[1], msg[2]).run()
    except (OwnerGone, EOFError, OSError):
        os._exit(0)  # the owner is gone: nothing to report to, the spool keeps all
    return 0


if __name__ == "__main__":
    sys.exit(main())
