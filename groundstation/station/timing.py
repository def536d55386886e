"""Ticks on an injected clock, shared by the parts that act along a pass
(the rotator's tracker, the radio's Doppler tuner)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from groundstation.clock import Clock


def sleep_until(clock: Clock, t: datetime, stop: threading.Event, *, max_step_s: float) -> bool:
    """Sleep on ``clock`` until ``t`` (waking every ``max_step_s`` at most to
    look at ``stop``); True when ``stop`` was set meanwhile."""
    while not stop.is_set():
        remaining_s = (t - clock.now()).total_seconds()
        if remaining_s <= 0:
            return False
        clock.sleep(min(remaining_s, max_step_s))
    return True


def ticks(
    clock: Clock, start: datetime, end: datetime, step_s: float, stop: threading.Event
) -> Iterator[datetime]:
    """The clock's time at each tick ``start, start + step_s, ...`` up to ``end``.

    A tick missed (the caller was slow) is not queued: the next one comes at
    once and the grid goes on from there. Ends early when ``stop`` is set.
    """
    step = timedelta(seconds=step_s)
    tick = start
    while tick <= end:
        if sleep_until(clock, tick, stop, max_step_s=step_s):
            return
        yield clock.now()
        tick = max(tick + step, clock.now())
