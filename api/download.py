"""Streaming a stored object, whole or one byte range (RFC 9110 ``Range``),
from the local store or S3."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.errors import CorruptObjectError, IngestError
from ingest.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore, check_key

log = logging.getLogger(__name__)
CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    def __init__(self, header: str, size: int) -> None:
        super().__init__(f"range {header!r} is outside the file's {size} bytes")
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    first: int
    last: int  # inclusive

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, or None for the whole file (no header,
    several ranges, or a unit other than bytes: all of which may be ignored)."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None:
        return None
    first_s, last_s = m.groups()
    if not first_s and not last_s:
        raise RangeNotSatisfiable(header, size)
    if not first_s:  # suffix: the last N bytes
        n = int(last_s)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable(header, size)
        return ByteRange(max(0, size - n), size - 1)
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(header, size)
    return ByteRange(first, min(last, size - 1))


def stream_object(
    store: ObjectStore,
    key: str,
    byte_range: ByteRange | None,
    *,
    sha256: str,
) -> Iterator[bytes]:
    """The object's bytes (or the range) in chunks. A whole-file stream is
    hashed on the way and broken off if it does not match ``sha256``."""
    check_key(key)
    digest = hashlib.sha256() if byte_range is None else None
    if isinstance(store, LocalObjectStore):
        chunks = _local_chunks(store, key, byte_range)
    elif isinstance(store, S3ObjectStore):
        chunks = _s3_chunks(store, key, byte_range)
    else:
        raise IngestError(f"object store {type(store).__name__} cannot stream")
    for chunk in chunks:
        if digest is not None:
            digest.update(chunk)
        yield chunk
    if digest is not None and digest.hexdigest() != sha256:
        log.error("object %s: SHA-256 %s, catalogue says %s", key, digest.hexdigest(), sha256)
        raise CorruptObjectError(f"object {store.uri(key)} does not match its SHA-256")


def _local_chunks(
    store: LocalObjectStore, key: str, byte_range: ByteRange | None
) -> Iterator[bytes]:
    path = store.root.joinpath(*key.split("/"))
    with open(path, "rb") as f:
        remaining = -1
        if byte_range is not None:
            f.seek(byte_range.first)
            remaining = byte_range.length
        while remaining != 0:
            n = CHUNK_BYTES if remaining < 0 else min(CHUNK_BYTES, remaining)
            chunk = f.read(n)
            if not chunk:
                break
            if remaining > 0:
                remaining -= len(chunk)
            yield chunk


def _s3_chunks(store: S3ObjectStore, key: str, byte_range: ByteRange | None) -> Iterator[bytes]:
    full_key = f"{store.prefix}/{key}" if store.prefix else key
    if byte_range is None:
        obj = store.client.get_object(Bucket=store.bucket, Key=full_key)
    else:
        obj = store.client.get_object(
            Bucket=store.bucket,
            Key=full_key,
            Range=f"bytes={byte_range.first}-{byte_range.last}",
        )
    body = obj["Body"]
    try:
        while chunk := body.read(CHUNK_BYTES):
            yield chunk
    finally:
        body.close()


def object_exists(store: ObjectStore, key: str) -> bool:
    return store.exists(key)
