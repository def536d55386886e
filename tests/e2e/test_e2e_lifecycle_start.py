"""A pass entered while the lifecycle reconciles at start-up runs in its own
thread: ``start()`` (and so ``serve``'s API) is not held up for the pass."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from groundstation.clock import SimulatedClock
from groundstation.commands.demo import reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.events import InMemoryEventSink
from groundstation.executor import ContactRun
from groundstation.lifecycle import LifecycleService
from groundstation.models import Contact

from .conftest import next_contacts, seed


class BlockingExecutor:
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.runs: list[str] = []

    def execute(self, run: ContactRun) -> None:
        self.runs.append(run.contact_id)
        self.entered.set()
        assert self.release.wait(30)


def test_pass_due_at_start_up_runs_without_blocking_start(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        (choice,) = next_contacts(session, names, 1)
        contact_id = reserve_choice(session, choice, now=choice.aos - timedelta(minutes=10)).id
    # An earlier instance took the contact into PREPASS, then stopped.
    first = LifecycleService(
        session_factory=sessions,
        clock=SimulatedClock(choice.aos - timedelta(seconds=30)),
        events=InMemoryEventSink(),
        executor=BlockingExecutor(),
    )
    first.step(contact_id)
    with sessions() as session:
        assert session.get(Contact, contact_id).state == "PREPASS"  # type: ignore[union-attr]

    # Restart 10 s after AOS (within the grace): the pass starts at once.
    executor = BlockingExecutor()
    service = LifecycleService(
        session_factory=sessions,
        clock=SimulatedClock(choice.aos + timedelta(seconds=10)),
        events=InMemoryEventSink(),
        executor=executor,
    )
    began = time.monotonic()
    service.start()
    started_in_s = time.monotonic() - began
    try:
        assert executor.entered.wait(10)
        assert started_in_s < 5.0
        assert executor.runs == [contact_id]
        with sessions() as session:
            assert session.get(Contact, contact_id).state == "PASS"  # type: ignore[union-attr]
    finally:
        executor.release.set()
        service.shutdown(wait=True)
    assert not any(t.is_alive() for t in service._threads)
    engine.dispose()
