"""Durable on-disk spool: an append-only queue of Kafka records.

Every record the publisher accepts is appended here first with one
``os.write`` call, so it survives the process being killed (SIGKILL) as soon
as ``append`` returns; with ``fsync=True`` it also survives power loss. A
drainer reads records back in order and moves a committed cursor once the
broker has acknowledged them; on restart everything after the cursor is sent
again (consumers drop the rare duplicate by (contact id, sequence)).

Layout of the spool directory::

    LOCK                     flock'ed by the one process that owns the spool
    cursor                   {"segment": n, "offset": bytes}  (atomic rename)
    seg-000000000001.log     records: u32 body length, u32 CRC-32, body

Body: u16 topic length, topic, i32 key length (-1 = none), key, u32 value
length, value, u16 header count, then per header u16 name length, name,
u32 value length, value (all big-endian). A torn record at the tail (the
process died inside a write) fails its length or CRC check and is cut off
when the spool is opened again.

The owning process appends; the records reach the producer only through the
files: `SpoolReader` reads them (without owning the directory) up to a
position the owner reports, so the producer can run in its own process
(`ingest.producer_process`) and a reader that dies loses nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import NamedTuple

from ingest.errors import SpoolError

_REC = struct.Struct(">II")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
MAX_RECORD_BYTES = 64 * 1024 * 1024


# Named tuples rather than frozen dataclasses: one of each is made per frame,
# and a tuple is built about three times faster (bench/ingest.py).
class SpoolRecord(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class SpoolPosition(NamedTuple):
    """Byte ``offset`` in segment ``segment``; ordered as (segment, offset)."""

    segment: int
    offset: int


_PREFIX_CACHE: dict[str, bytes] = {}


def _prefix(text: str) -> bytes:
    """u16 length + UTF-8 of a topic or header name (few distinct values: cached)."""
    out = _PREFIX_CACHE.get(text)
    if out is None:
        raw = text.encode()
        out = _U16.pack(len(raw)) + raw
        if len(_PREFIX_CACHE) < 4096:
            _PREFIX_CACHE[text] = out
    return out


def encode_record(rec: SpoolRecord) -> bytes:
    parts = [_prefix(rec.topic)]
    if rec.key is None:
        parts.append(_I32.pack(-1))
    else:
        parts += [_I32.pack(len(rec.key)), rec.key]
    parts += [_U32.pack(len(rec.value)), rec.value, _U16.pack(len(rec.headers))]
    for name, value in rec.headers:
        parts += [_prefix(name), _U32.pack(len(value)), value]
    body = b"".join(parts)
    return _REC.pack(len(body), zlib.crc32(body)) + body


_NAME_CACHE: dict[bytes, str] = {}
# Decoded headers by their encoded bytes: a frame's contact id, station, schema
# and most small counters repeat, so most headers of a record are found here.
# Hand-written for speed: decoding was a quarter of the producer process's time.
_HEADER_CACHE: dict[bytes, tuple[str, bytes]] = {}


def _name(raw: bytes) -> str:
    """A topic or header name from its UTF-8 (few distinct values: cached)."""
    out = _NAME_CACHE.get(raw)
    if out is None:
        out = raw.decode()
        if len(_NAME_CACHE) < 4096:
            _NAME_CACHE[raw] = out
    return out


def decode_body(body: bytes) -> SpoolRecord:
    (n,) = _U16.unpack_from(body, 0)
    pos = 2 + n
    topic = _name(body[2:pos])
    (k,) = _I32.unpack_from(body, pos)
    pos += 4
    key: bytes | None = None
    if k >= 0:
        key = body[pos : pos + k]
        pos += k
    (v,) = _U32.unpack_from(body, pos)
    pos += 4
    value = body[pos : pos + v]
    pos += v
    (h,) = _U16.unpack_from(body, pos)
    pos += 2
    headers = []
    cache = _HEADER_CACHE
    for _ in range(h):
        name_end = pos + 2 + _U16.unpack_from(body, pos)[0]
        end = name_end + 4 + _U32.unpack_from(body, name_end)[0]
        raw = body[pos:end]
        header = cache.get(raw)
        if header is None:
            header = (_name(body[pos + 2 : name_end]), body[name_end + 4 : end])
            if len(cache) >= 1024:
                cache.clear()
            cache[raw] = header
        headers.append(header)
        pos = end
    return SpoolRecord(topic, key, value, tuple(headers))


def _scan_valid_prefix(data: bytes) -> int:
    """Length of the longest prefix of ``data`` made of whole, CRC-valid records."""
    pos = 0
    end = len(data)
    while pos + 8 <= end:
        length, crc = _REC.unpack_from(data, pos)
        if length > MAX_RECORD_BYTES or pos + 8 + length > end:
            break
        if zlib.crc32(data[pos + 8 : pos + 8 + length]) != crc:
            break
        pos += 8 + length
    return pos


def segment_path(directory: Path, seg: int) -> Path:
    return directory / f"seg-{seg:012d}.log"


def segment_numbers(directory: Path) -> list[int]:
    """The numbers of the segment files in ``directory``, oldest first."""
    out = []
    for p in directory.glob("seg-*.log"):
        try:
            out.append(int(p.stem[4:]))
        except ValueError:
            continue
    return sorted(out)


def _segment_size(directory: Path, seg: int) -> int:
    try:
        return segment_path(directory, seg).stat().st_size
    except FileNotFoundError:
        return 0


class SpoolReader:
    """Reads the records of a spool directory without owning it.

    The owner (`Spool`) says how far the files hold whole records (its
    ``write_position``); the reader never reads past that ``limit`` and never
    writes, so it may live in another process and die at any moment.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._fd: int | None = None
        self._fd_segment = 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(
        self, start: SpoolPosition, limit: SpoolPosition, *, max_bytes: int = 1 << 20
    ) -> list[tuple[SpoolRecord, SpoolPosition]]:
        """Whole records from ``start`` up to ``limit`` (about ``max_bytes`` of them),
        each with its end position."""
        seg, off = start
        if seg < limit.segment and off >= _segment_size(self.directory, seg):
            later = [s for s in segment_numbers(self.directory) if s > seg]
            seg, off = (later[0] if later else seg + 1), 0
        if (seg, off) >= limit:
            return []
        end = limit.offset if seg == limit.segment else _segment_size(self.directory, seg)
        fd = self._segment_fd(seg)
        data = os.pread(fd, min(max_bytes, end - off), off)
        out: list[tuple[SpoolRecord, SpoolPosition]] = []
        pos = 0
        while pos + 8 <= len(data):
            length, crc = _REC.unpack_from(data, pos)
            if pos + 8 + length > len(data):
                if not out:  # one record larger than max_bytes: read it whole
                    data = os.pread(fd, 8 + length, off)
                    continue
                break
            body = data[pos + 8 : pos + 8 + length]
            if zlib.crc32(body) != crc:
                raise SpoolError(
                    f"spool segment {segment_path(self.directory, seg)} is corrupt "
                    f"at byte {off + pos}"
                )
            pos += 8 + length
            out.append((decode_body(body), SpoolPosition(seg, off + pos)))
        return out

    def _segment_fd(self, seg: int) -> int:
        if self._fd is None or self._fd_segment != seg:
            self.close()
            self._fd = os.open(segment_path(self.directory, seg), os.O_RDONLY)
            self._fd_segment = seg
        return self._fd


class Spool:
    """A durable FIFO of `SpoolRecord` in one directory, owned by one process.

    ``append`` is thread-safe and never waits for the network. ``commit`` is
    meant for the one thread that learns what the broker acknowledged.
    """

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        fsync: bool = False,
        max_bytes: int | None = None,
    ) -> None:
        if segment_bytes < 1024:
            raise SpoolError(f"segment_bytes={segment_bytes} is too small; use >= 1024")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._appended = threading.Condition(self._lock)
        self._waiting = 0  # threads in wait_for_data: append notifies only then
        self._lock_fd: int | None = None
        self._write_fd: int | None = None
        self._write_pos = SpoolPosition(1, 0)
        self._committed = SpoolPosition(1, 0)
        self._reader = SpoolReader(self.directory)
        self._closed = True

    # -- life cycle -----------------------------------------------------------
    def open(self) -> Spool:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(lock_fd)
            raise SpoolError(
                f"spool {self.directory} is in use by another process; "
                "give each publisher its own spool directory"
            ) from exc
        self._lock_fd = lock_fd
        self._committed = self._read_cursor()
        segments = segment_numbers(self.directory)
        if not segments:
            segments = [max(1, self._committed.segment)]
        last = segments[-1]
        path = segment_path(self.directory, last)
        data = path.read_bytes() if path.exists() else b""
        valid = _scan_valid_prefix(data)
        if valid < len(data):
            with open(path, "r+b") as f:  # cut the torn tail left by a crash mid-write
                f.truncate(valid)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._write_pos = SpoolPosition(last, valid)
        if self._committed > self._write_pos:
            self._committed = self._write_pos
        if self._committed.segment < segments[0]:
            self._committed = SpoolPosition(segments[0], 0)
        self._closed = False
        return self

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._write_fd is not None:
                os.close(self._write_fd)
            self._write_fd = None
            self._reader.close()
            self._appended.notify_all()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --------------------------------------------------------------
    def append(self, record: SpoolRecord) -> None:
        self.append_encoded(encode_record(record))

    def append_encoded(self, data: bytes) -> None:
        with self._lock:
            if self._closed or self._write_fd is None:
                raise SpoolError(f"spool {self.directory} is closed")
            if self.max_bytes is not None and self._pending_bytes_locked() + len(data) > (
                self.max_bytes
            ):
                raise SpoolError(
                    f"spool {self.directory} holds more than max_bytes={self.max_bytes} "
                    "undelivered bytes; the broker has been away too long or the limit is too low"
                )
            if self._write_pos.offset >= self.segment_bytes:
                self._rotate_locked()
            written = os.write(self._write_fd, data)
            if written != len(data):  # a short write on a regular file means a full disk
                raise SpoolError(
                    f"spool {self.directory}: wrote {written} of {len(data)} bytes (disk full?)"
                )
            if self.fsync:
                os.fsync(self._write_fd)
            seg, off = self._write_pos
            self._write_pos = SpoolPosition(seg, off + written)
            if self._waiting:
                self._appended.notify_all()

    def _rotate_locked(self) -> None:
        assert self._write_fd is not None
        os.fsync(self._write_fd)
        os.close(self._write_fd)
        seg = self._write_pos.segment + 1
        self._write_fd = os.open(
            segment_path(self.directory, seg), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
        self._fsync_dir()
        self._write_pos = SpoolPosition(seg, 0)

    # -- reading --------------------------------------------------------------
    @property
    def write_position(self) -> SpoolPosition:
        """Where the next record goes: the files hold whole records up to here."""
        with self._lock:
            return self._write_pos

    @property
    def committed(self) -> SpoolPosition:
        with self._lock:
            return self._committed

    def wait_for_data(self, after: SpoolPosition, timeout_s: float) -> bool:
        """Wait until records exist after ``after`` (True) or the timeout passes."""
        with self._lock:
            if self._write_pos > after or self._closed:
                return self._write_pos > after
            self._waiting += 1
            try:
                self._appended.wait(timeout_s)
            finally:
                self._waiting -= 1
            return self._write_pos > after

    def read(
        self, start: SpoolPosition, *, max_bytes: int = 1 << 20
    ) -> list[tuple[SpoolRecord, SpoolPosition]]:
        """Whole records from ``start`` (up to about ``max_bytes``), each with its end position."""
        return self._reader.read(start, self.write_position, max_bytes=max_bytes)

    def commit(self, position: SpoolPosition) -> None:
        """Everything before ``position`` is delivered: persist the cursor, drop old segments."""
        with self._lock:
            if position <= self._committed:
                return
            self._committed = position
        tmp = self.directory / "cursor.tmp"
        tmp.write_text(json.dumps({"segment": position.segment, "offset": position.offset}))
        if self.fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, self.directory / "cursor")
        for seg in segment_numbers(self.directory):
            if seg < position.segment:
                segment_path(self.directory, seg).unlink(missing_ok=True)

    def pending_bytes(self) -> int:
        with self._lock:
            return self._pending_bytes_locked()

    def is_drained(self) -> bool:
        with self._lock:
            return self._committed >= self._write_pos

    # -- helpers --------------------------------------------------------------
    def _pending_bytes_locked(self) -> int:
        c, w = self._committed, self._write_pos
        if c.segment == w.segment:
            return max(0, w.offset - c.offset)
        total = w.offset - c.offset
        for seg in range(c.segment, w.segment):
            total += _segment_size(self.directory, seg)
        return total

    def _read_cursor(self) -> SpoolPosition:
        path = self.directory / "cursor"
        if not path.exists():
            return SpoolPosition(1, 0)
        try:
            d = json.loads(path.read_text())
            return SpoolPosition(int(d["segment"]), int(d["offset"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"spool cursor {path} is unreadable: {exc}") from exc

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
