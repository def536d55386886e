"""kill -9 of a real ``groundstation serve`` at every lifecycle state, on
SQLite and PostgreSQL (issue 11: crash-point matrix, lifecycle part).

One server process holds six contacts in six crash points at the moment it
is killed (the downlink executor waits at a named point through the
``GS_TEST_PAUSE_AT`` test hook):

- ``scheduled``: booked hours ahead;
- ``prepass``: in a (long) pre-pass;
- ``pass``: a few seconds into its pass;
- ``writing``: after LOS, dataset staged but not checksummed (POSTPASS);
- ``manifest``: after LOS, manifest written, nothing uploaded (POSTPASS);
- ``committed``: dataset ``ready``, contact still POSTPASS.

After a restart (service clock continuing): ``committed`` and ``manifest``
(resumed) complete with their datasets, ``writing`` and ``pass`` fail with
"service was down from .. to ..", ``prepass`` works its pass and completes,
``scheduled`` is untouched; no COMPLETED contact without a ready dataset, no
half dataset in the catalogue, the store, staging or GET /datasets, every
contact's history a legal chain, and ``PRAGMA integrity_check`` ok.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation import apikeys
from groundstation.commands.demo import DEMO_CLOCK_START, Choice, free_windows, reserve_choice
from groundstation.contact_datasets import audit
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.inventory import add_profile
from groundstation.models import Contact, ContactTransition, SchedulerInstance
from groundstation.states import check_transition
from ingest.catalog import CatalogService
from ingest.dataset import DatasetReader
from ingest.objectstore import LocalObjectStore

from .conftest import DEMO_PROFILE, api_up, free_port, seed, serve_process, wait_for

SPEEDUP = 60.0
LONG_PREPASS = "long-prepass"


def _plan(windows: list[Choice]) -> dict[str, Choice]:
    """Six passes on six antennas: three that end first, one after them, one
    well after that (its pass runs after the restart) and one hours later."""
    used: list[Choice] = []

    def pick(after: datetime) -> Choice:
        found = next(
            w
            for w in windows
            if w.aos >= after
            and all(
                u.antenna_id != w.antenna_id
                and not (u.norad_id == w.norad_id and u.station_id == w.station_id)
                for u in used
            )
        )
        used.append(found)
        return found

    first = windows[0].aos
    plan = {name: pick(first) for name in ("writing", "manifest", "committed")}
    # Well after them: their datasets reach the crash points first even when a
    # loaded machine makes their DSP lag minutes behind the service clock.
    plan["pass"] = pick(max(c.los for c in used) + timedelta(minutes=8))
    plan["prepass"] = pick(plan["pass"].aos + timedelta(minutes=20))
    plan["scheduled"] = pick(plan["prepass"].los + timedelta(hours=1))
    return plan


def _book(
    sessions: sessionmaker[Session], plan: dict[str, Choice], start: datetime
) -> dict[str, str]:
    with sessions() as session:
        # The prepass contact's pre-pass starts right away and lasts past the kill.
        prepass_s = (plan["prepass"].aos - start).total_seconds() - 60.0
        add_profile(
            session,
            profile_id=LONG_PREPASS,
            min_viable_duration_s=300.0,
            prepass_s=prepass_s,
            postpass_s=30.0,
            min_elevation_deg=10.0,
        )
        return {
            name: reserve_choice(
                session,
                w,
                now=start,
                profile_id=LONG_PREPASS if name == "prepass" else DEMO_PROFILE,
            ).id
            for name, w in plan.items()
        }


def test_kill_9_at_every_lifecycle_state_keeps_contacts_and_datasets_in_agreement(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "var"
    log = tmp_path / "serve.log"
    engine = make_engine(database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        windows = free_windows(
            session, names, now=DEMO_CLOCK_START, hours=10.0, min_elevation_deg=30.0
        )
    plan = _plan(windows)
    start = min(plan[n].aos for n in ("writing", "manifest", "committed")) - timedelta(seconds=120)
    ids = _book(sessions, plan, start)
    with sessions() as session:
        _, key = apikeys.create_key(session, name="ops", role="operator", tenant="demo", now=start)
    staging = data_dir / "staging"
    catalog = CatalogService(engine)
    env = {
        "GS_DATABASE_URL": database_url,
        "GS_SCHEDULER_GRACE_S": "600",  # lateness is not what this test checks
    }
    pause = (
        f"before-commit@{ids['writing']},manifest-written@{ids['manifest']},"
        f"after-ready@{ids['committed']}"
    )

    def state(name: str) -> str:
        with sessions() as session:
            return session.scalars(select(Contact.state).where(Contact.id == ids[name])).one()

    def dataset(name: str) -> str:
        found = catalog.find(contact_id=ids[name], state="ready")
        if found:
            return "ready"
        return "writing" if catalog.find(contact_id=ids[name], state="writing") else "none"

    def at_crash_points() -> bool:
        return (
            state("writing") == "POSTPASS"
            and (staging / f"ds-{ids['writing']}").is_dir()
            and state("manifest") == "POSTPASS"
            and (staging / f"ds-{ids['manifest']}" / "manifest.json").is_file()
            and state("committed") == "POSTPASS"
            and dataset("committed") == "ready"
            and state("pass") == "PASS"
            and state("prepass") == "PREPASS"
        )

    # Run 1: wait until every contact sits at its crash point, then kill -9.
    proc = serve_process(
        data_dir,
        clock_start=start,
        speedup=SPEEDUP,
        port=free_port(),
        log=log,
        env={**env, "GS_TEST_PAUSE_AT": pause},
    )
    try:
        wait_for(at_crash_points, timeout_s=150, what=f"the six crash points ({log})")
        with sessions() as session:
            seen = session.scalar(select(func.max(SchedulerInstance.last_seen_at)))
        seen_wall = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen is not None
    before = {n: state(n) for n in ids}
    assert before == {
        "writing": "POSTPASS",
        "manifest": "POSTPASS",
        "committed": "POSTPASS",
        "pass": "PASS",
        "prepass": "PREPASS",
        "scheduled": "SCHEDULED",
    }
    with sessions() as session:
        scheduled_before = session.get(Contact, ids["scheduled"])
        assert scheduled_before is not None
        session.expunge(scheduled_before)

    # Run 2: restart 4 s later (the dead instance's heartbeat is stale by then).
    time.sleep(4.0)
    resumed_at = seen + timedelta(seconds=(time.monotonic() - seen_wall + 1.0) * SPEEDUP)
    port = free_port()
    proc = serve_process(
        data_dir, clock_start=resumed_at, speedup=SPEEDUP, port=port, log=log, env=env
    )
    try:
        wait_for(
            lambda: all(state(n) in ("COMPLETED", "FAILED") for n in ids if n != "scheduled"),
            timeout_s=150,
            what=f"every contact but the scheduled one to end after the restart ({log})",
        )
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        )
        wait_for(lambda: api_up(http), timeout_s=30, what="the API after the restart")
        listed = http.get("/datasets", params={"limit": 100})
        assert listed.status_code == 200
        listed_contacts = {d["contact_id"] for d in listed.json()["data"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()

    with sessions() as session:
        contacts = {n: session.get(Contact, i) for n, i in ids.items()}
        reasons = {n: c.state_reason for n, c in contacts.items() if c is not None}
        after = {n: c.state for n, c in contacts.items() if c is not None}
        assert after == {
            "writing": "FAILED",
            "manifest": "COMPLETED",
            "committed": "COMPLETED",
            "pass": "FAILED",
            "prepass": "COMPLETED",
            "scheduled": "SCHEDULED",
        }, reasons
        assert "while the dataset was written" in reasons["writing"]
        assert "service was down from" in reasons["writing"]
        assert "service was down from" in reasons["pass"]
        scheduled = contacts["scheduled"]
        assert scheduled is not None
        assert (scheduled.aos, scheduled.los, scheduled.antenna_id, scheduled.booked_start) == (
            scheduled_before.aos,
            scheduled_before.los,
            scheduled_before.antenna_id,
            scheduled_before.booked_start,
        )
        # Every history is a chain of legal transitions ending at the state.
        for name, contact_id in ids.items():
            chain = session.scalars(
                select(ContactTransition)
                .where(ContactTransition.contact_id == contact_id)
                .order_by(ContactTransition.id)
            ).all()
            for a, b in zip(chain, chain[1:], strict=False):
                assert a.new_state == b.old_state, name
                if b.old_state != b.new_state:
                    check_transition(contact_id, b.old_state, b.new_state)
            assert chain[-1].new_state == after[name]
        store = LocalObjectStore(data_dir / "datasets")
        assert audit(session, store=store, staging_root=staging) == []
    # The ready datasets are exactly the completed contacts', whole and listed.
    ready = catalog.find(state="ready")
    completed = {ids[n] for n in ("manifest", "committed", "prepass")}
    assert {e.contact_id for e in ready} == completed == listed_contacts
    for entry in ready:
        reader = DatasetReader.for_entry(store, entry)
        assert [reader.read_bytes(f.name) is not None for f in entry.files]
    if database_url.startswith("sqlite"):
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
