"""Log set-up at the edge, and one log line per contact event that matters.

``configure_logging(settings)`` is called once by the command that runs
(``serve``, ``demo``, the domain subcommands), never at import. It installs
one stderr handler on the root logger:

- ``GS_LOG_FORMAT=text`` (default): ``time LEVEL logger: message key=value ...``;
- ``GS_LOG_FORMAT=json``: one JSON object per line with ``time``, ``level``,
  ``logger``, ``message``, the record's structured fields (``extra=``, e.g.
  ``contact_id``, ``state``, ``reason``) and ``exception`` when there is one.

``GS_LOG_LEVEL`` sets the level. The routine INFO lines of APScheduler
("Running job", "Added job"), Alembic, kafka-python and boto only show at
DEBUG; their warnings and errors always do.

`ContactLogSink` is an ``EventSink`` (added to the runtime's ``FanOutSink``)
writing one line per contact event: booked, cancelled, AOS, LOS and
completed (with frames and link quality when the executor reported them) at
INFO, failed at WARNING with the reason. Lines about a pass worked by the
simulated RF front end carry ``simulated=true``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import IO, Any

from groundstation.db import RedactingFilter
from groundstation.events import ContactEvent, Event, ResourceEvent
from groundstation.settings import Settings
from groundstation.states import ContactState

S = ContactState

# Loggers whose INFO lines are routine chatter: shown from DEBUG on only.
CHATTY_LOGGERS = (
    "apscheduler",
    "alembic",
    "kafka",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "httpx",
    "httpcore",
)

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record was logged with (``extra=``)."""
    return {k: v for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")}


def _utc_time(record: logging.LogRecord) -> str:
    t = datetime.fromtimestamp(record.created, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _text_value(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return json.dumps(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-27T01:02:03.456Z WARNING logger: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        fields = record_fields(record)
        if fields:
            line += " " + " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class _EdgeHandler(logging.StreamHandler):
    """The handler ``configure_logging`` installs (replaced when called again)."""


def configure_logging(
    settings: Settings, *, level: str | None = None, stream: IO[str] | None = None
) -> None:
    """Log to ``stream`` (stderr) in ``settings.log_format`` at ``level``
    (default ``settings.log_level``); see the module docstring."""
    name = (level or settings.log_level).upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        raise ValueError(f"log level {name!r} is not one of DEBUG, INFO, WARNING, ERROR")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _EdgeHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _EdgeHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    # No password in any line: the database URL's, and any URL's or DSN's.
    handler.addFilter(RedactingFilter(settings.effective_database_url()))
    root.addHandler(handler)
    root.setLevel(numeric)
    for chatty in CHATTY_LOGGERS:
        logging.getLogger(chatty).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
        )
    logging.captureWarnings(True)


# ------------------------------------------------------------ contact events

ContactDetails = Callable[[str], tuple[int | None, str | None, str | None]]
"""(norad_id, station, antenna) of a contact (``runtime.contact_details``)."""

PassFigures = Callable[[str], Mapping[str, object] | None]
"""Frames and quality of a contact's pass when the executor reported them."""

_PASS_STATES = frozenset({S.PASS.value, S.POSTPASS.value})


#: (level, what happened) of entering each state.
_ENTERED: dict[str, tuple[int, str]] = {
    S.SCHEDULED: (logging.INFO, "contact booked"),
    S.CANCELLED: (logging.INFO, "contact cancelled"),
    S.PREPASS: (logging.DEBUG, "contact pre-pass started"),
    S.PASS: (logging.INFO, "contact AOS"),
    S.POSTPASS: (logging.INFO, "contact LOS"),
    S.COMPLETED: (logging.INFO, "contact completed"),
    S.FAILED: (logging.WARNING, "contact failed"),
    S.FAILED_TO_SCHEDULE: (logging.WARNING, "contact could not be scheduled"),
    S.PROVIDER_FAILED: (logging.WARNING, "contact failed: antenna or station unavailable"),
}


def _describe(event: ContactEvent) -> tuple[int, str]:
    """(level, what happened) of an event."""
    old, new = event.old_state, event.new_state
    if old == new:
        if event.verdict is not None:
            return logging.INFO, "contact vetted"
        return logging.INFO, "contact window updated"
    return _ENTERED.get(new, (logging.INFO, f"contact {old} -> {new}"))


class ContactLogSink:
    """Logs each contact event on logger ``groundstation.contacts`` (see the
    module docstring). ``simulated_rf``: passes are worked by the simulated
    RF front end; ``simulated_clock``: event times are service times of a
    simulated clock. Both are said in the lines they concern."""

    def __init__(
        self,
        *,
        details: ContactDetails | None = None,
        pass_figures: PassFigures | None = None,
        simulated_rf: bool = False,
        simulated_clock: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.details = details
        self.pass_figures = pass_figures
        self.simulated_rf = simulated_rf
        self.simulated_clock = simulated_clock
        self.log = logger or logging.getLogger("groundstation.contacts")

    def publish(self, event: Event) -> None:
        if isinstance(event, ResourceEvent):
            self._resource(event)
            return
        level, what = _describe(event)
        if not self.log.isEnabledFor(level):
            return
        fields: dict[str, object] = {
            "contact_id": event.contact_id,
            "state": event.new_state,
            "old_state": event.old_state,
            "at": event.at.isoformat(),
            "reason": event.reason,
        }
        if event.verdict is not None:
            fields.update(verdict=event.verdict, verdict_source=event.verdict_source)
        if self.details is not None:
            norad_id, station, antenna = self.details(event.contact_id)
            fields.update(norad_id=norad_id, station=station, antenna=antenna)
        in_pass = event.new_state in _PASS_STATES or event.old_state in _PASS_STATES
        if event.new_state in (S.COMPLETED, S.FAILED) and self.pass_figures is not None:
            figures = self.pass_figures(event.contact_id)
            if figures:
                fields.update(figures)
                in_pass = True
        if self.simulated_rf and (in_pass or event.new_state == S.COMPLETED):
            fields["simulated"] = True
        if self.simulated_clock:
            fields["simulated_clock"] = True
        self.log.log(level, what, extra=fields)

    def _resource(self, event: ResourceEvent) -> None:
        """An ephemeris's or a station's status change, one line at INFO."""
        fields: dict[str, object] = {
            "kind": event.kind,
            "subject_id": event.subject_id,
            "status": event.new_status,
            "old_status": event.old_status,
            "at": event.at.isoformat(),
            "reason": event.reason,
        }
        for name in ("norad_id", "station", "antenna", "in_force"):
            if getattr(event, name) is not None:
                fields[name] = getattr(event, name)
        self.log.info(f"{event.kind} status {event.new_status}", extra=fields)


# Figures of a finished pass taken from the executor's result, when it has them.
_FIGURES = ("frames_ok", "frames_expected", "frames_failed", "esn0_db", "verdict", "dataset_id")


def executor_figures(results: Mapping[str, object]) -> PassFigures:
    """Frames and quality of a contact's pass from an executor's ``results``
    (``DownlinkExecutor.results``: contact id -> result), None when unknown."""

    def figures(contact_id: str) -> Mapping[str, object] | None:
        result = results.get(contact_id)
        if result is None:
            return None
        out: dict[str, object] = {}
        for name in _FIGURES:
            value = getattr(result, name, None)
            if isinstance(value, float):
                value = round(value, 2)
            if value is not None:
                out[name] = value
        return out

    return figures


def contact_log_sink(
    *, clock: object, details: ContactDetails | None, executor: object
) -> ContactLogSink:
    """The log sink of a runtime whose passes ``executor`` works on ``clock``."""
    from groundstation.clock import SimulatedClock
    from groundstation.downlink import DownlinkExecutor

    results = getattr(executor, "results", None)
    return ContactLogSink(
        details=details,
        pass_figures=executor_figures(results) if isinstance(results, Mapping) else None,
        # The downlink executor works every pass through the simulated RF
        # front end (groundstation/downlink.py).
        simulated_rf=isinstance(executor, DownlinkExecutor),
        simulated_clock=isinstance(clock, SimulatedClock),
    )
