"""Radio control over hamlib's rigctld network protocol (``F``, ``f``, ``M``, ``m``)
and Doppler-corrected tuning along a predicted track, for a station whose
receiver is a radio rather than an SDR.

The Doppler shift is the track's (:meth:`orbital.track.Track.doppler_hz`,
from its range rate); this module only schedules it onto the radio.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from groundstation.clock import Clock, require_utc
from groundstation.errors import ValidationError
from groundstation.station.errors import HardwareError
from groundstation.station.hamlib import HamlibClient
from groundstation.station.timing import sleep_until, ticks
from orbital.track import Track


class Radio(HamlibClient):
    """A client of ``rigctld`` (any hamlib radio model behind it)."""

    daemon = "rigctld"

    def set_frequency(self, freq_hz: float) -> None:
        if not (math.isfinite(freq_hz) and freq_hz > 0):
            raise HardwareError(f"{self.where}: freq_hz {freq_hz} must be a positive frequency")
        self.command(f"F {round(freq_hz)}")

    def frequency(self) -> float:
        """The frequency the radio reports (Hz)."""
        return self.number(self.command("f"), "Frequency", "f")

    def modes(self) -> list[str]:
        """The modes this radio accepts (``M ?``)."""
        return " ".join(self.command_lines("M ?")).split()

    def set_mode(self, mode: str, passband_hz: int = 0) -> None:
        """Set ``mode`` (one of :meth:`modes`) and passband (0: the radio's normal one)."""
        known = self.modes()
        if mode not in known:
            raise HardwareError(f"{self.where}: mode {mode!r} is not one of this radio's {known}")
        if passband_hz < 0:
            raise HardwareError(f"{self.where}: passband_hz {passband_hz} must be >= 0")
        self.command(f"M {mode} {passband_hz}")

    def mode(self) -> tuple[str, int]:
        """The radio's mode and passband (Hz)."""
        values = self.command("m")
        return values.get("Mode", ""), int(self.number(values, "Passband", "m"))


@dataclass(frozen=True)
class TuningSample:
    """One frequency command and the frequency read back right after it."""

    time_utc: datetime
    commanded_hz: float
    reported_hz: float


@dataclass
class TuningReport:
    samples: list[TuningSample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped_early: bool = False


@dataclass(frozen=True)
class DopplerSchedule:
    """The frequency to receive ``carrier_hz`` on along a track (downlink:
    carrier plus the track's Doppler shift), shape ``(n_times,)``."""

    start: datetime
    t_s: NDArray[np.float64]
    freq_hz: NDArray[np.float64]

    @classmethod
    def downlink(cls, track: Track, carrier_hz: float) -> DopplerSchedule:
        good = (track.error_code == 0) & np.isfinite(track.range_rate_km_s)
        if not np.any(good):
            raise ValidationError(f"track of {len(track)} samples has no valid range rate")
        idx = np.flatnonzero(good)
        shift = track.doppler_hz(carrier_hz)[idx]
        return cls(track.times_utc[idx[0]], track.t_s[idx] - track.t_s[idx[0]], carrier_hz + shift)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=float(self.t_s[-1]))

    def at(self, t: datetime) -> float:
        offset_s = (require_utc(t, "t") - self.start).total_seconds()
        return float(np.interp(offset_s, self.t_s, self.freq_hz))


class DopplerTuner:
    """Retunes a radio along a :class:`DopplerSchedule` every ``update_s``,
    each command ``update_s/2`` ahead (the error of a held frequency is
    then at most the Doppler rate times ``update_s/2``); a change smaller
    than ``min_step_hz`` is not sent."""

    def __init__(
        self,
        radio: Radio,
        clock: Clock,
        *,
        update_s: float = 1.0,
        min_step_hz: float = 1.0,
        max_consecutive_errors: int = 3,
    ) -> None:
        if not (math.isfinite(update_s) and update_s > 0):
            raise ValidationError(f"radio update_s {update_s} must be a positive number")
        self.radio = radio
        self.clock = clock
        self.update_s = update_s
        self.min_step_hz = min_step_hz
        self.max_consecutive_errors = max_consecutive_errors

    def tune(
        self, schedule: DopplerSchedule, *, stop: threading.Event | None = None
    ) -> TuningReport:
        report = TuningReport()
        stop = stop or threading.Event()
        lead = timedelta(seconds=self.update_s / 2)
        last_hz = math.nan
        failures = 0
        if sleep_until(self.clock, schedule.start - lead, stop, max_step_s=self.update_s):
            report.stopped_early = True
            return report
        for now in ticks(self.clock, schedule.start, schedule.end, self.update_s, stop):
            freq_hz = schedule.at(min(now + lead, schedule.end))
            if abs(freq_hz - last_hz) < self.min_step_hz:
                continue
            try:
                self.radio.set_frequency(freq_hz)
                reported = self.radio.frequency()
            except HardwareError as exc:
                failures += 1
                report.errors.append(str(exc))
                if failures >= self.max_consecutive_errors:
                    raise
                continue
            failures = 0
            last_hz = freq_hz
            report.samples.append(TuningSample(self.clock.now(), freq_hz, reported))
        report.stopped_early = stop.is_set()
        return report
