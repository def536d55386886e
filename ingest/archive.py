"""A whole dataset as one POSIX tar stream, built as it is sent.

Each member is a header block, the file's bytes as they come from the store
(never the whole file in memory), and zero padding to the next 512-byte
block; two zero blocks end the archive. The total size is known up front
from the members' sizes (``tar_size``), so an HTTP answer can carry a
``Content-Length``. Python's ``tarfile`` reads the result.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

BLOCK = 512
_END = bytes(2 * BLOCK)


@dataclass(frozen=True, slots=True)
class TarMember:
    """``name`` inside the archive, its size, modification time (Unix s)."""

    name: str
    size_bytes: int
    mtime_s: float = 0.0


def _header(member: TarMember) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.size = member.size_bytes
    info.mtime = int(member.mtime_s)
    info.mode = 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _padding(size_bytes: int) -> int:
    return -size_bytes % BLOCK


def tar_size(members: Iterable[TarMember]) -> int:
    """Bytes of the archive ``tar_stream`` makes of ``members``."""
    return sum(len(_header(m)) + m.size_bytes + _padding(m.size_bytes) for m in members) + len(_END)


def tar_stream(
    members: Iterable[TarMember], chunks: Callable[[TarMember], Iterator[bytes]]
) -> Iterator[bytes]:
    """The archive of ``members``, whose bytes ``chunks(member)`` yields.

    A member whose chunks do not add up to its size raises ``ValueError``
    (the archive would be corrupt): the stream ends there, incomplete."""
    for member in members:
        yield _header(member)
        sent = 0
        for chunk in chunks(member):
            sent += len(chunk)
            yield chunk
        if sent != member.size_bytes:
            raise ValueError(
                f"archive member {member.name!r} gave {sent} bytes, expected {member.size_bytes}"
            )
        if pad := _padding(member.size_bytes):
            yield bytes(pad)
    yield _END
