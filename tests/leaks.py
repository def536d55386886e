"""What a test module leaves running in the pytest process: threads, open
file descriptors, child processes and TCP connections (by remote port, so
PostgreSQL's and Kafka's show apart), read from ``threading`` and /proc.

``tests/conftest.py`` uses it twice: with ``GS_TEST_LEAK_REPORT=<file>`` it
appends one JSON line per module (``Snapshot.as_json``) for
``scripts/leak_report.py`` to summarise; always, it fails a module that
leaves a thread named in ``LEAKY_THREADS`` or a non-daemon thread running
(``leftover_threads``).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Threads that use CPU or connections until their owner is closed: a
#: module that leaves one running has not shut down what it started. The
#: regexes match ``Thread.name``; the owner to close follows each one.
LEAKY_THREADS: dict[str, str] = {
    r"^contact-events-poller$": "api.events.EventHub (app lifespan / hub.close())",
    r"^APScheduler$": "BackgroundScheduler (LifecycleManager.shutdown())",
    r"-sync$": "LifecycleManager's re-sync thread (LifecycleManager.shutdown())",
    r"^housekeeping$": "HousekeepingThread (.stop())",
    r"^webhooks?(_\d+)?$": "webhook dispatcher (.stop())",
    r"^kafka-feeder$": "KafkaPublisher (.close())",
    r"^kafka-python-producer": "KafkaProducer (.close())",
    r"^kafka-io-": "KafkaConsumer / ingest.consumer.KafkaSource (.close())",
    r"^dsp-warm-up$": "Runtime (.close())",
    r"^ThreadPoolExecutor-\d+_\d+$": "an executor never shut down",
    r"^AnyIO worker thread$": "a TestClient / anyio portal never closed",
}

_LEAKY = [re.compile(p) for p in LEAKY_THREADS]

#: Threads kept for the life of the process by design (not per app): never
#: counted as a module's leak.
PROCESS_WIDE = re.compile(r"^session-close_\d+$")  # api.deps._closing_threads


def _target_name(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    if target is None:
        return type(thread).__qualname__
    owner = getattr(target, "__self__", None)
    name = getattr(target, "__qualname__", repr(target))
    if owner is not None and type(owner).__qualname__ not in name:
        return f"{type(owner).__module__}.{type(owner).__qualname__}.{name}"
    return f"{getattr(target, '__module__', '?')}.{name}"


def thread_label(thread: threading.Thread) -> str:
    """``name [daemon] target``: enough to find who started it."""
    return f"{thread.name}{'' if thread.daemon else ' [non-daemon]'} {_target_name(thread)}"


def _library_pool_threads() -> set[threading.Thread]:
    """Threads of pools a library keeps for the life of the process: dask's
    default thread pool (``dask.threaded.default_pool``, made by the first
    computation satpy/pyresample run, never shut down by design)."""
    threaded = sys.modules.get("dask.threaded")
    pool = getattr(threaded, "default_pool", None)
    return set(getattr(pool, "_threads", ()))


def is_leaky(thread: threading.Thread) -> bool:
    """A non-daemon thread (it would hold the interpreter at exit) or one
    matching ``LEAKY_THREADS``."""
    if PROCESS_WIDE.search(thread.name) or thread in _library_pool_threads():
        return False
    return not thread.daemon or any(p.search(thread.name) for p in _LEAKY)


def _socket_inodes() -> set[str]:
    inodes = set()
    fd_dir = Path("/proc/self/fd")
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(fd_dir / fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    return inodes


def tcp_peers() -> Counter[int]:
    """Established TCP connections of this process, counted by remote port."""
    mine = _socket_inodes()
    peers: Counter[int] = Counter()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "01" and f[9] in mine:  # 01 = ESTABLISHED
                peers[int(f[2].rsplit(":", 1)[1], 16)] += 1
    return peers


def child_processes() -> list[str]:
    """``pid command`` of this process's live children (zombies included)."""
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2 :].split()
        if rest[1] == me:
            comm = stat[stat.find("(") + 1 : stat.rfind(")")]
            out.append(f"{entry} {comm} {rest[0]}")
    return out


@dataclass
class Snapshot:
    module: str
    seconds: float
    threads: list[str]
    fds: int
    children: list[str]
    tcp: dict[int, int]
    cpu_s: float

    @classmethod
    def take(cls, module: str, started: float) -> Snapshot:
        return cls(
            module=module,
            seconds=round(time.monotonic() - started, 2),
            threads=sorted(thread_label(t) for t in threading.enumerate()),
            fds=len(os.listdir("/proc/self/fd")),
            children=child_processes(),
            tcp=dict(tcp_peers()),
            cpu_s=round(time.process_time(), 2),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "seconds": self.seconds,
            "threads": self.threads,
            "fds": self.fds,
            "children": self.children,
            "tcp": {str(k): v for k, v in self.tcp.items()},
            "cpu_s": self.cpu_s,
        }


def leftover_threads(before: set[int], grace_s: float) -> list[threading.Thread]:
    """Leaky threads (``is_leaky``) started since ``before`` (thread idents)
    still alive after waiting up to ``grace_s`` for them to end."""
    deadline = time.monotonic() + grace_s
    while True:
        left = [
            t
            for t in threading.enumerate()
            if t.ident not in before and t is not threading.current_thread() and is_leaky(t)
        ]
        if not left or time.monotonic() >= deadline:
            return left
        left[0].join(timeout=min(0.2, max(0.0, deadline - time.monotonic())))
