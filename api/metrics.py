"""Prometheus text exposition (format 0.0.4), hand-written: request latency
histograms per route, counters and gauges that other parts of the process
(the contact executor, the frame publisher) update through ``app.state.ctx.metrics``:
``count_frames`` (a ``groundstation.downlink.FrameCounter``), ``inc``,
``set_gauge``, or ``gauge_source`` for a gauge read at each scrape."""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for k, v in pairs
    )
    return "{" + text + "}" if text else ""


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (method, route, status) -> [bucket counts..., count, sum]
        self._latency: dict[tuple[str, str, str], list[float]] = {}
        self._counters: dict[str, tuple[str, float]] = {
            "groundstation_frames_decoded_total": ("Frames decoded by the receiver.", 0.0),
            "groundstation_frames_published_total": ("Frames handed to the publisher.", 0.0),
        }
        self._gauges: dict[str, tuple[str, float]] = {
            "groundstation_spool_depth_bytes": (
                "Bytes in the frame spool not yet acknowledged by the broker.",
                0.0,
            ),
        }
        self._gauge_sources: dict[str, Callable[[], float]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        with self._lock:
            row = self._latency.get(key)
            if row is None:
                row = self._latency[key] = [0.0] * (len(BUCKETS_S) + 2)
            row[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            row[-2] += 1
            row[-1] += seconds

    def inc(self, name: str, amount: float = 1.0, help_text: str = "") -> None:
        with self._lock:
            old_help, value = self._counters.get(name, (help_text, 0.0))
            self._counters[name] = (old_help or help_text, value + amount)

    def set_gauge(self, name: str, value: float, help_text: str = "") -> None:
        with self._lock:
            old_help, _ = self._gauges.get(name, (help_text, 0.0))
            self._gauges[name] = (old_help or help_text, float(value))

    def count_frames(self, *, decoded: int, published: int) -> None:
        """The downlink executor's counts of one receiver batch."""
        with self._lock:
            for name, amount in (
                ("groundstation_frames_decoded_total", decoded),
                ("groundstation_frames_published_total", published),
            ):
                help_text, value = self._counters[name]
                self._counters[name] = (help_text, value + amount)

    def gauge_source(self, name: str, read: Callable[[], float], help_text: str = "") -> None:
        """Read gauge ``name`` from ``read()`` at every render (a failing read
        keeps the last value and is logged)."""
        with self._lock:
            old_help, value = self._gauges.get(name, (help_text, 0.0))
            self._gauges[name] = (old_help or help_text, value)
            self._gauge_sources[name] = read

    def _read_gauge_sources(self) -> None:
        with self._lock:
            sources = dict(self._gauge_sources)
        for name, read in sources.items():
            try:
                value = float(read())
            except Exception:
                log.exception("metrics gauge %s could not be read", name)
                continue
            self.set_gauge(name, value)

    def render(self, contacts_by_state: dict[str, int]) -> str:
        lines = [
            "# HELP groundstation_http_request_duration_seconds HTTP request latency by route.",
            "# TYPE groundstation_http_request_duration_seconds histogram",
        ]
        self._read_gauge_sources()
        with self._lock:
            latency = {k: list(v) for k, v in self._latency.items()}
            counters = dict(self._counters)
            gauges = dict(self._gauges)
        for (method, route, status), row in sorted(latency.items()):
            base = [("method", method), ("route", route), ("status", status)]
            cumulative = 0.0
            for bound, n in zip(BUCKETS_S, row, strict=False):
                cumulative += n
                lines.append(
                    "groundstation_http_request_duration_seconds_bucket"
                    f"{_labels([*base, ('le', repr(bound))])} {cumulative:g}"
                )
            lines.append(
                "groundstation_http_request_duration_seconds_bucket"
                f"{_labels([*base, ('le', '+Inf')])} {row[-2]:g}"
            )
            lines.append(
                f"groundstation_http_request_duration_seconds_count{_labels(base)} {row[-2]:g}"
            )
            lines.append(
                f"groundstation_http_request_duration_seconds_sum{_labels(base)} {row[-1]:.6f}"
            )
        lines += [
            "# HELP groundstation_contacts Contacts in the database by state.",
            "# TYPE groundstation_contacts gauge",
        ]
        for state, n in sorted(contacts_by_state.items()):
            lines.append(f"groundstation_contacts{_labels([('state', state)])} {n}")
        for name, (help_text, value) in sorted(counters.items()):
            lines += [
                f"# HELP {name} {help_text or name}",
                f"# TYPE {name} counter",
                f"{name} {value:g}",
            ]
        for name, (help_text, value) in sorted(gauges.items()):
            lines += [
                f"# HELP {name} {help_text or name}",
                f"# TYPE {name} gauge",
                f"{name} {value:g}",
            ]
        return "\n".join(lines) + "\n"
