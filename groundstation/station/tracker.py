"""Point a rotator along a pointing plan in time: pre-position before AOS,
a command every ``update_s`` during the pass, park after LOS.

Each tick first reads where the rotator got to, then sends the next
command. The reading is the tick's sample, compared with the plan at the
instant it was read: the pointing error the antenna really had. Reading before commanding also matters to
hamlib's dummy rotator (``rotctld -m 1``, hamlib 4.5): it advances its
position only when the position is read, and a new ``P`` restarts its
motion from the last read, so a dummy that is read only right after each
command barely moves.

Time comes from an injected :class:`groundstation.clock.Clock`, so a test
runs a pass in compressed time on a ``SimulatedClock``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from groundstation.clock import Clock
from groundstation.station.errors import HardwareError
from groundstation.station.pointing import PointingPlan, RotatorConfig
from groundstation.station.rotator import AzEl, Rotator
from groundstation.station.timing import sleep_until, ticks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PointingSample:
    """One tick: the rotator's position read at ``time_utc`` (where the
    previous command got it), the plan's position at that instant, and the
    command sent right after the reading."""

    time_utc: datetime
    expected: AzEl
    reported: AzEl
    commanded: AzEl


@dataclass
class TrackingReport:
    """What the rotator did during one pass."""

    plan: PointingPlan
    prepositioned_at: datetime | None = None
    preposition_late_s: float = 0.0
    samples: list[PointingSample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    parked_at: datetime | None = None
    stopped_early: bool = False


class Tracker:
    """Drives one rotator along pointing plans.

    A failed command is recorded and the next tick tries again;
    ``max_consecutive_errors`` failures in a row end the pass with the error.
    """

    def __init__(
        self,
        rotator: Rotator,
        config: RotatorConfig,
        clock: Clock,
        *,
        max_consecutive_errors: int = 3,
    ) -> None:
        self.rotator = rotator
        self.config = config
        self.clock = clock
        self.max_consecutive_errors = max_consecutive_errors

    def preposition_time(self, plan: PointingPlan, current: AzEl) -> datetime:
        """When to start moving from ``current`` to reach the AOS position in time."""
        needed_s = self.config.slew_time_s(current, plan.at(plan.start))
        return plan.start - timedelta(seconds=needed_s + self.config.preposition_margin_s)

    def track(self, plan: PointingPlan, *, stop: threading.Event | None = None) -> TrackingReport:
        """Pre-position, follow ``plan`` until its end, then park; returns what happened."""
        report = TrackingReport(plan=plan)
        stop = stop or threading.Event()
        current = self.rotator.position()
        sleep_until(
            self.clock, self.preposition_time(plan, current), stop, max_step_s=self.config.update_s
        )
        self._preposition(plan, current, report)
        try:
            self._follow(plan, report, stop)
        finally:
            self._park(report)
        return report

    def _preposition(self, plan: PointingPlan, current: AzEl, report: TrackingReport) -> None:
        target = plan.at(plan.start)
        self.rotator.set_position(target.azimuth_deg, target.elevation_deg)
        now = self.clock.now()
        report.prepositioned_at = now
        arrival = now + timedelta(seconds=self.config.slew_time_s(current, target))
        report.preposition_late_s = max(0.0, (arrival - plan.start).total_seconds())
        if report.preposition_late_s > 0:
            log.warning(
                "rotator %s reaches the AOS position %.1f s after AOS",
                self.rotator.where,
                report.preposition_late_s,
            )

    def _follow(self, plan: PointingPlan, report: TrackingReport, stop: threading.Event) -> None:
        lead = timedelta(seconds=self.config.command_lead_s)
        failures = 0
        for now in ticks(self.clock, plan.start, plan.end, self.config.update_s, stop):
            try:
                report.samples.append(self._point(plan, min(now + lead, plan.end)))
                failures = 0
            except HardwareError as exc:
                failures += 1
                report.errors.append(str(exc))
                if failures >= self.max_consecutive_errors:
                    raise
        report.stopped_early = stop.is_set()

    def _point(self, plan: PointingPlan, at: datetime) -> PointingSample:
        reported = self.rotator.position()
        read_at = self.clock.now()
        target = plan.at(at)
        self.rotator.set_position(target.azimuth_deg, target.elevation_deg)
        return PointingSample(read_at, plan.at(read_at), reported, target)

    def _park(self, report: TrackingReport) -> None:
        try:
            if self.config.park is None:
                self.rotator.park()
            else:
                self.rotator.set_position(
                    self.config.park.azimuth_deg, self.config.park.elevation_deg
                )
            report.parked_at = self.clock.now()
        except HardwareError as exc:
            report.errors.append(f"park: {exc}")
