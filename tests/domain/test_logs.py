"""Log set-up (text / JSON lines, levels, APScheduler's chatter) and the
contact-event log lines."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import SimulatedClock
from groundstation.events import ContactEvent
from groundstation.executor import RecordingExecutor
from groundstation.lifecycle import LifecycleService
from groundstation.logs import CHATTY_LOGGERS, ContactLogSink, configure_logging
from groundstation.settings import Settings

from .helpers import T0, insert_contact, seed_basic


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in chatty.items():
        logging.getLogger(name).setLevel(old)


def configured(**settings: object) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(Settings(**settings), stream=stream)  # type: ignore[arg-type]
    return stream


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_format_writes_one_valid_object_per_line_with_structured_fields(
    restore_logging: None,
) -> None:
    stream = configured(log_format="json")
    log = logging.getLogger("groundstation.test")
    log.info("contact failed", extra={"contact_id": "c-1", "state": "FAILED", "reason": 'a\n"b"'})
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        log.exception("step failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # the traceback stays inside its line
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "INFO"
    assert first["logger"] == "groundstation.test"
    assert first["message"] == "contact failed"
    assert (first["contact_id"], first["state"], first["reason"]) == ("c-1", "FAILED", 'a\n"b"')
    assert str(first["time"]).endswith("Z")
    assert second["level"] == "ERROR"
    assert "RuntimeError: boom" in str(second["exception"])


def test_text_format_appends_fields_as_key_value_pairs(restore_logging: None) -> None:
    stream = configured(log_format="text", log_level="warning")
    log = logging.getLogger("groundstation.test")
    log.info("not shown")
    log.warning("contact failed", extra={"contact_id": "c-1", "reason": "no frame decoded"})
    [line] = stream.getvalue().splitlines()
    assert " WARNING groundstation.test: contact failed " in line
    assert line.endswith('contact_id=c-1 reason="no frame decoded"')


def test_apscheduler_routine_lines_do_not_show_at_info_but_its_errors_do(
    restore_logging: None,
) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    def broken() -> None:
        raise ValueError("job broke")

    def run_jobs() -> None:
        scheduler = BackgroundScheduler()
        scheduler.start()
        scheduler.add_job(lambda: None, id="fine")
        scheduler.add_job(broken, id="broken")
        time.sleep(0.5)
        scheduler.shutdown(wait=True)

    stream = configured(log_format="json", log_level="INFO")
    run_jobs()
    lines = [r for r in json_lines(stream) if str(r["logger"]).startswith("apscheduler")]
    assert [r["level"] for r in lines] == ["ERROR"]
    assert "job broke" in str(lines[0]["exception"])

    stream = configured(log_format="json", log_level="DEBUG")
    run_jobs()
    routine = [
        r
        for r in json_lines(stream)
        if str(r["logger"]).startswith("apscheduler") and r["level"] == "INFO"
    ]
    assert any("Running job" in str(r["message"]) for r in routine)


def event(old: str, new: str, reason: str = "") -> ContactEvent:
    return ContactEvent("c-1", old, new, T0, reason)


def test_contact_events_that_matter_log_one_line_each_at_their_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="groundstation.contacts")
    sink = ContactLogSink(
        details=lambda cid: (25544, "gs1", "ant1"),
        pass_figures=lambda cid: {"frames_ok": 812, "frames_expected": 840, "esn0_db": 6.25},
        simulated_rf=True,
    )
    for e in (
        event("AVAILABLE", "SCHEDULED", "reserved by acme"),
        event("SCHEDULED", "PREPASS", "pre-pass started"),
        event("PREPASS", "PASS", "AOS at 12:00"),
        event("PASS", "POSTPASS", "LOS at 12:10"),
        event("POSTPASS", "COMPLETED", "post-pass ended"),
        event("SCHEDULED", "CANCELLED", "cancelled by acme"),
    ):
        sink.publish(e)
    got = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert got == [
        ("INFO", "contact booked"),
        ("DEBUG", "contact pre-pass started"),
        ("INFO", "contact AOS"),
        ("INFO", "contact LOS"),
        ("INFO", "contact completed"),
        ("INFO", "contact cancelled"),
    ]
    booked, _, aos, los, completed, _ = caplog.records
    assert vars(booked)["norad_id"] == 25544
    assert "simulated" not in vars(booked)  # booking is real
    assert vars(aos)["simulated"] is True and vars(los)["simulated"] is True
    assert vars(completed)["frames_ok"] == 812
    assert vars(completed)["esn0_db"] == 6.25
    assert vars(completed)["simulated"] is True


def test_a_failed_contact_logs_a_warning_with_the_reason(
    session_factory: sessionmaker[Session], restore_logging: None
) -> None:
    stream = configured(log_format="json", log_level="INFO")
    clock = SimulatedClock(T0, speedup=300.0)
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
        contact = insert_contact(s, satellite_id=sat, aos=T0 + timedelta(seconds=120))
    service = LifecycleService(
        session_factory=session_factory,
        clock=clock,
        events=ContactLogSink(simulated_rf=True),
        executor=RecordingExecutor(fail_with="demodulator lost lock"),
        grace_s=450.0,
        sync_interval_s=0.2,
        heartbeat_interval_s=0.5,
    )
    service.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and '"state": "FAILED"' not in stream.getvalue():
            time.sleep(0.1)
    finally:
        service.shutdown()
    lines = [r for r in json_lines(stream) if r["logger"] == "groundstation.contacts"]
    [failed] = [r for r in lines if r["state"] == "FAILED"]
    assert failed["level"] == "WARNING"
    assert failed["contact_id"] == contact.id
    assert failed["old_state"] == "PASS"
    assert "demodulator lost lock" in str(failed["reason"])
    assert failed["simulated"] is True
    assert [r["message"] for r in lines if r["level"] == "INFO"] == ["contact AOS"]
    # the lifecycle's scheduler said nothing at INFO
    assert not [r for r in json_lines(stream) if str(r["logger"]).startswith("apscheduler")]


def test_a_verdict_is_logged_with_its_source_on_the_completion_and_when_set_by_hand(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="groundstation.contacts")
    sink = ContactLogSink()
    sink.publish(ContactEvent("c-1", "POSTPASS", "COMPLETED", T0, "done", "partial", "auto"))
    sink.publish(ContactEvent("c-1", "COMPLETED", "COMPLETED", T0, "by hand", "bad", "manual"))
    completed, vetted = caplog.records
    assert completed.getMessage() == "contact completed"
    assert (vars(completed)["verdict"], vars(completed)["verdict_source"]) == ("partial", "auto")
    assert vetted.getMessage() == "contact vetted"
    assert (vars(vetted)["verdict"], vars(vetted)["verdict_source"]) == ("bad", "manual")
