"""Concurrent contacts bench: the demo's 4 passes at once on a paced clock (issue 17).

Instance: the contacts ``make demo`` books (sample stations and weather
satellites, from 2023-07-04T18:00Z: up to ``--contacts`` (4) whole passes
above 30 deg whose AOS fall within 25 min, on distinct antennas), each
worked by the downlink executor (``DownlinkExecutor.run_pass``, one thread
per contact as the lifecycle runs them) on a ``SimulatedClock`` at
``--speedup`` (60), from just before the first AOS; embedded delivery.

Measured per contact: the lag between its LOS on the clock and the wall
instant its last frame was published (wall seconds; <= 0: published while
the pass was in PASS), the fraction of its IQ still not through the receiver
when the clock reached LOS, frames published / sent, and the contact
thread's CPU seconds, split by stage (simulated front end, receiver, IQ
recording, waterfall, publishing and frames.h5, products and commit) with
the wall seconds spent in those stages: wall above CPU there is time spent
waiting for a core or the GIL. The load average is printed before and after.
The products are written in a worker process (``GS_DOWNLINK_PRODUCTS_PROCESSES``,
default 1; its CPU printed apart, the products stage is then the contact
thread's hand-over and wait), or with ``=0`` in each contact's thread.
Wall above CPU per stage is split into waiting for a core (run queue) and
blocked (the GIL, or I/O).
Goal: every pass finishes when its clock does (lag ~0, nothing undecoded at
LOS): ``ok`` when each lag is at most ``--goal-lag-s`` (one chunk of
service time, 1 s, at the speed-up) plus the time to decode the last chunk.

Last line: RESULT contacts n=.. speedup=.. max_lag_s=.. max_undecoded_pct=..
cpu_s_per_contact=.. cores_needed=.. load=.. goal=met|NOT met

``cores_needed``: the contact threads' CPU up to their last frames over the
wall time from the first AOS to the last LOS (what the passes need of the
machine to keep pace; 2 cores shared with other work keep pace only when
it is well below 2).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import functools
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/dsp.py would shadow the dsp package: import from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import groundstation.downlink as downlink
from bench.demo_network import book_demo_contacts
from dsp.quicklook import Waterfall
from groundstation.clock import SimulatedClock
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.executor import ContactRun
from groundstation.lifecycle import contact_run
from groundstation.runtime import open_runtime
from groundstation.settings import Settings

#: (owner, method name, stage): what the contact threads' CPU is split by.
STAGES: list[tuple[Any, str, str]] = [
    (downlink._SimulatedDownlink, "_next_iq", "simulate"),
    (downlink._CcsdsReceiver, "process", "receive"),
    (downlink._CcsdsReceiver, "flush", "receive"),
    (downlink.IqRecording, "write", "record IQ"),
    (Waterfall, "process", "waterfall"),
    (downlink._FrameOutput, "publish", "publish+frames.h5"),
    (downlink.DownlinkExecutor, "_write_products", "products"),
]


class RunQueue:
    """Seconds the calling thread has spent runnable but waiting for a core
    (Linux ``/proc/self/task/<tid>/schedstat``, second field; 0 elsewhere).
    Wall time in a stage above its CPU and this wait is time the thread was
    blocked: in these stages (no sleeps; little I/O but publishing's), waiting
    for the GIL, whatever the machine's load. Read with libc's ``pread``
    through ``ctypes.PyDLL``, which keeps the GIL: a read through Python's
    I/O would release it and add a GIL wait of its own to the figure."""

    def __init__(self) -> None:
        self._local = threading.local()
        try:
            self._pread: Any = ctypes.PyDLL(None).pread
        except (OSError, AttributeError):
            self._pread = None

    def seconds(self) -> float:
        if self._pread is None:
            return 0.0
        fd = getattr(self._local, "fd", None)
        if fd is None:
            try:
                fd = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", os.O_RDONLY)
            except OSError:
                self._pread = None
                return 0.0
            self._local.fd = fd
            self._local.buf = ctypes.create_string_buffer(128)
        buf = self._local.buf
        n = self._pread(fd, buf, ctypes.c_size_t(127), ctypes.c_long(0))
        return int(buf.raw[:n].split()[1]) / 1e9 if n > 0 else 0.0


class StageClock:
    """Thread CPU, wall and run-queue seconds spent in each stage, per thread."""

    def __init__(self) -> None:
        self.cpu_s: dict[int, dict[str, float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )
        self.wall_s: dict[int, dict[str, float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )
        self.queued_s: dict[int, dict[str, float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )
        self._depth = threading.local()
        self._run_queue = RunQueue()

    def wrap(self, fn: Callable[..., Any], stage: str) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            if depth:  # a stage inside another counts for the outer one
                return fn(*args, **kwargs)
            self._depth.n = 1
            queued, cpu, wall = self._run_queue.seconds(), time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._depth.n = 0
                me = threading.get_ident()
                self.cpu_s[me][stage] += time.thread_time() - cpu
                self.wall_s[me][stage] += time.perf_counter() - wall
                self.queued_s[me][stage] += self._run_queue.seconds() - queued

        return timed

    def install(self) -> None:
        for owner, name, stage in STAGES:
            setattr(owner, name, self.wrap(getattr(owner, name), stage))


class PublishTimes:
    """Wraps the executor's publisher: wall instant and contact thread CPU
    of each contact's last published frame."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher
        self.last_wall: dict[str, datetime] = {}
        self.last_cpu_s: dict[str, float] = {}
        self.count: collections.Counter[str] = collections.Counter()

    def publish_frame(self, frame: bytes, meta: Any, topic: str | None = None) -> Any:
        out = self.publisher.publish_frame(frame, meta, topic)
        self.last_wall[meta.contact_id] = datetime.now(UTC)
        self.last_cpu_s[meta.contact_id] = time.thread_time()
        self.count[meta.contact_id] += 1
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.publisher, name)


def book(session_factory: Any, n: int) -> list[ContactRun]:
    """The demo's contacts, booked and put in PASS."""
    with session_factory() as session:
        contacts = book_demo_contacts(session, count=n, hours=6.0, span_s=25 * 60.0)
        return [contact_run(c) for c in contacts]


def watch_los(
    clock: SimulatedClock,
    runs: list[ContactRun],
    progress: dict[str, Any],
    done: threading.Event,
) -> dict[str, float]:
    """Fraction of each pass's IQ not yet through the receiver when the
    clock reached its LOS (polled every 10 ms)."""
    out: dict[str, float] = {}
    while len(out) < len(runs) and not done.is_set():
        now = clock.now()
        for run in runs:
            if run.contact_id not in out and now >= run.los:
                p = progress.get(run.contact_id)
                done_s = p.elapsed_s if p is not None else 0.0
                duration_s = (run.los - run.aos).total_seconds()
                out[run.contact_id] = max(1.0 - done_s / duration_s, 0.0)
        time.sleep(0.01)
    return out


#: The stages a pass runs chunk by chunk while it streams.
STREAMING = ("simulate", "receive")


def blocked_s(stages: StageClock, ident: int | None, names: tuple[str, ...]) -> float:
    """Seconds a thread was blocked (neither on a core nor waiting for one) in ``names``."""
    if ident is None:
        return float("nan")
    return sum(
        stages.wall_s[ident][n] - stages.cpu_s[ident][n] - stages.queued_s[ident][n] for n in names
    )


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=4)
    parser.add_argument("--speedup", type=float, default=60.0)
    parser.add_argument(
        "--goal-lag-s", type=float, default=0.5, help="largest lag counted as ~0 (wall s)"
    )
    args = parser.parse_args()
    stages = StageClock()
    stages.install()
    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        # Lateness is measured here, not enforced: no pass is shed.
        settings = Settings(data_dir=Path(tmp) / "var", downlink_max_lag_s=1e12)
        engine = make_engine(settings.effective_database_url())
        migrate(engine)
        runs = book(make_session_factory(engine), args.contacts)
        first_aos = min(r.aos for r in runs)
        clock = SimulatedClock(
            first_aos - timedelta(seconds=2 * args.speedup), speedup=args.speedup
        )
        runtime = open_runtime(settings, clock=clock)
        executor = runtime.executor
        began = time.perf_counter()
        executor.warm_up()  # as serve does before the first pass
        warm_up_s = time.perf_counter() - began
        # The clock starts once warm (2 wall s before the first AOS), not
        # minus the warm-up: serve warms up long before its first pass.
        clock.real_epoch = datetime.now(UTC)
        published = PublishTimes(executor.publisher)
        executor.publisher = published
        cpu_s: dict[str, float] = {}
        thread_of: dict[str, int] = {}
        errors: dict[str, str] = {}
        results: dict[str, Any] = {}

        def work(run: ContactRun) -> None:
            thread_of[run.contact_id] = threading.get_ident()
            began = time.thread_time()
            published.last_cpu_s[run.contact_id] = began
            try:
                results[run.contact_id] = executor.run_pass(run)
            except Exception as exc:  # reported, not raised: the others go on
                errors[run.contact_id] = str(exc)
            cpu_s[run.contact_id] = time.thread_time() - began
            published.last_cpu_s[run.contact_id] -= began

        threads = [threading.Thread(target=work, args=(r,)) for r in runs]
        done = threading.Event()
        for t in threads:
            t.start()
        undecoded = watch_los(clock, runs, executor.progress, done)
        for t in threads:
            t.join()
        done.set()
        runtime.close()  # joins the products worker processes
        engine.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu_s = children.ru_utime + children.ru_stime
    load_after = loadavg()
    print(
        f"{len(runs)} contacts at x{args.speedup:g}, {os.cpu_count()} cores, load average "
        f"(1/5/15 min) {load_before} before, {load_after} after; warm-up {warm_up_s:.1f} s "
        f"before the clock started"
    )
    lags = []
    for run in runs:
        cid = run.contact_id
        duration_s = (run.los - run.aos).total_seconds()
        los_wall = clock.to_real(run.los)
        last = published.last_wall.get(cid)
        lag_s = (last - los_wall).total_seconds() if last is not None else float("inf")
        lags.append(lag_s)
        result = results.get(cid)
        sent = result.frames_expected if result is not None else 0
        print(
            f"  {run.satellite_name:<14} {run.antenna_id:<14} {duration_s:4.0f} s pass "
            f"({duration_s / args.speedup:5.1f} s wall): last frame {lag_s:+6.2f} s after LOS, "
            f"{100 * undecoded.get(cid, float('nan')):5.1f} % of IQ undecoded at LOS, "
            f"{published.count[cid]}/{sent} frames published, CPU {cpu_s.get(cid, 0):.2f} s "
            f"({published.last_cpu_s.get(cid, 0):.2f} s up to the last frame), "
            f"blocked (GIL) {blocked_s(stages, thread_of.get(cid), STREAMING):.2f} s in "
            f"simulate+receive" + (f"; FAILED: {errors[cid]}" if cid in errors else "")
        )
    totals_cpu: dict[str, float] = collections.defaultdict(float)
    totals_wall: dict[str, float] = collections.defaultdict(float)
    totals_queued: dict[str, float] = collections.defaultdict(float)
    for ident in thread_of.values():
        for stage, seconds in stages.cpu_s[ident].items():
            totals_cpu[stage] += seconds
        for stage, seconds in stages.wall_s[ident].items():
            totals_wall[stage] += seconds
        for stage, seconds in stages.queued_s[ident].items():
            totals_queued[stage] += seconds
    n = max(len(runs), 1)
    print(
        "  per contact, mean s: CPU (wall in the stage; of the wall above CPU, waiting "
        "for a core / blocked, i.e. waiting for the GIL or I/O):"
    )
    for stage in dict.fromkeys(s for _, _, s in STAGES):
        cpu, wall, queued = totals_cpu[stage] / n, totals_wall[stage] / n, totals_queued[stage] / n
        print(
            f"    {stage:<18} {cpu:6.2f}  ({wall:6.2f}; {queued:6.2f} / "
            f"{max(wall - cpu - queued, 0.0):6.2f})"
        )
    other = sum(cpu_s.values()) - sum(totals_cpu.values())
    print(f"    {'other':<18} {other / n:6.2f}")
    print(
        f"  products worker processes (GS_DOWNLINK_PRODUCTS_PROCESSES="
        f"{settings.downlink_products_processes}): {worker_cpu_s:.2f} s CPU in all, start-up "
        f"included ({worker_cpu_s / n:.2f} s per contact)"
    )
    span_s = (max(r.los for r in runs) - min(r.aos for r in runs)).total_seconds()
    needed = sum(published.last_cpu_s.values()) / (span_s / args.speedup)
    print(
        f"  CPU up to the last frames: {sum(published.last_cpu_s.values()):.2f} s in "
        f"{span_s / args.speedup:.1f} wall s of passes = {needed:.2f} cores needed "
        f"({os.cpu_count()} here, shared at the load above)"
    )
    max_lag = max(lags) if lags else float("inf")
    max_undecoded = max(undecoded.values(), default=float("nan"))
    met = not errors and len(runs) == args.contacts and max_lag <= args.goal_lag_s
    cpu_mean = sum(cpu_s.values()) / n
    print(
        f"RESULT contacts n={len(runs)} speedup={args.speedup:g} max_lag_s={max_lag:.2f} "
        f"max_undecoded_pct={100 * max_undecoded:.1f} cpu_s_per_contact={cpu_mean:.2f} "
        f"load={load_before.split('/')[0]}-{load_after.split('/')[0]} "
        f"goal={'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
