"""Test OEMs made from an SGP4 propagation, with skyfield doing the frames
(an implementation independent of ``orbital.oem``'s rotations)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from skyfield.api import EarthSatellite
from skyfield.framelib import ICRS_to_J2000, itrs

from orbital.elements import ElementSet
from orbital.timescale import timescale


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def states_in(
    element: ElementSet, frame: str, times: Sequence[datetime]
) -> tuple[np.ndarray, np.ndarray]:
    """``(r_km, v_km_s)``, each (n, 3), of ``element`` at ``times`` in ``frame``."""
    assert element.line1 is not None and element.line2 is not None
    sat = EarthSatellite(element.line1, element.line2, element.name, timescale())
    t = timescale().from_datetimes(list(times))
    at = sat.at(t)
    if frame == "ITRF":
        r, v = at.frame_xyz_and_velocity(itrs)
        return r.km.T, v.km_per_s.T
    r, v = at.position.km.T, at.velocity.km_per_s.T
    if frame == "EME2000":
        r, v = r @ ICRS_to_J2000.T, v @ ICRS_to_J2000.T
    return r, v


def oem_kvn(
    element: ElementSet,
    *,
    start: datetime,
    n_states: int,
    step_s: float = 60.0,
    frame: str = "EME2000",
    interpolation: str = "LAGRANGE",
    degree: int = 7,
    object_id: str | None = None,
    usable: tuple[datetime, datetime] | None = None,
) -> str:
    """A one-segment OEM (KVN) of ``element`` sampled every ``step_s``."""
    times = [start + timedelta(seconds=k * step_s) for k in range(n_states)]
    r, v = states_in(element, frame, times)
    lines = [
        "CCSDS_OEM_VERS = 2.0",
        "CREATION_DATE = 2026-11-30T00:00:00",
        "ORIGINATOR = TESTS",
        "META_START",
        f"OBJECT_NAME = {element.name}",
        f"OBJECT_ID = {object_id or element.norad_id}",
        "CENTER_NAME = EARTH",
        f"REF_FRAME = {frame}",
        "TIME_SYSTEM = UTC",
        f"START_TIME = {_iso(times[0])}",
        f"STOP_TIME = {_iso(times[-1])}",
    ]
    if usable is not None:
        lines += [
            f"USEABLE_START_TIME = {_iso(usable[0])}",
            f"USEABLE_STOP_TIME = {_iso(usable[1])}",
        ]
    lines += [
        f"INTERPOLATION = {interpolation}",
        f"INTERPOLATION_DEGREE = {degree}",
        "META_STOP",
        "COMMENT made from an SGP4 propagation",
    ]
    for k, when in enumerate(times):
        numbers = " ".join(f"{x:.9f}" for x in (*r[k], *v[k]))
        lines.append(f"{_iso(when)} {numbers}")
    return "\n".join(lines) + "\n"
