"""Limits that keep one client from stalling the service: expensive requests
and event streams per API key (429 with Retry-After), header size (431),
and request bodies of unknown length (413)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

from api.auth import Principal
from api.limits import PerKeyLimit, TooManyRequests
from groundstation import apikeys
from groundstation.settings import Settings

from .conftest import NOAA19, NOW, World
from .test_api_prediction_limits import _many_stations

MONTH = {
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
