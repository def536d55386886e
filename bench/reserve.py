"""Reservations (``POST /contacts``): where one costs its CPU, and how many
the server books per second with 100 clients (issue 17: >= 300/s on
PostgreSQL with the exclusion constraint, 0 double bookings).

The world is bench/api.py's (50 stations x 2 antennas, 500 LEO satellites,
~12,000 contacts), in a database of this run's own (PostgreSQL when
GS_TEST_POSTGRES_URL is set, ``<name>_bench_reserve_<pid>``, dropped after;
else a SQLite file; ``--sqlite`` forces SQLite). The windows booked are
free predicted passes (``bench_api.free_windows``).

``--mode profile`` (in this process, one request at a time):

- the CPU of one reservation through the ASGI app (``api.app.create_app``;
  the route's thread hops run inline so that one profiler sees them all)
  and of ``booking.reserve`` alone, without a profiler (process time);
- then the same under cProfile, its time split by step: the key look-up,
  the body's validation, the satellite read, the idempotency check, the
  reads of phase 1, the rules, the pass prediction, the staging (maintenance
  check, transition), the insert (one Core statement on PostgreSQL), the
  commit (ORM flush if any, COMMIT), the event publish and the response.

``--mode load``: uvicorn as deployed (bench_api.start_server, one worker per
core) and bench/httpload.py's 100 keep-alive clients: every window once and
20 % of them twice at once (the second must get 409); booked per second,
the server's and database's CPU per request (from /proc), then the database
is checked for overlapping active contacts on one antenna.

Last line: RESULT reserve mode=.. db=.. ...
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import load_bench_api  # noqa: E402

B = load_bench_api()


def database_url(sqlite: bool, tmp: Path) -> tuple[str, Callable[[], None]]:
    """A fresh database of this run and how to drop it."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from groundstation.db import make_engine

    pg = os.environ.get("GS_TEST_POSTGRES_URL", "")
    if sqlite or not pg:
        return f"sqlite:///{tmp / 'bench.db'}", lambda: None
    base = make_url(pg)
    name = f"{base.database}_bench_reserve_{os.getpid()}"
    admin_url = base.render_as_string(hide_password=False)

    def sql(statement: str) -> None:
        admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(statement))
        admin.dispose()

    sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    return url, lambda: sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------- profile

#: Steps of a reservation: (label, function name, the caller it is counted
#: under or None for every caller). Cumulative times; the rest is "other".
STEPS: tuple[tuple[str, str, str | None], ...] = (
    ("auth (API key, cached)", "get_principal", None),
    ("body validation (pydantic)", "request_body_to_args", None),
    ("satellite read (route)", "get_satellite_for", None),
    ("satellite read (booking.reserve alone)", "get_satellite", "prepare_reservation"),
    ("idempotency check", "_find_idempotent", "reserve"),
    ("phase 1 reads: antenna, station, profile, agent (+ ephemeris)", "_booking_rows", None),
    ("phase 1 reads: antenna (+station), profile", "_antenna_and_profile", "prepare_reservation"),
    ("phase 1 reads: station agent", "get", "prepare_reservation"),
    ("phase 1 reads: ephemeris in force", "booking_ephemeris", None),
    ("rules (profile settings, downlink, band)", "_require_workable", None),
    ("phase 1 commit", "commit", "prepare_reservation"),
    ("pass prediction", "_matching_pass", None),
    ("ephemeris coverage", "require_coverage", None),
    ("stage (maintenance check, transition)", "stage_reservation", None),
    ("stage (rules, contact, history row)", "_staged", None),
    ("insert (contact + history; PostgreSQL: + maintenance)", "_insert", None),
    ("commit (flush, INSERTs, COMMIT)", "commit", "_book"),
    ("event publish", "publish", "reserve"),
    ("response (ContactPublic, JSON)", "contact_public", None),
    ("response (ContactPublic, JSON)", "json_response", "reserve_contact"),
    ("session end", "close", None),
)


def _breakdown(stats: pstats.Stats, n: int) -> list[tuple[str, float]]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for label, name, caller in STEPS:
        total = 0.0
        for (_, _, func), (_, _, _, ct, callers) in raw.items():
            if func != name:
                continue
            if caller is None:
                total += ct
            else:
                total += sum(v[3] for (_, _, f), v in callers.items() if f == caller)
        out[label] = out.get(label, 0.0) + total * 1000.0 / n
    return list(out.items())


def _scope(body: bytes, key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/contacts",
        "raw_path": b"/contacts",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _post(app: Any, window: dict[str, Any], key: str) -> int:
    body = json.dumps(window).encode()
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(_scope(body, key), receive, send)
    return statuses[0]


def _inline_threads() -> None:
    """Run the route's thread hops inline (one thread: one profiler sees the
    whole request; the CPU is the same work)."""
    import anyio.to_thread

    async def run_sync(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


def profile(url: str, tmp: Path, world: dict[str, Any], windows: list[dict[str, Any]]) -> str:
    from sqlalchemy import event

    from api.app import create_app
    from groundstation import booking
    from groundstation.clock import SimulatedClock
    from groundstation.db import make_engine, make_session_factory
    from groundstation.policy import BookingPolicy
    from groundstation.settings import Settings

    _inline_threads()
    settings = Settings(
        database_url=url, data_dir=tmp, max_ephemeris_age_days=30, max_expensive_per_key=1000
    )
    app = create_app(settings, clock=SimulatedClock(B.NOW, speedup=1e-9), migrate=False)
    key = world["admin_key"]
    # Four equal parts, the HTTP and domain runs alternated.
    parts = [windows[k::4] for k in range(4)]
    policy = BookingPolicy.from_settings(settings)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, *a: statements.append(stmt))

    async def http(ws: list[dict[str, Any]], prof: cProfile.Profile | None) -> tuple[float, int]:
        booked = 0
        started = time.process_time()
        if prof:
            prof.enable()
        for w in ws:
            booked += await _post(app, w, key) == 201
        if prof:
            prof.disable()
        return time.process_time() - started, booked

    def domain(ws: list[dict[str, Any]], prof: cProfile.Profile | None) -> tuple[float, int]:
        booked = 0
        started = time.process_time()
        if prof:
            prof.enable()
        for w in ws:
            with factory() as session:
                booking.reserve(
                    session,
                    norad_id=w["norad_id"],
                    antenna_id=w["antenna_id"],
                    profile_id=w["profile_id"],
                    start=datetime.fromisoformat(w["start"]),
                    end=datetime.fromisoformat(w["end"]),
                    tenant="tenant0",
                    now=B.NOW,
                    policy=policy,
                )
                booked += 1
        if prof:
            prof.disable()
        return time.process_time() - started, booked

    async def run() -> str:
        lines = []
        async with app.router.lifespan_context(app):
            await http(parts[0][:20], None)  # warm-up (imports, caches)
            domain(parts[1][:20], None)
            cpu_http, n_http = await http(parts[0][20:], None)
            statements.clear()
            cpu_dom, n_dom = domain(parts[1][20:], None)
            per = len(statements) / n_dom
            kinds = sorted({st.split()[0] for st in statements})
            lines.append(
                f"without profiler: POST /contacts {cpu_http * 1000 / n_http:.2f} ms CPU per "
                f"reservation ({n_http} booked), booking.reserve alone "
                f"{cpu_dom * 1000 / n_dom:.2f} ms ({n_dom}), {per:.1f} SQL statements each "
                f"(excluding BEGIN/COMMIT: {', '.join(kinds)})"
            )
            for label, ws, call in (
                ("POST /contacts", parts[2], "http"),
                ("booking.reserve", parts[3], "domain"),
            ):
                prof = cProfile.Profile(time.process_time)  # CPU of this process
                if call == "http":
                    cpu, n = await http(ws, prof)
                else:
                    cpu, n = domain(ws, prof)
                stats = pstats.Stats(prof)
                total = stats.total_tt * 1000.0 / n  # type: ignore[attr-defined]
                lines.append(f"{label} under cProfile: {total:.2f} ms per reservation ({n}):")
                rest = total
                for step, ms in _breakdown(stats, n):
                    if ms > 0:
                        lines.append(f"  {step:<52} {ms:6.2f} ms {100 * ms / total:5.1f} %")
                        rest -= ms
                lines.append(
                    f"  {'other (framework, middleware, driver)':<52} {rest:6.2f} ms {100 * rest / total:5.1f} %"
                )
                if dump := os.environ.get("BENCH_RESERVE_PSTATS"):
                    stats.dump_stats(f"{dump}.{call}")  # for a closer look (pstats)
            self_cpu = (cpu_http * 1000 / n_http, cpu_dom * 1000 / n_dom)
            lines.append(f"RESULT-CPU {self_cpu[0]:.2f} {self_cpu[1]:.2f}")
        return "\n".join(lines)

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


# ---------------------------------------------------------------- load


def load(
    url: str,
    tmp: Path,
    world: dict[str, Any],
    windows: list[dict[str, Any]],
    concurrency: int,
    workers: int,
) -> tuple[float, int, tuple[float, float] | None, str]:
    from sqlalchemy.engine import make_url

    from bench.httpload import Request

    os.environ["BENCH_API_DATABASE"] = make_url(url).database or ""
    rng = random.Random(B.SEED)
    reqs = [Request("POST", "/contacts", None, w) for w in windows]
    reqs += [Request("POST", "/contacts", None, w) for w in rng.sample(windows, len(windows) // 5)]
    rng.shuffle(reqs)
    proc, base = B.start_server(url, tmp, workers)
    headers = {"Authorization": f"Bearer {world['admin_key']}"}
    try:
        B.measure(
            base, "warm-up", [Request("GET", "/healthz")] * 200, headers, concurrency, proc.pid
        )
        stats, replies = B.measure(
            base, "POST /contacts (reserve)", reqs, headers, concurrency, proc.pid, keep_bodies=True
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    booked = sum(1 for r in replies if r.status == 201)
    refused = sum(1 for r in replies if r.status == 409)
    other = {r.status: r.body[:200] for r in replies if r.status not in (201, 409)}
    summary = (
        f"{len(windows)} windows, {len(reqs)} requests: {booked} booked (201), {refused} refused "
        f"(409), other {other or 'none'}\n  {stats.line()}"
    )
    return booked / stats.wall_s, booked, stats.cpu_ms_per_req, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("profile", "load"), default="load")
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite even with GS_TEST_POSTGRES_URL"
    )
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--satellites", type=int, default=500)
    parser.add_argument("--contacts-per-antenna", type=int, default=120)
    parser.add_argument("--reserve-hours", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-reserve-"))
    url, drop = database_url(args.sqlite, tmp)
    try:
        world = B.populate(url, args.stations, args.satellites, args.contacts_per_antenna)
        start = max(B.NOW + B.timedelta(hours=1), world["last_booked"] + B.timedelta(minutes=10))
        windows = B.free_windows(world["elements"], world["stations"], start, args.reserve_hours)
        db = "postgresql" if url.startswith("postgresql") else "sqlite"
        print(f"database {B.database_settings(url)}; {world['n_contacts']} contacts; code {ROOT}")
        load_before = os.getloadavg()[0]
        if args.mode == "profile":
            out = profile(url, tmp, world, windows)
            *lines, cpu = out.splitlines()
            print("\n".join(lines))
            http_ms, domain_ms = cpu.split()[1:]
            result = f"http_cpu_ms={http_ms} domain_cpu_ms={domain_ms}"
        else:
            rate, booked, cpu_ms, summary = load(
                url, tmp, world, windows, args.concurrency, args.workers
            )
            print(summary)
            cpu_txt = "nan" if cpu_ms is None else f"{sum(cpu_ms):.2f}"
            result = f"reserve_per_s={rate:.1f} booked={booked} cpu_ms_per_request={cpu_txt}"
        double = B.count_double_bookings(url)
        print(f"1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
        print(f"double bookings (overlapping active contacts on one antenna): {double}")
        print(f"RESULT reserve mode={args.mode} db={db} {result} double_bookings={double}")
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
