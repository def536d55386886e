from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import SimulatedClock
from groundstation.events import InMemoryEventSink
from groundstation.executor import RecordingExecutor
from groundstation.lifecycle import LifecycleService
from groundstation.models import Contact, ContactTransition, SchedulerInstance
from groundstation.states import ACTIVE_STATES, ContactState

from .helpers import T0, insert_contact, seed_basic

S = ContactState
SPEEDUP = 300.0  # 5 service minutes per wall second


def _service(
    session_factory: sessionmaker[Session],
    clock: SimulatedClock,
    *,
    executor: RecordingExecutor | None = None,
    instance_id: str = "",
    grace_s: float = 450.0,
) -> tuple[LifecycleService, InMemoryEventSink, RecordingExecutor]:
    events = InMemoryEventSink()
    executor = executor or RecordingExecutor()
    service = LifecycleService(
        session_factory=session_factory,
        clock=clock,
        events=events,
        executor=executor,
        instance_id=instance_id,
        grace_s=grace_s,
        sync_interval_s=0.2,
        heartbeat_interval_s=0.5,
    )
    return service, events, executor


def _wait_terminal(
    session_factory: sessionmaker[Session], ids: list[str], timeout_s: float = 20.0
) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        with session_factory() as s:
            states = {c.id: c.state for c in s.scalars(select(Contact).where(Contact.id.in_(ids)))}
            s.rollback()
        if all(states[i] in {t.value for t in S if t not in _ACTIVE} for i in ids):
            return states
        if time.monotonic() > deadline:
            return states
        time.sleep(0.1)


_ACTIVE = set(ACTIVE_STATES)


def _history(session_factory: sessionmaker[Session], contact_id: str) -> list[ContactTransition]:
    with session_factory() as s:
        rows = list(
            s.scalars(
                select(ContactTransition)
                .where(ContactTransition.contact_id == contact_id)
                .order_by(ContactTransition.id)
            )
        )
    return rows


def test_contact_runs_every_state_at_its_time_in_compressed_time(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(T0, speedup=SPEEDUP)
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(
            s, satellite_id=sat, aos=T0 + timedelta(seconds=180), duration_s=300
        )
    service, events, executor = _service(session_factory, clock)
    wall_start = time.monotonic()
    service.start()
    try:
        assert service.scheduler is not None
        assert service.scheduler.get_job(contact.id) is not None
        states = _wait_terminal(session_factory, [contact.id])
    finally:
        service.shutdown()
    wall_s = time.monotonic() - wall_start
    assert states[contact.id] == "COMPLETED"
    seen = [(e.old_state, e.new_state) for e in events.for_contact(contact.id)]
    assert seen == [
        ("SCHEDULED", "PREPASS"),
        ("PREPASS", "PASS"),
        ("PASS", "POSTPASS"),
        ("POSTPASS", "COMPLETED"),
    ]
    due = [contact.booked_start, contact.aos, contact.los, contact.booked_end]
    for event, due_at in zip(events.for_contact(contact.id), due, strict=True):
        assert due_at <= event.at <= due_at + timedelta(seconds=450)
    assert [r.contact_id for r in executor.runs] == [contact.id]
    # 9 service minutes ran in about 1.8 wall seconds, not 9 minutes.
    assert wall_s < 15.0
    assert [h.new_state for h in _history(session_factory, contact.id)] == [
        "SCHEDULED",
        "PREPASS",
        "PASS",
        "POSTPASS",
        "COMPLETED",
    ]


def test_pass_entered_after_its_los_still_runs_the_executor_before_completing(
    session_factory: sessionmaker[Session],
) -> None:
    # A stalled machine wakes the contact's job only after LOS, still within
    # the grace: the pass is run (the executor is called) before LOS applies,
    # never skipped straight to COMPLETED.
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(
            s, satellite_id=sat, aos=T0 - timedelta(seconds=200), duration_s=120
        )
    service, events, executor = _service(
        session_factory, SimulatedClock(T0, speedup=1.0), grace_s=900.0
    )
    service.step(contact.id)
    service.shutdown()
    assert [r.contact_id for r in executor.runs] == [contact.id]
    assert [(e.old_state, e.new_state) for e in events.for_contact(contact.id)] == [
        ("SCHEDULED", "PREPASS"),
        ("PREPASS", "PASS"),
        ("PASS", "POSTPASS"),
        ("POSTPASS", "COMPLETED"),
    ]


def test_failing_executor_fails_the_contact_with_its_message(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(T0, speedup=SPEEDUP)
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(seconds=120))
    service, events, _ = _service(
        session_factory, clock, executor=RecordingExecutor(fail_with="demodulator lost lock")
    )
    service.start()
    try:
        states = _wait_terminal(session_factory, [contact.id])
    finally:
        service.shutdown()
    assert states[contact.id] == "FAILED"
    last = events.for_contact(contact.id)[-1]
    assert (last.old_state, last.new_state) == ("PASS", "FAILED")
    assert "demodulator lost lock" in last.reason


def test_pass_missed_while_down_is_failed_at_start_with_the_downtime(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        missed = insert_contact(s, satellite_id=sat, aos=T0 - timedelta(minutes=4))
        late_prepass = insert_contact(
            s, satellite_id=sat, aos=T0 + timedelta(seconds=30), antenna_id="ant2"
        )
        finished = insert_contact(
            s,
            satellite_id=sat,
            aos=T0 - timedelta(hours=2),
            state=S.POSTPASS,
        )
        s.add(
            SchedulerInstance(
                id="old",
                started_at=T0 - timedelta(hours=5),
                last_seen_at=T0 - timedelta(minutes=10),
            )
        )
        s.commit()
    clock = SimulatedClock(T0, speedup=1.0)
    service, events, executor = _service(session_factory, clock, grace_s=150.0)
    report = service.start()
    service.shutdown()
    by_id = {e.contact_id: e for e in report.events}
    assert by_id[missed.id].new_state == "FAILED"
    assert (
        "service was down from 2023-07-04T11:50:00Z to 2023-07-04T12:00:00Z"
        in by_id[missed.id].reason
    )
    assert by_id[late_prepass.id].new_state == "PREPASS"
    assert by_id[finished.id].new_state == "COMPLETED"
    assert "late by" in by_id[finished.id].reason
    assert executor.runs == []


def test_contact_left_in_pass_by_a_dead_instance_is_failed_at_start(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        c = insert_contact(
            s, satellite_id=sat, aos=T0 - timedelta(seconds=60), duration_s=600, state=S.PASS
        )
        s.add(
            SchedulerInstance(
                id="dead",
                started_at=T0 - timedelta(hours=1),
                last_seen_at=T0 - timedelta(minutes=2),
            )
        )
        s.commit()
    service, _, _ = _service(session_factory, SimulatedClock(T0, speedup=1.0))
    report = service.start()
    service.shutdown()
    assert [(e.contact_id, e.new_state) for e in report.events] == [(c.id, "FAILED")]
    assert "pass interrupted" in report.events[0].reason


def test_jobs_follow_the_database_booked_and_cancelled_contacts(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(T0, speedup=1.0)
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        first = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(hours=1))
    service, _, _ = _service(session_factory, clock)
    service.start()
    try:
        assert service.scheduler is not None
        with session_factory() as s:
            second = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(hours=2))
            row = s.get(Contact, first.id)
            assert row is not None
            row.state = S.CANCELLED.value
            s.commit()
        assert service.sync() == 1
        assert service.scheduler.get_job(second.id) is not None
        assert service.scheduler.get_job(first.id) is None
    finally:
        service.shutdown()


def test_two_scheduler_instances_run_each_transition_and_contact_once(
    session_factory: sessionmaker[Session],
) -> None:
    clock = SimulatedClock(T0, speedup=SPEEDUP)
    ids: list[str] = []
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        for k in range(4):
            for antenna in ("ant1", "ant2"):
                aos = T0 + timedelta(seconds=150 + 420 * k + (30 if antenna == "ant2" else 0))
                ids.append(
                    insert_contact(
                        s, satellite_id=sat, aos=aos, duration_s=240, antenna_id=antenna
                    ).id
                )
    # A generous grace (3 wall seconds) so a loaded CI machine cannot turn a
    # slow wake-up into a "missed" pass; lateness is not what this test checks.
    a, events_a, exec_a = _service(session_factory, clock, instance_id="A", grace_s=900.0)
    b, events_b, exec_b = _service(session_factory, clock, instance_id="B", grace_s=900.0)
    a.start()
    b.start()
    try:
        # Booked after both started: picked up by the periodic sync.
        with session_factory() as s:
            ids.append(
                insert_contact(
                    s, satellite_id=sat, aos=T0 + timedelta(seconds=2000), duration_s=200
                ).id
            )
        states = _wait_terminal(session_factory, ids, timeout_s=30.0)
    finally:
        a.shutdown()
        b.shutdown()
    all_events = events_a.events + events_b.events
    assert set(states.values()) == {"COMPLETED"}, [e for e in all_events if e.new_state == "FAILED"]
    runs = [r.contact_id for r in exec_a.runs + exec_b.runs]
    assert Counter(runs) == Counter(ids)
    assert len(all_events) == 4 * len(ids)
    assert len({(e.contact_id, e.new_state) for e in all_events}) == 4 * len(ids)
    workers: set[str] = set()
    for contact_id in ids:
        history = _history(session_factory, contact_id)
        workers |= {h.instance_id for h in history[1:]}
        assert [h.new_state for h in history] == [
            "SCHEDULED",
            "PREPASS",
            "PASS",
            "POSTPASS",
            "COMPLETED",
        ]
    # Both instances raced for the same transitions (and shared the work).
    assert workers == {"A", "B"}
