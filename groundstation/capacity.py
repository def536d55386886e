"""Keeping passes on time when the machine cannot keep up with the DSP.

Each pass's executor streams IQ paced by the service clock; when the CPU
cannot process the chunks as fast as the clock produces them, every pass
falls behind together. ``PassCapacity`` (one per executor, shared by its
passes) makes the contact that cannot be served fail, and only it:

- admission: a pass starting while ``max_passes`` passes run, or while a
  running one is more than half the bound behind and still falling behind,
  is refused;
- shedding: when a pass reports a lag (service seconds behind the clock)
  above ``max_lag_s`` that is still growing (higher than ``max_lag_s`` of
  service time before; a pass catching up after a stall or a slow start is
  left alone) or above three times the bound, the most recently started
  pass is stopped (the last one admitted is the one the machine could not
  take on); the others then get ``max_lag_s`` of service time to catch up
  before another is stopped.

The reasons say so: "DSP fell 75 s behind the service clock (limit 60 s):
the machine cannot keep up with 10 concurrent passes at x40".
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from groundstation.executor import ContactExecutionError


@dataclass
class _Pass:
    order: int
    lag_s: float = 0.0
    stop_reason: str = ""
    # (service time, lag) over the last max_lag_s of service time
    samples: deque[tuple[datetime, float]] = field(default_factory=deque)

    def growing(self, now: datetime, window: timedelta) -> bool:
        """Whether the lag rose over (at least half) the last ``window``."""
        first_at, first_lag = self.samples[0]
        return now - first_at >= window / 2 and self.lag_s > first_lag


class PassCapacity:
    """Admission and shedding of concurrent passes (see the module docstring).

    ``max_lag_s``: how far (service seconds) a pass may fall behind the
    service clock; ``max_passes``: passes at once (0: no fixed limit);
    ``speedup``: the service clock's, for the reasons.
    """

    def __init__(self, *, max_lag_s: float, max_passes: int = 0, speedup: float = 1.0) -> None:
        if not max_lag_s > 0:
            raise ValueError(f"max_lag_s is {max_lag_s}, expected > 0")
        if max_passes < 0:
            raise ValueError(f"max_passes is {max_passes}, expected >= 0")
        self.max_lag_s = max_lag_s
        self.max_passes = max_passes
        self.speedup = speedup
        self._lock = threading.Lock()
        self._passes: dict[str, _Pass] = {}
        self._admitted = 0
        self._last_shed: datetime | None = None
        self.shed: list[str] = []  # contacts stopped by shedding, in order
        self.worst_lag_s = 0.0  # the largest lag any pass reported

    def running(self) -> int:
        with self._lock:
            return len(self._passes)

    def _falling_behind(self, p: _Pass, now: datetime, limit_s: float) -> bool:
        """More than ``limit_s`` behind and still growing, or far behind."""
        window = timedelta(seconds=self.max_lag_s)
        return p.lag_s > 3 * self.max_lag_s or (
            p.lag_s > limit_s and bool(p.samples) and p.growing(now, window)
        )

    def admit(self, contact_id: str, now: datetime) -> None:
        """Register a pass starting at service time ``now``, or raise
        ``ContactExecutionError``."""
        with self._lock:
            n = len(self._passes)
            if self.max_passes and n >= self.max_passes:
                raise ContactExecutionError(
                    f"admission found no capacity: {n} passes already running "
                    f"(GS_DOWNLINK_MAX_PASSES={self.max_passes})"
                )
            behind = [
                p.lag_s
                for p in self._passes.values()
                if self._falling_behind(p, now, self.max_lag_s / 2)
            ]
            if behind:
                raise ContactExecutionError(
                    f"admission found no capacity: {len(behind)} of the {n} running passes "
                    f"are falling behind the service clock (up to {max(behind):.0f} s) "
                    f"at x{self.speedup:g}"
                )
            self._admitted += 1
            self._passes[contact_id] = _Pass(order=self._admitted)

    def release(self, contact_id: str) -> None:
        """The pass stopped streaming (finished or failed); idempotent."""
        with self._lock:
            self._passes.pop(contact_id, None)

    def check(self, contact_id: str, *, lag_s: float, now: datetime) -> None:
        """Record the pass's lag at service time ``now``; raise
        ``ContactExecutionError`` if this pass must stop."""
        window = timedelta(seconds=self.max_lag_s)
        with self._lock:
            me = self._passes.get(contact_id)
            if me is None:
                return
            me.lag_s = lag_s
            self.worst_lag_s = max(self.worst_lag_s, lag_s)
            me.samples.append((now, lag_s))
            while now - me.samples[0][0] > window:
                me.samples.popleft()
            if self._falling_behind(me, now, self.max_lag_s) and not me.stop_reason:
                self._shed(lag_s, now)
            reason = me.stop_reason
        if reason:
            raise ContactExecutionError(reason)

    def _shed(self, lag_s: float, now: datetime) -> None:
        cooling = self._last_shed is not None and now - self._last_shed < timedelta(
            seconds=self.max_lag_s
        )
        if cooling:
            return  # the last pass stopped is still freeing the CPU
        candidates = [(p.order, cid) for cid, p in self._passes.items() if not p.stop_reason]
        _, victim = max(candidates)
        self._passes[victim].stop_reason = (
            f"DSP fell {lag_s:.0f} s behind the service clock (limit {self.max_lag_s:.0f} s): "
            f"the machine cannot keep up with {len(candidates)} concurrent passes at "
            f"x{self.speedup:g}; this pass, the last one started, was stopped so that "
            "the others stay on time"
        )
        self._last_shed = now
        self.shed.append(victim)
