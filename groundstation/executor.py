"""The pluggable contact executor, called once when a contact enters PASS.

The lifecycle only needs this Protocol: ``serve`` and the demo plug in
``groundstation.downlink.DownlinkExecutor`` (the simulated downlink through
the DSP receiver into a dataset), tests their own. An executor returns
normally on success and raises
``ContactExecutionError`` (or any exception) on failure, which moves the
contact to FAILED with the message as reason.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from groundstation.profile_settings import DatasetOptions, DecodeSettings, DemodSettings


@dataclass(frozen=True)
class ContactRun:
    """What an executor needs to work a pass (plain values, no ORM objects)."""

    contact_id: str
    norad_id: int
    satellite_name: str
    antenna_id: str
    station_id: str
    profile_id: str
    aos: datetime
    tca: datetime
    los: datetime
    downlink_freq_hz: float
    ephemeris_text: str
    # Downlink spec of the satellite and the mission profile's settings
    # (typed, validated), so an executor needs no database access.
    downlink_bandwidth_hz: float = 0.0
    modulation: str = ""
    symbol_rate_baud: float = 0.0
    framing_profile: str = ""
    demod: DemodSettings = field(default_factory=DemodSettings)
    decode: DecodeSettings = field(default_factory=DecodeSettings)
    kafka_topic: str = ""
    dataset_options: DatasetOptions = field(default_factory=DatasetOptions)
    # Stored settings of the profile or satellite that do not validate
    # (profile_settings.read_profile, downlink_problems): the pass cannot be
    # worked as asked, and an executor refuses it with these.
    problems: tuple[str, ...] = ()
    # The tenant whose scientists read the contact's dataset (the
    # satellite's): its bucket, if it has one, receives the dataset.
    tenant: str = ""


class ContactExecutionError(Exception):
    """The executor could not work the pass."""


class ContactStopped(ContactExecutionError):
    """The pass was stopped on request (``stop_contact``) before anything
    worth keeping was received: the contact is cancelled, not failed."""


class ContactHandedOver(ContactExecutionError):
    """The service stopped while a pass it does not work itself (a station
    agent's) goes on: the contact stays in PASS, and the next start of the
    service follows it again (``ResumableExecutor``) instead of failing it."""


@runtime_checkable
class ResumableExecutor(Protocol):
    """An executor whose passes outlive the service (station agents): at
    start-up a contact left in PASS by a stopped service is given back to
    it (``execute`` again) when ``resumes`` says it can follow it."""

    def resumes(self, run: ContactRun) -> bool: ...


class ContactExecutor(Protocol):
    def execute(self, run: ContactRun) -> None: ...


@runtime_checkable
class StoppableExecutor(Protocol):
    """An executor that can end one running pass early (``POST
    /contacts/{id}/stop``): ``execute`` then returns with what was received
    kept, or raises ``ContactStopped`` when nothing was."""

    def stop_contact(self, contact_id: str, reason: str) -> None: ...


class NoOpExecutor:
    """Does nothing and succeeds: the default until a downlink executor is plugged in."""

    def execute(self, run: ContactRun) -> None:
        return None


class RecordingExecutor:
    """Records each run (for tests and the demo); can be told to fail."""

    def __init__(self, *, fail_with: str | None = None) -> None:
        self._lock = threading.Lock()
        self.runs: list[ContactRun] = []
        self.fail_with = fail_with

    def execute(self, run: ContactRun) -> None:
        with self._lock:
            self.runs.append(run)
        if self.fail_with is not None:
            raise ContactExecutionError(self.fail_with)


#: Test hook (``GS_TEST_PAUSE_AT``): where the downlink executor can be made
#: to stop and wait until it is stopped, so a test can kill the process there.
PAUSE_POINTS = ("before-commit", "manifest-written", "after-ready")


def parse_pause_points(text: str) -> dict[str, str]:
    """``"point[@contact_id],..."`` -> {contact id or "*": point}; raises
    ``ValueError`` naming an unknown point."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        point, _, contact_id = item.partition("@")
        if point not in PAUSE_POINTS:
            raise ValueError(f"pause point {point!r} in {text!r} is not one of {PAUSE_POINTS}")
        out[contact_id or "*"] = point
    return out
