"""Service clocks.

The lifecycle schedules every transition through ``Clock.to_real`` and reads
the time through ``Clock.now``, so a real clock and a compressed simulated
clock run the same code: the simulated one maps service time to wall time as
``real = real_epoch + (service - service_epoch) / speedup``.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from groundstation.errors import ValidationError


def require_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC; naive datetimes, and ones outside years
    1..9999 once in UTC, are refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware UTC, got naive {value.isoformat()}")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(
            f"{name} {value.isoformat()} lies outside years 1..9999 once converted to UTC"
        ) from None


def iso_utc(t: datetime) -> str:
    """``t`` (aware UTC) as ``2023-07-04T18:00:00Z``, to the second: the form
    every message, log line and CLI table of the service writes instants in.
    The year is always four digits (``%Y`` does not pad years before 1000)."""
    return f"{t.year:04d}-{t:%m-%dT%H:%M:%S}Z"


# Instants the service accepts from its users (bookings, passes, filters,
# maintenance, usage months): wide enough for any real use, and far from the
# ends of Python's datetime (years 1..9999), where window arithmetic overflows.
SUPPORTED_START = datetime(1970, 1, 1, tzinfo=UTC)
SUPPORTED_END = datetime(2100, 1, 1, tzinfo=UTC)
SUPPORTED_RANGE = "1970-01-01T00:00:00Z..2100-01-01T00:00:00Z (end excluded)"


def require_supported(value: datetime, name: str) -> datetime:
    """``value`` in UTC (``require_utc``), or ``ValidationError`` naming it if
    it lies outside ``SUPPORTED_RANGE``."""
    value = require_utc(value, name)
    if not SUPPORTED_START <= value < SUPPORTED_END:
        raise ValidationError(
            f"{name} {value.isoformat()} is outside the supported range {SUPPORTED_RANGE}"
        )
    return value


class Clock(Protocol):
    """Service time (aware UTC) and its mapping to wall-clock time.

    ``speedup``: service seconds per wall-clock second (1 for the real clock).
    """

    @property
    def speedup(self) -> float: ...

    def now(self) -> datetime: ...

    def to_real(self, service_time: datetime) -> datetime:
        """Wall-clock instant at which the service clock reads ``service_time``."""
        ...

    def sleep(self, service_seconds: float) -> None:
        """Block until ``service_seconds`` of service time have passed."""
        ...


class RealClock:
    """The wall clock."""

    speedup = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    def to_real(self, service_time: datetime) -> datetime:
        return require_utc(service_time, "service_time")

    def sleep(self, service_seconds: float) -> None:
        time.sleep(max(0.0, service_seconds))


class SimulatedClock:
    """Service time starting at ``start`` and running ``speedup`` times faster
    than the wall clock (speedup 3600: one hour of service time per second)."""

    def __init__(self, start: datetime, *, speedup: float = 1.0) -> None:
        if not speedup > 0:
            raise ValidationError(f"speedup must be > 0, got {speedup}")
        self.service_epoch = require_utc(start, "start")
        self.real_epoch = datetime.now(UTC)
        self.speedup = float(speedup)

    def now(self) -> datetime:
        elapsed_real_s = (datetime.now(UTC) - self.real_epoch).total_seconds()
        return self.service_epoch + timedelta(seconds=elapsed_real_s * self.speedup)

    def to_real(self, service_time: datetime) -> datetime:
        offset = require_utc(service_time, "service_time") - self.service_epoch
        # Exact integer microseconds, rounded up so that at the returned wall
        # instant the service clock reads at least ``service_time``.
        offset_us = offset // timedelta(microseconds=1)
        return self.real_epoch + timedelta(microseconds=math.ceil(offset_us / self.speedup))

    def sleep(self, service_seconds: float) -> None:
        time.sleep(max(0.0, service_seconds) / self.speedup)


def clock_from_settings(kind: str, *, start: datetime | None = None, speedup: float = 1.0) -> Clock:
    """Build the clock named by ``Settings.clock``."""
    if kind == "real":
        return RealClock()
    if kind == "simulated":
        if start is None:
            raise ValidationError("simulated clock needs a start time (GS_CLOCK_START)")
        return SimulatedClock(start, speedup=speedup)
    raise ValidationError(f"unknown clock {kind!r}; expected 'real' or 'simulated'")
