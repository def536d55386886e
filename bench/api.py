"""REST API bench: uvicorn started as a user would (a subprocess, one worker
per core by default), a realistic database, 100 concurrent HTTP clients on
loopback.

Database: 50 stations x 2 antennas (100 antennas), 500 satellites with their
TLEs (sample_tles/active.tle, epoch 2023-07-04), >= 12,000 contacts
(bulk-inserted: completed ones in the past, scheduled ones ahead). PostgreSQL
when GS_TEST_POSTGRES_URL is set (database ``<name>_bench_api``, created
fresh), else a SQLite file; ``--database-url`` overrides.

The clients (bench/httpload.py: one keep-alive connection each, run in their
own process) are lean on purpose: httpx needs about 1 ms of CPU per request,
which on 2 cores measured the client more than the server.

Measured, with ``--concurrency`` (100) clients at once:

- ``GET /contacts`` filtered (state, station, time range) and paginated;
- ``GET /passes`` for one satellite over 7 days (all 50 stations, with
  per-antenna availability): random satellites of the 500 (mostly
  predicted afresh), then ``--cached-satellites`` of them asked again and
  again (answered from the prediction cache);
- ``POST /contacts``: reservations of free predicted windows, 20 % of them
  sent twice at once (those must get 409); afterwards the database is
  checked for overlapping active contacts on one antenna (double bookings);
- reference in the same run: ``GET /healthz`` (framework + client floor).

Closed loop first (each client sends its next request as soon as the previous
answer arrives: the headline p99 and the requests/s the server sustains), then
open loop for the reads: Poisson arrivals at 25/50/75 % of that rate spread
over the same 100 connections, latency counted from each request's scheduled
arrival. CPU per request (server processes and the database's backends, from
/proc) is printed for each closed-loop run.

Goal: p99 < 50 ms for the reads at 100 concurrent clients, >= 300
reservations/s, no double booking.
Last line: RESULT api contacts_p99_ms=.. passes_p99_ms=.. reserve_per_s=.. double_bookings=..
(then the closed-loop rates, the contacts rate as % of healthz's, the CPU
per cached passes answer, and the open-loop p99 at half of them).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# This script's folder holds api.py and ingest.py: the packages come first.
sys.path.insert(0, str(ROOT))

from bench.httpload import Reply, Request, run_in_process  # noqa: E402

NOW = datetime(2023, 7, 4, 12, 0, tzinfo=UTC)
SEED = 20230704


@dataclass
class Stats:
    name: str
    latencies_s: list[float]
    statuses: dict[int, int]
    wall_s: float
    cpu_ms_per_req: tuple[float, float] | None = None  # (server, database)

    def pct_ms(self, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_s), q) * 1000.0)

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.wall_s

    def line(self) -> str:
        cpu = (
            f"  cpu/req server {self.cpu_ms_per_req[0]:.2f} ms db {self.cpu_ms_per_req[1]:.2f} ms"
            if self.cpu_ms_per_req
            else ""
        )
        return (
            f"{self.name:<44} n={len(self.latencies_s):>5}  {self.rate:7.1f} req/s  "
            f"p50 {self.pct_ms(50):7.1f} ms  p99 {self.pct_ms(99):7.1f} ms  "
            f"{dict(sorted(self.statuses.items()))}{cpu}"
        )


# ---------------------------------------------------------------- database


def database_url(arg: str | None, tmp: Path) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from groundstation.db import make_engine

    if arg:
        return arg
    pg = os.environ.get("GS_TEST_POSTGRES_URL", "")
    if not pg:
        return f"sqlite:///{tmp / 'bench.db'}"
    base = make_url(pg)
    name = f"{base.database}_bench_api"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def populate(url: str, n_stations: int, n_sats: int, contacts_per_antenna: int) -> dict[str, Any]:
    """Bulk-insert the inventory and the contacts; return what the load needs."""
    from sqlalchemy import insert

    from groundstation import apikeys
    from groundstation.db import make_engine, make_session_factory, migrate
    from groundstation.models import (
        Antenna,
        Contact,
        Ephemeris,
        GroundStation,
        MissionProfile,
        Satellite,
    )
    from orbital.tle import parse_tle

    rng = random.Random(SEED)
    engine = make_engine(url)
    migrate(engine)
    elements = parse_tle((ROOT / "sample_tles" / "active.tle").read_text().splitlines()).elements
    leo = [e for e in elements if 11.0 < e.mean_motion_rev_per_day < 16.5][:n_sats]
    assert len(leo) == n_sats, f"only {len(leo)} LEO element sets in active.tle"
    stations = []
    for i in range(n_stations):
        stations.append(
            {
                "id": f"gs{i:02d}",
                "name": f"Station {i}",
                "lat_deg": -60.0 + 135.0 * rng.random(),
                "lon_deg": -180.0 + 360.0 * rng.random(),
                "alt_m": 100.0,
                "min_elevation_deg": 0.0,
                "horizon_mask": [],
            }
        )
    antennas = [
        {
            "id": f"{s['id']}-{k}",
            "station_id": s["id"],
            "bands": [[100e6, 3e9]],
            "min_elevation_deg": 0.0,
            "max_az_slew_deg_s": 10.0,
            "max_el_slew_deg_s": 10.0,
            "setup_s": 60.0,
            "teardown_s": 60.0,
            "status": "online",
        }
        for s in stations
        for k in (1, 2)
    ]
    satellites = [
        {
            "id": i + 1,
            "norad_id": e.norad_id,
            "name": e.name or str(e.norad_id),
            "tenant": f"tenant{i % 10}",
            "downlink_freq_hz": 437.5e6,
            "downlink_bandwidth_hz": 25e3,
            "modulation": "bpsk",
            "symbol_rate_baud": 9600.0,
            "framing_profile": "",
            "created_at": NOW,
        }
        for i, e in enumerate(leo)
    ]
    ephemerides = [
        {
            "satellite_id": i + 1,
            "epoch": e.epoch,
            "source": "bench",
            "source_format": e.source_format,
            "text": e.text(),
            "uploaded_at": NOW,
            "priority": 0,
            "enabled": True,
            "expires_at": None,
        }
        for i, e in enumerate(leo)
    ]
    # Contacts: per antenna, one after another from 6 days ago; past ones completed.
    contacts: list[dict[str, Any]] = []
    texts = {i + 1: (e.epoch, e.text()) for i, e in enumerate(leo)}
    for a in antennas:
        t = NOW - timedelta(days=6) + timedelta(minutes=rng.uniform(0, 30))
        for _ in range(contacts_per_antenna):
            sat_id = rng.randint(1, n_sats)
            aos = t + timedelta(minutes=rng.uniform(3, 120))
            los = aos + timedelta(minutes=rng.uniform(4, 12))
            booked_start, booked_end = aos - timedelta(seconds=120), los + timedelta(seconds=60)
            blocked_start = booked_start - timedelta(seconds=60)
            blocked_end = booked_end + timedelta(seconds=60)
            epoch, txt = texts[sat_id]
            contacts.append(
                {
                    "id": f"{a['id']}-{len(contacts):06d}-0000-0000-000000000000"[:36],
                    "satellite_id": sat_id,
                    "antenna_id": a["id"],
                    "profile_id": "leo",
                    "tenant": satellites[sat_id - 1]["tenant"],
                    "booked_start": booked_start,
                    "booked_end": booked_end,
                    "blocked_start": blocked_start,
                    "blocked_end": blocked_end,
                    "aos": aos,
                    "tca": aos + (los - aos) / 2,
                    "los": los,
                    "max_elevation_deg": rng.uniform(10, 85),
                    "ephemeris_id": None,
                    "ephemeris_epoch": epoch,
                    "ephemeris_text": txt,
                    "state": "COMPLETED" if booked_start < NOW else "SCHEDULED",
                    "state_reason": "bench",
                    "idempotency_key": None,
                    "created_at": NOW - timedelta(days=11),
                    "updated_at": NOW - timedelta(days=11),
                }
            )
            t = blocked_end
    with engine.begin() as conn:
        conn.execute(insert(GroundStation), stations)
        conn.execute(insert(Antenna), antennas)
        conn.execute(insert(Satellite), satellites)
        conn.execute(insert(Ephemeris), ephemerides)
        conn.execute(
            insert(MissionProfile),
            [
                {
                    "id": "leo",
                    "min_viable_duration_s": 120.0,
                    "prepass_s": 120.0,
                    "postpass_s": 60.0,
                    "min_elevation_deg": 10.0,
                    "demod": {},
                    "decode": {},
                    "kafka_topic": "",
                    "dataset_options": {},
                }
            ],
        )
        for k in range(0, len(contacts), 2000):
            conn.execute(insert(Contact), contacts[k : k + 2000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    with make_session_factory(engine)() as session:
        _, admin_key = apikeys.create_key(session, name="bench", role="admin", now=NOW)
    last_booked = max(c["blocked_end"] for c in contacts)
    engine.dispose()
    return {
        "admin_key": admin_key,
        "elements": leo,
        "stations": stations,
        "n_contacts": len(contacts),
        "last_booked": last_booked,
    }


def free_windows(
    elements: list[Any], stations: list[dict[str, Any]], start: datetime, hours: float
) -> list[dict[str, Any]]:
    """Predicted passes (>= 10 deg, >= 3 min) chosen greedily so that no two
    overlap on one antenna (incl. pre/post-pass and setup/teardown)."""
    from orbital.passes import predict_passes
    from orbital.stations import Station

    orbital = [
        Station(id=s["id"], name=s["name"], lat_deg=s["lat_deg"], lon_deg=s["lon_deg"],
                alt_m=s["alt_m"], min_elevation_deg=10.0)
        for s in stations
    ]  # fmt: skip
    passes = predict_passes(elements, orbital, start, start + timedelta(hours=hours)).passes
    busy: dict[str, datetime] = {}
    out = []
    for p in sorted(passes, key=lambda p: p.aos):
        if p.duration_s < 180 or p.truncated:
            continue
        blocked_start = p.aos - timedelta(seconds=180)
        for k in (1, 2):
            antenna = f"{p.station_id}-{k}"
            if busy.get(antenna, start) <= blocked_start:
                busy[antenna] = p.los + timedelta(seconds=120)
                out.append(
                    {
                        "norad_id": p.norad_id,
                        "antenna_id": antenna,
                        "profile_id": "leo",
                        "start": p.aos.isoformat(),
                        "end": p.los.isoformat(),
                    }
                )
                break
    return out


def count_double_bookings(url: str) -> int:
    from sqlalchemy import text

    from groundstation.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM contacts a JOIN contacts b ON a.antenna_id = b.antenna_id "
                "AND a.id < b.id AND a.blocked_start < b.blocked_end "
                "AND b.blocked_start < a.blocked_end "
                "WHERE a.state IN ('SCHEDULED','PREPASS','PASS','POSTPASS') "
                "AND b.state IN ('SCHEDULED','PREPASS','PASS','POSTPASS')"
            )
        ).scalar_one()
    engine.dispose()
    return int(n)


# ---------------------------------------------------------------- load


def cpu_ticks(server_pid: int, database_name: str) -> tuple[int, int] | None:
    """CPU clock ticks so far of the server (uvicorn and its worker
    processes) and of the database backends serving the bench database (the
    PostgreSQL processes whose title names ``database_name``, not another run's
    on the same server); None without /proc."""
    marker = f" {database_name} ".encode()
    proc = Path("/proc")
    if not (proc / str(server_pid) / "stat").exists():
        return None
    server = database = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if int(entry.name) == server_pid or int(fields[1]) == server_pid:
            server += ticks
        elif marker in cmdline.replace(b"\0", b" ") + b" ":
            database += ticks
    return server, database


def measure(
    base_url: str,
    name: str,
    requests: list[Request],
    headers: dict[str, str],
    concurrency: int,
    server_pid: int,
    *,
    rate_per_s: float | None = None,
    keep_bodies: bool = False,
) -> tuple[Stats, list[Reply]]:
    database = os.environ["BENCH_API_DATABASE"]
    before = cpu_ticks(server_pid, database)
    result = run_in_process(
        base_url,
        requests,
        headers,
        concurrency,
        keep_bodies=keep_bodies,
        rate_per_s=rate_per_s,
    )
    after = cpu_ticks(server_pid, database)
    if result.errors:
        print(f"{name}: {len(result.errors)} transport errors, first: {result.errors[0]}")
    cpu = None
    if before is not None and after is not None and rate_per_s is None:
        hz = os.sysconf("SC_CLK_TCK")
        n = len(result.latencies_s)
        cpu = (
            (after[0] - before[0]) * 1000.0 / hz / n,
            (after[1] - before[1]) * 1000.0 / hz / n,
        )
    stats = Stats(name, result.latencies_s, result.statuses, result.wall_s, cpu)
    return stats, [r for r in result.replies if r is not None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, data_dir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        GS_DATABASE_URL=url,
        GS_DATA_DIR=str(data_dir),
        GS_CLOCK="simulated",
        GS_CLOCK_START=NOW.isoformat(),
        GS_CLOCK_SPEEDUP="1",
        GS_MAX_EPHEMERIS_AGE_DAYS="30",
        # One key drives 100 clients: measure the server's capacity, not the
        # per-key limit on concurrent GET /passes (which would answer 429).
        GS_MAX_EXPENSIVE_PER_KEY="1000",
    )
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "60",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    import httpx

    deadline = time.monotonic() + 60
    answered = 0
    while time.monotonic() < deadline:
        try:
            # Every worker must be up: several answers in a row.
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                answered += 1
                if answered >= 5 * workers:
                    return proc, f"http://127.0.0.1:{port}"
                continue
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("uvicorn did not answer /healthz within 60 s")


def database_settings(url: str) -> str:
    """What makes commits cheap or dear on this database, for the record."""
    from sqlalchemy import text

    from groundstation.db import make_engine

    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return "SQLite (WAL)"
        with engine.connect() as conn:
            values = {
                name: conn.execute(text(f"SHOW {name}")).scalar_one()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
        return "PostgreSQL " + ", ".join(f"{k}={v}" for k, v in values.items())
    finally:
        engine.dispose()


def reads_only(
    url: str,
    tmp: Path,
    world: dict[str, Any],
    args: argparse.Namespace,
    counts: list[int],
    contact_requests: Any,
) -> int:
    """``GET /contacts`` against ``GET /healthz`` at each client count in
    ``counts``, like with like: per round and count, healthz, contacts,
    healthz back to back on one server, the ratio taken against the mean
    of the two healthz rates (the machine's other work changes within
    seconds). Prints each triple, then the median ratio per count."""
    proc, base = start_server(url, tmp, args.workers)
    headers = {"Authorization": f"Bearer {world['admin_key']}"}
    pid = proc.pid
    n = args.contacts_requests
    ratios: dict[int, list[float]] = {c: [] for c in counts}
    loads: list[float] = [os.getloadavg()[0]]
    print(
        f"uvicorn api.app:app_from_env, {args.workers} workers; reads only, "
        f"{os.cpu_count()} cores shared by server, database and clients"
    )
    try:
        health = [Request("GET", "/healthz")] * n
        measure(base, "warm-up", contact_requests(200) + health[:200], headers, 10, pid)
        for _ in range(args.repeats):
            for c in counts:
                h1, _ = measure(base, f"GET /healthz, {c} clients", health, headers, c, pid)
                ct, _ = measure(
                    base, f"GET /contacts, {c} clients", contact_requests(n), headers, c, pid
                )
                h2, _ = measure(base, f"GET /healthz, {c} clients", health, headers, c, pid)
                ratio = ct.rate / ((h1.rate + h2.rate) / 2)
                ratios[c].append(ratio)
                load = os.getloadavg()[0]
                loads.append(load)
                for st in (h1, ct, h2):
                    print("  " + st.line())
                print(f"  -> {c} clients: contacts {ratio:.1%} of healthz (1-min load {load:.2f})")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    med = {c: float(np.median(r)) for c, r in ratios.items()}
    spread = ", ".join(
        f"{c} clients {med[c]:.1%} ({min(r):.1%}-{max(r):.1%})" for c, r in ratios.items()
    )
    print(
        f"contacts rate as % of healthz's, median of {args.repeats} (min-max): {spread}; "
        f"1-min load {min(loads):.2f}-{max(loads):.2f} (goal >= 25 %)"
    )
    print(
        "RESULT api_reads "
        + " ".join(f"contacts_vs_healthz_pct_c{c}={100 * m:.1f}" for c, m in med.items())
        + f" load_min={min(loads):.2f} load_max={max(loads):.2f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--satellites", type=int, default=500)
    parser.add_argument("--contacts-per-antenna", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--reads-only",
        default=None,
        metavar="N,N,...",
        help="only GET /healthz and GET /contacts, alternated (healthz, contacts, healthz) "
        "at each of these client counts, --repeats times, on one server; prints the "
        "contacts rate as %% of the mean of the two healthz runs around it",
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds of --reads-only")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn worker processes"
    )
    parser.add_argument("--contacts-requests", type=int, default=4000)
    parser.add_argument("--passes-requests", type=int, default=300)
    parser.add_argument(
        "--cached-satellites",
        type=int,
        default=8,
        help="satellites of the cached GET /passes run (at most the cache's 32 entries)",
    )
    parser.add_argument("--reserve-hours", type=float, default=6.0)
    parser.add_argument(
        "--open-loop-seconds", type=float, default=6.0, help="length of each open-loop run"
    )
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = database_url(args.database_url, tmp)
    from sqlalchemy.engine import make_url

    # The name the database backends' process titles carry (cpu_ticks).
    os.environ["BENCH_API_DATABASE"] = make_url(url).database or ""
    t0 = time.perf_counter()
    world = populate(url, args.stations, args.satellites, args.contacts_per_antenna)
    print(
        f"database {database_settings(url)}: {args.stations} stations, {2 * args.stations} "
        f"antennas, {args.satellites} satellites, {world['n_contacts']} contacts "
        f"(set up in {time.perf_counter() - t0:.1f} s)"
    )
    reserve_start = max(NOW + timedelta(hours=1), world["last_booked"] + timedelta(minutes=10))
    windows = free_windows(world["elements"], world["stations"], reserve_start, args.reserve_hours)
    rng = random.Random(SEED)

    def contact_requests(n: int) -> list[Request]:
        out = []
        for _ in range(n):
            day = NOW - timedelta(days=rng.uniform(-1, 6))
            params = {
                "state": ["COMPLETED", "SCHEDULED"],
                "station": f"gs{rng.randrange(args.stations):02d}",
                "start": day.isoformat(),
                "end": (day + timedelta(days=2)).isoformat(),
                "limit": 20,
            }
            out.append(Request("GET", "/contacts", params))
        return out

    norads = [e.norad_id for e in world["elements"]]

    def pass_requests(n: int) -> list[Request]:
        return [
            Request(
                "GET",
                "/passes",
                {
                    "satellite": rng.choice(norads),
                    "start": NOW.isoformat(),
                    "end": (NOW + timedelta(days=7)).isoformat(),
                    "min_elevation": 10,
                },
            )
            for _ in range(n)
        ]

    if args.reads_only:
        counts = [int(n) for n in args.reads_only.split(",")]
        return reads_only(url, tmp, world, args, counts, contact_requests)
    load_before = os.getloadavg()[0]
    proc, base = start_server(url, tmp, args.workers)
    print(
        f"uvicorn api.app:app_from_env, {args.workers} workers, {args.concurrency} concurrent "
        f"clients (bench/httpload.py, own process); {os.cpu_count()} cores shared by server, "
        "database and clients"
    )
    headers = {"Authorization": f"Bearer {world['admin_key']}"}
    c = args.concurrency
    pid = proc.pid
    stats: list[Stats] = []
    open_loop: dict[str, list[tuple[float, Stats]]] = {}
    try:
        healthz, _ = measure(
            base, "GET /healthz (reference)", [Request("GET", "/healthz")] * 4000, headers, c, pid
        )
        stats.append(healthz)
        contacts, replies = measure(
            base,
            "GET /contacts (filtered, page 20)",
            contact_requests(args.contacts_requests),
            headers,
            c,
            pid,
            keep_bodies=True,
        )
        assert all(r.status == 200 for r in replies), "GET /contacts failed"
        assert sum(len(r.json()["data"]) for r in replies) > 0, "filters matched nothing"
        stats.append(contacts)
        passes, replies = measure(
            base,
            "GET /passes (1 sat, 7 days, 50 stations)",
            pass_requests(args.passes_requests),
            headers,
            c,
            pid,
            keep_bodies=True,
        )
        assert all(r.status == 200 for r in replies), "GET /passes failed"
        n_passes = sum(r.json()["count"] for r in replies) / len(replies)
        stats.append(passes)
        # Answered from the prediction cache: a few satellites asked again
        # and again (each worker predicts each once, within the warm-up).
        cached = rng.sample(norads, args.cached_satellites)

        def cached_pass_requests(n: int) -> list[Request]:
            return [
                Request(
                    "GET",
                    "/passes",
                    {
                        "satellite": cached[k % len(cached)],
                        "start": NOW.isoformat(),
                        "end": (NOW + timedelta(days=7)).isoformat(),
                        "min_elevation": 10,
                    },
                )
                for k in range(n)
            ]

        measure(base, "warm-up", cached_pass_requests(8 * len(cached)), headers, c, pid)
        passes_cached, _ = measure(
            base,
            f"GET /passes cached ({len(cached)} satellites)",
            cached_pass_requests(args.passes_requests),
            headers,
            c,
            pid,
        )
        stats.append(passes_cached)
        # Service time without queueing: one client at a time.
        stats.append(
            measure(base, "GET /contacts, 1 client", contact_requests(300), headers, 1, pid)[0]
        )
        stats.append(measure(base, "GET /passes, 1 client", pass_requests(20), headers, 1, pid)[0])
        # Open loop: offered load below what the server sustains.
        for label, closed, make in (
            ("contacts", contacts, contact_requests),
            ("passes", passes, pass_requests),
        ):
            for fraction in (0.25, 0.5, 0.75):
                rate = closed.rate * fraction
                n = max(20, int(rate * args.open_loop_seconds))
                name = f"GET /{label} open loop {rate:6.1f}/s ({fraction:.0%})"
                run, _ = measure(base, name, make(n), headers, c, pid, rate_per_s=rate)
                open_loop.setdefault(label, []).append((fraction, run))
        # Reservations: every free window once, 20 % of them twice (racing).
        reserve_reqs = [Request("POST", "/contacts", None, w) for w in windows]
        reserve_reqs += [
            Request("POST", "/contacts", None, w) for w in rng.sample(windows, len(windows) // 5)
        ]
        rng.shuffle(reserve_reqs)
        reserve, replies = measure(
            base, "POST /contacts (reserve)", reserve_reqs, headers, c, pid, keep_bodies=True
        )
        stats.append(reserve)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    booked = sum(1 for r in replies if r.status == 201)
    refused = sum(1 for r in replies if r.status == 409)
    other = {r.status: r.body[:200] for r in replies if r.status not in (201, 409)}
    double = count_double_bookings(url)
    print(
        f"1-min load average {load_before:.2f} before the load and "
        f"{os.getloadavg()[0]:.2f} after (other work on the machine shows here)"
    )
    print("closed loop (each client sends again as soon as it has its answer):")
    for st in stats:
        print("  " + st.line())
    print("open loop (Poisson arrivals over the same connections, latency from arrival):")
    for runs in open_loop.values():
        for _, st in runs:
            print("  " + st.line())
    print(f"passes per /passes answer: {n_passes:.1f}")
    print(
        f"reservations: {len(windows)} distinct windows, {len(reserve_reqs)} requests; "
        f"{booked} booked (201), {refused} refused (409), other {other or 'none'}"
    )
    reserve_per_s = booked / reserve.wall_s
    print(
        "goal: p99 < 50 ms for reads at 100 clients, >= 300 reservations/s, 0 double bookings: "
        f"contacts {'met' if contacts.pct_ms(99) < 50 else 'NOT met'}, "
        f"passes {'met' if passes.pct_ms(99) < 50 else 'NOT met'}, "
        f"reserve {'met' if reserve_per_s >= 300 else 'NOT met'}, "
        f"double bookings {'met' if double == 0 else 'NOT met'}"
    )
    cpu = {st.name: st.cpu_ms_per_req for st in (healthz, contacts, passes, passes_cached)}
    if all(v is not None for v in cpu.values()):
        h, ct, ps, pc = (sum(v) for v in cpu.values() if v is not None)
        print(
            f"CPU per answer (server + database): healthz {h:.2f} ms, contacts {ct:.2f} ms "
            f"({ct / h:.1f} x healthz), passes {ps:.1f} ms, passes cached {pc:.1f} ms; "
            f"contacts rate {contacts.rate / healthz.rate:.1%} of healthz's "
            "(goals: >= 25 %; passes cached <= 20 ms CPU)"
        )
    half = {label: dict(runs)[0.5] for label, runs in open_loop.items()}
    print(
        f"RESULT api contacts_p99_ms={contacts.pct_ms(99):.1f} "
        f"passes_p99_ms={passes.pct_ms(99):.1f} reserve_per_s={reserve_per_s:.1f} "
        f"double_bookings={double} contacts_per_s={contacts.rate:.1f} "
        f"passes_per_s={passes.rate:.1f} "
        f"contacts_vs_healthz_pct={100 * contacts.rate / healthz.rate:.1f} "
        f"passes_cached_cpu_ms={sum(passes_cached.cpu_ms_per_req or (float('nan'),)):.1f} "
        f"contacts_p99_ms_half_load={half['contacts'].pct_ms(99):.1f} "
        f"passes_p99_ms_half_load={half['passes'].pct_ms(99):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
