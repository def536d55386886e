"""The embedded local topic log on disk: segments, rolling and retention.

One directory per topic under the log directory, holding JSON-lines segment
files named by the offset of their first record (Kafka's layout)::

    <log dir>/<topic>/00000000000000000000.jsonl
    <log dir>/<topic>/00000000000000004711.jsonl   <- the active segment (highest base)

Records are appended to the active segment only (`ingest.publisher.
LocalLogPublisher`). A segment is *rolled* -- the next record starts a new
file -- once it holds ``segment_bytes`` or its first record is
``segment_ms`` old. `apply_retention` deletes whole closed segments, oldest
first, as Kafka's ``retention.ms`` / ``retention.bytes`` do: a segment whose
newest record is older than ``retention_ms``, and segments while the topic
without them would still hold at least ``retention_bytes``. The active
segment is never deleted (an idle one is rolled once it is ``segment_ms``
old, so its records expire too). A rolled segment is made read-only
(`seal`): that is how a publisher in another process notices the roll. Readers (`ingest.consumer.LocalLogSource`)
identify a segment by its base offset, so rolling renames nothing; a reader
whose segment was deleted continues at the oldest one left (Kafka's
``auto.offset.reset=earliest``).

A log written before segments existed (one ``<topic>.jsonl`` file) is read
as the segment at offset 0 and moved into the topic's directory by the next
publisher.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import IngestError

SEGMENT_SUFFIX = ".jsonl"
_DIGITS = 20


@dataclass(frozen=True, slots=True)
class TopicRetention:
    """Rolling and retention of one topic (Kafka's topic configs of the same names).

    ``None`` for ``retention_ms`` / ``retention_bytes`` keeps records forever
    (Kafka's -1); ``segment_ms`` None rolls by size only.
    """

    retention_ms: int | None = 7 * 24 * 3600 * 1000
    retention_bytes: int | None = None
    segment_bytes: int = 16 * 1024 * 1024
    segment_ms: int | None = 24 * 3600 * 1000

    def __post_init__(self) -> None:
        for name in ("retention_ms", "retention_bytes", "segment_ms"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}={value} must be >= 1 (or None: no limit)")
        if self.segment_bytes < 1024:
            raise ValueError(f"segment_bytes={self.segment_bytes} is too small; use >= 1024")

    def kafka_configs(self) -> dict[str, str]:
        """The same settings as Kafka topic configs (``NewTopic(topic_configs=...)``)."""
        out = {
            "retention.ms": str(self.retention_ms if self.retention_ms is not None else -1),
            "retention.bytes": str(
                self.retention_bytes if self.retention_bytes is not None else -1
            ),
        }
        if self.segment_ms is not None:
            out["segment.ms"] = str(self.segment_ms)
        return out


@dataclass(frozen=True, slots=True)
class Segment:
    base_offset: int
    path: Path


@dataclass
class RetentionReport:
    """What `apply_retention` did to one topic."""

    topic: str
    rolled: bool = False
    deleted: list[Segment] = field(default_factory=list)
    deleted_bytes: int = 0


def topic_dir(directory: Path, topic: str) -> Path:
    return Path(directory) / topic


def segment_path(directory: Path, topic: str, base_offset: int) -> Path:
    return topic_dir(directory, topic) / f"{base_offset:0{_DIGITS}d}{SEGMENT_SUFFIX}"


def legacy_path(directory: Path, topic: str) -> Path:
    """The single file of a log written before segments existed."""
    return Path(directory) / f"{topic}{SEGMENT_SUFFIX}"


def segments(directory: Path, topic: str) -> list[Segment]:
    """The topic's segments, oldest first; the last one is the active segment."""
    out: list[Segment] = []
    folder = topic_dir(directory, topic)
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        names = []
    for name in names:
        stem = name[: -len(SEGMENT_SUFFIX)]
        if name.endswith(SEGMENT_SUFFIX) and len(stem) == _DIGITS and stem.isdigit():
            out.append(Segment(int(stem), folder / name))
    out.sort(key=lambda s: s.base_offset)
    legacy = legacy_path(directory, topic)
    if not out and legacy.exists():
        out.append(Segment(0, legacy))
    return out


def count_lines(fd: int) -> int:
    count = 0
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return count
        count += chunk.count(b"\n")
        offset += len(chunk)


def first_timestamp_ms(fd: int) -> int | None:
    """``timestamp_ms`` of a segment's first record (None: empty or unreadable)."""
    line = os.pread(fd, 64 * 1024, 0).split(b"\n", 1)[0]
    return _timestamp(line)


def last_timestamp_ms(path: Path) -> int | None:
    """``timestamp_ms`` of a segment's last whole record (None: empty or unreadable)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            window = 64 * 1024
            while True:
                start = max(0, size - window)
                f.seek(start)
                data = f.read(size - start)
                lines = data.rstrip(b"\n").rsplit(b"\n", 1)
                if len(lines) == 2 or start == 0:
                    return _timestamp(lines[-1])
                window *= 4
    except FileNotFoundError:
        return None


def _timestamp(line: bytes) -> int | None:
    if not line:
        return None
    try:
        return int(json.loads(line)["timestamp_ms"])
    except (ValueError, KeyError, TypeError):
        return None


def next_offset(directory: Path, topic: str) -> int:
    """The offset the next record appended to ``topic`` gets."""
    segs = segments(directory, topic)
    if not segs:
        return 0
    last = segs[-1]
    fd = os.open(last.path, os.O_RDONLY)
    try:
        return last.base_offset + count_lines(fd)
    finally:
        os.close(fd)


def migrate_legacy(directory: Path, topic: str) -> None:
    """Move a pre-segment ``<topic>.jsonl`` into the topic directory as segment 0."""
    legacy = legacy_path(directory, topic)
    if not legacy.exists():
        return
    folder = topic_dir(directory, topic)
    folder.mkdir(parents=True, exist_ok=True)
    target = segment_path(directory, topic, 0)
    try:
        os.link(legacy, target)  # fails if a segment 0 exists: then leave both alone
    except FileExistsError:
        return
    except FileNotFoundError:
        return  # another process moved it meanwhile
    legacy.unlink(missing_ok=True)


def iter_lines(directory: Path, topic: str) -> Iterator[dict[str, object]]:
    """Every record of ``topic`` still kept, oldest first, as the stored JSON objects."""
    for seg in segments(directory, topic):
        try:
            with open(seg.path, "rb") as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)
        except FileNotFoundError:
            continue  # deleted by retention meanwhile


def topic_bytes(directory: Path, topic: str) -> int:
    total = 0
    for seg in segments(directory, topic):
        with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
            total += seg.path.stat().st_size
    return total


def topics_in(directory: Path) -> list[str]:
    """Topics with a directory (or a pre-segment file) in the log directory."""
    root = Path(directory)
    if not root.is_dir():
        return []
    names: set[str] = set()
    for entry in root.iterdir():
        if entry.is_dir():
            names.add(entry.name)
        elif entry.name.endswith(SEGMENT_SUFFIX):
            names.add(entry.name[: -len(SEGMENT_SUFFIX)])
    return sorted(names)


def roll_due(size_bytes: int, first_ms: int | None, retention: TopicRetention, now_ms: int) -> bool:
    """Whether an active segment of ``size_bytes`` whose first record was
    written at ``first_ms`` must be rolled before the next append."""
    if size_bytes == 0:
        return False
    if size_bytes >= retention.segment_bytes:
        return True
    return (
        retention.segment_ms is not None
        and first_ms is not None
        and now_ms - first_ms >= retention.segment_ms
    )


def roll_if_due(directory: Path, topic: str, retention: TopicRetention, now_ms: int) -> bool:
    """Roll an idle active segment whose first record is ``segment_ms`` old
    (appends roll on their own); True if a new segment was started."""
    segs = segments(directory, topic)
    if not segs or segs[-1].path == legacy_path(directory, topic):
        return False
    active = segs[-1]
    fd = os.open(active.path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            st = os.fstat(fd)
            following = active.base_offset + count_lines(fd)
            if st.st_nlink == 0 or segment_path(directory, topic, following).exists():
                return False  # deleted or rolled meanwhile
            if not roll_due(st.st_size, first_timestamp_ms(fd), retention, now_ms):
                return False
            start_segment(directory, topic, following)
            seal(fd)
            return True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def seal(fd: int) -> None:
    """Mark the segment open as ``fd`` closed (read-only), so a publisher of
    another process holding it sees at its next append (``fstat``) that it
    was rolled. Call it holding the segment's lock, after `start_segment`."""
    with contextlib.suppress(OSError):  # a file system without modes: found by name
        # Only the write bits go: the file stays as private as it was made.
        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode) & ~0o222)


def is_sealed(st: os.stat_result) -> bool:
    return not st.st_mode & stat.S_IWUSR


def start_segment(directory: Path, topic: str, base_offset: int) -> Path:
    """Create the (empty) segment starting at ``base_offset``; call it holding the
    lock of the active segment, so no record is appended to that one afterwards."""
    path = segment_path(directory, topic, base_offset)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process rolled at the same offset
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # less the umask
    return path


def _segment_sizes(segs: list[Segment]) -> dict[int, int]:
    """Bytes of each segment by base offset (0 for one deleted meanwhile)."""
    sizes = {}
    for seg in segs:
        try:
            sizes[seg.base_offset] = seg.path.stat().st_size
        except FileNotFoundError:
            sizes[seg.base_offset] = 0
    return sizes


def _expired_by_time(seg: Segment, retention: TopicRetention, now_ms: int) -> bool:
    """The segment's newest record is older than the retention time."""
    if retention.retention_ms is None:
        return False
    newest = last_timestamp_ms(seg.path)
    if newest is None:  # unreadable: fall back on the file's modification time
        try:
            newest = int(seg.path.stat().st_mtime * 1000)
        except FileNotFoundError:
            newest = 0
    return now_ms - newest > retention.retention_ms


def _delete_segment(seg: Segment) -> bool:
    """Delete a closed segment; False when another process already did."""
    try:
        seg.path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise IngestError(f"could not delete topic log segment {seg.path}: {exc}") from exc
    return True


def apply_retention(
    directory: Path, topic: str, retention: TopicRetention, *, now_ms: int
) -> RetentionReport:
    """Delete the topic's closed segments beyond ``retention`` (see the module docstring)."""
    report = RetentionReport(topic)
    migrate_legacy(directory, topic)
    report.rolled = roll_if_due(directory, topic, retention, now_ms)
    segs = segments(directory, topic)
    sizes = _segment_sizes(segs)
    total = sum(sizes.values())
    for seg in segs[:-1]:  # the closed ones
        over_size = (
            retention.retention_bytes is not None
            and total - sizes[seg.base_offset] >= retention.retention_bytes
        )
        if not (_expired_by_time(seg, retention, now_ms) or over_size):
            break  # Kafka deletes a prefix of the log: stop at the first one kept
        if not _delete_segment(seg):
            continue
        report.deleted.append(seg)
        report.deleted_bytes += sizes[seg.base_offset]
        total -= sizes[seg.base_offset]
    return report
