"""Publishing to a real Kafka broker through the durable spool.

``publish_*`` appends the record to the on-disk `Spool` and returns: it never
waits for the broker. A drainer thread reads the spool in order and hands the
records to a kafka-python producer configured for no loss (acks=all,
idempotence, bounded retries with back-off, batching and compression). The
spool cursor moves only past records the broker acknowledged, so frames
accepted while the broker is down -- or before the process was killed -- are
sent once it is reachable again, in their original order. A record whose
delivery failed after the producer's bounded retries is sent again from the
cursor with a fresh producer; consumers drop the rare duplicate by
(contact id, sequence).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from ingest.config import KafkaConfig
from ingest.errors import IngestError
from ingest.spool import Spool, SpoolPosition, SpoolRecord
from ingest.topics import ContactEventMessage, DatasetReadyMessage, FrameMeta, TopicNames

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
        self._thread: threading.Thread | None = None
        self._producer: Any = None
        self._topics_ready = False
        self.connected = threading.Event()
        self.delivered_records = 0
        self.failed_attempts = 0
        self.last_error: str | None = None

    # -- life cycle -----------------------------------------------------------
    def start(self) -> KafkaPublisher:
        self.spool.open()
        self._thread = threading.Thread(target=self._drain, name="kafka-drainer", daemon=True)
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
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s + 5)
        self.spool.close()

    # -- publishing -----------------------------------------------------------
    def publish_frame(self, frame: bytes, meta: FrameMeta) -> None:
        self.spool.append(SpoolRecord(self.topics.frames, meta.key, frame, tuple(meta.headers())))

    def publish_contact_event(self, event: ContactEventMessage) -> None:
        self.spool.append(SpoolRecord(self.topics.contact_events, event.key, event.encode()))

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None:
        self.spool.append(SpoolRecord(self.topics.datasets, notice.key, notice.encode()))

    # -- drainer --------------------------------------------------------------
    def _new_producer(self) -> Any:
        c = self.config
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
        )

    def _drop_producer(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:  # closing a broken producer must not stop draining
                log.debug("closing failed producer raised", exc_info=True)
        self._producer = None
        self.connected.clear()

    def _drain(self) -> None:
        """The drainer thread: spool -> producer -> acknowledged cursor, until
        stopped with nothing in flight (or no broker to wait for)."""
        backoff_s = self.config.retry_backoff_ms / 1000
        drain = _DrainState(read_pos=self.spool.committed, last_commit=time.monotonic())
        while not (self._stop.is_set() and (not drain.inflight or self._producer is None)):
            try:
                if self._producer is None:
                    if not self._connect(drain):
                        continue
                    backoff_s = self.config.retry_backoff_ms / 1000
                self._drain_once(drain)
            except Exception as exc:  # any failure: spool keeps the records
                self._on_delivery_failure(exc, drain, backoff_s)
                self._stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, self.config.retry_backoff_max_ms / 1000)
        if drain.pending_commit is not None:
            self.spool.commit(drain.pending_commit)
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:
                log.debug("producer close raised", exc_info=True)
            self._producer = None

    def _connect(self, drain: _DrainState) -> bool:
        """A producer (and the topics, the first time) once there is something
        to send; False while the spool is empty."""
        if self.spool.is_drained() and self._topics_ready:
            self.spool.wait_for_data(drain.read_pos, 0.1)
            if self.spool.is_drained():
                return False
        if not self._topics_ready:
            assert self.config.bootstrap_servers is not None
            ensure_topics(
                self.config.bootstrap_servers,
                self.topics.all(),
                partitions=self.config.partitions,
                replication_factor=self.config.replication_factor,
                client_id=f"{self.config.client_id}-admin",
                topic_configs={
                    t: self.config.retention_for(t).kafka_configs() for t in self.topics.all()
                },
            )
            self._topics_ready = True
        self._producer = self._new_producer()
        self.connected.set()
        drain.restart_at(self.spool.committed)
        return True

    def _drain_once(self, drain: _DrainState) -> None:
        """Send the next batch, move the cursor past what is acknowledged, and
        wait a little when there is nothing new to send."""
        batch = self.spool.read(drain.read_pos, max_bytes=1 << 20)
        for record, end in batch:
            future = self._producer.send(
                record.topic,
                value=record.value,
                key=record.key,
                headers=list(record.headers),
            )
            drain.sent(end, future, len(record.value) + 256)  # + key, headers, overhead
        if batch:
            drain.read_pos = batch[-1][1]
        self._acknowledge(drain)
        now = time.monotonic()
        if drain.pending_commit is not None and (
            not drain.inflight or now - drain.last_commit > 0.05
        ):
            self.spool.commit(drain.pending_commit)
            drain.pending_commit = None
            drain.last_commit = now
        if not batch:
            if drain.inflight:
                # wait briefly for the oldest in-flight record; a failure
                # is raised by the acknowledgement step next time
                with contextlib.suppress(Exception):
                    drain.inflight[0][1].get(timeout=0.05)
            else:
                self.spool.wait_for_data(drain.read_pos, 0.05)
        elif drain.inflight_bytes > _MAX_INFLIGHT_BYTES:
            self._producer.flush(timeout=self.config.delivery_timeout_ms / 1000)

    def _acknowledge(self, drain: _DrainState) -> None:
        """Move past every acknowledged record at the head of what is in
        flight; raises the failure of the first one that failed."""
        while drain.inflight and drain.inflight[0][1].is_done:
            end, future, size = drain.inflight[0]
            if future.failed():
                raise future.exception
            drain.inflight.popleft()
            drain.inflight_bytes -= size
            drain.pending_commit = end
            self.delivered_records += 1

    def _on_delivery_failure(self, exc: Exception, drain: _DrainState, backoff_s: float) -> None:
        """Count and log the failure, keep what was acknowledged, and start
        again from the cursor with a new producer after the back-off."""
        self.failed_attempts += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "kafka delivery to %s failed (%s); records stay spooled, retrying in %.1f s",
            self.config.bootstrap_servers,
            self.last_error,
            backoff_s,
        )
        if drain.pending_commit is not None:
            self.spool.commit(drain.pending_commit)
            drain.pending_commit = None
        self._drop_producer()
        drain.restart_at(self.spool.committed)


#: What is handed to the producer is kept well below its buffer (32 MiB by
#: default), so send() never blocks on a full buffer and times out.
_MAX_INFLIGHT_BYTES = 16 * 1024 * 1024


@dataclass
class _DrainState:
    """The drainer's position: where the next spool read starts, the records
    handed to the producer and not yet acknowledged (oldest first: end
    position, future, size), and the acknowledged position not yet committed."""

    read_pos: SpoolPosition
    last_commit: float
    inflight: collections.deque[tuple[SpoolPosition, Any, int]] = field(
        default_factory=collections.deque
    )
    inflight_bytes: int = 0
    pending_commit: SpoolPosition | None = None

    def sent(self, end: SpoolPosition, future: Any, size: int) -> None:
        self.inflight.append((end, future, size))
        self.inflight_bytes += size

    def restart_at(self, read_pos: SpoolPosition) -> None:
        """Forget what is in flight and read again from ``read_pos``."""
        self.read_pos = read_pos
        self.inflight.clear()
        self.inflight_bytes = 0
