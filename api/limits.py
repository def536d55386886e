"""Per-process limits that keep one client from stalling the service:

- expensive operations (those whose cost grows with what the request asks:
  a month of passes over every station, a plan, a plan's commit, a track,
  an ephemeris upload that re-predicts bookings) run on their own thread
  pool of ``GS_PREDICTION_THREADS``, apart from the ``GS_API_THREADS`` that
  run every other route, so cheap requests never queue behind them;
- at most ``GS_MAX_EXPENSIVE_PER_KEY`` of them at once per API key, and at
  most ``GS_MAX_EVENT_STREAMS_PER_KEY`` open event streams per key: more
  answer 429 with ``Retry-After``.

The counts are kept per process: with ``uvicorn --workers N`` a key may hold
up to N times as many, one share in each worker.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import anyio.to_thread
from fastapi import HTTPException

from api.auth import Principal

if TYPE_CHECKING:
    from api.context import AppContext
    from groundstation.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

#: Seconds a client refused for too many expensive requests waits: about
#: the time one of them takes at the caps (bench/limits.py).
EXPENSIVE_RETRY_AFTER_S = 2
#: A stream ends when its client goes: waiting a little is enough.
STREAM_RETRY_AFTER_S = 30


class TooManyRequests(HTTPException):
    """429 naming the limit, with ``Retry-After``."""

    kind = "too-many-requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(429, detail, headers={"Retry-After": str(retry_after_s)})


class PerKeyLimit:
    """At most ``limit`` concurrent holders per API key (this process).
    Thread-safe: taken on the event loop, released from any thread."""

    def __init__(self, limit: int, *, what: str, setting: str, retry_after_s: int) -> None:
        self.limit = limit
        self.what = what
        self.setting = setting
        self.retry_after_s = retry_after_s
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, principal: Principal) -> None:
        """Take a slot for the key, or raise ``TooManyRequests``."""
        with self._lock:
            held = self._held.get(principal.key_id, 0)
            if held >= self.limit:
                raise TooManyRequests(
                    f"API key {principal.name!r} already has {held} {self.what} running in "
                    f"this server process, the limit ({self.setting}); retry after "
                    f"{self.retry_after_s} s",
                    self.retry_after_s,
                )
            self._held[principal.key_id] = held + 1

    def release(self, principal: Principal) -> None:
        with self._lock:
            held = self._held.get(principal.key_id, 0) - 1
            if held > 0:
                self._held[principal.key_id] = held
            else:
                self._held.pop(principal.key_id, None)

    @contextlib.contextmanager
    def slot(self, principal: Principal) -> Iterator[None]:
        self.acquire(principal)
        try:
            yield
        finally:
            self.release(principal)

    def held(self, principal: Principal) -> int:
        with self._lock:
            return self._held.get(principal.key_id, 0)


class RequestLimits:
    """The limits of one app (``AppContext.limits``), from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.prediction_pool = anyio.CapacityLimiter(settings.prediction_threads)
        self.expensive = PerKeyLimit(
            settings.max_expensive_per_key,
            what="expensive requests (passes, plans, tracks, ephemeris uploads)",
            setting=f"GS_MAX_EXPENSIVE_PER_KEY={settings.max_expensive_per_key}",
            retry_after_s=EXPENSIVE_RETRY_AFTER_S,
        )
        self.event_streams = PerKeyLimit(
            settings.max_event_streams_per_key,
            what="open event streams",
            setting=f"GS_MAX_EVENT_STREAMS_PER_KEY={settings.max_event_streams_per_key}",
            retry_after_s=STREAM_RETRY_AFTER_S,
        )


async def run_expensive(
    ctx: AppContext, principal: Principal, func: Callable[..., R], /, *args: Any, **kwargs: Any
) -> R:
    """``func(*args, **kwargs)`` on the prediction pool, holding one of the
    key's expensive-request slots until it returns (429 when none is free)."""
    limits = ctx.limits
    with limits.expensive.slot(principal):
        return await anyio.to_thread.run_sync(
            functools.partial(func, *args, **kwargs), limiter=limits.prediction_pool
        )


def expensive(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Decorator of a sync route taking ``ctx`` and ``principal``: it runs
    through ``run_expensive`` (the signature FastAPI sees is unchanged)."""
    missing = {"ctx", "principal"} - set(inspect.signature(func).parameters)
    if missing:
        raise TypeError(f"expensive route {func.__name__} lacks parameters {sorted(missing)}")

    @functools.wraps(func)
    async def endpoint(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx: AppContext = kwargs["ctx"]  # type: ignore[assignment]
        principal: Principal = kwargs["principal"]  # type: ignore[assignment]
        return await run_expensive(ctx, principal, func, *args, **kwargs)

    return endpoint
