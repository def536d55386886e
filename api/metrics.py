"""Prometheus metrics of the API, kept by ``prometheus_client``: request
latency per route (``api.app._Timing`` calls ``observe_request``), the frames
the downlink executor decoded and published (``count_frames``: a ``Metrics``
is a ``groundstation.downlink.FrameCounter``), gauges read at each scrape
(``gauge_source``: the spool depth) and contacts by state, which the route
reads from the database at each scrape and passes to ``render``.

One process (``create_app`` without ``metrics_dir``: ``groundstation serve``,
the tests): the metrics live in this process's memory; nothing is written.

Several processes (``uvicorn --factory api.app:app_from_env --workers N``;
``app_from_env`` passes ``<data_dir>/metrics``): prometheus_client's
multiprocess mode in a directory of this server run, ``<metrics_dir>/<run
id>/``. Each process writes every update to its own memory-mapped files there
as it makes it, and a scrape, whichever process answers it, merges the files
of the whole run, so it counts every request answered before it began:

- counters and histograms are summed over every process of the run, those
  that have exited included (their files stay), so they never go backwards
  while the server runs, across worker restarts (SIGHUP) and workers killed
  outright;
- gauges (``livesum``) are summed over live processes only: each process holds
  an exclusive lock on ``<run dir>/<pid>.lock`` while it lives, and a scrape
  hands those whose lock is free to ``mark_process_dead``;
- the run id is a hash of the multiprocessing authentication key, random in
  each main process and inherited by the processes it spawns (uvicorn's
  workers): a new server run starts in a new, empty directory, and a process
  that joins a run removes the directories of runs with no live process.

prometheus_client picks the mode when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``, so ``Metrics(shared_dir=...)`` sets that
variable and only then imports prometheus_client (nothing happens at import
of this module; a process has at most one shared ``Metrics``, as a uvicorn
worker has one app). A gauge source is read by the process that answers the
scrape; other live processes count with their last reading.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Gauge, Histogram
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SPOOL_DEPTH = "groundstation_spool_depth_bytes"
# A run directory modified this recently is never removed as ended: its first
# process may have made it and not yet taken its lock.
ENDED_RUN_GRACE_S = 60.0


class Metrics:
    """This process's metrics; with ``shared_dir`` the page ``render`` makes is
    the whole server run's (see the module docstring)."""

    def __init__(self, shared_dir: Path | None = None) -> None:
        self._run: _Run | None = None
        if shared_dir is not None:
            try:
                self._run = _Run(shared_dir)
            except OSError:
                log.exception(
                    "metrics: cannot share through %s; /metrics reports this process only",
                    shared_dir,
                )
        import prometheus_client as prom  # after _Run chose the mode: see the module docstring

        prom.disable_created_metrics()  # no *_created series (multiprocess mode has none)
        registry: CollectorRegistry | None = None
        self._source: Collector
        if self._run is None:
            self._source = registry = prom.CollectorRegistry()
        else:
            self._source = _RunFiles(self._run.dir)
        self._latency = prom.Histogram(
            "groundstation_http_request_duration_seconds",
            "HTTP request latency by route.",
            ("method", "route", "status"),
            buckets=BUCKETS_S,
            registry=registry,
        )
        self._by_route: dict[tuple[str, str, int], Histogram] = {}
        self._decoded = prom.Counter(
            "groundstation_frames_decoded_total",
            "Frames decoded by the receiver.",
            registry=registry,
        )
        self._published = prom.Counter(
            "groundstation_frames_published_total",
            "Frames handed to the publisher.",
            registry=registry,
        )
        self._gauges: dict[str, Gauge] = {
            SPOOL_DEPTH: prom.Gauge(
                SPOOL_DEPTH,
                "Bytes in the frame spool not yet acknowledged by the broker.",
                multiprocess_mode="livesum",
                registry=registry,
            )
        }
        self._gauge_sources: dict[str, Callable[[], float]] = {}
        self._sources_lock = threading.Lock()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._by_route.get(key)
        if child is None:
            child = self._by_route[key] = self._latency.labels(method, route, str(status))
        child.observe(seconds)

    def count_frames(self, *, decoded: int, published: int) -> None:
        """The downlink executor's counts of one receiver batch."""
        self._decoded.inc(decoded)
        self._published.inc(published)

    def gauge_source(self, name: str, read: Callable[[], float]) -> None:
        """Read gauge ``name`` from ``read()`` at every render (a failing read
        keeps the last value and is logged)."""
        if name not in self._gauges:
            raise ValueError(f"no gauge {name!r} in the metrics; gauges: {sorted(self._gauges)}")
        with self._sources_lock:
            self._gauge_sources[name] = read

    def render(self, contacts_by_state: dict[str, int]) -> str:
        """The page (Prometheus text format 0.0.4), with ``contacts_by_state``
        as the ``groundstation_contacts`` gauge."""
        from prometheus_client import generate_latest
        from prometheus_client.core import GaugeMetricFamily

        self._read_gauge_sources()
        if self._run is not None:
            self._run.reap()
        contacts = GaugeMetricFamily(
            "groundstation_contacts", "Contacts in the database by state.", labels=("state",)
        )
        for state, n in sorted(contacts_by_state.items()):
            contacts.add_metric((state,), n)
        return generate_latest(_Page(self._source, contacts)).decode()

    def close(self) -> None:
        """At shutdown: this process's gauges leave the run's page at once (its
        counters keep counting in it)."""
        if self._run is not None:
            self._run.leave()

    def _read_gauge_sources(self) -> None:
        with self._sources_lock:
            sources = list(self._gauge_sources.items())
        for name, read in sources:
            try:
                value = float(read())
            except Exception:
                log.exception("metrics gauge %s could not be read; it keeps its last value", name)
                continue
            self._gauges[name].set(value)


class _Page:
    """The collectors of one page: the metrics and the contacts by state."""

    def __init__(self, source: Collector, *families: Metric) -> None:
        self.source = source
        self.families = families

    def collect(self) -> Iterable[Metric]:
        yield from self.source.collect()
        yield from self.families


class _RunFiles:
    """The run's metrics: prometheus_client's multiprocess merge of the files
    in ``run_dir``, less those still empty (a process creates its file, then
    sizes it: one killed in between leaves an empty file that would fail
    every scrape, prometheus/client_python#1199)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        files = []
        for path in sorted(self.run_dir.glob("*.db")):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_size > 0:
                    files.append(str(path))
        return MultiProcessCollector.merge(files)


def run_id() -> str:
    """The server run this process belongs to: a hash of the multiprocessing
    authentication key, which each main process draws at random and the
    processes it spawns (uvicorn's workers) inherit."""
    key = bytes(multiprocessing.current_process().authkey)
    return hashlib.sha256(b"groundstation metrics run\0" + key).hexdigest()[:16]


class _Run:
    """This process's place in its run's directory ``<root>/<run id>``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / run_id()
        self.pid = os.getpid()
        imported = sys.modules.get("prometheus_client.values")
        if imported is not None and not getattr(imported.ValueClass, "_multiprocess", False):
            raise RuntimeError(
                "metrics: prometheus_client was imported before the metrics directory "
                f"{self.dir} was chosen, so it keeps this process's metrics in memory and "
                "GET /metrics could not report the other processes: create the app "
                "(api.app.app_from_env) before anything imports prometheus_client"
            )
        self._lock_path = self.dir / f"{self.pid}.lock"
        self._lock_fd: int | None = _hold_lock(self._lock_path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.dir)
        from prometheus_client.multiprocess import mark_process_dead

        try:
            # Live gauges an exited process with this pid left in the run.
            mark_process_dead(self.pid, str(self.dir))
            _remove_ended_runs(root, keep=self.dir)
        except OSError:
            log.exception("metrics: cleaning %s failed; carrying on", root)

    def reap(self) -> None:
        """Hand each process of the run that has exited (its lock free) to
        ``mark_process_dead``: its gauges leave the page, its counters stay."""
        from prometheus_client.multiprocess import mark_process_dead

        for lock in self.dir.glob("*.lock"):
            fd = _lock_if_free(lock)
            if fd is None:
                continue
            try:
                mark_process_dead(lock.stem, str(self.dir))
                lock.unlink(missing_ok=True)
            finally:
                os.close(fd)

    def leave(self) -> None:
        if self._lock_fd is None:
            return
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(self.pid, str(self.dir))
        self._lock_path.unlink(missing_ok=True)
        os.close(self._lock_fd)
        self._lock_fd = None


def _hold_lock(path: Path) -> int:
    """A descriptor holding an exclusive lock on ``path`` (made, with its
    directory) until it is closed or the process ends. Taken again when the
    file was removed meanwhile (by a process that found it free and reaped
    an exited process of the same pid)."""
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # the directory was removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(fd), os.stat(path)):
                    return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _lock_if_free(path: Path) -> int | None:
    """A descriptor holding the lock on ``path`` if no live process holds it
    (the process that did has exited); None if one does or the file is gone."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            return fd
    except (BlockingIOError, FileNotFoundError):
        pass
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _remove_ended_runs(root: Path, keep: Path) -> None:
    """Remove the run directories in ``root`` (but ``keep``) none of whose
    processes is live, once they are ``ENDED_RUN_GRACE_S`` old."""
    now = time.time()
    for run in root.iterdir():
        try:
            fresh = now - run.stat().st_mtime < ENDED_RUN_GRACE_S
        except FileNotFoundError:
            continue
        if run == keep or fresh or not run.is_dir():
            continue
        held: list[int] = []
        try:
            for lock in run.glob("*.lock"):
                fd = _lock_if_free(lock)
                if fd is None:
                    break  # a live process
                held.append(fd)
            else:
                shutil.rmtree(run, ignore_errors=True)
        finally:
            for fd in held:
                os.close(fd)
