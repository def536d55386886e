from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import SimulatedClock
from groundstation.events import InMemoryEventSink
from groundstation.executor import RecordingExecutor
from groundstation.lifecycle import LifecycleService
from groundstation.models import Contact
from groundstation.profile_settings import DatasetOptions

from .test_booking import NOAA19, first_window, reserve_window, setup_world


def test_a_reserved_real_pass_runs_its_lifecycle_in_compressed_time(
    session_factory: sessionmaker[Session],
) -> None:
    events = InMemoryEventSink()
    with session_factory() as s:
        setup_world(s)
        contact = reserve_window(s, first_window(s), events=events)
    # Start the service clock 30 s before the pre-pass; 600x: the ~14 min
    # booking takes about 1.5 wall seconds.
    clock = SimulatedClock(contact.booked_start.replace(microsecond=0) - _s(30), speedup=600.0)
    executor = RecordingExecutor()
    service = LifecycleService(
        session_factory=session_factory,
        clock=clock,
        events=events,
        executor=executor,
        grace_s=300.0,
        sync_interval_s=0.2,
    )
    service.start()
    try:
        deadline = time.monotonic() + 20.0
        state = contact.state
        while time.monotonic() < deadline:
            with session_factory() as s:
                row = s.get(Contact, contact.id)
                assert row is not None
                state = row.state
            if state in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.05)
    finally:
        service.shutdown()
    assert state == "COMPLETED"
    assert [e.new_state for e in events.for_contact(contact.id)] == [
        "SCHEDULED",
        "PREPASS",
        "PASS",
        "POSTPASS",
        "COMPLETED",
    ]
    assert len(executor.runs) == 1
    run = executor.runs[0]
    assert run.norad_id == NOAA19 and run.station_id == "svalbard"
    assert run.aos == contact.aos and run.los == contact.los
    assert "33591" in run.ephemeris_text
    assert run.downlink_freq_hz == 437.5e6 and run.downlink_bandwidth_hz == 25e3
    assert run.profile_id == "leo" and run.dataset_options == DatasetOptions()


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
