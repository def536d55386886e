"""The publisher interface and its embedded default, the local topic log.

`Publisher` is what the receiver and the contact lifecycle call. Two
implementations: `ingest.kafka_publisher.KafkaPublisher` (a real broker,
through a durable spool) and `LocalLogPublisher` (no broker: append-only
JSON-lines segment files per topic, see `ingest.topiclog`, readable by
`ingest.consumer.LocalLogSource` and ``groundstation consume``).

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from ingest import topiclog
from ingest.config import KafkaConfig
from ingest.errors import IngestError
from ingest.topiclog import TopicRetention
from ingest.topics import (
    ContactEventMessage,
    ContactEventState,
    ContactVerdict,
    DatasetReadyMessage,
    FrameMeta,
    ResourceEventMessage,
    ResourceKind,
    ResourceStatus,
    TopicNames,
    VerdictSource,
)


class Publisher(Protocol):
    """Publishes frames, contact events and dataset-ready notices.

    ``publish_*`` never waits for the network; ``flush`` waits until every
    accepted message is delivered (True) or the timeout passes (False).
    """

    topics: TopicNames

    def publish_frame(self, frame: bytes, meta: FrameMeta, topic: str | None = None) -> None:
        """``frame`` on ``topic`` (a mission profile's own frames topic,
        ``kafka_topic``), else on ``topics.frames``."""
        ...

    def publish_contact_event(self, event: ContactEventMessage | ResourceEventMessage) -> None:
        """A contact or resource event, on the contact-events topic."""

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> bool: ...

    def close(self, timeout_s: float = 10.0) -> None: ...


@dataclass
class _ActiveSegment:
    """This process's view of a topic's active segment."""

    fd: int
    base_offset: int
    known_size: int = -1
    next_offset: int = 0
    first_ms: int | None = None


class LocalLogPublisher:
    """Append-only local topic log in segments: ``<directory>/<topic>/<base>.jsonl``
    (layout, rolling and retention: `ingest.topiclog`).

    Every append is one ``os.write`` of a whole line under an exclusive
    ``flock`` of the active segment, so several processes may publish to one
    directory and a killed process leaves whole lines only. ``retention``
    (one for every topic, or per topic name) decides when a segment is
    rolled; `ingest.topiclog.apply_retention` deletes old ones. Records are
    stamped with ``wall_clock_ms()`` (Kafka's CreateTime).
    """

    def __init__(
        self,
        directory: Path,
        topics: TopicNames,
        *,
        fsync: bool = False,
        retention: TopicRetention | Mapping[str, TopicRetention] | None = None,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.directory = Path(directory)
        self.wall_clock_ms = wall_clock_ms
        self.topics = topics
        self.fsync = fsync
        self.retention = retention
        self._lock = threading.Lock()
        self._active: dict[str, _ActiveSegment] = {}
        self._retention: dict[str, TopicRetention] = {}
        self._closed = False

    def retention_for(self, topic: str) -> TopicRetention:
        found = self._retention.get(topic)
        if found is None:
            if isinstance(self.retention, TopicRetention):
                found = self.retention
            elif self.retention is not None and topic in self.retention:
                found = self.retention[topic]
            elif self.retention is not None and self.topics.frames in self.retention:
                # A mission profile's own frames topic: kept as the frames topic.
                found = self.retention[self.topics.frames]
            else:
                found = TopicRetention()
            self._retention[topic] = found
        return found

    def _open_active(self, topic: str) -> _ActiveSegment:
        """Open the topic's newest segment (creating segment 0 for a new topic)."""
        topiclog.migrate_legacy(self.directory, topic)
        while True:
            segs = topiclog.segments(self.directory, topic)
            if segs:
                base, path = segs[-1].base_offset, segs[-1].path
            else:
                base, path = 0, topiclog.start_segment(self.directory, topic, 0)
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except FileNotFoundError:
                continue  # deleted between listing and opening: list again
            return _ActiveSegment(fd, base)

    def _locked_active(self, topic: str, now_ms: int) -> tuple[_ActiveSegment, int]:
        """The active segment, locked, and the offset of the next record: follows
        a segment rolled by another process, and rolls the segment when due."""
        act = self._active.get(topic) or self._open_active(topic)
        self._active[topic] = act
        retention = self.retention_for(topic)
        while True:
            fcntl.flock(act.fd, fcntl.LOCK_EX)
            st = os.fstat(act.fd)
            if st.st_size == act.known_size:
                offset = act.next_offset
            else:  # first append, or another process appended since ours
                offset = act.base_offset + topiclog.count_lines(act.fd)
            if act.first_ms is None and st.st_size > 0:
                act.first_ms = topiclog.first_timestamp_ms(act.fd)
            # Another process rolled this segment (sealed it; its successor
            # starts at ``offset``), or retention deleted it while idle.
            rolled_elsewhere = (
                st.st_nlink == 0
                or topiclog.is_sealed(st)
                or (
                    st.st_size != act.known_size
                    and offset > act.base_offset
                    and topiclog.segment_path(self.directory, topic, offset).exists()
                )
            )
            if rolled_elsewhere:
                fcntl.flock(act.fd, fcntl.LOCK_UN)
                os.close(act.fd)
                act = self._active[topic] = self._open_active(topic)
                continue
            if topiclog.roll_due(st.st_size, act.first_ms, retention, now_ms):
                path = topiclog.start_segment(self.directory, topic, offset)
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
                topiclog.seal(act.fd)
                fcntl.flock(act.fd, fcntl.LOCK_UN)
                os.close(act.fd)
                act = self._active[topic] = _ActiveSegment(fd, offset, 0, offset)
                continue
            return act, offset

    def append(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> int:
        """Append one record; returns its offset."""
        with self._lock:
            if self._closed:
                raise IngestError(f"local topic log {self.directory} is closed")
            now_ms = self.wall_clock_ms()
            act, offset = self._locked_active(topic, now_ms)
            try:
                line = (
                    json.dumps(
                        {
                            "offset": offset,
                            "timestamp_ms": now_ms,
                            "key_b64": None if key is None else base64.b64encode(key).decode(),
                            "headers": [[n, v.decode()] for n, v in headers],
                            "value_b64": base64.b64encode(value).decode(),
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                ).encode()
                os.write(act.fd, line)
                if self.fsync:
                    os.fsync(act.fd)
                act.next_offset = offset + 1
                act.known_size = os.fstat(act.fd).st_size
                if act.first_ms is None:
                    act.first_ms = now_ms
            finally:
                fcntl.flock(act.fd, fcntl.LOCK_UN)
            return offset

    def publish_frame(self, frame: bytes, meta: FrameMeta, topic: str | None = None) -> None:
        self.append(topic or self.topics.frames, meta.key, frame, meta.headers())

    def publish_contact_event(self, event: ContactEventMessage | ResourceEventMessage) -> None:
        self.append(self.topics.contact_events, event.key, event.encode(), [])

    def publish_dataset_ready(self, notice: DatasetReadyMessage) -> None:
        self.append(self.topics.datasets, notice.key, notice.encode(), [])

    def flush(self, timeout_s: float = 30.0) -> bool:
        return True  # every append is already in the file

    def close(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            for act in self._active.values():
                os.close(act.fd)
            self._active = {}
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


@runtime_checkable
class ResourceEventLike(Protocol):
    """What ``groundstation.events.ResourceEvent`` provides."""

    @property
    def kind(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def old_status(self) -> str: ...
    @property
    def new_status(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def reason(self) -> str: ...
    @property
    def norad_id(self) -> int | None: ...
    @property
    def station(self) -> str | None: ...
    @property
    def antenna(self) -> str | None: ...
    @property
    def in_force(self) -> bool | None: ...


def resource_event_message(event: ResourceEventLike) -> ResourceEventMessage:
    """The contract of a resource event: on the events topic, on the SSE
    stream (``event: resource``) and in webhooks (the same fields)."""
    return ResourceEventMessage(
        kind=ResourceKind(event.kind),
        subject_id=event.subject_id,
        old_status=ResourceStatus(event.old_status),
        new_status=ResourceStatus(event.new_status),
        at=event.at,
        reason=event.reason,
        norad_id=event.norad_id,
        station=event.station,
        antenna=event.antenna,
        in_force=event.in_force,
    )


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

    def publish(self, event: ContactEventLike | ResourceEventLike) -> None:
        if isinstance(event, ResourceEventLike):
            self.publisher.publish_contact_event(resource_event_message(event))
            return
        norad_id, station, antenna = (
            self.details(event.contact_id) if self.details else (None, None, None)
        )
        self.publisher.publish_contact_event(
            contact_event_message(event, norad_id=norad_id, station=station, antenna=antenna)
        )


def contact_event_message(
    event: ContactEventLike,
    *,
    norad_id: int | None,
    station: str | None,
    antenna: str | None,
) -> ContactEventMessage:
    """The contract of a contact event: the events topic's message, and the
    data of the API's Server-Sent Events (the same fields in both)."""
    return ContactEventMessage(
        contact_id=event.contact_id,
        old_state=ContactEventState(event.old_state),
        new_state=ContactEventState(event.new_state),
        at=event.at,
        reason=event.reason,
        norad_id=norad_id,
        station=station,
        antenna=antenna,
        verdict=_optional(ContactVerdict, getattr(event, "verdict", None)),
        verdict_source=_optional(VerdictSource, getattr(event, "verdict_source", None)),
    )


_E = TypeVar("_E", ContactVerdict, VerdictSource)


def _optional(enum: type[_E], value: str | None) -> _E | None:
    """``value`` as ``enum`` (events that set no verdict have none: None)."""
    return None if value is None else enum(value)


def open_publisher(config: KafkaConfig) -> Publisher:
    """The configured publisher: Kafka (with its spool) or the local topic log."""
    topics = TopicNames(config.topic_prefix)
    if config.bootstrap_servers is None:
        return LocalLogPublisher(
            config.local_log_dir,
            topics,
            retention={t: config.retention_for(t) for t in topics.all()},
        )
    from ingest.kafka_publisher import KafkaPublisher

    return KafkaPublisher(config).start()
