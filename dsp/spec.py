"""The satellite and transmitter spec types (data only, no validation).

``dsp.satellite`` builds them from a parsed mapping, checking every field
against the receiver's registries (``dsp.chain``); ``dsp.chain`` composes a
receiver from them. Both import this module; ``dsp.satellite`` imports
``dsp.chain``, never the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass


class SatelliteSpecError(ValueError):
    """A satellite or transmitter field is missing or has a bad value."""


@dataclass(frozen=True)
class TransmitterSpec:
    """One downlink. deviation_hz: FSK/AFSK deviation, a negative value meaning
    the higher tone carries the 0 bit; af_carrier_hz: AFSK audio centre; the
    framing options are None unless the framing takes them."""

    name: str
    frequency_hz: float
    modulation: str
    baud_rate: float
    framing: str
    deviation_hz: float | None = None
    af_carrier_hz: float | None = None
    frame_size: int | None = None
    rs_basis: str | None = None
    rs_interleave: int | None = None
    precoding: str | None = None
    convolutional: str | None = None
    scrambler: str | None = None


@dataclass(frozen=True)
class SatelliteSpec:
    name: str
    norad_id: int
    transmitters: tuple[TransmitterSpec, ...]
    alternative_names: tuple[str, ...] = ()

    def transmitter(self, name: str) -> TransmitterSpec:
        """The transmitter called ``name``."""
        for tx in self.transmitters:
            if tx.name == name:
                return tx
        known = ", ".join(repr(t.name) for t in self.transmitters)
        raise SatelliteSpecError(
            f"satellite {self.name!r} has no transmitter {name!r}; it has {known}"
        )
