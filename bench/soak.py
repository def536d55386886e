"""Soak bench: a full schedule run by ``groundstation serve`` for a long time,
on the highest compressed clock the DSP sustains on this machine, under
background API load (issue 19).

Plan: every free window of the sample network (6 stations x 2 antennas, the
28 weather satellites of sample_tles/) whose pass rises above
``--min-elevation`` (20 deg), booked in order over ``--hours`` (24) of service
time from 2023-07-04T18:00Z: about 25 contacts per service hour, peaks of
10 passes at once. ``--from-peak`` starts the plan 10 service minutes
before the busiest instant instead (the short version in the tests).

Speedup (unless ``--speedup``), measured in this run: N slices (240 service
s) of the passes at the plan's busiest instant, N = the plan's peak
concurrency, worked at once by the downlink executor unpaced
(``DownlinkExecutor.run_pass`` in N threads, as serve runs them) give the
service seconds each pass gets per wall second; 70 % of that (headroom for
the API and the lifecycle) is then checked paced: the N slices at that
speedup must stay within half the lag limit (GS_DOWNLINK_MAX_LAG_S) and
none may be shed, else the speedup is lowered by 20 % and checked again.

Run: ``groundstation serve`` (its own process; embedded delivery: SQLite or
``--database-url``, local topic log, local object store) with the service
clock starting ``--idle-s`` wall seconds before the first pre-pass (the API
latency measured then, once start-up is over, is the reference: the same
server without contacts running); background load from bench/httpload.py (own processes, open loop):
GET /contacts (filtered, paginated) and GET /datasets at ``--api-rate``
requests/s. Every ``--sample-s`` (30) s: RSS, threads and file descriptors
of serve, disk use by part (database, datasets, topic log, spool, staging),
10 probe GET /contacts (p50, max), contacts by state, and the agreement
audit (``groundstation.contact_datasets.audit``).

Invariants (each printed met / NOT met; exit code 1 if one is not):
- no contact failed for lateness ("transition ran .. late", "service was
  down", a missed AOS or LOS) while the machine kept up: the service ran
  throughout, so failed_late must be 0; contacts the DSP capacity stopped
  ("behind the service clock", "no capacity") are counted apart (failed_dsp:
  the speedup was above what the machine sustains);
- contact and dataset states agree at every sample and at the end;
- every FAILED contact has its "contact failed" WARNING line (logger
  ``groundstation.contacts``, the server runs with GS_LOG_FORMAT=json) with
  the same reason in the server's log;
- retention keeps disk use flat once warmed up: serve runs with its
  housekeeping every ``--housekeeping-s`` wall seconds and every retention
  set to a quarter of the run (topic log by wall time as Kafka's
  ``retention.ms``; datasets and contact history by service time, the
  clock they are stamped with); after the warm-up (a third of the run, and
  at least the retention plus two housekeeping runs) disk use may grow by at
  most a quarter of the rate it grew before retention began (the ingest
  rate), plus 20 MB/h for the database's contact rows, which are kept.
  Checked in runs of 8 minutes or more; shorter runs print the figures.

Last line: RESULT soak contacts=.. completed_pct=.. failed_late=..
rss_growth_mb_per_h=.. disk_growth_mb_per_h=.. p99_contacts_ms=.. (then
speedup, failed_dsp, disagreements, unlogged_failures, the idle reference p99,
the ingest rate before retention and the datasets retention expired).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

# bench/dsp.py would shadow the dsp package: import from the repository root.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.httpload import Request, run_in_process  # noqa: E402
from groundstation import apikeys  # noqa: E402
from groundstation.clock import SimulatedClock, iso_utc  # noqa: E402
from groundstation.commands.demo import (  # noqa: E402
    DEMO_CLOCK_START,
    DEMO_PROFILE,
    book_plan,
    book_slices,
    find_samples,
    free_windows,
    load_inventory,
    peak_windows,
)
from groundstation.contact_datasets import audit  # noqa: E402
from groundstation.db import make_engine, make_session_factory, migrate  # noqa: E402
from groundstation.lifecycle import contact_run  # noqa: E402
from groundstation.models import Contact  # noqa: E402
from groundstation.runtime import open_runtime  # noqa: E402
from groundstation.settings import Settings  # noqa: E402
from groundstation.transitions import enter_pass  # noqa: E402
from ingest.catalog import DatasetRow  # noqa: E402
from ingest.objectstore import LocalObjectStore  # noqa: E402

LATE = ("transition ran", "service was down", "PASS missed", "not followed to LOS")
DSP = ("behind the service clock", "no capacity")
PARTS = {"datasets": "datasets", "topic log": "topics", "spool": "spool", "staging": "staging"}


# ---------------------------------------------------------------- plan


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(url: str, *, hours: float, min_elevation_deg: float, from_peak: bool) -> dict[str, Any]:
    """Inventory, and every free window booked; returns the plan's figures."""
    engine = make_engine(url)
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = load_inventory(session, find_samples(None), now=DEMO_CLOCK_START)
        windows = free_windows(
            session,
            names,
            now=DEMO_CLOCK_START,
            hours=hours,
            min_elevation_deg=min_elevation_deg,
        )
        start = DEMO_CLOCK_START
        if from_peak:
            start = peak_windows(windows, 12)[0] - timedelta(minutes=10)
            windows = [w for w in windows if w.aos >= start + timedelta(minutes=5)]
        ids = book_plan(session, windows, now=start)
        rows = session.execute(
            select(Contact.booked_start, Contact.aos, Contact.los).where(Contact.id.in_(ids))
        ).all()
        _, key = apikeys.create_key(session, name="soak", role="operator", tenant="demo", now=start)
    engine.dispose()
    return {
        "contacts": len(ids),
        "first_prepass": min(r[0] for r in rows),
        "last_los": max(r[2] for r in rows),
        "peak": peak_concurrency([(r[1], r[2]) for r in rows]),
        "key": key,
    }


def peak_concurrency(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


# ---------------------------------------------------------------- speedup


def _slices(tmp: Path, n: int, *, lag_limit_s: float) -> tuple[Any, list[Any], datetime]:
    """A runtime over a fresh database holding ``n`` 240-s slices of the
    passes at the busiest instant, each contact already in PASS."""
    settings = Settings(data_dir=tmp, downlink_max_lag_s=lag_limit_s)
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = load_inventory(session, find_samples(None), now=DEMO_CLOCK_START)
        windows = free_windows(
            session, names, now=DEMO_CLOCK_START, hours=6.0, min_elevation_deg=10
        )
        peak, group = peak_windows(windows, n)
        ids = book_slices(
            session,
            group,
            peak=peak,
            before_s=120.0,
            after_s=120.0,
            profile_id=DEMO_PROFILE,
            now=DEMO_CLOCK_START,
        )
        runs = []
        for cid in ids:
            contact = session.get(Contact, cid)
            assert contact is not None
            enter_pass(session, contact, at=contact.aos, reason="bench")
            runs.append(contact_run(contact))
    engine.dispose()
    # The clock starts at the earliest AOS: no pass starts behind it.
    return settings, runs, min(r.aos for r in runs)


def _work(runtime: Any, runs: list[Any]) -> list[str]:
    """``run_pass`` of every run at once, in threads; returns the errors."""
    errors: list[str] = []

    def one(run: Any) -> None:
        try:
            runtime.executor.run_pass(run)
        except Exception as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=one, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def unpaced_rate(n: int) -> float:
    """Service seconds per wall second each of ``n`` passes worked at once gets."""
    with tempfile.TemporaryDirectory() as tmp:
        settings, runs, start = _slices(Path(tmp), n, lag_limit_s=1e12)
        runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=1e9))
        try:
            began = time.perf_counter()
            errors = _work(runtime, runs)
            wall_s = time.perf_counter() - began
        finally:
            runtime.close()
    if errors:
        raise SystemExit(f"unpaced passes failed: {errors}")
    return sum((r.los - r.aos).total_seconds() for r in runs) / wall_s / len(runs)


def paced_ok(n: int, speedup: float, lag_limit_s: float) -> tuple[bool, float]:
    """Whether ``n`` passes at once keep up at ``speedup`` (lag under half
    the limit, none stopped); returns (ok, worst lag in service seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings, runs, start = _slices(Path(tmp), n, lag_limit_s=lag_limit_s)
        runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=speedup))
        try:
            errors = _work(runtime, runs)
        finally:
            runtime.close()
        worst = runtime.executor.capacity.worst_lag_s
    return not errors and worst < 0.5 * lag_limit_s, worst


def find_speedup(n: int, lag_limit_s: float) -> float:
    rate = unpaced_rate(n)
    speedup = max(1.0, float(np.floor(0.7 * rate)))
    print(f"speedup search: {n} passes at once, unpaced, get x{rate:.1f} each; trying x{speedup:g}")
    for _ in range(4):
        ok, worst = paced_ok(n, speedup, lag_limit_s)
        print(
            f"  x{speedup:g}: {n} passes paced, worst lag {worst:.1f} service s "
            f"({'kept up' if ok else 'fell behind'})"
        )
        if ok:
            return speedup
        speedup = max(1.0, float(np.floor(speedup * 0.8)))
    return speedup


# ---------------------------------------------------------------- sampling


def du_bytes(path: Path) -> int:
    """Disk use (allocated blocks) of everything under ``path``."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # removed while walking
                total += (Path(dirpath) / name).stat().st_blocks * 512
    return total


def proc_status(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_mb": rss_kb / 1024, "threads": threads, "fds": fds}


@dataclasses.dataclass
class Sample:
    wall_s: float
    service: datetime
    rss_mb: float
    threads: int
    fds: int
    disk_mb: dict[str, float]
    probe_ms: tuple[float, float]
    states: dict[str, int]
    disagreements: list[str]

    def line(self) -> str:
        disk = " ".join(f"{k}={v:.1f}" for k, v in self.disk_mb.items())
        states = " ".join(f"{k}={v}" for k, v in sorted(self.states.items()))
        return (
            f"{self.wall_s:6.0f} s {self.service:%H:%M}Z rss {self.rss_mb:6.1f} MB "
            f"threads {self.threads:3d} fds {self.fds:3d} disk MB [{disk}] "
            f"GET /contacts p50 {self.probe_ms[0]:5.1f} max {self.probe_ms[1]:5.1f} ms "
            f"[{states}] disagreements {len(self.disagreements)}"
        )


class Sampler:
    def __init__(self, *, url: str, data_dir: Path, base: str, key: str, pid: int) -> None:
        # A plain engine: the bench's reads must not take SQLite's write lock.
        self.engine = create_engine(url)
        self.url = url
        self.data_dir = data_dir
        self.store = LocalObjectStore(data_dir / "datasets")
        self.base = base
        self.headers = {"Authorization": f"Bearer {key}"}
        self.pid = pid

    def database_mb(self) -> float:
        if self.url.startswith("sqlite"):
            db = Path(self.url.removeprefix("sqlite:///"))
            return sum(du_bytes(p) for p in db.parent.glob(db.name + "*")) / 1e6
        with self.engine.connect() as conn:
            return (
                float(
                    conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
                )
                / 1e6
            )

    def probe(self, n: int = 10) -> tuple[float, float]:
        import httpx

        ms = []
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as http:
            for _ in range(n):
                began = time.perf_counter()
                http.get("/contacts", params={"state": "COMPLETED", "limit": 50})
                ms.append((time.perf_counter() - began) * 1000)
        return float(np.median(ms)), max(ms)

    def audit(self, *, quiescent: bool) -> tuple[dict[str, int], list[str]]:
        """Contacts by state, and the disagreements found."""
        with Session(self.engine) as session:
            rows = session.execute(select(Contact.state, func.count()).group_by(Contact.state))
            states = {state: int(n) for state, n in rows}
            disagreements = audit(
                session,
                store=self.store,
                staging_root=self.data_dir / "staging",
                quiescent=quiescent,
            )
        return states, disagreements

    def take(self, wall_s: float, service: datetime) -> Sample:
        states, disagreements = self.audit(quiescent=False)
        disk = {"database": self.database_mb()}
        disk |= {part: du_bytes(self.data_dir / d) / 1e6 for part, d in PARTS.items()}
        st = proc_status(self.pid)
        return Sample(
            wall_s=wall_s,
            service=service,
            rss_mb=st["rss_mb"],
            threads=int(st["threads"]),
            fds=int(st["fds"]),
            disk_mb=disk,
            probe_ms=self.probe(),
            states=states,
            disagreements=disagreements,
        )


def growth_per_h(
    samples: list[Sample], value: Any, *, after_s: float | None = None, before_s: float = 1e18
) -> float:
    """Slope (per wall hour) of ``value(sample)`` over the samples taken from
    ``after_s`` (default: the first third of the run) to ``before_s``."""
    start = samples[-1].wall_s / 3 if after_s is None else after_s
    warm = [s for s in samples if start <= s.wall_s <= before_s]
    if len(warm) < 2:
        return float("nan")
    t_h = np.array([s.wall_s / 3600 for s in warm])
    y = np.array([value(s) for s in warm])
    return float(np.polyfit(t_h, y, 1)[0])


# ---------------------------------------------------------------- run


@dataclasses.dataclass(frozen=True)
class Retention:
    """What serve keeps during the soak: a quarter of the run."""

    wall_s: float  # topic log (records carry wall-clock times)
    speedup: float
    housekeeping_s: float

    @property
    def service_days(self) -> float:  # datasets and contact history
        return self.wall_s * self.speedup / 86400.0

    def env(self) -> dict[str, str]:
        return {
            "GS_HOUSEKEEPING_INTERVAL_S": f"{self.housekeeping_s:g}",
            "GS_TOPIC_RETENTION_MS": str(int(self.wall_s * 1000)),
            "GS_TOPIC_SEGMENT_MS": str(int(max(self.wall_s / 4, 5.0) * 1000)),
            "GS_TOPIC_SEGMENT_BYTES": str(1 << 20),
            "GS_DATASET_RETENTION_DAYS": f"{self.service_days:.6f}",
            "GS_EVENT_RETENTION_DAYS": f"{self.service_days:.6f}",
        }


def start_serve(
    data_dir: Path,
    url: str,
    *,
    clock_start: datetime,
    speedup: float,
    port: int,
    log: Path,
    retention: Retention | None = None,
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    env.update(
        GS_DATA_DIR=str(data_dir),
        GS_DATABASE_URL=url,
        GS_CLOCK="simulated",
        GS_CLOCK_START=clock_start.isoformat(),
        GS_CLOCK_SPEEDUP=str(speedup),
        GS_LOG_FORMAT="json",
    )
    if retention is not None:
        env.update(retention.env())
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "groundstation.cli", "serve", "--port", str(port)],
            cwd=data_dir.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("serve did not answer /healthz within 120 s")


class Load:
    """Open-loop GET /contacts and GET /datasets for ``duration_s`` (own processes)."""

    def __init__(self, base: str, key: str, rate_per_s: float, duration_s: float) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        n = max(1, int(rate_per_s * duration_s))
        contacts = [
            Request("GET", "/contacts", {"state": ["COMPLETED", "FAILED"][i % 2], "limit": 50})
            for i in range(n)
        ]
        datasets = [Request("GET", "/datasets", {"limit": 50}) for _ in range(max(1, n // 2))]
        self.results: dict[str, Any] = {}

        def run(name: str, requests: list[Request], rate: float) -> None:
            self.results[name] = run_in_process(
                base, requests, headers, 4, keep_bodies=False, rate_per_s=rate
            )

        self.threads = [
            threading.Thread(target=run, args=("contacts", contacts, rate_per_s), daemon=True),
            threading.Thread(target=run, args=("datasets", datasets, rate_per_s / 2), daemon=True),
        ]
        for t in self.threads:
            t.start()

    def join(self, timeout_s: float) -> None:
        for t in self.threads:
            t.join(timeout_s)

    def p99_ms(self, name: str) -> float:
        result = self.results.get(name)
        if result is None or not result.latencies_s:
            return float("nan")
        return float(np.percentile(result.latencies_s, 99) * 1000)


@dataclasses.dataclass
class Outcome:
    contacts: int
    completed_pct: float
    failed_late: int
    failed_dsp: int
    failed_other: int
    disagreements: int
    unlogged: int
    rss_growth_mb_per_h: float
    disk_growth_mb_per_h: float
    ingest_mb_per_h: float
    expired_datasets: int
    disk_flat: bool | None  # None: the run was too short to tell
    p99_contacts_ms: float
    p99_contacts_idle_ms: float
    speedup: float
    samples: list[Sample]

    def ok(self) -> bool:
        return (
            self.failed_late == 0
            and self.disagreements == 0
            and self.unlogged == 0
            and self.disk_flat is not False
        )

    def result_line(self) -> str:
        return (
            f"RESULT soak contacts={self.contacts} completed_pct={self.completed_pct:.1f} "
            f"failed_late={self.failed_late} rss_growth_mb_per_h={self.rss_growth_mb_per_h:.1f} "
            f"disk_growth_mb_per_h={self.disk_growth_mb_per_h:.1f} "
            f"p99_contacts_ms={self.p99_contacts_ms:.1f} speedup={self.speedup:g} "
            f"failed_dsp={self.failed_dsp} disagreements={self.disagreements} "
            f"unlogged_failures={self.unlogged} p99_contacts_idle_ms={self.p99_contacts_idle_ms:.1f} "
            f"ingest_mb_per_h={self.ingest_mb_per_h:.1f} expired_datasets={self.expired_datasets} "
            f"disk_flat={'n/a' if self.disk_flat is None else str(self.disk_flat).lower()}"
        )


def logged_failures(log: Path) -> dict[str, str]:
    """contact id -> reason of every WARNING "contact failed" line in ``log``
    (JSON lines; anything else on the output is skipped)."""
    out = {}
    for line in log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and record.get("logger") == "groundstation.contacts"
            and record.get("level") == "WARNING"
            and record.get("state") == "FAILED"
        ):
            out[str(record.get("contact_id"))] = str(record.get("reason"))
    return out


def soak(
    *,
    workdir: Path,
    url: str | None,
    minutes: float,
    speedup: float | None,
    hours: float,
    min_elevation_deg: float,
    from_peak: bool,
    sample_s: float,
    api_rate: float,
    idle_s: float,
    housekeeping_s: float = 30.0,
    out: Any = sys.stdout,
) -> Outcome:
    """The whole bench (see the module docstring); prints as it goes."""
    data_dir = workdir / "var"
    url = url or f"sqlite:///{data_dir / 'groundstation.db'}"
    began = time.perf_counter()
    plan = seed(url, hours=hours, min_elevation_deg=min_elevation_deg, from_peak=from_peak)
    print(
        f"plan: {plan['contacts']} contacts from {iso_utc(plan['first_prepass'])} to "
        f"{iso_utc(plan['last_los'])}, peak {plan['peak']} passes at once "
        f"(booked in {time.perf_counter() - began:.0f} s)",
        file=out,
        flush=True,
    )
    lag_limit_s = Settings().downlink_max_lag_s
    if speedup is None:
        speedup = find_speedup(plan["peak"], lag_limit_s)
    print(
        f"highest speedup the DSP sustains at {plan['peak']} passes: x{speedup:g}",
        file=out,
        flush=True,
    )

    clock_start = plan["first_prepass"] - timedelta(seconds=idle_s * speedup)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = workdir / "serve.log"
    run_s = minutes * 60.0
    retention = Retention(wall_s=run_s / 4, speedup=speedup, housekeeping_s=housekeeping_s)
    print(
        f"retention: topic log {retention.wall_s:.0f} wall s, datasets and contact history "
        f"{retention.service_days * 24:.2f} service h; housekeeping every {housekeeping_s:g} s",
        file=out,
        flush=True,
    )
    proc = start_serve(
        data_dir,
        url,
        clock_start=clock_start,
        speedup=speedup,
        port=port,
        log=log,
        retention=retention,
    )
    samples: list[Sample] = []
    try:
        wait_up(base, proc)
        t0 = time.monotonic()
        sampler = Sampler(url=url, data_dir=data_dir, base=base, key=plan["key"], pid=proc.pid)
        time.sleep(min(3.0, idle_s / 2))  # let start-up (DSP warm-up, reconciliation) end
        idle = [sampler.probe(20) for _ in range(3)]
        idle_p99 = float(np.percentile([m for p in idle for m in p], 99))
        load = Load(base, plan["key"], api_rate, run_s)
        next_sample = t0
        while (elapsed := time.monotonic() - t0) < run_s:
            if time.monotonic() >= next_sample:
                service = clock_start + timedelta(seconds=elapsed * speedup)
                samples.append(sampler.take(elapsed, service))
                print(samples[-1].line(), file=out, flush=True)
                next_sample += sample_s
            time.sleep(0.5)
        load.join(60.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
    # Stopped (SIGTERM): nothing may be left half written.
    _, final = sampler.audit(quiescent=True)
    samples[-1].disagreements += final
    return summarize(
        samples,
        sampler=sampler,
        log=log,
        load=load,
        idle_p99=idle_p99,
        speedup=speedup,
        retention=retention,
        run_s=run_s,
        out=out,
    )


#: Runs shorter than this print the disk figures without judging them.
FLAT_DISK_MIN_RUN_S = 480.0


def disk_flatness(
    samples: list[Sample], *, retention: Retention, run_s: float
) -> tuple[float, float, bool | None]:
    """(growth after warm-up, ingest rate before retention began, flat?) in MB
    per wall hour; flat: growth <= a quarter of the ingest rate + 20 MB/h."""
    total = lambda s: sum(s.disk_mb.values())  # noqa: E731
    warm_s = max(run_s / 3, retention.wall_s + 2 * retention.housekeeping_s)
    growth = growth_per_h(samples, total, after_s=warm_s)
    ingest = growth_per_h(samples, total, after_s=0.0, before_s=retention.wall_s)
    if run_s < FLAT_DISK_MIN_RUN_S or not np.isfinite(growth) or not np.isfinite(ingest):
        return growth, ingest, None
    return growth, ingest, bool(growth <= 0.25 * max(ingest, 0.0) + 20.0)


def summarize(
    samples: list[Sample],
    *,
    sampler: Sampler,
    log: Path,
    load: Load,
    idle_p99: float,
    speedup: float,
    retention: Retention,
    run_s: float,
    out: Any,
) -> Outcome:
    with Session(sampler.engine) as session:
        rows = session.execute(
            select(Contact.id, Contact.state, Contact.state_reason).where(
                Contact.state.in_(("COMPLETED", "FAILED"))
            )
        ).all()
        expired = session.scalar(
            select(func.count()).select_from(DatasetRow).where(DatasetRow.state == "expired")
        )
    failed = {cid: reason for cid, state, reason in rows if state == "FAILED"}
    late = {c: r for c, r in failed.items() if any(k in r for k in LATE)}
    dsp = {c: r for c, r in failed.items() if any(k in r for k in DSP)}
    other = {c: r for c, r in failed.items() if c not in late and c not in dsp}
    logged = logged_failures(log)
    unlogged = {c: r for c, r in failed.items() if logged.get(c) != r}
    # Stopped by the end of the run (SIGTERM): not counted as lateness.
    stopped = {c for c, r in other.items() if "SIGTERM" in r or "stopped" in r}
    ended = len(rows) - len(stopped)
    completed = sum(1 for _, state, _ in rows if state == "COMPLETED")
    disagreements = sorted({d for s in samples for d in s.disagreements})
    growth, ingest, flat = disk_flatness(samples, retention=retention, run_s=run_s)
    outcome = Outcome(
        contacts=ended,
        completed_pct=100.0 * completed / max(ended, 1),
        failed_late=len(late),
        failed_dsp=len(dsp),
        failed_other=len(other) - len(stopped),
        disagreements=len(disagreements),
        unlogged=len(unlogged),
        rss_growth_mb_per_h=growth_per_h(samples, lambda s: s.rss_mb),
        disk_growth_mb_per_h=growth,
        ingest_mb_per_h=ingest,
        expired_datasets=int(expired or 0),
        disk_flat=flat,
        p99_contacts_ms=load.p99_ms("contacts"),
        p99_contacts_idle_ms=idle_p99,
        speedup=speedup,
        samples=samples,
    )
    for title, found in (
        ("failed for lateness", late),
        ("stopped by the DSP capacity", dsp),
        ("failed otherwise", {c: r for c, r in other.items() if c not in stopped}),
        ("failed without their reason in the log", unlogged),
    ):
        if found:
            print(f"{len(found)} contacts {title}, e.g.:", file=out)
            for cid, reason in list(found.items())[:5]:
                print(f"  {cid[:8]}: {reason}", file=out)
    for d in disagreements[:10]:
        print(f"disagreement: {d}", file=out)
    disk = ", ".join(f"{k} {v:.1f} MB" for k, v in samples[-1].disk_mb.items())
    print(
        f"API p99 GET /contacts under load {outcome.p99_contacts_ms:.1f} ms, idle reference "
        f"{idle_p99:.1f} ms; GET /datasets {load.p99_ms('datasets'):.1f} ms",
        file=out,
    )
    print(f"disk use at the end: {disk}", file=out)
    print(
        "invariants: "
        f"no lateness failure {'met' if not late else 'NOT met'}; "
        f"contact/dataset agreement {'met' if not disagreements else 'NOT met'}; "
        f"every failure logged with its reason {'met' if not unlogged else 'NOT met'}; "
        f"disk flat after warm-up "
        f"{ {True: 'met', False: 'NOT met', None: 'not judged (run too short)'}[flat] } "
        f"({growth:.1f} MB/h; {ingest:.1f} MB/h before retention began, "
        f"{outcome.expired_datasets} datasets expired)",
        file=out,
    )
    print(outcome.result_line(), file=out, flush=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=20.0, help="wall minutes of soak")
    p.add_argument("--speedup", type=float, default=None, help="skip the search, use this")
    p.add_argument("--hours", type=float, default=24.0, help="service hours of plan")
    p.add_argument("--min-elevation", type=float, default=20.0, help="passes above (deg)")
    p.add_argument("--from-peak", action="store_true", help="start at the busiest instant")
    p.add_argument("--sample-s", type=float, default=30.0, help="wall seconds between samples")
    p.add_argument("--api-rate", type=float, default=5.0, help="GET /contacts per second")
    p.add_argument(
        "--housekeeping-s", type=float, default=30.0, help="serve's housekeeping interval (s)"
    )
    p.add_argument(
        "--idle-s", type=float, default=10.0, help="wall seconds before the first pre-pass"
    )
    p.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    p.add_argument("--keep", default=None, help="work in this folder and keep it")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        outcome = soak(
            workdir=workdir,
            url=args.database_url,
            minutes=args.minutes,
            speedup=args.speedup,
            hours=args.hours,
            min_elevation_deg=args.min_elevation,
            from_peak=args.from_peak,
            sample_s=args.sample_s,
            api_rate=args.api_rate,
            idle_s=args.idle_s,
            housekeeping_s=args.housekeeping_s,
        )
    return 0 if outcome.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
