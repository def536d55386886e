"""Worst-case cost of a single request: the CPU time of the most expensive
request of each class an operator's key may send, at the limits the API
enforces (issue 11: "no request that can stall the service").

The API runs as deployed (uvicorn subprocess, ``api.app:app_from_env``, one
worker, its serving GC settings) on the world of bench/api.py (50 stations
x 2 antennas, 500 LEO satellites of sample_tles/active.tle in 10 tenants,
~12,000 contacts) in SQLite, so the database's work is in the server
process too. Each request is sent alone; its CPU is the server process's
user + system time across it (from /proc, 10 ms ticks: cheap requests are
averaged over many). The key is an operator's (tenant0, 50 satellites).

Measured, each at its cap:

- ``POST /contacts``: a 70-year window (refused before predicting), the
  widest allowed window (GS_MAX_PASS_S + 2 x tolerance = 43,320 s, around
  a real pass: predicted, then refused as longer than the pass), and a
  normal one-pass booking;
- ``GET /passes``: one satellite, all 50 stations, 31 days (fresh each time);
- ``POST /plans``: the largest plan the limits let through (``--plan-
  satellites`` requests of 14 days over every antenna, no pass quota,
  ``time_limit_s`` 60): solved, then refused when it chooses more contacts
  than GS_MAX_PLAN_CONTACTS; then the same requests over a range scaled to
  95 % of that cap (``plan_at_cap``), and its commit;
- ``GET /contacts/{id}/track``: 200,000 samples (the cap);
- ``POST /satellites/{id}/ephemerides``: 1 MiB of TLE text (the body cap);
- ``GET /datasets/{id}/files/{name}``: a 16 MiB file (checked before
  sending) and a 256 MiB one (checked on the way);
- reference in the same run: ``GET /healthz`` and ``GET /contacts`` (a page
  of 100), averaged over 200 requests each.

Last line: RESULT limits <class>_cpu_ms=.. ... worst_class=.. worst_cpu_s=..
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._support import load_bench_api  # noqa: E402

B = load_bench_api()
NOW: datetime = B.NOW
HZ = os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.proc, self.base = B.start_server(url, data_dir, workers=1)
        self.http = httpx.Client(base_url=self.base, timeout=600)

    def cpu_s(self) -> float:
        ticks = B.cpu_ticks(self.proc.pid)
        assert ticks is not None, "needs /proc"
        return float(ticks[0]) / HZ

    def measure(
        self, send: Callable[[], httpx.Response], repeat: int = 1
    ) -> tuple[float, float, int]:
        """(CPU s per request, wall s per request, last status)."""
        before, started = self.cpu_s(), time.perf_counter()
        status = 0
        for _ in range(repeat):
            status = send().status_code
        return (
            (self.cpu_s() - before) / repeat,
            (time.perf_counter() - started) / repeat,
            status,
        )

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(30)


def operator_key(url: str) -> str:
    from groundstation import apikeys
    from groundstation.db import make_engine, make_session_factory

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        _, key = apikeys.create_key(
            session, name="worst", role="operator", tenant="tenant0", now=NOW
        )
    engine.dispose()
    return str(key)


def long_contact(url: str, norad_id: int) -> str:
    """A contact booked 20,000 s long (inserted): its track at step 0.1 s is
    the 200,000-sample cap."""
    from sqlalchemy import insert, select

    from groundstation.db import make_engine
    from groundstation.models import Contact, Ephemeris, Satellite

    engine = make_engine(url)
    with engine.begin() as conn:
        sat_id = conn.execute(
            select(Satellite.id).where(Satellite.norad_id == norad_id)
        ).scalar_one()
        epoch, text = conn.execute(
            select(Ephemeris.epoch, Ephemeris.text).where(Ephemeris.satellite_id == sat_id)
        ).one()
        start = NOW + timedelta(days=20)
        end = start + timedelta(seconds=19_999.9)
        conn.execute(
            insert(Contact),
            [
                {
                    "id": "worst-track-0000-0000-000000000000",
                    "satellite_id": sat_id,
                    "antenna_id": "gs00-1",
                    "profile_id": "leo",
                    "tenant": "tenant0",
                    "booked_start": start,
                    "booked_end": end,
                    "blocked_start": start,
                    "blocked_end": end,
                    "aos": start,
                    "tca": start + (end - start) / 2,
                    "los": end,
                    "max_elevation_deg": 45.0,
                    "ephemeris_id": None,
                    "ephemeris_epoch": epoch,
                    "ephemeris_text": text,
                    "state": "SCHEDULED",
                    "state_reason": "bench",
                    "idempotency_key": None,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    engine.dispose()
    return "worst-track-0000-0000-000000000000"


def datasets(url: str, store_dir: Path, norad_id: int, sizes: dict[str, int]) -> None:
    """Dataset ``worst`` of ``norad_id`` with one file per entry of ``sizes``."""
    from groundstation.db import make_engine
    from ingest.catalog import CatalogService, FileEntry
    from ingest.objectstore import LocalObjectStore

    store = LocalObjectStore(store_dir)
    engine = make_engine(url)
    catalog = CatalogService(engine)
    prefix = f"{norad_id}/worst"
    catalog.begin(
        dataset_id="worst",
        contact_id="c-worst",
        norad_id=norad_id,
        satellite=str(norad_id),
        station="gs00",
        antenna="gs00-1",
        start_time=NOW - timedelta(hours=2),
        end_time=NOW - timedelta(hours=1),
        store_uri=store.uri(prefix),
        key_prefix=prefix,
        now=NOW,
    )
    entries = []
    block = os.urandom(1 << 20)
    for name, size in sizes.items():
        path = store_dir / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(path, "wb") as f:
            for _ in range(size >> 20):
                f.write(block)
                digest.update(block)
        entries.append(FileEntry(name, store.uri(f"{prefix}/{name}"), size, digest.hexdigest()))
    catalog.mark_ready("worst", files=entries, manifest_sha256="0" * 64, now=NOW)
    engine.dispose()


def tle_upload(target_norad: int) -> bytes:
    """1 MiB of TLE text (the body cap): the target's record and, after it,
    other satellites' records (parsed, then rejected)."""
    text = (ROOT / "sample_tles" / "active.tle").read_text().splitlines()
    at = next(i for i, line in enumerate(text) if line.startswith(f"1 {target_norad:05d}"))
    out = "\n".join(text[at - 1 : at + 2]) + "\n"
    i = 0
    while True:
        record = "\n".join(text[i : i + 3]) + "\n"
        if len(out) + len(record) > (1 << 20) - 1:
            return out.encode()
        out += record
        i = (i + 3) % (len(text) - 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--satellites", type=int, default=500)
    parser.add_argument("--contacts-per-antenna", type=int, default=120)
    parser.add_argument(
        "--plan-satellites",
        type=int,
        default=10,
        help="requests of the largest plan (10 x 50 stations x 14 days = 7,000 "
        "satellite-station-days, ~46,000 candidate windows: 14 have 64,652, over the cap)",
    )
    args = parser.parse_args(argv)
    # This script's folder holds api.py and ingest.py: the packages come first.
    sys.path.insert(0, str(ROOT))

    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    t0 = time.perf_counter()
    world = B.populate(url, args.stations, args.satellites, args.contacts_per_antenna)
    mine = [e for i, e in enumerate(world["elements"]) if i % 10 == 0]  # tenant0's
    key = operator_key(url)
    track_id = long_contact(url, mine[0].norad_id)
    datasets(url, tmp / "datasets", mine[0].norad_id, {"small.bin": 16 << 20, "big.bin": 256 << 20})
    print(
        f"world: {args.stations} stations, {2 * args.stations} antennas, {args.satellites} "
        f"satellites, {world['n_contacts']} contacts, SQLite (set up in "
        f"{time.perf_counter() - t0:.1f} s); operator key of tenant0 ({len(mine)} satellites)"
    )
    server = Server(url, tmp)
    http, headers = server.http, {"Authorization": f"Bearer {key}"}
    results: dict[str, tuple[float, float, int]] = {}

    def run(name: str, send: Callable[[], httpx.Response], repeat: int = 1) -> None:
        last: list[httpx.Response] = []

        def keep() -> httpx.Response:
            last.append(send())
            return last[-1]

        results[name] = server.measure(keep, repeat)
        cpu_s, wall_s, status = results[name]
        why = f" ({last[-1].json()['detail'][:100]})" if status >= 400 else ""
        print(
            f"  {name:<29} {cpu_s * 1000:>8.1f} ms CPU {wall_s * 1000:>8.1f} ms wall -> {status}{why}"
        )

    try:
        norad = mine[0].norad_id
        passes = http.get(
            "/passes",
            params={
                "satellite": norad,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(days=1)).isoformat(),
                "min_elevation": 10,  # the profile's: the pass as a booking sees it
            },
            headers=headers,
        ).json()["data"]
        p = next(
            p
            for p in passes
            if p["duration_s"] > 300
            and p["max_elevation_deg"] > 20
            and p["antennas"][0]["free"]
            and datetime.fromisoformat(p["aos"]) > NOW + timedelta(minutes=10)
        )
        aos, los = datetime.fromisoformat(p["aos"]), datetime.fromisoformat(p["los"])
        body = {
            "norad_id": norad,
            "antenna_id": p["antennas"][0]["antenna_id"],
            "profile_id": "leo",
        }
        widest_s = 43_200 + 2 * 60
        middle = aos + (los - aos) / 2

        print("reference (average of 200):")
        run("healthz", lambda: http.get("/healthz"), 200)
        run(
            "contacts_page",
            lambda: http.get("/contacts", params={"limit": 100}, headers=headers),
            200,
        )
        print("worst case per class:")
        run(
            "booking_70y_refused",
            lambda: http.post(
                "/contacts",
                json={
                    **body,
                    "start": NOW.isoformat(),
                    "end": NOW.replace(year=NOW.year + 70).isoformat(),
                },
                headers=headers,
            ),
            20,
        )
        run(
            "booking_widest",
            lambda: http.post(
                "/contacts",
                json={
                    **body,
                    "start": (middle - timedelta(seconds=widest_s / 2)).isoformat(),
                    "end": (middle + timedelta(seconds=widest_s / 2)).isoformat(),
                },
                headers=headers,
            ),
            20,
        )
        run(
            "booking_one_pass",
            lambda: http.post(
                "/contacts", json={**body, "start": p["aos"], "end": p["los"]}, headers=headers
            ),
        )
        shift = iter(range(1, 1000))
        run(
            "passes_31d_50_stations",
            lambda: http.get(
                "/passes",
                params={
                    "satellite": norad,
                    "start": (NOW + timedelta(seconds=next(shift))).isoformat(),
                    "end": (NOW + timedelta(days=31)).isoformat(),
                },
                headers=headers,
            ),
            5,
        )

        def plan_body(days: float) -> dict[str, Any]:
            return {
                "profile_id": "leo",
                "requests": [
                    {
                        "norad_id": e.norad_id,
                        # From an hour ahead: a pass cut at the range's start would
                        # have its pre-pass in the past, and the commit refuse it.
                        "start": (NOW + timedelta(hours=1)).isoformat(),
                        "end": (NOW + timedelta(days=days, hours=1)).isoformat(),
                    }
                    for e in mine[: args.plan_satellites]
                ],
                "time_limit_s": 60,
            }

        plan: dict[str, Any] = {}

        def propose(days: float) -> httpx.Response:
            plan.clear()
            r = http.post("/plans", json=plan_body(days), headers=headers)
            plan.update(r.json())
            plan["status_code"] = r.status_code
            return r

        run("plan_largest", lambda: propose(14.0))
        days = 14.0
        if plan["status_code"] == 422:
            # Over GS_MAX_PLAN_CONTACTS: its message names the contacts chosen
            # and the cap; the same requests over a range scaled to 95 % of it.
            found = re.search(r"chooses (\d+) contacts; at most (\d+)", plan.get("detail", ""))
            assert found, plan
            chosen, cap = int(found.group(1)), int(found.group(2))
            print(f"    plan of 14 days: {chosen} contacts, over the cap of {cap}: refused")
            days = 14.0 * 0.95 * cap / chosen
            run("plan_at_cap", lambda: propose(days))
        print(
            f"    plan of {days:.2f} days: {len(plan.get('proposed', []))} contacts proposed, "
            f"status {plan.get('status')!r}"
        )
        if plan.get("proposed"):
            run("plan_commit", lambda: http.post(f"/plans/{plan['id']}/commit", headers=headers))
        run(
            "track_200k_samples",
            lambda: http.get(
                f"/contacts/{track_id}/track", params={"step_s": 0.1}, headers=headers
            ),
        )
        upload = tle_upload(norad)
        run(
            "ephemeris_upload_1mib",
            lambda: http.post(
                f"/satellites/{norad}/ephemerides",
                content=upload,
                headers={**headers, "Content-Type": "text/plain"},
            ),
        )
        run(
            "download_16mib_checked_first",
            lambda: http.get("/datasets/worst/files/small.bin", headers=headers),
            3,
        )
        run(
            "download_256mib_streamed",
            lambda: http.get("/datasets/worst/files/big.bin", headers=headers),
        )
    finally:
        server.close()

    reference = results["contacts_page"][0]
    worst = max((r[0], name) for name, r in results.items())
    print(
        f"worst single request: {worst[1]}, {worst[0]:.2f} s of CPU "
        f"({worst[0] / reference:.0f} x a page of contacts, {reference * 1000:.1f} ms)"
    )
    print(
        "RESULT limits "
        + " ".join(f"{name}_cpu_ms={r[0] * 1000:.1f}" for name, r in results.items())
        + f" worst_class={worst[1]} worst_cpu_s={worst[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
