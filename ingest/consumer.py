"""Following a topic: a small API for pipeline users.

    from ingest.consumer import KafkaSource, follow_frames
    with KafkaSource("127.0.0.1:9092", topic) as source:
        for frame in follow_frames(source):
            print(frame.meta.sequence, len(frame.data))

Two sources give the same `RawRecord` stream: `KafkaSource` (a broker) and
`LocalLogSource` (the embedded local topic log written by
`ingest.publisher.LocalLogPublisher`). `follow_frames` decodes the frame
contract, can drop duplicates by (contact id, sequence) in bounded memory
and keep only the frames that decoded (``good_only``); `follow_messages`
decodes the contact-event and dataset-ready topics.

Delivery is at least once: `KafkaSource` in a consumer group commits a
record's offset only once the application has processed it, i.e. asked for
the next record (never Kafka's auto-commit, which commits what was polled,
processed or not). A consumer that dies between processing and the commit
gets the record again: deduplicate (frames: contact id and sequence; events
and notices: their content is idempotent). ``on_commit`` is called with the
offsets committed (for an application that records its progress too).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ingest import topiclog
from ingest.errors import ContractError
from ingest.topics import (
    ContactEventMessage,
    DatasetReadyMessage,
    FrameMeta,
    ResourceEventMessage,
    decode_contact_topic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class ReceivedFrame:
    """A decoded frame as consumed: the bytes, their metadata and where they came from."""

    data: bytes
    meta: FrameMeta
    key: bytes | None
    topic: str
    partition: int
    offset: int


class RecordSource(Protocol):
    def records(self, *, idle_timeout_s: float | None) -> Iterator[RawRecord]:
        """Records in order; stops after ``idle_timeout_s`` without a new one (None: never)."""
        ...

    def close(self) -> None: ...


class KafkaSource:
    """Follows one topic on a broker (all partitions; per-partition order).

    With ``group_id``, offsets are committed at least once (module
    docstring): before each poll, the offsets of the records the application
    has processed (the generator was resumed after yielding them), and on
    ``close`` likewise; the record being processed when the consumer stops is
    not committed and is delivered again to the group."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        group_id: str | None = None,
        from_beginning: bool = True,
        client_id: str = "groundstation-consumer",
        connect_timeout_s: float = 30.0,
        on_commit: Callable[[dict[tuple[str, int], int]], None] | None = None,
    ) -> None:
        from kafka import KafkaConsumer

        # kafka-python starts its IO thread before it bootstraps, and a
        # bootstrap that fails (no broker) leaves that thread running: the
        # client is made through this factory so it can be closed then.
        clients: list[Any] = []
        make_client = KafkaConsumer.DEFAULT_CONFIG.get("kafka_client")
        extra: dict[str, Any] = {}
        if make_client is not None:

            def kafka_client(**config: Any) -> Any:
                clients.append(make_client(**config))
                return clients[-1]

            extra["kafka_client"] = kafka_client

        self.topic = topic
        self.group_id = group_id
        self._on_commit = on_commit
        # (topic, partition) -> the next offset to read: every record before it processed.
        self._processed: dict[tuple[str, int], int] = {}
        try:
            self._consumer: Any = KafkaConsumer(
                topic,
                bootstrap_servers=bootstrap_servers,
                group_id=group_id,
                client_id=client_id,
                auto_offset_reset="earliest" if from_beginning else "latest",
                enable_auto_commit=False,
                fetch_max_wait_ms=20,
                bootstrap_timeout_ms=int(connect_timeout_s * 1000),
                **extra,
            )
        except BaseException:
            for client in clients:
                client.close()
            raise

    def records(self, *, idle_timeout_s: float | None = None) -> Iterator[RawRecord]:
        last = time.monotonic()
        while True:
            self.commit()
            polled = self._consumer.poll(timeout_ms=100, max_records=5000)
            got = False
            for batch in polled.values():
                for m in batch:
                    got = True
                    yield RawRecord(
                        topic=m.topic,
                        partition=m.partition,
                        offset=m.offset,
                        key=m.key,
                        value=m.value,
                        headers=tuple(m.headers or ()),
                        timestamp_ms=m.timestamp,
                    )
                    # Resumed: the application has processed this record.
                    self._processed[(m.topic, m.partition)] = m.offset + 1
            now = time.monotonic()
            if got:
                last = now
            elif idle_timeout_s is not None and now - last >= idle_timeout_s:
                self.commit()
                return

    def commit(self) -> dict[tuple[str, int], int]:
        """Commit the offsets of the records processed since the last commit
        (nothing without a group); what was committed: (topic, partition) ->
        next offset."""
        if self.group_id is None or not self._processed:
            return {}
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        done, self._processed = self._processed, {}
        self._consumer.commit(
            {
                TopicPartition(t, p): OffsetAndMetadata(offset, "", -1)
                for (t, p), offset in done.items()
            }
        )
        if self._on_commit is not None:
            self._on_commit(done)
        return done

    def close(self) -> None:
        try:
            self.commit()
        finally:
            self._consumer.close(autocommit=False)

    def __enter__(self) -> KafkaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalLogSource:
    """Follows one topic of the local topic log (segments under
    ``<directory>/<topic>/``, see `ingest.topiclog`).

    The position is (segment base offset, byte in it): rolling moves nothing,
    so it stays valid. When retention deleted the segment being read, reading
    continues at the next one kept (Kafka's ``auto.offset.reset=earliest``);
    ``records_skipped`` counts the records that were never read because of it.
    """

    def __init__(self, directory: Path, topic: str, *, from_beginning: bool = True) -> None:
        self.directory = Path(directory)
        self.topic = topic
        self._base: int | None = None
        self._pos = 0
        self._path: Path | None = None
        self._buffer = b""
        self._next_offset: int | None = None
        self.records_skipped = 0
        if not from_beginning:
            segs = topiclog.segments(self.directory, topic)
            if segs:
                self._base = segs[-1].base_offset
                self._pos = segs[-1].path.stat().st_size

    @property
    def path(self) -> Path:
        """The segment being read (or where the first one will be)."""
        return self._path or topiclog.topic_dir(self.directory, self.topic)

    def _read_chunk(self) -> bytes:
        """The next bytes of the topic (b"" when there are none yet); moves to
        the next segment at the end of a closed one."""
        while True:
            segs = topiclog.segments(self.directory, self.topic)
            if not segs:
                return b""
            if self._base is None:
                self._base, self._pos = segs[0].base_offset, 0
            current = next((s for s in segs if s.base_offset == self._base), None)
            if current is None:  # deleted by retention: continue at the next one kept
                later = [s for s in segs if s.base_offset > self._base]
                if not later:
                    return b""
                log.warning(
                    "%s: segment at offset %d was deleted by retention before it was read; "
                    "continuing at offset %d",
                    topiclog.topic_dir(self.directory, self.topic),
                    self._base,
                    later[0].base_offset,
                )
                expected = self._base if self._next_offset is None else self._next_offset
                self.records_skipped += max(0, later[0].base_offset - expected)
                self._base, self._pos, self._buffer = later[0].base_offset, 0, b""
                continue
            self._path = current.path
            try:
                with open(current.path, "rb") as f:
                    f.seek(self._pos)
                    chunk = f.read(1 << 20)
            except FileNotFoundError:
                continue  # deleted just now: list again
            if chunk or current is segs[-1]:
                self._pos += len(chunk)
                return chunk
            # A closed segment read to its end after its successor appeared
            # (nothing is appended to it any more): go on with the successor.
            following = segs[segs.index(current) + 1]
            self._base, self._pos = following.base_offset, 0

    def records(self, *, idle_timeout_s: float | None = None) -> Iterator[RawRecord]:
        last = time.monotonic()
        while True:
            chunk = self._read_chunk()
            if chunk:
                *lines, self._buffer = (self._buffer + chunk).split(b"\n")
                for line_no, line in enumerate(lines):
                    if line:
                        record = self._decode(line, line_no)
                        self._next_offset = record.offset + 1
                        yield record
                last = time.monotonic()
                continue
            if idle_timeout_s is not None and time.monotonic() - last >= idle_timeout_s:
                return
            time.sleep(0.05)

    def _decode(self, line: bytes, line_no: int) -> RawRecord:
        try:
            d = json.loads(line)
            key = None if d["key_b64"] is None else base64.b64decode(d["key_b64"])
            return RawRecord(
                topic=self.topic,
                partition=0,
                offset=int(d["offset"]),
                key=key,
                value=base64.b64decode(d["value_b64"]),
                headers=tuple((str(n), str(v).encode()) for n, v in d["headers"]),
                timestamp_ms=int(d["timestamp_ms"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ContractError(f"{self.path}: unreadable line near {self._pos}: {exc}") from exc

    def close(self) -> None:
        return None


class Deduplicator:
    """Drops a frame already seen, by (contact id, sequence number), in
    bounded memory: the sequences of the ``max_contacts`` contacts seen last,
    each within ``window`` of its highest; a sequence further behind is taken
    as seen (a redelivery replays recent records, not a whole pass)."""

    def __init__(self, *, max_contacts: int = 1024, window: int = 1 << 16) -> None:
        if max_contacts < 1 or window < 1:
            raise ValueError(f"max_contacts {max_contacts} and window {window} must be >= 1")
        self._seen: OrderedDict[str, tuple[int, set[int]]] = OrderedDict()
        self._max_contacts = max_contacts
        self._window = window
        self.duplicates = 0

    def first_time(self, meta: FrameMeta) -> bool:
        contact, seq = meta.contact_id, meta.sequence
        high, seen = self._seen.pop(contact, (-1, set()))
        self._seen[contact] = (high, seen)  # the most recently seen
        if len(self._seen) > self._max_contacts:
            self._seen.popitem(last=False)
        if seq in seen or (high >= 0 and seq <= high - self._window):
            self.duplicates += 1
            return False
        seen.add(seq)
        if seq > high:
            high = seq
            if len(seen) > 2 * self._window:
                seen.intersection_update(range(high - self._window + 1, high + 1))
            self._seen[contact] = (high, seen)
        return True


def follow_frames(
    source: RecordSource,
    *,
    norad_id: int | None = None,
    contact_id: str | None = None,
    deduplicate: bool = True,
    good_only: bool = False,
    idle_timeout_s: float | None = None,
    max_frames: int | None = None,
) -> Iterator[ReceivedFrame]:
    """Decoded frames from ``source`` with their metadata, optionally
    filtered; ``good_only``: only frames that passed their integrity checks
    (``FrameMeta.decoded_ok``: Reed-Solomon did not give up, the CRC if any
    matched)."""
    dedup = Deduplicator() if deduplicate else None
    count = 0
    if max_frames is not None and max_frames <= 0:
        return
    for rec in source.records(idle_timeout_s=idle_timeout_s):
        meta = FrameMeta.from_headers(rec.headers)
        if norad_id is not None and meta.norad_id != norad_id:
            continue
        if contact_id is not None and meta.contact_id != contact_id:
            continue
        if good_only and not meta.decoded_ok:
            continue
        if dedup is not None and not dedup.first_time(meta):
            continue
        yield ReceivedFrame(rec.value, meta, rec.key, rec.topic, rec.partition, rec.offset)
        count += 1
        if max_frames is not None and count >= max_frames:
            return


Message = ContactEventMessage | ResourceEventMessage | DatasetReadyMessage


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A contact event or dataset-ready notice as consumed, and where it came from."""

    message: Message
    key: bytes | None
    topic: str
    partition: int
    offset: int


def follow_messages(
    source: RecordSource,
    kind: type[ContactEventMessage] | type[DatasetReadyMessage],
    *,
    norad_id: int | None = None,
    contact_id: str | None = None,
    idle_timeout_s: float | None = None,
    max_messages: int | None = None,
) -> Iterator[ReceivedMessage]:
    """The messages of a contact-events (``ContactEventMessage``, and the
    ``ResourceEventMessage`` it carries too) or datasets
    (``DatasetReadyMessage``) topic, decoded against their contract
    (``ContractError`` naming the field of a record that breaks it),
    optionally filtered by satellite or contact (a resource event has no
    contact: left out by a contact filter)."""
    count = 0
    if max_messages is not None and max_messages <= 0:
        return
    for rec in source.records(idle_timeout_s=idle_timeout_s):
        message: Message = (
            decode_contact_topic(rec.value)
            if kind is ContactEventMessage
            else kind.decode(rec.value)
        )
        if norad_id is not None and message.norad_id != norad_id:
            continue
        if contact_id is not None and getattr(message, "contact_id", None) != contact_id:
            continue
        yield ReceivedMessage(message, rec.key, rec.topic, rec.partition, rec.offset)
        count += 1
        if max_messages is not None and count >= max_messages:
            return
