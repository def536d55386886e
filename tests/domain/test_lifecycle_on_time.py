"""Transitions on time while passes execute; failure reasons that name what
happened; contact state and dataset state in agreement (issues 19 and 11)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import SimulatedClock
from groundstation.contact_datasets import accept_dataset, audit
from groundstation.events import InMemoryEventSink
from groundstation.executor import ContactRun, RecordingExecutor
from groundstation.lifecycle import LifecycleService
from groundstation.models import Antenna, Contact, ContactTransition, SchedulerInstance
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from ingest.catalog import CatalogService, FileEntry
from ingest.errors import PublishRefusedError
from ingest.objectstore import LocalObjectStore

from .helpers import T0, insert_contact, seed_basic

S = ContactState


class ManualClock(SimulatedClock):
    """A simulated clock that a test can move forward at once."""

    def advance(self, seconds: float) -> None:
        self.service_epoch += timedelta(seconds=seconds)


class UntilLosExecutor:
    """Works each pass until the service clock reaches its LOS (like the
    downlink executor, without the DSP)."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock

    def execute(self, run: ContactRun) -> None:
        wall_s = (self.clock.to_real(run.los) - datetime.now(UTC)).total_seconds()
        time.sleep(max(wall_s, 0.0))


def _service(
    session_factory: sessionmaker[Session],
    clock: SimulatedClock,
    executor: object,
    *,
    grace_s: float = 60.0,
    require_dataset: bool = False,
) -> tuple[LifecycleService, InMemoryEventSink]:
    events = InMemoryEventSink()
    service = LifecycleService(
        session_factory=session_factory,
        clock=clock,
        events=events,
        executor=executor,  # type: ignore[arg-type]
        grace_s=grace_s,
        sync_interval_s=0.2,
        heartbeat_interval_s=0.5,
        require_dataset=require_dataset,
    )
    return service, events


def _engine(session_factory: sessionmaker[Session]) -> Engine:
    bind = session_factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def _state(session_factory: sessionmaker[Session], contact_id: str) -> Contact:
    with session_factory() as s:
        row = s.get(Contact, contact_id)
        assert row is not None
        s.expunge(row)
        return row


def test_passes_executing_never_delay_other_contacts_transitions(
    session_factory: sessionmaker[Session],
) -> None:
    """12 passes at once, each executor busy until its LOS: every transition
    of every contact runs within a few service seconds of its time (the
    scheduler's 8 workers used to be taken by the passes)."""
    speedup = 60.0
    clock = SimulatedClock(T0, speedup=speedup)
    ids = []
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        for k in range(12):
            s.add(Antenna(id=f"x{k}", station_id="gs1", bands=[[400e6, 450e6]]))
        s.commit()
        for k in range(12):
            ids.append(
                insert_contact(
                    s,
                    satellite_id=sat,
                    antenna_id=f"x{k}",
                    aos=T0 + timedelta(seconds=90 + 8 * k),
                    duration_s=240,
                    postpass_s=30,
                ).id
            )
    service, events = _service(session_factory, clock, UntilLosExecutor(clock), grace_s=600.0)
    service.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(_state(session_factory, i).state == "COMPLETED" for i in ids):
                break
            time.sleep(0.2)
    finally:
        service.shutdown()
    late = []
    with session_factory() as s:
        for c in s.scalars(select(Contact).where(Contact.id.in_(ids))):
            due = {"PREPASS": c.booked_start, "PASS": c.aos, "POSTPASS": c.los}
            for t in c.transitions:
                if t.new_state in due and t.at - due[t.new_state] > timedelta(seconds=30):
                    late.append((c.antenna_id, t.new_state, (t.at - due[t.new_state]).seconds))
            assert c.state == "COMPLETED", c.state_reason
    assert late == []


def test_a_transition_run_late_while_the_service_was_up_says_so_and_not_a_downtime(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(seconds=120))
        s.add(
            SchedulerInstance(
                id="earlier",
                started_at=T0 - timedelta(hours=5),
                last_seen_at=T0 - timedelta(hours=1),
            )
        )
        s.commit()
    clock = ManualClock(T0, speedup=1.0)
    service, _ = _service(session_factory, clock, RecordingExecutor())
    service.start()  # up from T0: the earlier instance's heartbeat is old news
    service.shutdown()
    clock.advance(60)
    assert [e.new_state for e in service.step(contact.id)] == ["PREPASS"]
    # The AOS job is started 95 s late (say the process was starved).
    clock.advance(60 + 95)
    fired_at = clock.now()
    clock.advance(2)
    [event] = service.step(contact.id, fired_at=fired_at)
    assert event.new_state == "FAILED"
    assert "service was down" not in event.reason
    assert event.reason.startswith(
        "PASS missed (AOS 2023-07-04T12:02:00Z): transition ran 97 s late"
    )
    assert "the scheduler started its job 95 s late" in event.reason


@pytest.mark.parametrize(
    ("late_after_aos_s", "states"),
    [
        (40, ["PREPASS", "PASS"]),  # within the grace of AOS: run, late
        (75, ["FAILED"]),  # beyond it: missed
    ],
)
def test_a_pre_pass_start_run_after_aos_keeps_the_pass_within_the_grace(
    session_factory: sessionmaker[Session], late_after_aos_s: float, states: list[str]
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(seconds=120))
    clock = ManualClock(T0, speedup=1.0)
    service, _ = _service(session_factory, clock, RecordingExecutor(), grace_s=60.0)
    service.start()
    service.shutdown()
    # The pre-pass job (due at AOS - prepass) is started only after AOS.
    clock.advance(120 + late_after_aos_s)
    events = service.step(contact.id, fired_at=clock.now())
    events += service.step(contact.id, fired_at=clock.now())
    assert [e.new_state for e in events] == states
    if states == ["FAILED"]:
        assert events[0].reason.startswith("PASS missed (AOS 2023-07-04T12:02:00Z)")
    else:
        assert "late by" in events[0].reason


def _contact_in(
    session_factory: sessionmaker[Session], state: ContactState, *, aos: datetime
) -> str:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(s, satellite_id=sat, aos=aos, duration_s=300, state=state)
        s.add(
            SchedulerInstance(
                id="crashed",
                started_at=T0 - timedelta(hours=2),
                last_seen_at=aos + timedelta(seconds=200),
            )
        )
        s.commit()
        return contact.id


def _dataset(catalog: CatalogService, contact_id: str, state: str) -> None:
    catalog.begin(
        dataset_id=f"ds-{contact_id}",
        contact_id=contact_id,
        norad_id=99001,
        satellite="TESTSAT",
        station="gs1",
        antenna="ant1",
        start_time=T0,
        end_time=T0 + timedelta(minutes=5),
        store_uri="file:///nowhere",
        key_prefix=f"99001/{contact_id}",
        now=T0,
    )
    if state == "ready":
        catalog.mark_ready(
            f"ds-{contact_id}",
            files=[FileEntry("frames.h5", "file:///nowhere/frames.h5", 10, "0" * 64)],
            manifest_sha256="0" * 64,
            now=T0,
        )
    elif state == "failed":
        catalog.mark_failed(f"ds-{contact_id}", reason="cleaned at start-up")


@pytest.mark.parametrize(
    ("dataset", "expected", "reason"),
    [
        ("ready", "COMPLETED", "post-pass ended"),
        (
            "failed",
            "FAILED",
            "service was down from 2023-07-04T11:53:20Z to 2023-07-04T12:00:00Z "
            "while the dataset was written",
        ),
        (None, "FAILED", "service was down from"),
        ("writing", "POSTPASS", "LOS at"),  # another process is still committing it
    ],
)
def test_a_contact_left_in_postpass_completes_only_with_a_ready_dataset(
    session_factory: sessionmaker[Session],
    dataset: str | None,
    expected: str,
    reason: str,
) -> None:
    # Killed after LOS with the dataset being written; restarted at T0.
    contact_id = _contact_in(session_factory, S.POSTPASS, aos=T0 - timedelta(seconds=600))
    with session_factory() as s:
        row = s.get(Contact, contact_id)
        assert row is not None
        row.state_reason = "LOS at ..."
        s.commit()
    if dataset is not None:
        _dataset(CatalogService(_engine(session_factory)), contact_id, dataset)
    service, _ = _service(
        session_factory, SimulatedClock(T0), RecordingExecutor(), require_dataset=True
    )
    service.start()
    service.shutdown()
    contact = _state(session_factory, contact_id)
    assert contact.state == expected
    assert reason in contact.state_reason


def test_a_pass_whose_dataset_was_committed_is_not_failed_by_a_late_los(
    session_factory: sessionmaker[Session],
) -> None:
    # Killed between "dataset committed" and the LOS transition.
    contact_id = _contact_in(session_factory, S.PASS, aos=T0 - timedelta(seconds=900))
    catalog = CatalogService(_engine(session_factory))
    _dataset(catalog, contact_id, "ready")
    service, events = _service(
        session_factory, SimulatedClock(T0), RecordingExecutor(), require_dataset=True
    )
    service.start()
    service.shutdown()
    assert [e.new_state for e in events.for_contact(contact_id)] == ["POSTPASS", "COMPLETED"]
    with session_factory() as s:
        assert audit(s) == []


def test_a_contact_failed_while_its_dataset_commits_gets_no_ready_dataset(
    session_factory: sessionmaker[Session],
) -> None:
    contact_id = _contact_in(session_factory, S.PASS, aos=T0 - timedelta(seconds=60))
    catalog = CatalogService(_engine(session_factory))
    _dataset(catalog, contact_id, "writing")
    outcome: list[BaseException | None] = []

    def commit() -> None:
        try:
            catalog.mark_ready(
                f"ds-{contact_id}",
                files=[],
                manifest_sha256="0" * 64,
                now=T0,
                guard=lambda session: accept_dataset(session, contact_id),
            )
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    # The lifecycle holds the contact's row and fails it; the executor's
    # commit arrives meanwhile and must wait for the decision.
    with session_factory() as s:
        contact = s.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())
        assert contact is not None
        apply_transition(s, contact, S.FAILED, at=T0, reason="pass not followed to LOS")
        s.flush()
        committer = threading.Thread(target=commit)
        committer.start()
        time.sleep(0.5)
        assert committer.is_alive()  # waiting for the contact's row
        s.commit()
    committer.join(30)
    [refused] = outcome
    assert isinstance(refused, PublishRefusedError)
    assert "is FAILED (pass not followed to LOS)" in str(refused)
    assert catalog.get(f"ds-{contact_id}", include_unready=True).state == "writing"
    with session_factory() as s:
        history = s.scalars(
            select(ContactTransition.new_state).where(ContactTransition.contact_id == contact_id)
        ).all()
    assert history[-1] == "FAILED"


def test_the_audit_accepts_a_completed_contact_whose_dataset_retention_expired(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    contact_id = _contact_in(session_factory, S.COMPLETED, aos=T0 - timedelta(days=40))
    catalog = CatalogService(_engine(session_factory))
    _dataset(catalog, contact_id, "ready")
    store = LocalObjectStore(tmp_path / "store")
    store.put_bytes(f"archive/99001/{contact_id}/frames.h5", b"x" * 10)
    with session_factory() as s:
        assert audit(s, store=store, archive_prefix="archive") == []
        # The same store without the archive's prefix named: an orphan object.
        assert audit(s, store=store) == [
            f"object archive/99001/{contact_id}/frames.h5 belongs to no ready dataset"
        ]
    catalog.expire(f"ds-{contact_id}", now=T0, reason="retention: 30 days after the pass")
    with session_factory() as s:
        assert audit(s, store=store, archive_prefix="archive") == []
