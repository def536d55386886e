"""Plan-commit bench: book a ~90-window plan in one transaction.

Instance: the sample stations (two antennas each) and the LEO weather
satellites of ``sample_tles/``, a plan of every LEO satellite over
2023-07-04T19:00Z + 3.5 h (MILP: 93 windows), on SQLite (a fresh file) and,
with ``--database-url`` (or GS_TEST_POSTGRES_URL), on PostgreSQL (a scratch
database, dropped afterwards).

Measured: wall time of ``plan_proposals.commit_proposal`` (every window's
pass re-predicted, then one write transaction). Reference, same run and same
windows on a fresh copy: ``booking.reserve`` window by window (one write
transaction per window), which is how commits booked before they were made
all-or-none. Last line per database:
RESULT plan_commit db=.. windows=.. commit_s=.. per_window_reserve_s=.. ratio=..
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from groundstation import plan_proposals  # noqa: E402
from groundstation.booking import reserve  # noqa: E402
from groundstation.commands.demo import (  # noqa: E402
    DEMO_CLOCK_START,
    DEMO_PROFILE,
    find_samples,
    load_inventory,
)
from groundstation.db import make_engine, make_session_factory, migrate  # noqa: E402
from groundstation.models import Satellite  # noqa: E402
from groundstation.plan_service import plan_contacts  # noqa: E402
from groundstation.planning import PlanRequest  # noqa: E402

GEOSTATIONARY = {41866, 51850, 41836, 43823, 44903}
START = DEMO_CLOCK_START + timedelta(hours=1)
END = START + timedelta(hours=3, minutes=30)


def _world(url: str) -> tuple[Engine, str, list[plan_proposals.ProposedContact]]:
    engine = make_engine(url)
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        load_inventory(session, find_samples(None), now=DEMO_CLOCK_START)
        norads = [n for n in session.scalars(select(Satellite.norad_id)) if n not in GEOSTATIONARY]
        requests = [
            PlanRequest(f"r{n}", n, START, END, 1.0, wanted_passes=10_000, wanted_minutes=None)
            for n in norads
        ]
        outcome = plan_contacts(
            session, requests=requests, profile_id=DEMO_PROFILE, now=DEMO_CLOCK_START
        )
        proposed = [
            plan_proposals.ProposedContact(
                p.window.norad_id, p.antenna_id, p.window.aos, p.window.los
            )
            for p in outcome.chosen
        ]
        plan_id = str(uuid.uuid4())
        plan_proposals.save_proposal(
            session,
            plan_id=plan_id,
            profile_id=DEMO_PROFILE,
            contacts=proposed,
            tenants=None,
            owner_tenant="",
            now_real=datetime.now(UTC),
        )
    return engine, plan_id, proposed


def _commit_s(url: str) -> tuple[int, float]:
    engine, plan_id, proposed = _world(url)
    with make_session_factory(engine)() as session:
        started = time.perf_counter()
        booked = plan_proposals.commit_proposal(
            session,
            plan_id=plan_id,
            tenants=None,
            booking_tenant=None,
            now=DEMO_CLOCK_START,
            now_real=datetime.now(UTC),
        )
        elapsed = time.perf_counter() - started
    assert len(booked) == len(proposed)
    engine.dispose()
    return len(booked), elapsed


def _per_window_s(url: str) -> float:
    engine, plan_id, proposed = _world(url)
    with make_session_factory(engine)() as session:
        started = time.perf_counter()
        for p in sorted(proposed, key=lambda c: c.aos):
            reserve(
                session,
                norad_id=p.norad_id,
                antenna_id=p.antenna_id,
                profile_id=DEMO_PROFILE,
                start=p.aos,
                end=p.los,
                tenant="demo",
                now=DEMO_CLOCK_START,
                idempotency_key=f"plan:{plan_id}:{p.antenna_id}:{p.aos.isoformat()}",
            )
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _scratch_postgres(base_url: str, count: int) -> tuple[Engine, list[str]]:
    base = make_url(base_url)
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    names = [f"{base.database}_bench_{uuid.uuid4().hex[:8]}" for _ in range(count)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    return admin, [base.set(database=n).render_as_string(hide_password=False) for n in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GS_TEST_POSTGRES_URL", ""),
        help="PostgreSQL server for a scratch database (default GS_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        admin = None
        try:
            urls: dict[str, list[str]] = {
                "sqlite": [f"sqlite:///{tmp}/{k}.db" for k in range(2 * args.repeat)]
            }
            if args.database_url:
                admin, urls["postgresql"] = _scratch_postgres(args.database_url, 2 * args.repeat)
            for name, pool in urls.items():
                commits, references = [], []
                windows = 0
                for k in range(args.repeat):  # alternate, so caches favour neither
                    references.append(_per_window_s(pool[2 * k]))
                    windows, commit_s = _commit_s(pool[2 * k + 1])
                    commits.append(commit_s)
                best, reference = min(commits), min(references)
                print(
                    f"RESULT plan_commit db={name} windows={windows} commit_s={best:.3f} "
                    f"per_window_reserve_s={reference:.3f} ratio={best / reference:.2f}"
                )
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    for url in urls.get("postgresql", []):
                        database = make_url(url).database
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
