"""``groundstation serve`` killed (SIGKILL) in the middle of ``POST
/plans/{id}/commit`` of a ~90-window plan, on SQLite and on PostgreSQL.

The commit pauses half way through its windows (the test-only
``GS_TEST_PLAN_COMMIT_PAUSE_AFTER`` hook logs a line and sleeps inside the
commit), the test kills the process there, then checks what a restart finds:
no contact of the plan booked, the plan not stuck (``proposed`` again), every
other booking as it was, no contact event of the lost attempt, the database
intact; then a retried commit books the whole plan, and a second retry
answers 409 naming exactly the contacts booked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation import apikeys
from groundstation.commands.demo import DEMO_CLOCK_START, free_windows, reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Contact, ContactTransition, PlanProposal

from .conftest import DEMO_PROFILE, free_port, seed, wait_for

GEOSTATIONARY = {41866, 51850, 41836, 43823, 44903}
PLAN_START = DEMO_CLOCK_START + timedelta(hours=1)
PLAN_END = PLAN_START + timedelta(hours=3, minutes=30)
PAUSE_AFTER = 40
HOOK_LINE = "TEST HOOK: plan commit paused after"


def _serve(data_dir: Path, url: str, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    env.update(
        GS_DATA_DIR=str(data_dir),
        GS_DATABASE_URL=url,
        GS_CLOCK="simulated",
        GS_CLOCK_START=DEMO_CLOCK_START.isoformat(),
        GS_CLOCK_SPEEDUP="1",
        **extra,
    )
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "groundstation.cli", "serve", "--port", str(port)],
            cwd=data_dir.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _up(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _plan_contacts(sessions: sessionmaker[Session], plan_id: str) -> list[Contact]:
    with sessions() as session:
        rows = list(
            session.scalars(
                select(Contact).where(Contact.idempotency_key.like(f"plan:{plan_id}:%"))
            )
        )
        session.expunge_all()
        return rows


def _snapshot(sessions: sessionmaker[Session], ids: list[str]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        rows = [session.get(Contact, i) for i in ids]
        return [
            (c.id, c.state, c.antenna_id, c.aos, c.los, c.booked_start, c.booked_end)
            for c in rows
            if c is not None
        ]


def _seed_world(sessions: sessionmaker[Session]) -> tuple[str, list[str]]:
    """The sample network and weather satellites, two bookings that are not
    part of the plan (one inside its range, one after it); an operator key."""
    with sessions() as session:
        names = seed(session)
        windows = free_windows(
            session, names, now=DEMO_CLOCK_START, hours=8.0, min_elevation_deg=20.0
        )
        inside = next(w for w in windows if PLAN_START + timedelta(hours=1) < w.aos < PLAN_END)
        after = next(w for w in windows if w.aos > PLAN_END + timedelta(hours=1))
        others = [reserve_choice(session, w, now=DEMO_CLOCK_START).id for w in (inside, after)]
        _, key = apikeys.create_key(
            session, name="planner", role="operator", tenant="demo", now=DEMO_CLOCK_START
        )
    return key, others


def _plan_body(sessions: sessionmaker[Session]) -> dict[str, Any]:
    from groundstation.models import Satellite

    with sessions() as session:
        norads = sorted(session.scalars(select(Satellite.norad_id)))
    return {
        "profile_id": DEMO_PROFILE,
        "requests": [
            {"norad_id": n, "start": PLAN_START.isoformat(), "end": PLAN_END.isoformat()}
            for n in norads
            if n not in GEOSTATIONARY
        ],
    }


def test_serve_killed_during_a_plan_commit_books_none_of_it_and_a_retry_books_all(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "var"
    log = tmp_path / "serve.log"
    engine = make_engine(database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    key, others = _seed_world(sessions)
    others_before = _snapshot(sessions, others)
    with sessions() as session:
        transitions_before = session.execute(
            select(func.count()).select_from(ContactTransition)
        ).scalar_one()
    headers = {"Authorization": f"Bearer {key}"}

    # Run 1: propose, then commit with the pause hook, and SIGKILL there.
    port = free_port()
    proc = _serve(
        data_dir, database_url, port, log, GS_TEST_PLAN_COMMIT_PAUSE_AFTER=str(PAUSE_AFTER)
    )
    outcome: list[object] = []
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300)
        wait_for(lambda: _up(http), timeout_s=60, what=f"the API ({log})")
        r = http.post("/plans", json=_plan_body(sessions))
        assert r.status_code == 201, r.text
        plan = r.json()
        n_windows = len(plan["proposed"])
        assert n_windows >= 80

        def commit() -> None:
            try:
                outcome.append(http.post(f"/plans/{plan['id']}/commit"))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        committer = threading.Thread(target=commit, daemon=True)
        committer.start()
        wait_for(
            lambda: HOOK_LINE in log.read_text(errors="replace"),
            timeout_s=120,
            what=f"the commit to reach window {PAUSE_AFTER} ({log})",
        )
        assert f"{HOOK_LINE} {PAUSE_AFTER} of {n_windows} windows" in log.read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        committer.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert outcome and isinstance(outcome[0], httpx.HTTPError)  # no answer: killed

    # Nothing of the plan was booked, the plan is not stuck, the rest intact.
    assert len(_plan_contacts(sessions, plan["id"])) == 0
    with sessions() as session:
        row = session.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "proposed"
        assert row.committed_contact_ids is None
        assert (
            session.scalar(select(func.count()).select_from(ContactTransition))
            == transitions_before
        )
    assert _snapshot(sessions, others) == others_before

    # Run 2: restart; the retried commit books every window, once.
    port = free_port()
    proc = _serve(data_dir, database_url, port, log)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=300)
        wait_for(lambda: _up(http), timeout_s=60, what=f"the API after the restart ({log})")
        with sessions() as session:
            row = session.get(PlanProposal, plan["id"])
            assert row is not None and row.state == "proposed"
        started = time.perf_counter()
        r = http.post(f"/plans/{plan['id']}/commit")
        commit_s = time.perf_counter() - started
        assert r.status_code == 200, r.text
        booked = r.json()["booked"]
        assert len(booked) == n_windows
        assert sorted((c["antenna_id"], c["norad_id"]) for c in booked) == sorted(
            (p["antenna_id"], p["norad_id"]) for p in plan["proposed"]
        )
        again = http.post(f"/plans/{plan['id']}/commit")
        assert again.status_code == 409, again.text
        assert "committed already" in again.json()["detail"]
        assert sorted(again.json()["booked_contact_ids"]) == sorted(c["id"] for c in booked)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    print(f"commit of {n_windows} windows through HTTP: {commit_s:.2f} s")

    contacts = _plan_contacts(sessions, plan["id"])
    assert sorted(c.id for c in contacts) == sorted(c["id"] for c in booked)
    assert {c.state for c in contacts} == {"SCHEDULED"}
    assert _snapshot(sessions, others) == others_before
    with sessions() as session:
        row = session.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "committed"
        assert sorted(row.committed_contact_ids or []) == sorted(c.id for c in contacts)
        # One event (AVAILABLE -> SCHEDULED) per booked contact, none of the lost attempt.
        assert (
            session.scalar(select(func.count()).select_from(ContactTransition))
            == transitions_before + n_windows
        )
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
