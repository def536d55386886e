"""Sending a stored object, whole or one byte range (RFC 9110 ``Range``),
from the local store or S3, never without checking it against the SHA-256
of its manifest: small objects before the first byte (``read_verified``),
large ones on the way, holding the last piece back (``stream_verified``)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.errors import CorruptObjectError, IngestError
from ingest.objectstore import (
    LocalObjectStore,
    ObjectStore,
    S3ObjectStore,
    check_key,
    get_verified,
)

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


def read_verified(store: ObjectStore, key: str, *, sha256: str, label: str) -> bytes:
    """The whole object, checked against ``sha256`` before anything is sent
    (``ingest.objectstore.get_verified``); a mismatch is logged as an ERROR
    naming ``label`` (dataset and file) and raised as ``CorruptObjectError``."""
    try:
        return get_verified(store, check_key(key), sha256)
    except CorruptObjectError as exc:
        log.error("%s: %s", label, exc)
        raise


def stream_verified(
    store: ObjectStore,
    key: str,
    byte_range: ByteRange,
    *,
    sha256: str,
    label: str,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[bytes]:
    """The bytes of ``byte_range`` in chunks, read from a single pass over the
    whole object, all of which is hashed: the last piece of the range is held
    back until the object's SHA-256 has matched ``sha256``. On a mismatch it
    is never sent: an ERROR naming ``label`` is logged and
    ``CorruptObjectError`` raised, which makes the server break the
    connection off short of the announced Content-Length, so the client sees
    a failed transfer. A range costs a read of the whole object."""
    check_key(key)
    if isinstance(store, LocalObjectStore):
        chunks = _local_chunks(store, key, chunk_bytes)
    elif isinstance(store, S3ObjectStore):
        chunks = _s3_chunks(store, key, chunk_bytes)
    else:
        raise IngestError(f"object store {type(store).__name__} cannot stream")
    digest = hashlib.sha256()
    offset = 0
    held = b""
    for chunk in chunks:
        digest.update(chunk)
        lo = max(byte_range.first - offset, 0)
        hi = min(byte_range.last + 1 - offset, len(chunk))
        offset += len(chunk)
        if lo < hi:
            if held:
                yield held
            held = chunk[lo:hi]
    got = digest.hexdigest()
    if got != sha256:
        log.error(
            "%s: object %s is corrupt: SHA-256 %s (%d bytes read) does not match the "
            "manifest's %s; the download was broken off before its last %d bytes",
            label,
            store.uri(key),
            got,
            offset,
            sha256,
            len(held),
        )
        raise CorruptObjectError(
            f"object {store.uri(key)} is corrupt: SHA-256 {got} does not match the "
            f"manifest's {sha256}"
        )
    if held:
        yield held


def _local_chunks(store: LocalObjectStore, key: str, chunk_bytes: int) -> Iterator[bytes]:
    path = store.root.joinpath(*key.split("/"))
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            yield chunk


def _s3_chunks(store: S3ObjectStore, key: str, chunk_bytes: int) -> Iterator[bytes]:
    full_key = f"{store.prefix}/{key}" if store.prefix else key
    body = store.client.get_object(Bucket=store.bucket, Key=full_key)["Body"]
    try:
        while chunk := body.read(chunk_bytes):
            yield chunk
    finally:
        body.close()


def object_exists(store: ObjectStore, key: str) -> bool:
    return store.exists(key)
