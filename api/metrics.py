"""Prometheus text exposition (format 0.0.4), hand-written: request latency
histograms per route, counters and gauges that other parts of the process
(the contact executor, the frame publisher) update through ``app.state.ctx.metrics``:
``count_frames`` (a ``groundstation.downlink.FrameCounter``), ``inc``,
``set_gauge``, or ``gauge_source`` for a gauge read at each scrape.

Several processes, one server
-----------------------------
``uvicorn --workers N`` runs N processes; a scrape lands on one of them. Given
a ``shared_dir`` (``api.app.app_from_env`` passes ``<data_dir>/metrics``), each
process of one server run keeps a snapshot of its metrics in
``<shared_dir>/<run id>/<process id>.json`` and the page is the whole run's,
with the semantics of prometheus_client's multiprocess mode:

- counters and histogram buckets, counts and sums are summed over every
  process of the run, including workers that have exited (their last snapshot
  stays), so a counter never goes backwards while the server runs;
- gauges are summed over live processes only;
- contacts by state come from the database once per scrape (the route).

The run id is the uvicorn master's pid, start time and host name (this
process's own when it has no multiprocessing parent: a single-process
uvicorn, ``serve``); run directories of servers of this host no longer
running (and of other hosts silent for a week) are removed when a process
opens its share, so a stale run never counts in a new one. The request path does no file I/O: a snapshot is written
at most every ``FLUSH_INTERVAL_S`` when something changed, when another
process scrapes (it asks each live peer through the peer's FIFO,
``<process id>.fifo``, and waits for a snapshot taken after its request, so
every request answered before the scrape began is counted), and at shutdown.
A process killed outright loses at most the last ``FLUSH_INTERVAL_S``.
Without ``shared_dir`` nothing touches the disk and the page is this
process's alone.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import select
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_INTERVAL_S = 1.0
PEER_TIMEOUT_S = 2.0
SNAPSHOT_VERSION = 1
FOREIGN_RUN_MAX_AGE_S = 7 * 24 * 3600.0

# (method, route, status) -> [bucket counts..., count, sum]
Latency = dict[tuple[str, str, str], list[float]]
# name -> (help text, value)
Series = dict[str, tuple[str, float]]


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
        for k, v in pairs
    )
    return "{" + text + "}" if text else ""


def _num(value: float) -> str:
    """A sample value: integral ones in full (``:g`` would print 1234567 as
    ``1.23457e+06`` and a large counter would seem to stall), others by repr."""
    value = float(value)
    if value.is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(value)


class Metrics:
    """This process's metrics; with ``shared_dir``, once ``open``, the page
    ``render`` makes is the whole server run's (see the module docstring)."""

    def __init__(self, shared_dir: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._latency: Latency = {}
        self._counters: Series = {
            "groundstation_frames_decoded_total": ("Frames decoded by the receiver.", 0.0),
            "groundstation_frames_published_total": ("Frames handed to the publisher.", 0.0),
        }
        self._gauges: Series = {
            "groundstation_spool_depth_bytes": (
                "Bytes in the frame spool not yet acknowledged by the broker.",
                0.0,
            ),
        }
        self._gauge_sources: dict[str, Callable[[], float]] = {}
        self._changes = 0  # bumped by every update: the flusher writes when it moved
        self._shared_dir = shared_dir
        self._share: _Share | None = None

    # ------------------------------------------------------------ updates

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        with self._lock:
            row = self._latency.get(key)
            if row is None:
                row = self._latency[key] = [0.0] * (len(BUCKETS_S) + 2)
            row[bisect.bisect_left(BUCKETS_S, seconds)] += 1
            row[-2] += 1
            row[-1] += seconds
            self._changes += 1

    def inc(self, name: str, amount: float = 1.0, help_text: str = "") -> None:
        with self._lock:
            old_help, value = self._counters.get(name, (help_text, 0.0))
            self._counters[name] = (old_help or help_text, value + amount)
            self._changes += 1

    def set_gauge(self, name: str, value: float, help_text: str = "") -> None:
        with self._lock:
            old_help, _ = self._gauges.get(name, (help_text, 0.0))
            self._gauges[name] = (old_help or help_text, float(value))
            self._changes += 1

    def count_frames(self, *, decoded: int, published: int) -> None:
        """The downlink executor's counts of one receiver batch."""
        with self._lock:
            for name, amount in (
                ("groundstation_frames_decoded_total", decoded),
                ("groundstation_frames_published_total", published),
            ):
                help_text, value = self._counters[name]
                self._counters[name] = (help_text, value + amount)
            self._changes += 1

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

    # ------------------------------------------------------------ sharing

    def open(self) -> None:
        """Start sharing with the other processes of this server run (a no-op
        without ``shared_dir`` or when open already). Called at app start-up,
        in the process that serves."""
        if self._shared_dir is None or self._share is not None:
            return
        share = _Share(self._shared_dir, self)
        try:
            share.start()
        except OSError:
            log.exception(
                "metrics: cannot share through %s; /metrics reports this process only",
                self._shared_dir,
            )
            share.stop(final=False)
            return
        self._share = share

    def close(self) -> None:
        """Write this process's final snapshot (its counters keep counting in
        the run's totals) and stop sharing."""
        share, self._share = self._share, None
        if share is not None:
            share.stop(final=True)

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "version": SNAPSHOT_VERSION,
                "taken_ns": time.monotonic_ns(),
                "changes": self._changes,
                "latency": [[*key, row] for key, row in self._latency.items()],
                "counters": {k: list(v) for k, v in self._counters.items()},
                "gauges": {k: list(v) for k, v in self._gauges.items()},
            }

    # ------------------------------------------------------------ render

    def render(self, contacts_by_state: dict[str, int]) -> str:
        self._read_gauge_sources()
        with self._lock:
            latency: Latency = {k: list(v) for k, v in self._latency.items()}
            counters: Series = dict(self._counters)
            gauges: Series = dict(self._gauges)
        share = self._share
        if share is not None:
            for peer, live in share.collect():
                _merge(peer, latency, counters, gauges, live=live)
        return _page(latency, counters, gauges, contacts_by_state)


def _merge(
    snapshot: dict[str, Any], latency: Latency, counters: Series, gauges: Series, *, live: bool
) -> None:
    """Add a peer's ``snapshot`` into the totals (its gauges only when ``live``)."""
    width = len(BUCKETS_S) + 2
    for method, route, status, row in snapshot.get("latency", []):
        if len(row) != width:  # other bucket bounds: cannot be added bucket by bucket
            continue
        mine = latency.setdefault((method, route, status), [0.0] * width)
        for i, n in enumerate(row):
            mine[i] += n
    for name, (help_text, value) in snapshot.get("counters", {}).items():
        old_help, total = counters.get(name, (help_text, 0.0))
        counters[name] = (old_help or help_text, total + value)
    if live:
        for name, (help_text, value) in snapshot.get("gauges", {}).items():
            old_help, total = gauges.get(name, (help_text, 0.0))
            gauges[name] = (old_help or help_text, total + value)


def _page(
    latency: Latency, counters: Series, gauges: Series, contacts_by_state: dict[str, int]
) -> str:
    lines = [
        "# HELP groundstation_http_request_duration_seconds HTTP request latency by route.",
        "# TYPE groundstation_http_request_duration_seconds histogram",
    ]
    for (method, route, status), row in sorted(latency.items()):
        base = [("method", method), ("route", route), ("status", status)]
        cumulative = 0.0
        for bound, n in zip(BUCKETS_S, row, strict=False):
            cumulative += n
            lines.append(
                "groundstation_http_request_duration_seconds_bucket"
                f"{_labels([*base, ('le', repr(bound))])} {_num(cumulative)}"
            )
        lines.append(
            "groundstation_http_request_duration_seconds_bucket"
            f"{_labels([*base, ('le', '+Inf')])} {_num(row[-2])}"
        )
        lines.append(
            f"groundstation_http_request_duration_seconds_count{_labels(base)} {_num(row[-2])}"
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
            f"{name} {_num(value)}",
        ]
    for name, (help_text, value) in sorted(gauges.items()):
        lines += [
            f"# HELP {name} {help_text or name}",
            f"# TYPE {name} gauge",
            f"{name} {_num(value)}",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- processes


def _start_ticks(pid: int) -> str:
    """Start time of process ``pid`` in clock ticks since boot ("" if there is
    no such process, or no /proc): with the pid, it names one process even
    after the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


def _alive(pid: int, start: str) -> bool:
    if start or Path("/proc/self/stat").exists():
        return bool(start) and _start_ticks(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_name(pid: int) -> str:
    start = _start_ticks(pid)
    return f"{pid}-{start}" if start else str(pid)


def run_id() -> str:
    """The server run this process belongs to: its multiprocessing parent
    (the uvicorn master of ``--workers N``) or itself, as
    ``<pid>-<start ticks>@<host>`` (a data dir on shared storage may hold
    runs of other hosts, whose pids mean nothing here)."""
    parent = multiprocessing.parent_process()
    pid = parent.pid if parent is not None and parent.pid is not None else os.getpid()
    return f"{_process_name(pid)}@{socket.gethostname()}"


def _run_is_stale(run_dir: Path) -> bool:
    """A run of this host whose master is gone, or one of another host that
    has written nothing for ``FOREIGN_RUN_MAX_AGE_S`` (a live server writes
    at every scrape it answers)."""
    name, _, host = run_dir.name.rpartition("@")
    if host == socket.gethostname():
        pid, _, start = name.partition("-")
        return pid.isdigit() and not _alive(int(pid), start)
    if not name:
        return False  # not one of ours
    try:
        newest = max((p.stat().st_mtime for p in run_dir.iterdir()), default=0.0)
    except OSError:
        return False
    return time.time() - newest > FOREIGN_RUN_MAX_AGE_S


class _Share:
    """This process's place in ``<root>/<run id>/``: its snapshot file, the
    FIFO peers ask through, the flusher thread, and the peers' snapshots."""

    def __init__(self, root: Path, metrics: Metrics) -> None:
        self.root = root
        self.metrics = metrics
        self.pid = os.getpid()
        self.start_ticks = _start_ticks(self.pid)
        self.run_dir = root / run_id()
        # A random part: several apps of one process (tests) are distinct peers.
        self.name = f"{_process_name(self.pid)}-{secrets.token_hex(4)}"
        self.path = self.run_dir / f"{self.name}.json"
        self.fifo = self.run_dir / f"{self.name}.fifo"
        self._fd = -1
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._written = -1
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_runs()
        try:
            os.mkfifo(self.fifo, 0o600)
            # Read and write ends in one descriptor: never EOF, poll() works.
            self._fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:  # e.g. a file system without FIFOs
            log.warning(
                "metrics: no FIFO at %s (%s); peers read this process's snapshot "
                "of at most %.0f s ago",
                self.fifo,
                exc,
                FLUSH_INTERVAL_S,
            )
        self.write()
        self._thread = threading.Thread(target=self._run, name="metrics-flusher", daemon=True)
        self._thread.start()

    def _remove_stale_runs(self) -> None:
        for entry in self.root.iterdir():
            if entry.is_dir() and entry != self.run_dir and _run_is_stale(entry):
                shutil.rmtree(entry, ignore_errors=True)

    def stop(self, *, final: bool) -> None:
        self._stop.set()
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.write(self._fd, b"q")  # wakes the flusher's poll()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if final:
            try:
                self.write(exited=True)
            except OSError:
                log.exception("metrics: final snapshot %s not written", self.path)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            self.fifo.unlink()

    def _run(self) -> None:
        poller = select.poll()
        if self._fd >= 0:
            poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            try:
                asked = False
                if self._fd >= 0:
                    if poller.poll(FLUSH_INTERVAL_S * 1000):
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._fd, 4096):
                                pass
                        asked = True
                else:
                    self._stop.wait(FLUSH_INTERVAL_S)
                if self._stop.is_set():
                    return
                if asked:
                    self.metrics._read_gauge_sources()
                    self.write()
                elif self.metrics._changes != self._written:
                    self.write()
            except Exception:
                log.exception("metrics: snapshot %s not written", self.path)
                self._stop.wait(FLUSH_INTERVAL_S)

    def write(self, *, exited: bool = False) -> None:
        """Replace the snapshot file atomically (readers see old or new, whole)."""
        with self._write_lock:
            snapshot = self.metrics._snapshot()
            snapshot.update(pid=self.pid, start=self.start_ticks, exited=exited)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(snapshot, separators=(",", ":")))
            os.replace(tmp, self.path)
            self._written = snapshot["changes"]

    def collect(self) -> list[tuple[dict[str, Any], bool]]:
        """The other processes' snapshots, each with whether it is live. Live
        peers are asked for a fresh one and waited for (``PEER_TIMEOUT_S`` in
        all; one that does not answer counts with its last snapshot). This
        process's own file is refreshed too, for the peers' sake."""
        asked_ns = time.monotonic_ns()
        peers = [p for p in self.run_dir.glob("*.json") if p != self.path]
        waiting = set()
        for path in peers:
            try:
                fd = os.open(path.with_suffix(".fifo"), os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # exited (no FIFO, or no reader): its file is final
                continue
            try:
                os.write(fd, b"s")
                waiting.add(path)
            except OSError:  # its pipe is full: it is not reading
                pass
            finally:
                os.close(fd)
        with contextlib.suppress(OSError):
            self.write()
        found: dict[Path, dict[str, Any]] = {}
        deadline = time.monotonic() + PEER_TIMEOUT_S
        for path in peers:
            found[path] = _read_snapshot(path)
        while waiting:
            for path in list(waiting):
                snap = found[path]
                if snap.get("exited") or snap.get("taken_ns", 0) >= asked_ns:
                    waiting.discard(path)
            if not waiting:
                break
            if time.monotonic() > deadline:
                log.warning(
                    "metrics: %d peer(s) did not answer within %.1f s; their last "
                    "snapshots are used: %s",
                    len(waiting),
                    PEER_TIMEOUT_S,
                    ", ".join(sorted(p.name for p in waiting)),
                )
                break
            time.sleep(0.001)
            for path in waiting:
                found[path] = _read_snapshot(path)
        out = []
        for snap in found.values():
            if snap.get("version") != SNAPSHOT_VERSION:
                continue
            live = not snap.get("exited") and _alive(int(snap["pid"]), str(snap["start"]))
            out.append((snap, live))
        return out


def _read_snapshot(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # removed meanwhile (a stale run cleaned)
        return {}
    return data if isinstance(data, dict) else {}
