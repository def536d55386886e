"""Time handling shared by the orbital routines.

Times are timezone-aware UTC ``datetime`` objects at the edges. Inside, a
batch of times is a start instant plus offsets in seconds of TAI (uniform,
leap-second safe), turned into the Julian-date arrays that SGP4 (UTC) and
the Earth-rotation angle (UT1) need. The conversion uses skyfield's
built-in timescale data (leap seconds and UT1-UTC); nothing is downloaded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skyfield.api import Timescale, load
from skyfield.sgp4lib import theta_GMST1982

from orbital.errors import OrbitalError

DAY_S = 86400.0
TT_MINUS_TAI_S = 32.184

FloatArray = NDArray[np.float64]


@functools.lru_cache(maxsize=1)
def timescale() -> Timescale:
    """The shared skyfield timescale (built-in leap-second and UT1 tables)."""
    return load.timescale(builtin=True)


def require_aware_utc(value: datetime, name: str) -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused."""
    if not isinstance(value, datetime):
        raise OrbitalError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise OrbitalError(
            f"{name} {value.isoformat()} has no timezone; give an aware UTC time "
            "such as 2023-07-04T12:00:00+00:00"
        )
    return value.astimezone(UTC)


@dataclass(frozen=True)
class JulianDates:
    """Julian dates for a batch of instants.

    ``whole + utc_fraction`` is the UTC Julian date SGP4 expects (TLE epochs
    are UTC); ``whole + ut1_fraction`` is UT1 for the Earth-rotation angle.
    """

    whole: FloatArray
    utc_fraction: FloatArray
    ut1_fraction: FloatArray

    def gmst_rad(self) -> tuple[FloatArray, FloatArray]:
        """IAU-82 Greenwich mean sidereal angle (SGP4's TEME) and its rate.

        Returns ``(theta_rad, theta_dot_rad_s)``, each shaped like the times.
        """
        theta, theta_dot_per_day = theta_GMST1982(self.whole, self.ut1_fraction)
        theta = np.asarray(theta, dtype=np.float64)
        rate = np.broadcast_to(np.asarray(theta_dot_per_day, dtype=np.float64) / DAY_S, theta.shape)
        return theta, rate


class Epoch:
    """A reference instant; offsets from it are seconds of TAI.

    Conversions of offsets within ``[0, span_s]`` to Julian dates use
    tables sampled from skyfield every hour (UT1-UTC drifts by
    milliseconds a day, so linear interpolation is exact to microseconds);
    a leap second inside the span is handled exactly.
    """

    def __init__(self, start: datetime, span_s: float = DAY_S) -> None:
        self.start = require_aware_utc(start, "start")
        t0 = timescale().from_datetime(self.start)
        self.tai_whole = float(t0.whole)
        self.tai_fraction = float(t0.tai_fraction)
        n = max(2, int(np.ceil(max(span_s, 1.0) / 3600.0)) + 2)
        self._table_s = np.linspace(-3600.0, 3600.0 * (n - 1), n + 1)
        t = self._skyfield(self._table_s)
        self._leap_s = np.asarray(t._leap_seconds(), dtype=np.float64)
        self._ut1_minus_tai_s = np.asarray(
            (t.ut1_fraction - t.tai_fraction) * DAY_S, dtype=np.float64
        )
        self._leap0 = float(self._leap_s[1])
        self._leap_changes = bool(np.any(self._leap_s != self._leap0))

    def _skyfield(self, offset_s: FloatArray) -> Any:
        frac = self.tai_fraction + np.asarray(offset_s, dtype=np.float64) / DAY_S
        return timescale().tai_jd(np.full(frac.shape, self.tai_whole), frac)

    def _leap(self, offset_s: FloatArray) -> FloatArray:
        if not self._leap_changes:
            return np.full(offset_s.shape, self._leap0)
        idx = np.clip(np.searchsorted(self._table_s, offset_s, side="right") - 1, 0, None)
        exact = np.asarray(self._skyfield(offset_s)._leap_seconds(), dtype=np.float64)
        return np.where(np.isfinite(exact), exact, self._leap_s[idx])

    def julian(self, offset_s: FloatArray) -> JulianDates:
        """Julian dates for ``offset_s`` (TAI seconds after the epoch)."""
        offset_s = np.asarray(offset_s, dtype=np.float64)
        tai = self.tai_fraction + offset_s / DAY_S
        utc = tai - self._leap(offset_s) / DAY_S
        ut1 = tai + np.interp(offset_s, self._table_s, self._ut1_minus_tai_s) / DAY_S
        return JulianDates(np.full(offset_s.shape, self.tai_whole), utc, ut1)

    def offset_of(self, value: datetime) -> float:
        """Seconds of TAI from the epoch to ``value``."""
        t = timescale().from_datetime(require_aware_utc(value, "time"))
        return float((t.whole - self.tai_whole + t.tai_fraction - self.tai_fraction) * DAY_S)

    def utc_offsets(self, offset_s: FloatArray) -> FloatArray:
        """UTC seconds since the start (differs from TAI only across a leap second)."""
        offset_s = np.asarray(offset_s, dtype=np.float64)
        return offset_s - (self._leap(offset_s) - self._leap0)

    def to_datetimes(self, offset_s: FloatArray) -> list[datetime]:
        """Aware UTC datetimes (microsecond resolution) for an array of offsets."""
        us = np.round(self.utc_offsets(np.atleast_1d(offset_s)) * 1e6).astype("timedelta64[us]")
        base = np.datetime64(self.start.replace(tzinfo=None), "us")
        naive: list[datetime] = (base + us).tolist()
        return [d.replace(tzinfo=UTC) for d in naive]

    def to_datetime(self, offset_s: float) -> datetime:
        return self.start + timedelta(seconds=float(self.utc_offsets(np.array([offset_s]))[0]))
