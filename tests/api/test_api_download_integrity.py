"""A stored file whose bytes no longer match the manifest's SHA-256 never
downloads as a clean success, whole or as a range, from the local store or
the S3 server (moto, scripts/services/s3.sh), seen through a real HTTP client
(uvicorn on loopback): files up to GS_DOWNLOAD_VERIFY_FIRST_BYTES are checked
before the first byte and refused with 500; larger ones are checked on the
way and the connection is broken off before the last chunk, so the client
gets fewer bytes than Content-Length announced and reports an error. Either
way the server logs an ERROR naming the dataset, the file and both digests."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from groundstation.settings import Settings
from tests.service_env import need_env

from .conftest import NOAA19, NOW, World, serve
from .helpers import add_dataset, dataset_world, s3_settings

BIG = os.urandom(3 * 256 * 1024 + 1000)  # four chunks of the stream
KEY = f"{NOAA19}/2023/07/04/c-big/big.bin"
PATH = "/datasets/ds-big/files/big.bin"


def _settings(tmp_path: Path, store: str, verify_first_bytes: int) -> Settings:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        download_verify_first_bytes=verify_first_bytes,
    )
    if store == "s3":
        settings = s3_settings(settings, need_env("GS_TEST_S3_ENDPOINT", "s3"))
    return settings


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _world(tmp_path: Path, store: str, verify_first_bytes: int) -> Iterator[World]:
    with dataset_world(_settings(tmp_path, store, verify_first_bytes)) as world:
        add_dataset(
            world.engine,
            world.app.state.ctx.object_store(),
            dataset_id="ds-big",
            norad_id=NOAA19,
            files={"big.bin": BIG},
            contact_id="c-big",
        )
        yield world


@pytest.fixture
def streamed(tmp_path: Path, store: str) -> Iterator[World]:
    """Every file larger than the verify-first limit (0): checked on the way."""
    yield from _world(tmp_path, store, 0)


@pytest.fixture
def checked_first(tmp_path: Path, store: str) -> Iterator[World]:
    """Every file within the verify-first limit: checked before sending."""
    yield from _world(tmp_path, store, 16 << 20)


def _corrupt(world: World, at: int = 5000) -> bytes:
    """Flip one stored byte of big.bin (same size); the new contents."""
    bad = bytearray(BIG)
    bad[at] ^= 0x01
    world.app.state.ctx.object_store().put_bytes(KEY, bytes(bad))
    return bytes(bad)


def _logged_corruption(caplog: pytest.LogCaptureFixture, bad: bytes) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    expected, actual = hashlib.sha256(BIG).hexdigest(), hashlib.sha256(bad).hexdigest()
    assert any(
        "ds-big" in m and "big.bin" in m and expected in m and actual in m for m in errors
    ), errors


def _raw_get(url: str, headers: dict[str, str]) -> tuple[bytes, int | None, int]:
    """GET over a bare socket: (head, Content-Length, body bytes received
    before the server closed the connection)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        lines = [f"GET {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, length, len(body)


def test_intact_large_file_streams_whole_and_as_ranges(streamed: World) -> None:
    w = streamed
    with serve(w.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        whole = http.get(PATH, headers=w.as_("scientist"))
        middle = http.get(PATH, headers={**w.as_("scientist"), "Range": "bytes=300000-600000"})
        tail = http.get(PATH, headers={**w.as_("scientist"), "Range": "bytes=-10"})
    assert whole.status_code == 200 and whole.content == BIG
    assert middle.status_code == 206 and middle.content == BIG[300000:600001]
    assert tail.status_code == 206 and tail.content == BIG[-10:]


def test_corrupt_large_file_breaks_off_before_the_last_chunk_and_is_logged(
    streamed: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = streamed
    bad = _corrupt(w)
    with serve(w.app) as base:
        with (
            httpx.Client(base_url=base, timeout=30) as http,
            pytest.raises(httpx.RemoteProtocolError),
        ):
            http.get(PATH, headers=w.as_("scientist"))
        head, length, received = _raw_get(base + PATH, w.as_("scientist"))
    assert head.startswith(b"HTTP/1.1 200")
    assert length == len(BIG)
    assert received < len(BIG)  # the client sees a truncated transfer, not a success
    _logged_corruption(caplog, bad)


@pytest.mark.parametrize("header", ["bytes=0-99", "bytes=300000-600000", "bytes=-10"])
def test_range_of_a_corrupt_large_file_is_broken_off_too(
    streamed: World, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    """The range's bytes may be intact, but the file is not: the whole object
    is read and hashed, and the range's last chunk is held back until it matches."""
    w = streamed
    bad = _corrupt(w, at=len(BIG) - 3)  # outside every range asked for but the tail
    with serve(w.app) as base:
        head, length, received = _raw_get(base + PATH, {**w.as_("scientist"), "Range": header})
    assert head.startswith(b"HTTP/1.1 206")
    assert length is not None and received < length
    _logged_corruption(caplog, bad)


@pytest.mark.parametrize("header", [None, "bytes=0-99"])
def test_corrupt_file_within_the_verify_first_limit_is_refused_with_500_before_any_byte(
    checked_first: World, caplog: pytest.LogCaptureFixture, header: str | None
) -> None:
    w = checked_first
    bad = _corrupt(w)
    headers = w.as_("scientist") | ({"Range": header} if header else {})
    with serve(w.app) as base, httpx.Client(base_url=base, timeout=30) as http:
        r = http.get(PATH, headers=headers)
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "big.bin" in r.json()["detail"] and "ds-big" in r.json()["detail"]
    assert "x-checksum-sha256" not in r.headers
    _logged_corruption(caplog, bad)


def test_intact_file_within_the_verify_first_limit_downloads_whole_and_as_range(
    checked_first: World,
) -> None:
    w = checked_first
    whole = w.client.get(PATH, headers=w.as_("scientist"))
    part = w.client.get(PATH, headers={**w.as_("scientist"), "Range": "bytes=10-19"})
    assert whole.status_code == 200 and whole.content == BIG
    assert whole.headers["x-checksum-sha256"] == hashlib.sha256(BIG).hexdigest()
    assert part.status_code == 206 and part.content == BIG[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(BIG)}"


def test_verify_first_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_DOWNLOAD_VERIFY_FIRST_BYTES", "1048576")
    assert Settings().download_verify_first_bytes == 1 << 20
    with pytest.raises(ValueError, match="got -1"):
        Settings(download_verify_first_bytes=-1)
