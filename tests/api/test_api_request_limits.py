"""Limits that keep one client from stalling the service: expensive requests
and event streams per API key (429 with Retry-After), header size (431,
in the app and in the serving protocol), and request bodies of unknown
length (413)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from api.auth import Principal
from api.limits import PerKeyLimit, TooManyRequests
from api.serving import HttpToolsWithHeaderLimit
from groundstation import apikeys
from groundstation.settings import Settings

from .conftest import NOAA19, NOW, World, serve
from .helpers import uvicorn_workers
from .test_api_prediction_limits import _many_stations

MONTH: dict[str, str | int] = {
    "satellite": NOAA19,
    "start": NOW.isoformat(),
    "end": (NOW + timedelta(days=31)).isoformat(),
}


def _principal(world: World, who: str) -> Principal:
    with world.session() as s:
        row = apikeys.authenticate(s, key=world.keys[who])
    assert row is not None
    return Principal(*row)


# ---------------------------------------------------------------- expensive requests


def test_expensive_request_beyond_the_keys_limit_is_429_with_retry_after(world: World) -> None:
    acme = _principal(world, "acme")
    limit = world.app.state.ctx.limits.expensive
    assert limit.limit == 2  # GS_MAX_EXPENSIVE_PER_KEY default
    limit.acquire(acme)
    limit.acquire(acme)  # two of acme's requests are running
    try:
        r = world.client.get("/passes", params={"satellite": NOAA19}, headers=world.as_("acme"))
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "2"
        assert r.headers["content-type"] == "application/problem+json"
        assert "'acme'" in r.json()["detail"] and "GS_MAX_EXPENSIVE_PER_KEY=2" in r.json()["detail"]
        track = world.client.get("/contacts/any/track", headers=world.as_("acme"))
        assert track.status_code == 429
        # Another key is not affected; cheap requests of the same key neither.
        assert (
            world.client.get(
                "/passes", params={"satellite": NOAA19}, headers=world.as_("admin")
            ).status_code
            == 200
        )
        assert world.client.get("/contacts", headers=world.as_("acme")).status_code == 200
    finally:
        limit.release(acme)
        limit.release(acme)
    r = world.client.get("/passes", params={"satellite": NOAA19}, headers=world.as_("acme"))
    assert r.status_code == 200
    assert limit.held(acme) == 0  # every request gave its slot back, refused ones too


def test_concurrent_expensive_requests_of_one_key_beyond_the_limit_get_429(
    world: World, live_url: str
) -> None:
    _many_stations(world, 60)
    n = 4
    barrier = threading.Barrier(n)
    answers: list[httpx.Response] = []

    def month_of_passes(i: int) -> None:
        params = {**MONTH, "start": (NOW + timedelta(seconds=i)).isoformat()}
        with httpx.Client(base_url=live_url, timeout=120) as http:
            barrier.wait()
            answers.append(http.get("/passes", params=params, headers=world.as_("acme")))

    threads = [threading.Thread(target=month_of_passes, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {200, 429} and codes.count(200) >= 2 and 429 in codes, codes
    assert all(r.headers["retry-after"] == "2" for r in answers if r.status_code == 429)


def test_per_key_limit_counts_each_key_apart_and_releases() -> None:
    limit = PerKeyLimit(1, what="things", setting="GS_X=1", retry_after_s=7)
    a = Principal("k1", "a", "operator", "t", ())
    b = Principal("k2", "b", "operator", "t", ())
    with limit.slot(a):
        with pytest.raises(TooManyRequests) as refused:
            limit.acquire(a)
        assert refused.value.headers == {"Retry-After": "7"}
        assert "GS_X=1" in str(refused.value.detail)
        with limit.slot(b):
            assert limit.held(b) == 1
    assert limit.held(a) == 0 and limit.held(b) == 0


@pytest.mark.parametrize(
    "name", ["GS_PREDICTION_THREADS", "GS_MAX_EXPENSIVE_PER_KEY", "GS_MAX_EVENT_STREAMS_PER_KEY"]
)
def test_limit_settings_come_from_the_environment_and_refuse_zero(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "7")
    field = name.removeprefix("GS_").lower()
    assert getattr(Settings(), field) == 7
    monkeypatch.setenv(name, "0")
    with pytest.raises(ValueError, match=f"{field} must be >= 1, got 0"):
        Settings()


# ---------------------------------------------------------------- event streams


class _Stream:
    """An open SSE connection (until ``close``)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=url, timeout=30)
        self.context = self.client.stream("GET", "/contacts/events", headers=headers)
        self.response = self.context.__enter__()
        if self.response.status_code == 200:
            # Kept: dropping the iterator would close the connection.
            self.lines = self.response.iter_lines()
            assert next(self.lines) == ": connected"  # the server holds the stream

    def close(self) -> None:
        self.context.__exit__(None, None, None)
        self.client.close()


def test_event_streams_beyond_the_keys_limit_are_429_until_one_closes(
    world: World, live_url: str
) -> None:
    streams = [_Stream(live_url, world.as_("acme")) for _ in range(4)]
    others: list[_Stream] = []
    try:
        assert [s.response.status_code for s in streams] == [200] * 4
        fifth = _Stream(live_url, world.as_("acme"))
        others.append(fifth)
        assert fifth.response.status_code == 429
        assert fifth.response.headers["retry-after"] == "30"
        fifth.response.read()
        assert "GS_MAX_EVENT_STREAMS_PER_KEY=4" in fifth.response.json()["detail"]
        other_key = _Stream(live_url, world.as_("admin"))
        others.append(other_key)
        assert other_key.response.status_code == 200
        streams.pop().close()
        deadline = time.monotonic() + 10
        while True:
            again = _Stream(live_url, world.as_("acme"))
            others.append(again)
            if again.response.status_code == 200:
                break
            assert time.monotonic() < deadline, "a closed stream did not free its slot"
            time.sleep(0.1)
    finally:
        for s in streams + others:
            s.close()
    acme = _principal(world, "acme")
    deadline = time.monotonic() + 10
    while world.app.state.ctx.limits.event_streams.held(acme):
        assert time.monotonic() < deadline, "closed streams kept their slots"
        time.sleep(0.1)


# ---------------------------------------------------------------- request size


def _chunks(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, total, piece):
        yield b"x" * min(piece, total - start)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/contacts", "application/json"),
        ("/plans", "application/json"),
        (f"/satellites/{NOAA19}/ephemerides", "text/plain"),
    ],
)
def test_oversized_chunked_body_without_content_length_is_413(
    world: World, path: str, content_type: str
) -> None:
    r = world.client.post(
        path,
        content=_chunks(2 << 20),  # a generator: sent chunked, no Content-Length
        headers={**world.as_("acme"), "Content-Type": content_type},
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "exceeds the limit of 1048576 bytes" in r.json()["detail"]


def test_chunked_body_within_the_limit_is_read_as_usual(world: World) -> None:
    body = b'{"profile_id": "leo", "requests": []}'
    r = world.client.post(
        "/plans",
        content=iter([body[:10], body[10:]]),
        headers={**world.as_("acme"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "requests" in r.json()["detail"]


def test_headers_larger_than_the_limit_are_431_naming_the_sizes(world: World) -> None:
    big = {**world.as_("acme"), "X-Padding": "p" * 20_000}
    r = world.client.get("/contacts", headers=big)
    assert r.status_code == 431, r.text
    assert r.headers["content-type"] == "application/problem+json"
    detail = r.json()["detail"]
    assert "exceed the limit of 16384 bytes" in detail and "GS_MAX_HEADER_BYTES" in detail
    # A long query string counts too; a request within the limit is served.
    assert world.client.get("/healthz", params={"q": "x" * 20_000}).status_code == 431
    ok = world.client.get("/contacts", headers={**world.as_("acme"), "X-Padding": "p" * 8_000})
    assert ok.status_code == 200


def _head_refused(url: str, header_bytes: int) -> tuple[bytes, int]:
    """Send a request head with one header of ``header_bytes``, 16 KiB at a
    time, never finishing it; (the answer, the bytes the server took before
    it closed the connection)."""
    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Big: ".encode())
        try:
            while sent < header_bytes:
                sock.sendall(b"a" * 16384)
                sent += 16384
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer, sent


def test_serving_protocol_refuses_an_endless_header_before_reading_it_all(world: World) -> None:
    """The app's 431 needs the whole head parsed; uvicorn's httptools protocol
    buffers any size. ``api.serving.HttpToolsWithHeaderLimit`` stops reading
    at twice the limit and answers 431."""
    with serve(world.app, http=HttpToolsWithHeaderLimit) as url:
        answer, sent = _head_refused(url, 50 << 20)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"GS_MAX_HEADER_BYTES" in answer
        assert sent < 16 << 20  # refused long before the 50 MiB (kernel buffers hold some)
        assert httpx.get(f"{url}/healthz").status_code == 200  # ordinary requests still served


def test_uvicorn_command_line_serves_with_the_protocol_and_the_apps_limit(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GS_MAX_HEADER_BYTES", "4096")
    with uvicorn_workers(settings, workers=1) as run:
        answer, sent = _head_refused(run.url, 50 << 20)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b"is 4096 bytes" in answer
        assert sent < 16 << 20  # kernel buffers take some; the server read far less
        r = httpx.get(f"{run.url}/contacts", headers={**world.as_("acme"), "X-Pad": "p" * 5000})
        assert r.status_code == 431 and "limit of 4096 bytes" in r.json()["detail"]


def test_header_limit_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_MAX_HEADER_BYTES", "32768")
    assert Settings().max_header_bytes == 32768
    with pytest.raises(ValueError, match="got 100"):
        Settings(max_header_bytes=100)
