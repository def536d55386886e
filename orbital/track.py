"""Pointing tracks and Doppler: az/el/range/range-rate of one satellite from one station."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from orbital.elements import ElementSet
from orbital.errors import OrbitalError
from orbital.geometry import look_angles, teme_to_itrs
from orbital.stations import Station
from orbital.timescale import Epoch, require_aware_utc

FloatArray = NDArray[np.float64]

SPEED_OF_LIGHT_KM_S = 299792.458
MAX_TRACK_SAMPLES = 10_000_000


@dataclass(frozen=True)
class Track:
    """Topocentric track; arrays have shape ``(n_times,)``.

    ``t_s`` is seconds (UTC) after ``times_utc[0]``; ``error_code`` is SGP4's
    per-sample status (0 = good; failed samples hold NaN).
    """

    times_utc: list[datetime]
    t_s: FloatArray
    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    range_km: FloatArray
    range_rate_km_s: FloatArray
    elevation_rate_deg_s: FloatArray
    azimuth_rate_deg_s: FloatArray
    error_code: NDArray[np.uint8]

    def __len__(self) -> int:
        return len(self.times_utc)

    def doppler_hz(self, carrier_hz: float) -> FloatArray:
        """Doppler shift of a carrier at each sample (Hz; negative when receding)."""
        return doppler_hz(self.range_rate_km_s, carrier_hz)

    def doppler_rate_hz_s(self, carrier_hz: float) -> FloatArray:
        """Rate of change of the Doppler shift (Hz/s), by central differences."""
        shift = self.doppler_hz(carrier_hz)
        if shift.shape[0] < 2:
            return np.zeros_like(shift)
        return np.gradient(shift, self.t_s)


def doppler_hz(range_rate_km_s: FloatArray, carrier_hz: float) -> FloatArray:
    """Received minus transmitted frequency for a carrier (relativistic, one-way).

    ``f_rx = f_tx * sqrt((1 - beta) / (1 + beta))`` with ``beta = range_rate / c``;
    approaching satellites (negative range rate) give a positive shift.
    """
    if not np.isfinite(carrier_hz) or carrier_hz <= 0:
        raise OrbitalError(f"carrier_hz {carrier_hz} must be a positive frequency")
    beta = np.asarray(range_rate_km_s, dtype=np.float64) / SPEED_OF_LIGHT_KM_S
    return carrier_hz * (np.sqrt((1.0 - beta) / (1.0 + beta)) - 1.0)


def _itrs_core(
    element_set: ElementSet, epoch: Epoch, offsets_s: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.uint8]]:
    """SGP4 then TEME -> ITRS: ``(r_itrs_km: (n, 3), v_itrs_km_s: (n, 3), error_code: (n,))``;
    failed samples hold NaN."""
    sat = element_set.satrec()
    jd = epoch.julian(offsets_s)
    err, r, v = sat.sgp4_array(jd.whole, jd.utc_fraction)
    r[err != 0] = np.nan
    theta, theta_dot = jd.gmst_rad()
    r, v = teme_to_itrs(r, v, theta, theta_dot)
    return r, v, err.astype(np.uint8)


def satellite_itrs(
    element_set: ElementSet, start: datetime, t_s: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.uint8]]:
    """The satellite's Earth-fixed state ``t_s`` seconds (UTC, ``(n_times,)``, >= 0)
    after ``start`` (aware UTC): ``(r_itrs_km: (n_times, 3), v_itrs_km_s: (n_times, 3),
    error_code: (n_times,))``, by the same propagation as ``compute_track``."""
    start = require_aware_utc(start, "start")
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or float(t.min()) < 0:
        raise OrbitalError(f"t_s must be finite seconds >= 0 after start, got {t!r}")
    epoch = Epoch(start, float(t.max()) + 2.0)
    return _itrs_core(element_set, epoch, t)  # TAI == UTC offsets unless a leap second falls


def _track_core(
    element_set: ElementSet, station: Station, epoch: Epoch, offsets_s: FloatArray
) -> tuple[tuple[FloatArray, ...], NDArray[np.uint8]]:
    r, v, err = _itrs_core(element_set, epoch, offsets_s)
    la = look_angles(r, v, station.itrs_km(), station.enu_basis())
    values = (
        la.azimuth_deg,
        la.elevation_deg,
        la.range_km,
        la.range_rate_km_s,
        la.elevation_rate_deg_s,
        la.azimuth_rate_deg_s,
    )
    return values, err


_TimeGrid = tuple[Epoch, FloatArray, list[datetime]]


def _grid_at_times(times: Sequence[datetime]) -> _TimeGrid:
    """Epoch, offsets and UTC times of a track at the given ``times``."""
    if len(times) == 0:
        raise OrbitalError("times is empty")
    aware = [require_aware_utc(t, f"times[{i}]") for i, t in enumerate(times)]
    first = min(aware)
    epoch = Epoch(first, (max(aware) - first).total_seconds() + 2.0)
    offsets = np.array([epoch.offset_of(t) for t in aware])
    return epoch, offsets, aware


def _grid_every_step(start: datetime, end: datetime, step_s: float) -> _TimeGrid:
    """Epoch, offsets and UTC times from ``start`` to ``end`` (included) every ``step_s``."""
    start = require_aware_utc(start, "start")
    end = require_aware_utc(end, "end")
    if end < start:
        raise OrbitalError(f"end {end.isoformat()} is before start {start.isoformat()}")
    if not np.isfinite(step_s) or step_s <= 0:
        raise OrbitalError(f"step_s {step_s} must be > 0")
    span = (end - start).total_seconds()
    n = int(np.floor(span / step_s + 1e-9)) + 1
    if n > MAX_TRACK_SAMPLES:
        raise OrbitalError(
            f"track of {span:.0f} s at step_s {step_s} has {n} samples; "
            f"the limit is {MAX_TRACK_SAMPLES}"
        )
    epoch = Epoch(start, span + 2.0)
    utc = np.arange(n, dtype=np.float64) * step_s
    if utc[-1] < span - 1e-6:
        utc = np.append(utc, span)
    offsets = utc  # TAI == UTC offsets unless a leap second falls inside
    return epoch, offsets, epoch.to_datetimes(offsets)


def compute_track(
    element_set: ElementSet,
    station: Station,
    times: Sequence[datetime] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    step_s: float = 1.0,
) -> Track:
    """Track at the given ``times``, or from ``start`` to ``end`` every ``step_s``.

    With ``start``/``end``, samples are ``start, start + step_s, ...`` and the
    last one is ``end`` itself (a 1 Hz pointing table: ``step_s=1``).
    """
    if times is not None:
        if start is not None or end is not None:
            raise OrbitalError("give either times or start/end, not both")
        epoch, offsets, out_times = _grid_at_times(times)
    else:
        if start is None or end is None:
            raise OrbitalError("give times, or both start and end")
        epoch, offsets, out_times = _grid_every_step(start, end, step_s)
    (az, el, rng, rr, eld, azd), err = _track_core(element_set, station, epoch, offsets)
    t_s = epoch.utc_offsets(offsets) - epoch.utc_offsets(offsets[:1])[0]
    return Track(out_times, t_s, az, el, rng, rr, eld, azd, err)
