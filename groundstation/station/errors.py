"""Errors of the station's hardware parts; each names the part, where it is
(host:port, device) and what it answered."""

from __future__ import annotations

from groundstation.errors import GroundStationError


class HardwareError(GroundStationError):
    """A station part (rotator, radio, front end) failed or answered an error."""


class HardwareConnectionError(HardwareError):
    """The part cannot be reached (refused, timed out, closed the connection)."""
