"""Errors raised by orbital/ for bad input; messages name the offending value."""

from __future__ import annotations


class OrbitalError(ValueError):
    """Bad input to an orbital computation (times, stations, element sets)."""


class StationError(OrbitalError):
    """A ground-station definition that cannot be used."""


class ElementSetError(OrbitalError):
    """An element set (TLE/OMM) that cannot be used."""
