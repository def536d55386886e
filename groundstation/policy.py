"""The limits bookings and predictions obey: ``BookingPolicy`` (from
``Settings``) and the longest range any prediction behind a request runs
over (``require_span``), both checked before anything is predicted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from groundstation.clock import iso_utc
from groundstation.errors import ValidationError

if TYPE_CHECKING:
    from groundstation.settings import Settings

#: The longest range a prediction behind the service may run over (passes,
#: availability, planning): a month of passes over every station is
#: bounded work; a 70-year range was 13 s of CPU for one satellite.
MAX_PREDICTION_SPAN = timedelta(days=31)


@dataclass(frozen=True)
class BookingPolicy:
    """Rules with configurable limits (from ``Settings``)."""

    max_ephemeris_age_s: float = 7 * 86400.0
    window_tolerance_s: float = 60.0
    # The longest pass a booking may cover (GS_MAX_PASS_S).
    max_pass_s: float = 43200.0
    # Planning: satellites x stations x days predicted, and candidate windows
    # (GS_MAX_PLAN_SATELLITE_STATION_DAYS, GS_MAX_PLAN_CANDIDATES).
    max_plan_satellite_station_days: float = 20_000.0
    max_plan_candidates: int = 50_000
    # The most contacts one plan may book (GS_MAX_PLAN_CONTACTS): committing
    # re-checks every window, so this bounds the CPU of one commit request.
    max_plan_contacts: int = 2_000
    # Booking at a station whose agent has been silent longer is refused
    # (GS_AGENT_BOOKING_OFFLINE_S).
    agent_booking_offline_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BookingPolicy:
        return cls(
            max_ephemeris_age_s=settings.max_ephemeris_age_days * 86400.0,
            window_tolerance_s=settings.window_tolerance_s,
            max_pass_s=settings.max_pass_s,
            max_plan_satellite_station_days=settings.max_plan_satellite_station_days,
            max_plan_candidates=settings.max_plan_candidates,
            max_plan_contacts=settings.max_plan_contacts,
            agent_booking_offline_s=settings.agent_booking_offline_s,
        )

    @property
    def max_window_s(self) -> float:
        """The longest window a reservation may ask for: one pass plus the
        tolerance on either side."""
        return self.max_pass_s + 2.0 * self.window_tolerance_s


def require_span(
    start: datetime, end: datetime, *, what: str, limit: timedelta = MAX_PREDICTION_SPAN
) -> None:
    """ValidationError naming the values unless ``start < end`` and the range
    is at most ``limit`` long: checked before any prediction over it."""
    if not start < end:
        raise ValidationError(f"{what}: start {iso_utc(start)} is not before end {iso_utc(end)}")
    span = end - start
    if span > limit:
        raise ValidationError(
            f"{what}: {iso_utc(start)}..{iso_utc(end)} spans "
            f"{span.total_seconds() / 86400:.1f} days; "
            f"at most {limit.total_seconds() / 86400:.0f} days per request"
        )
