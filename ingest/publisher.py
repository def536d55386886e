"""The publisher interface and its embedded default, the local topic log.

`Publisher` is what the receiver and the contact lifecycle call. Two
implementations: `ingest.kafka_publisher.KafkaPublisher` (a real broker,
through a durable spool) and `LocalLogPublisher` (no broker: one append-only
JSON-lines file per topic, readable by `ingest.consumer.LocalLogSource` and
``groundstation consume``).

Local log line format (one JSON object per line, in offset order)::

    {"offset": 0, "timestamp_ms": 1764205323123, "key_b64": "MjU1NDQ=",
     "headers": [["contact-id", "c-1"], ...], "value_b64": "..."}
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ingest.config import KafkaConfig
from ingest.errors import IngestError
from ingest.topics import ContactEventMessage, DatasetReadyMessage, FrameMeta, TopicNames


class Publisher(Protocol):
    """Publishes frames, contact events and dataset-ready notices.

    ``publish_*`` never waits for the network; ``flush`` waits until every
    accepted message is delivered (True) or the timeout passes (False).
    """

    topics: TopicNames

    def publish_frame(self, frame: bytes, meta: FrameMeta) -> None: ...

    def publish_contact_event(self, event: ContactEventMessage) -> None: ...

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> bool: ...

    def close(self, timeout_s: float = 10.0) -> None: ...


class LocalLogPublisher:
    """Append-only local topic log: ``<directory>/<topic>.jsonl``.

    Every append is one ``os.write`` of a whole line under an exclusive
    ``flock``, so several processes may publish to one directory and a killed
    process leaves whole lines only.
    """

    def __init__(self, directory: Path, topics: TopicNames, *, fsync: bool = False) -> None:
        self.directory = Path(directory)
        self.topics = topics
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fds: dict[str, int] = {}
        self._next_offset: dict[str, int] = {}
        self._known_size: dict[str, int] = {}
        self._closed = False

    def _fd(self, topic: str) -> int:
        fd = self._fds.get(topic)
        if fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(  # 0666 less the umask: a file, never executable
                self.directory / f"{topic}.jsonl", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666
            )
            self._fds[topic] = fd
        return fd

    def append(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> int:
        """Append one record; returns its offset."""
        with self._lock:
            if self._closed:
                raise IngestError(f"local topic log {self.directory} is closed")
            fd = self._fd(topic)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                if self._known_size.get(topic) == size:
                    offset = self._next_offset[topic]
                else:  # first append, or another process appended since ours
                    offset = _count_lines(fd)
                line = (
                    json.dumps(
                        {
                            "offset": offset,
                            "timestamp_ms": int(time.time() * 1000),
                            "key_b64": None if key is None else base64.b64encode(key).decode(),
                            "headers": [[n, v.decode()] for n, v in headers],
                            "value_b64": base64.b64encode(value).decode(),
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                ).encode()
                os.write(fd, line)
                if self.fsync:
                    os.fsync(fd)
                self._next_offset[topic] = offset + 1
                self._known_size[topic] = os.fstat(fd).st_size
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            return offset

    def publish_frame(self, frame: bytes, meta: FrameMeta) -> None:
        self.append(self.topics.frames, meta.key, frame, meta.headers())

    def publish_contact_event(self, event: ContactEventMessage) -> None:
        self.append(self.topics.contact_events, event.key, event.encode(), [])

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None:
        self.append(self.topics.datasets, notice.key, notice.encode(), [])

    def flush(self, timeout_s: float = 30.0) -> bool:
        return True  # every append is already in the file

    def close(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds = {}
            self._closed = True


class ContactEventLike(Protocol):
    """What ``groundstation.events.ContactEvent`` provides (ingest may not import it)."""

    @property
    def contact_id(self) -> str: ...
    @property
    def old_state(self) -> str: ...
    @property
    def new_state(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def reason(self) -> str: ...


class PublisherEventSink:
    """An event sink (``publish(event)``) that puts contact events on the events topic.

    ``details(contact_id)`` may return (norad_id, station, antenna) to enrich
    the message; without it those fields are null.
    """

    def __init__(
        self,
        publisher: Publisher,
        *,
        details: Callable[[str], tuple[int | None, str | None, str | None]] | None = None,
    ) -> None:
        self.publisher = publisher
        self.details = details

    def publish(self, event: ContactEventLike) -> None:
        norad_id, station, antenna = (
            self.details(event.contact_id) if self.details else (None, None, None)
        )
        self.publisher.publish_contact_event(
            ContactEventMessage(
                contact_id=event.contact_id,
                old_state=event.old_state,
                new_state=event.new_state,
                at=event.at,
                reason=event.reason,
                norad_id=norad_id,
                station=station,
                antenna=antenna,
            )
        )


def _count_lines(fd: int) -> int:
    count = 0
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return count
        count += chunk.count(b"\n")
        offset += len(chunk)


def open_publisher(config: KafkaConfig) -> Publisher:
    """The configured publisher: Kafka (with its spool) or the local topic log."""
    topics = TopicNames(config.topic_prefix)
    if config.bootstrap_servers is None:
        return LocalLogPublisher(config.local_log_dir, topics)
    from ingest.kafka_publisher import KafkaPublisher

    return KafkaPublisher(config).start()
