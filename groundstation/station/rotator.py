"""Antenna control over hamlib's rotctld network protocol (``P``, ``p``, ``S``, ``K``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from groundstation.station.errors import HardwareError
from groundstation.station.hamlib import HamlibClient


@dataclass(frozen=True)
class AzEl:
    """A rotator position (degrees, in the rotator's own axes: azimuth may lie
    outside 0..360 on an overlap rotator, elevation above 90 on a flip one)."""

    azimuth_deg: float
    elevation_deg: float


@dataclass(frozen=True)
class RotatorLimits:
    """The axes' travel as the rotator reports it (rotctld ``\\dump_state``)."""

    min_azimuth_deg: float
    max_azimuth_deg: float
    min_elevation_deg: float
    max_elevation_deg: float


class Rotator(HamlibClient):
    """A client of ``rotctld`` (any hamlib rotator model behind it)."""

    daemon = "rotctld"

    def set_position(self, azimuth_deg: float, elevation_deg: float) -> None:
        """Command the rotator towards ``azimuth_deg``/``elevation_deg`` (returns at once)."""
        for name, value in (("azimuth_deg", azimuth_deg), ("elevation_deg", elevation_deg)):
            if not math.isfinite(value):
                raise HardwareError(f"{self.where}: {name} {value} is not a finite angle")
        self.command(f"P {azimuth_deg:.2f} {elevation_deg:.2f}")

    def position(self) -> AzEl:
        """Where the rotator reports it points now."""
        values = self.command("p")
        return AzEl(
            self.number(values, "Azimuth", "p"),
            self.number(values, "Elevation", "p"),
        )

    def stop(self) -> None:
        self.command("S")

    def park(self) -> None:
        """The rotator's own park position (``K``)."""
        self.command("K")

    def limits(self) -> RotatorLimits:
        values = self.command("\\dump_state")
        return RotatorLimits(
            self.number(values, "Minimum Azimuth", "\\dump_state"),
            self.number(values, "Maximum Azimuth", "\\dump_state"),
            self.number(values, "Minimum Elevation", "\\dump_state"),
            self.number(values, "Maximum Elevation", "\\dump_state"),
        )
