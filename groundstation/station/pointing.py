"""A predicted track mapped onto a rotator's axes: travel limits, cable wrap
and the flip (keyhole) choice. Pure computation over the track's arrays.

Azimuth: the track's azimuth is unwrapped (continuous through north) and
shifted by a multiple of 360 deg so that the whole pass fits the rotator's
azimuth travel, nearest the rotator's present azimuth; when no shift fits
(a pass across the stop of a 0..360 rotator), each sample is wrapped into the
travel and the plan says ``wrapped`` (the rotator swings round once).

Flip: a rotator whose elevation travels to 180 deg can point at
``(az + 180, 180 - el)``; near zenith that turns a fast azimuth swing (the
keyhole) into a slow elevation sweep. ``flip="auto"`` flips when the pass's
peak azimuth rate exceeds the antenna's azimuth slew rate and the rotator can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from groundstation.clock import require_utc
from groundstation.errors import ValidationError
from groundstation.station.rotator import AzEl, RotatorLimits
from orbital.track import Track

FloatArray = NDArray[np.float64]
FlipMode = Literal["never", "auto", "always"]
FLIP_MODES: tuple[FlipMode, ...] = ("never", "auto", "always")


@dataclass(frozen=True)
class RotatorConfig:
    """How one antenna's rotator may move (a station's configuration).

    Travel limits are the rotator's (rotctld ``\\dump_state``) unless narrowed;
    slew rates are the antenna's stored ``max_az_slew_deg_s``/``max_el_slew_deg_s``.
    ``park``: a position to park at after LOS, or None for the rotator's own
    park command. ``update_s``: seconds between pointing commands;
    ``lead_s``: how far ahead of the command time each command points
    (None: half an update, which halves the error of a held command).
    """

    min_azimuth_deg: float = 0.0
    max_azimuth_deg: float = 360.0
    min_elevation_deg: float = 0.0
    max_elevation_deg: float = 90.0
    max_az_slew_deg_s: float = 10.0
    max_el_slew_deg_s: float = 10.0
    flip: FlipMode = "auto"
    park: AzEl | None = None
    update_s: float = 1.0
    lead_s: float | None = None
    preposition_margin_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("update_s", "max_az_slew_deg_s", "max_el_slew_deg_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValidationError(f"rotator {name} {value} must be a positive number")
        if not self.min_azimuth_deg < self.max_azimuth_deg:
            raise ValidationError(
                f"rotator azimuth travel {self.min_azimuth_deg}..{self.max_azimuth_deg} is empty"
            )
        if not 0.0 <= self.max_azimuth_deg - self.min_azimuth_deg <= 720.0:
            raise ValidationError(
                f"rotator azimuth travel {self.min_azimuth_deg}..{self.max_azimuth_deg} "
                "spans more than 720 deg"
            )
        if not -90.0 <= self.min_elevation_deg < self.max_elevation_deg <= 180.0:
            raise ValidationError(
                f"rotator elevation travel {self.min_elevation_deg}..{self.max_elevation_deg} "
                "must be increasing within -90..180"
            )
        if self.flip not in FLIP_MODES:
            raise ValidationError(f"rotator flip {self.flip!r} is not one of {FLIP_MODES}")
        if self.lead_s is not None and not (math.isfinite(self.lead_s) and self.lead_s >= 0):
            raise ValidationError(f"rotator lead_s {self.lead_s} must be >= 0")

    @property
    def can_flip(self) -> bool:
        return self.max_elevation_deg >= 180.0

    @property
    def command_lead_s(self) -> float:
        return self.update_s / 2 if self.lead_s is None else self.lead_s

    @classmethod
    def for_rotator(
        cls,
        limits: RotatorLimits,
        *,
        max_az_slew_deg_s: float,
        max_el_slew_deg_s: float,
        **overrides: object,
    ) -> RotatorConfig:
        """The rotator's reported travel, the antenna's slew rates, then ``overrides``."""
        base: dict[str, object] = {
            "min_azimuth_deg": limits.min_azimuth_deg,
            "max_azimuth_deg": limits.max_azimuth_deg,
            "min_elevation_deg": limits.min_elevation_deg,
            "max_elevation_deg": limits.max_elevation_deg,
            "max_az_slew_deg_s": max_az_slew_deg_s,
            "max_el_slew_deg_s": max_el_slew_deg_s,
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]

    def slew_time_s(self, start: AzEl, end: AzEl) -> float:
        """Seconds to move from ``start`` to ``end`` (the axes move together)."""
        return max(
            abs(end.azimuth_deg - start.azimuth_deg) / self.max_az_slew_deg_s,
            abs(end.elevation_deg - start.elevation_deg) / self.max_el_slew_deg_s,
        )


@dataclass(frozen=True)
class PointingPlan:
    """Rotator positions along a pass; arrays have shape ``(n_times,)``.

    ``t_s`` is seconds after ``times_utc[0]``; azimuth and elevation are in the
    rotator's axes (see :class:`AzEl`).
    """

    times_utc: list[datetime]
    t_s: FloatArray
    azimuth_deg: FloatArray
    elevation_deg: FloatArray
    flipped: bool
    wrapped: bool

    @property
    def start(self) -> datetime:
        return self.times_utc[0]

    @property
    def end(self) -> datetime:
        return self.times_utc[-1]

    def at(self, t: datetime) -> AzEl:
        """The position at ``t`` (linear between samples, held outside the pass)."""
        offset_s = (require_utc(t, "t") - self.start).total_seconds()
        return AzEl(
            float(np.interp(offset_s, self.t_s, self.azimuth_deg)),
            float(np.interp(offset_s, self.t_s, self.elevation_deg)),
        )


def plan_pointing(
    track: Track, config: RotatorConfig, *, current: AzEl | None = None
) -> PointingPlan:
    """The rotator positions that follow ``track`` within ``config``'s limits.

    ``current`` (the rotator's position, if known) picks the cable-wrap turn
    nearest to it. Samples SGP4 failed on are dropped; none left is an error.
    """
    good = (
        (track.error_code == 0) & np.isfinite(track.azimuth_deg) & np.isfinite(track.elevation_deg)
    )
    if not np.any(good):
        raise ValidationError(f"track of {len(track)} samples has no valid sample to point at")
    idx = np.flatnonzero(good)
    az, el = track.azimuth_deg[idx], track.elevation_deg[idx]
    flipped = _choose_flip(track.azimuth_rate_deg_s[idx], config)
    if flipped:
        az, el = (az + 180.0) % 360.0, 180.0 - el
    rot_az, wrapped = _fit_azimuth(az, config, current)
    rot_el = np.clip(el, config.min_elevation_deg, config.max_elevation_deg)
    return PointingPlan(
        times_utc=[track.times_utc[i] for i in idx],
        t_s=track.t_s[idx] - track.t_s[idx[0]],
        azimuth_deg=rot_az,
        elevation_deg=rot_el,
        flipped=flipped,
        wrapped=wrapped,
    )


def _choose_flip(azimuth_rate_deg_s: FloatArray, config: RotatorConfig) -> bool:
    if config.flip == "always":
        if not config.can_flip:
            raise ValidationError(
                f"rotator flip 'always' needs elevation travel to 180 deg; "
                f"this one stops at {config.max_elevation_deg}"
            )
        return True
    if config.flip == "never" or not config.can_flip:
        return False
    peak_rate = float(np.nanmax(np.abs(azimuth_rate_deg_s))) if azimuth_rate_deg_s.size else 0.0
    return peak_rate > config.max_az_slew_deg_s


def _fit_azimuth(
    az_deg: FloatArray, config: RotatorConfig, current: AzEl | None
) -> tuple[FloatArray, bool]:
    """Azimuths within the travel: one continuous turn if one fits, else wrapped."""
    unwrapped = np.rad2deg(np.unwrap(np.deg2rad(az_deg)))
    lo, hi = float(unwrapped.min()), float(unwrapped.max())
    first = math.ceil((config.min_azimuth_deg - lo) / 360.0 - 1e-9)
    last = math.floor((config.max_azimuth_deg - hi) / 360.0 + 1e-9)
    if first <= last:
        reference = (
            current.azimuth_deg
            if current is not None
            else (config.min_azimuth_deg + config.max_azimuth_deg) / 2
        )
        turn = min(range(first, last + 1), key=lambda k: abs(unwrapped[0] + 360.0 * k - reference))
        fitted = unwrapped + 360.0 * turn
        return np.clip(fitted, config.min_azimuth_deg, config.max_azimuth_deg), False
    wrapped = config.min_azimuth_deg + np.mod(az_deg - config.min_azimuth_deg, 360.0)
    return np.clip(wrapped, config.min_azimuth_deg, config.max_azimuth_deg), True


@dataclass(frozen=True)
class SlewNeed:
    """The fastest each axis must move to follow a plan: peak speeds (deg/s)
    and when they occur."""

    azimuth_deg_s: float
    azimuth_at: datetime
    elevation_deg_s: float
    elevation_at: datetime


def slew_need(plan: PointingPlan) -> SlewNeed:
    """Peak axis speeds along ``plan`` (finite differences between samples)."""
    if plan.t_s.size < 2:
        return SlewNeed(0.0, plan.start, 0.0, plan.start)
    dt_s = np.diff(plan.t_s)
    az = np.abs(np.diff(plan.azimuth_deg)) / dt_s
    el = np.abs(np.diff(plan.elevation_deg)) / dt_s
    if plan.wrapped:  # the one swing round the stop is the rotator's, not the pass's
        az = np.where(np.abs(np.diff(plan.azimuth_deg)) > 180.0, 0.0, az)
    i, j = int(np.argmax(az)), int(np.argmax(el))
    return SlewNeed(float(az[i]), plan.times_utc[i], float(el[j]), plan.times_utc[j])


def slew_refusal(track: Track, config: RotatorConfig, *, antenna_id: str) -> str | None:
    """Why the rotator of ``antenna_id`` cannot follow ``track`` (a peak axis
    speed above its slew rate, with the pointing plan's flip applied where the
    mount has one), or None when it can."""
    plan = plan_pointing(track, config)
    need = slew_need(plan)
    problems = []
    if need.azimuth_deg_s > config.max_az_slew_deg_s:
        problems.append(
            f"azimuth {need.azimuth_deg_s:.1f} deg/s at {need.azimuth_at.isoformat()} "
            f"(antenna {antenna_id} slews {config.max_az_slew_deg_s:g} deg/s)"
        )
    if need.elevation_deg_s > config.max_el_slew_deg_s:
        problems.append(
            f"elevation {need.elevation_deg_s:.1f} deg/s at {need.elevation_at.isoformat()} "
            f"(antenna {antenna_id} slews {config.max_el_slew_deg_s:g} deg/s)"
        )
    if not problems:
        return None
    mount = "flipped" if plan.flipped else "az/el, no flip"
    return (
        "the pass needs the rotator to move faster than it can: "
        + "; ".join(problems)
        + f" (pointing plan: {mount}); book a lower pass or another antenna"
    )
