"""``groundstation serve`` as a real process, killed during a pass.

SIGKILL during contact A's pass, then a restart (service clock continuing):
A ends FAILED with the reason, its half-written dataset is gone (not in the
catalogue, no objects, nothing staged, not listed by GET /datasets), and the
other bookings are intact. Then SIGTERM during contact B's pass: the process
exits cleanly and B is FAILED with the reason, never left in PASS.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from groundstation import apikeys
from groundstation.commands.demo import DEMO_CLOCK_START, free_windows, reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Contact
from ingest.catalog import CatalogService
from ingest.objectstore import LocalObjectStore

from .conftest import api_up, free_port, seed, serve_process, wait_for

SPEEDUP = 40.0


def _contact(sessions: sessionmaker[Session], contact_id: str) -> Contact:
    with sessions() as session:
        row = session.get(Contact, contact_id)
        assert row is not None
        session.expunge(row)
        return row


def test_killed_service_fails_the_interrupted_contact_cleanly_and_keeps_other_bookings(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "var"
    log = tmp_path / "serve.log"
    engine = make_engine(f"sqlite:///{data_dir / 'groundstation.db'}")
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        windows = free_windows(
            session, names, now=DEMO_CLOCK_START, hours=8.0, min_elevation_deg=30.0
        )
        a = windows[0]
        b = next(
            w
            for w in windows
            if w.antenna_id != a.antenna_id and w.aos >= a.aos + timedelta(minutes=8)
        )
        c = next(w for w in windows if w.aos >= a.aos + timedelta(hours=2))
        start = a.aos - timedelta(minutes=4)
        ids = {}
        for name, w in (("a", a), ("b", b), ("c", c)):
            ids[name] = reserve_choice(session, w, now=start).id
        _, key = apikeys.create_key(session, name="sci", role="operator", tenant="demo", now=start)
    c_before = _contact(sessions, ids["c"])

    # Run 1: SIGKILL a little into A's pass.
    proc = serve_process(data_dir, clock_start=start, speedup=SPEEDUP, port=free_port(), log=log)
    try:
        wait_for(
            lambda: _contact(sessions, ids["a"]).state == "PASS",
            timeout_s=60,
            what=f"contact A in PASS ({log})",
        )
        seen_pass = time.monotonic()
        time.sleep(3.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _contact(sessions, ids["a"]).state == "PASS"
    catalog = CatalogService(engine)
    assert [e.state for e in catalog.in_state("writing")] == ["writing"]  # a half dataset

    # Run 2: restart with the service clock where it would be now.
    time.sleep(4.0)
    resumed_at = a.aos + timedelta(seconds=(time.monotonic() - seen_pass) * SPEEDUP)
    port = free_port()
    proc = serve_process(data_dir, clock_start=resumed_at, speedup=SPEEDUP, port=port, log=log)
    try:
        wait_for(
            lambda: _contact(sessions, ids["a"]).state == "FAILED",
            timeout_s=60,
            what=f"contact A to fail after the restart ({log})",
        )
        contact_a = _contact(sessions, ids["a"])
        assert "interrupted" in contact_a.state_reason or "not followed" in contact_a.state_reason
        assert "service was down" in contact_a.state_reason
        # No half dataset anywhere.
        assert catalog.find(contact_id=ids["a"]) == []
        assert catalog.in_state("writing") == []
        store = LocalObjectStore(data_dir / "datasets")
        assert [k for k in store.list_keys("") if ids["a"] in k] == []
        assert not (data_dir / "staging").exists() or not any((data_dir / "staging").iterdir())
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        )
        wait_for(lambda: api_up(http), timeout_s=30, what="the API after the restart")
        listed = http.get("/datasets", params={"contact": ids["a"]})
        assert listed.status_code == 200 and listed.json()["count"] == 0
        # The other bookings are intact.
        contact_c = _contact(sessions, ids["c"])
        assert contact_c.state == "SCHEDULED"
        assert (contact_c.aos, contact_c.los, contact_c.antenna_id) == (
            c_before.aos,
            c_before.los,
            c_before.antenna_id,
        )
        assert _contact(sessions, ids["b"]).state in ("SCHEDULED", "PREPASS", "PASS")

        # SIGTERM during B's pass: a clean exit, B FAILED with the reason.
        wait_for(
            lambda: _contact(sessions, ids["b"]).state == "PASS",
            timeout_s=60,
            what=f"contact B in PASS ({log})",
        )
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    contact_b = _contact(sessions, ids["b"])
    assert contact_b.state == "FAILED"
    assert "SIGTERM" in contact_b.state_reason
    assert catalog.find(contact_id=ids["b"]) == []
    assert _contact(sessions, ids["c"]).state == "SCHEDULED"
    assert killed > seen_pass
    engine.dispose()
