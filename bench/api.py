"""REST API bench: uvicorn started as a user would (a subprocess), a realistic
database, many concurrent HTTP clients on loopback.

Database: 50 stations x 2 antennas (100 antennas), 500 satellites with their
TLEs (sample_tles/active.tle, epoch 2023-07-04), >= 12,000 contacts
(bulk-inserted: completed ones in the past, scheduled ones ahead). PostgreSQL
when GS_TEST_POSTGRES_URL is set (database ``<name>_bench_api``, created
fresh), else a SQLite file; ``--database-url`` overrides.

Measured, with ``--concurrency`` (100) clients at once (httpx + asyncio):

- ``GET /contacts`` filtered (state, station, time range) and paginated;
- ``GET /passes`` for one satellite over 7 days (all 50 stations, with
  per-antenna availability);
- ``POST /contacts``: reservations of free predicted windows, 20 % of them
  sent twice at once (those must get 409); afterwards the database is
  checked for overlapping active contacts on one antenna (double bookings);
- reference in the same run: ``GET /healthz`` (framework + client floor).

Goal: p99 < 50 ms for the reads at 100 concurrent clients, >= 300
reservations/s, no double booking.
Last line: RESULT api contacts_p99_ms=.. passes_p99_ms=.. reserve_per_s=.. double_bookings=..
"""

from __future__ import annotations

import argparse
import asyncio
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
NOW = datetime(2023, 7, 4, 12, 0, tzinfo=UTC)
SEED = 20230704


@dataclass
class Stats:
    name: str
    latencies_s: list[float]
    statuses: dict[int, int]
    wall_s: float

    def pct_ms(self, q: float) -> float:
        return float(np.percentile(np.array(self.latencies_s), q) * 1000.0)

    @property
    def rate(self) -> float:
        return len(self.latencies_s) / self.wall_s

    def line(self) -> str:
        return (
            f"{self.name:<34} n={len(self.latencies_s):>5}  {self.rate:8.1f} req/s  "
            f"p50 {self.pct_ms(50):8.1f} ms  p99 {self.pct_ms(99):8.1f} ms  "
            f"statuses {dict(sorted(self.statuses.items()))}"
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
    contacts = []
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


async def run_load(
    base_url: str,
    name: str,
    requests: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]],
    headers: dict[str, str],
    concurrency: int,
) -> tuple[Stats, list[Any]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    results: list[Any] = [None] * len(requests)
    errors: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=120
    ) as client:

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                method, path, params, body = requests[i]
                t0 = time.perf_counter()
                try:
                    r = await client.request(method, path, params=params, json=body)
                except httpx.TransportError as exc:  # counted as status 0, not retried
                    latencies.append(time.perf_counter() - t0)
                    statuses[0] = statuses.get(0, 0) + 1
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append(time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                results[i] = r

        # Open the clients' keep-alive connections first (not timed): the clients
        # are long-lived, as a dashboard or a scheduler would be.
        await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    if errors:
        print(f"{name}: {len(errors)} transport errors, first: {errors[0]}", file=sys.stderr)
    return Stats(name, latencies, statuses, wall), [r for r in results if r is not None]


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
    )
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "60",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}"
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("uvicorn did not answer /healthz within 60 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--satellites", type=int, default=500)
    parser.add_argument("--contacts-per-antenna", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn worker processes (with >1, this uvicorn answers small keep-alive "
        "responses ~40 ms late: Nagle, measured)",
    )
    parser.add_argument("--contacts-requests", type=int, default=3000)
    parser.add_argument("--passes-requests", type=int, default=200)
    parser.add_argument("--reserve-hours", type=float, default=6.0)
    args = parser.parse_args(argv)
    # This script's folder holds api.py and ingest.py: the packages come first.
    sys.path.insert(0, str(ROOT))

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = database_url(args.database_url, tmp)
    t0 = time.perf_counter()
    world = populate(url, args.stations, args.satellites, args.contacts_per_antenna)
    backend = url.split(":", 1)[0]
    print(
        f"database {backend}: {args.stations} stations, {2 * args.stations} antennas, "
        f"{args.satellites} satellites, {world['n_contacts']} contacts "
        f"(set up in {time.perf_counter() - t0:.1f} s)"
    )
    reserve_start = max(NOW + timedelta(hours=1), world["last_booked"] + timedelta(minutes=10))
    windows = free_windows(world["elements"], world["stations"], reserve_start, args.reserve_hours)
    rng = random.Random(SEED)
    proc, base = start_server(url, tmp, args.workers)
    print(
        f"uvicorn api.app:app_from_env, {args.workers} workers, {args.concurrency} concurrent clients"
    )
    headers = {"Authorization": f"Bearer {world['admin_key']}"}
    try:
        stats: list[Stats] = []
        healthz, _ = asyncio.run(
            run_load(
                base,
                "GET /healthz (reference)",
                [("GET", "/healthz", None, None)] * 2000,
                headers,
                args.concurrency,
            )
        )
        stats.append(healthz)
        contact_reqs: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = []
        for _ in range(args.contacts_requests):
            day = NOW - timedelta(days=rng.uniform(-1, 6))
            contact_reqs.append(
                (
                    "GET",
                    "/contacts",
                    {
                        "state": ["COMPLETED", "SCHEDULED"],
                        "station": f"gs{rng.randrange(args.stations):02d}",
                        "start": day.isoformat(),
                        "end": (day + timedelta(days=2)).isoformat(),
                        "limit": 20,
                    },
                    None,
                )
            )
        contacts_stats, results = asyncio.run(
            run_load(
                base, "GET /contacts (filtered, page 20)", contact_reqs, headers, args.concurrency
            )
        )
        assert all(r.status_code == 200 for r in results), "GET /contacts failed"
        assert sum(len(r.json()["data"]) for r in results) > 0, "filters matched nothing"
        stats.append(contacts_stats)
        norads = [e.norad_id for e in world["elements"]]
        pass_reqs: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
            (
                "GET",
                "/passes",
                {
                    "satellite": rng.choice(norads),
                    "start": NOW.isoformat(),
                    "end": (NOW + timedelta(days=7)).isoformat(),
                    "min_elevation": 10,
                },
                None,
            )
            for _ in range(args.passes_requests)
        ]
        passes_stats, results = asyncio.run(
            run_load(
                base, "GET /passes (1 sat, 7 days, 50 st.)", pass_reqs, headers, args.concurrency
            )
        )
        assert all(r.status_code == 200 for r in results), "GET /passes failed"
        n_passes = sum(r.json()["count"] for r in results) / len(results)
        stats.append(passes_stats)
        # Reservations: every free window once, 20 % of them twice (racing).
        reserve_reqs: list[tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]] = [
            ("POST", "/contacts", None, w) for w in windows
        ]
        reserve_reqs += [
            ("POST", "/contacts", None, w) for w in rng.sample(windows, len(windows) // 5)
        ]
        rng.shuffle(reserve_reqs)
        reserve_stats, results = asyncio.run(
            run_load(base, "POST /contacts (reserve)", reserve_reqs, headers, args.concurrency)
        )
        stats.append(reserve_stats)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    booked = sum(1 for r in results if r.status_code == 201)
    refused = sum(1 for r in results if r.status_code == 409)
    other = {r.status_code: r.text[:200] for r in results if r.status_code not in (201, 409)}
    double = count_double_bookings(url)
    for s in stats:
        print(s.line())
    print(f"passes per /passes answer: {n_passes:.1f}")
    print(
        f"reservations: {len(windows)} distinct windows, {len(reserve_reqs)} requests; "
        f"{booked} booked (201), {refused} refused (409), other {other or 'none'}"
    )
    reserve_per_s = booked / reserve_stats.wall_s
    print(
        f"reads vs /healthz p99: contacts x{contacts_stats.pct_ms(99) / healthz.pct_ms(99):.1f}, "
        f"passes x{passes_stats.pct_ms(99) / healthz.pct_ms(99):.1f}"
    )
    print(
        "goal: p99 < 50 ms for reads at 100 clients, >= 300 reservations/s, 0 double bookings: "
        f"contacts {'met' if contacts_stats.pct_ms(99) < 50 else 'NOT met'}, "
        f"passes {'met' if passes_stats.pct_ms(99) < 50 else 'NOT met'}, "
        f"reserve {'met' if reserve_per_s >= 300 else 'NOT met'}, "
        f"double bookings {'met' if double == 0 else 'NOT met'}"
    )
    print(
        f"RESULT api contacts_p99_ms={contacts_stats.pct_ms(99):.1f} "
        f"passes_p99_ms={passes_stats.pct_ms(99):.1f} reserve_per_s={reserve_per_s:.1f} "
        f"double_bookings={double}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
