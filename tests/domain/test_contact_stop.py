"""Stopping a running contact (booking.stop): in PREPASS it is cancelled at
once; in PASS it becomes CANCELLING, the lifecycle tells the pass's executor
to stop, and the contact is CANCELLED with the reason once it has returned."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from groundstation import booking
from groundstation.clock import SimulatedClock
from groundstation.errors import CancelRefusedError
from groundstation.executor import ContactRun, ContactStopped, RecordingExecutor
from groundstation.models import Contact
from groundstation.states import ContactState
from groundstation.transitions import apply_transition

from .helpers import T0, insert_contact, seed_basic
from .test_lifecycle import SPEEDUP, _service, _wait_terminal

S = ContactState


class StoppableExecutor(RecordingExecutor):
    """Works a pass until told to stop (or 60 s of wall time): returns as if
    it kept what it received, or raises ContactStopped with ``nothing_kept``."""

    def __init__(self, *, nothing_kept: bool = False) -> None:
        super().__init__()
        self.started = threading.Event()
        self._stop = threading.Event()
        self.stop_reasons: list[str] = []
        self.nothing_kept = nothing_kept

    def execute(self, run: ContactRun) -> None:
        super().execute(run)
        self.started.set()
        self._stop.wait(60.0)
        if self.nothing_kept:
            raise ContactStopped(f"{self.stop_reasons[-1]}; no frame was decoded")

    def stop_contact(self, contact_id: str, reason: str) -> None:
        self.stop_reasons.append(reason)
        self._stop.set()


def _reason(session_factory: sessionmaker[Session], contact_id: str) -> str:
    with session_factory() as s:
        return s.scalars(select(Contact.state_reason).where(Contact.id == contact_id)).one()


def _stop_during_pass(
    session_factory: sessionmaker[Session], executor: StoppableExecutor
) -> tuple[str, list[tuple[str, str]], float]:
    clock = SimulatedClock(T0, speedup=SPEEDUP)
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        # A 50-minute pass: 10 s of wall time at x300, far longer than the test.
        contact = insert_contact(
            s, satellite_id=sat, aos=T0 + timedelta(seconds=60), duration_s=3000
        )
        contact_id, los = contact.id, contact.los
    service, events, _ = _service(session_factory, clock, executor=executor)
    service.start()
    try:
        assert executor.started.wait(30.0), "the pass did not start"
        with session_factory() as s:
            stopping = booking.stop(
                s, contact_id=contact_id, now=clock.now(), reason="operator request"
            )
            assert stopping.state == S.CANCELLING
        states = _wait_terminal(session_factory, [contact_id])
        stopped_at = clock.now()
    finally:
        service.shutdown()
    assert states[contact_id] == "CANCELLED"
    seen = [(e.old_state, e.new_state) for e in events.for_contact(contact_id)]
    return _reason(session_factory, contact_id), seen, (los - stopped_at).total_seconds()


def test_a_pass_stopped_during_pass_is_cancelled_after_its_executor_stops(
    session_factory: sessionmaker[Session],
) -> None:
    executor = StoppableExecutor()
    reason, seen, before_los_s = _stop_during_pass(session_factory, executor)
    assert executor.stop_reasons == ["stopped: operator request"]
    # PASS -> CANCELLING was booking.stop's (published to its caller's sink)
    assert seen == [("SCHEDULED", "PREPASS"), ("PREPASS", "PASS"), ("CANCELLING", "CANCELLED")]
    assert reason.startswith("stopped: operator request; pass stopped at ")
    assert before_los_s > 0, "the pass ran to LOS instead of stopping"


def test_a_stopped_pass_that_kept_nothing_is_cancelled_not_failed(
    session_factory: sessionmaker[Session],
) -> None:
    _, seen, _ = _stop_during_pass(session_factory, StoppableExecutor(nothing_kept=True))
    assert ("CANCELLING", "CANCELLED") in seen
    assert "FAILED" not in {new for _, new in seen}


def test_stop_in_prepass_cancels_at_once_and_a_scheduled_contact_is_refused(
    session: Session,
) -> None:
    sat = seed_basic(session)["satellite_id"]
    assert isinstance(sat, int)
    scheduled = insert_contact(session, satellite_id=sat, aos=T0 + timedelta(hours=1))
    with pytest.raises(CancelRefusedError, match=r"SCHEDULED \(cancel it"):
        booking.stop(session, contact_id=scheduled.id, now=T0, reason="x")
    prepass = insert_contact(session, satellite_id=sat, aos=T0 + timedelta(hours=3))
    apply_transition(session, prepass, S.PREPASS, at=T0, reason="test")
    session.commit()
    out = booking.stop(session, contact_id=prepass.id, now=T0, reason="antenna check")
    assert (out.state, out.state_reason) == ("CANCELLED", "stopped: antenna check")
    with pytest.raises(CancelRefusedError, match="CANCELLED"):
        booking.stop(session, contact_id=prepass.id, now=T0, reason="again")


def test_stop_of_another_tenants_contact_is_not_found(session: Session) -> None:
    from groundstation.errors import NotFoundError

    sat = seed_basic(session)["satellite_id"]
    assert isinstance(sat, int)
    contact = insert_contact(session, satellite_id=sat, aos=T0 + timedelta(hours=1))
    with pytest.raises(NotFoundError):
        booking.stop(session, contact_id=contact.id, now=T0, reason="x", tenants=("globex",))


def test_the_downlink_executor_stopped_mid_pass_keeps_a_partial_dataset(tmp_path: Path) -> None:
    """The service as `serve` runs it (SQLite, local store and topic log,
    simulated clock): a pass stopped once frames were decoded ends before
    LOS, its frames so far become a ready dataset, the contact CANCELLED."""
    from groundstation.commands._context import open_context
    from groundstation.commands.demo import (
        DEMO_CLOCK_START,
        choose_contacts,
        find_samples,
        load_inventory,
        reserve_choice,
    )
    from groundstation.runtime import open_runtime
    from groundstation.settings import Settings

    settings = Settings(data_dir=tmp_path / "var")
    ctx = open_context(settings)
    with ctx.session() as s:
        names = load_inventory(s, find_samples(None), now=DEMO_CLOCK_START)
        (choice,) = choose_contacts(
            s, names, now=DEMO_CLOCK_START, hours=6, count=1, span_s=60, min_elevation_deg=40
        )
        clock_start = choice.aos - timedelta(seconds=110)
        contact_id = reserve_choice(s, choice, now=clock_start, policy=ctx.policy).id
    ctx.engine.dispose()
    runtime = open_runtime(settings, clock=SimulatedClock(clock_start, speedup=10.0))
    try:
        runtime.start()
        deadline = time.monotonic() + 120
        while (p := runtime.executor.progress.get(contact_id)) is None or p.frames_ok < 3:
            assert time.monotonic() < deadline, "no frame decoded in 120 s"
            time.sleep(0.1)
        with runtime.session_factory() as s:
            booking.stop(s, contact_id=contact_id, now=runtime.clock.now(), reason="test stop")
        states = _wait_terminal(runtime.session_factory, [contact_id], timeout_s=60)
        stopped_by = runtime.clock.now()
        result = runtime.executor.results.get(contact_id)
        reason = _reason(runtime.session_factory, contact_id)
        datasets = runtime.catalog.find(contact_id=contact_id)
    finally:
        runtime.close()
    assert states[contact_id] == "CANCELLED", reason
    # The pass ended at the stop, not at LOS (the executor behind the
    # runtime's station router is told to stop).
    assert stopped_by < choice.los - timedelta(minutes=2), (stopped_by, choice.los)
    assert "the partial dataset received is kept" in reason
    assert result is not None and 3 <= result.frames_ok < result.frames_expected
    assert [d.contact_id for d in datasets] == [contact_id]
    assert result.dataset_id == datasets[0].id
