"""Satellites and their transmitters as data: a parsed mapping -> validated
``SatelliteSpec``.

A satellite has a name, a NORAD id, optional alternative names and one or
more transmitters. A transmitter names its modulation and framing, which
must be keys of the receiver's registries (``dsp.chain.DEMODULATORS`` and
``dsp.chain.FRAMINGS``), plus the options those entries take (deviation,
audio carrier, frame size, Reed-Solomon basis and interleaving, precoding,
convolutional symbol order, scrambler). Every field is checked here; errors
name the source (a file name), the transmitter, the field and the bad value.
Reading files is the caller's job (``groundstation.satellites``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dsp.chain import DEMODULATORS, FRAMINGS
from dsp.spec import SatelliteSpec, SatelliteSpecError, TransmitterSpec

__all__ = [
    "SatelliteSpec",
    "SatelliteSpecError",
    "TransmitterSpec",
    "satellite_from_mapping",
    "transmitter_from_mapping",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _number_hint(value: Any) -> str:
    """YAML reads 437e6 (no dot, no exponent sign) as text: say so."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " (YAML read it as text: write 437000000 or 437.0e+6)"
    return ""


_Check = tuple[Callable[[Any], bool], str]
_TRANSMITTER_CHECKS: dict[str, _Check] = {
    "name": (_name, "a non-empty string"),
    "frequency_hz": (lambda v: _is_number(v) and 0 < v < 1e12, "a positive frequency in Hz"),
    "modulation": (lambda v: v in DEMODULATORS, "one of " + ", ".join(DEMODULATORS)),
    "baud_rate": (lambda v: _is_number(v) and 10 <= v <= 10e6, "a symbol rate in 10..1e7 baud"),
    "framing": (lambda v: v in FRAMINGS, "one of " + ", ".join(FRAMINGS)),
    "deviation_hz": (lambda v: _is_number(v) and v != 0, "a non-zero number of Hz"),
    "af_carrier_hz": (lambda v: _is_number(v) and v > 0, "a positive number of Hz"),
    "frame_size": (lambda v: _is_int(v) and 1 <= v <= 1115, "an integer in 1..1115 bytes"),
    "rs_basis": (lambda v: v in ("dual", "conventional"), "dual or conventional"),
    "rs_interleave": (lambda v: _is_int(v) and 1 <= v <= 5, "an integer in 1..5"),
    "precoding": (lambda v: v in ("none", "differential"), "none or differential"),
    "convolutional": (lambda v: v in ("ccsds", "nasa-dsn"), "ccsds or nasa-dsn"),
    "scrambler": (lambda v: v in ("ccsds", "none"), "ccsds or none"),
}
_REQUIRED = ("name", "frequency_hz", "modulation", "baud_rate", "framing")


def _check_transmitter_fields(data: Mapping[str, Any], source: str) -> None:
    """Every field known, every required one present, every value of its kind."""
    for key in data:
        if key not in _TRANSMITTER_CHECKS:
            known = ", ".join(_TRANSMITTER_CHECKS)
            raise SatelliteSpecError(f"{source}: unknown field {key!r}; known fields: {known}")
    for key in _REQUIRED:
        if key not in data:
            raise SatelliteSpecError(f"{source}: field {key!r} is missing")
    for key, value in data.items():
        check, expected = _TRANSMITTER_CHECKS[key]
        if not check(value):
            raise SatelliteSpecError(
                f"{source}: field {key!r} is {value!r}, expected {expected}{_number_hint(value)}"
            )


def _check_options(data: Mapping[str, Any], source: str) -> None:
    """The options the named modulation and framing need are given, and no others."""
    demod, framing = DEMODULATORS[data["modulation"]], FRAMINGS[data["framing"]]
    for entry, kind, what in (
        (demod, "modulation", data["modulation"]),
        (framing, "framing", data["framing"]),
    ):
        for key in sorted(entry.required):
            if key not in data:
                raise SatelliteSpecError(
                    f"{source}: field {key!r} is missing ({kind} {what!r} needs it)"
                )
    allowed = set(_REQUIRED) | demod.options | framing.options
    for key in data:
        if key not in allowed:
            raise SatelliteSpecError(
                f"{source}: field {key!r} does not apply to modulation "
                f"{data['modulation']!r} with framing {data['framing']!r}"
            )


def transmitter_from_mapping(data: Any, source: str) -> TransmitterSpec:
    """Validate one transmitter mapping; ``source`` prefixes every error."""
    if not isinstance(data, Mapping):
        raise SatelliteSpecError(f"{source}: expected a mapping of fields, got {data!r}")
    _check_transmitter_fields(data, source)
    _check_options(data, source)
    framing = FRAMINGS[data["framing"]]
    values = {**framing.defaults, **dict(data)}
    spec = TransmitterSpec(**{k: values[k] for k in values if k in _TRANSMITTER_CHECKS})
    framing.check(spec, source)
    return spec


_SATELLITE_FIELDS = ("name", "norad_id", "alternative_names", "transmitters")


def _check_identity(data: Mapping[str, Any], source: str) -> None:
    """Fields known and present; name, NORAD id and alternative names of their kinds."""
    for key in data:
        if key not in _SATELLITE_FIELDS:
            known = ", ".join(_SATELLITE_FIELDS)
            raise SatelliteSpecError(f"{source}: unknown field {key!r}; known fields: {known}")
    for key in ("name", "norad_id", "transmitters"):
        if key not in data:
            raise SatelliteSpecError(f"{source}: field {key!r} is missing")
    if not _name(data["name"]):
        raise SatelliteSpecError(
            f"{source}: field 'name' is {data['name']!r}, expected a non-empty string"
        )
    norad = data["norad_id"]
    if not (_is_int(norad) and 1 <= norad <= 999_999_999):
        raise SatelliteSpecError(
            f"{source}: field 'norad_id' is {norad!r}, expected a positive integer"
        )
    names = data.get("alternative_names", [])
    if not (isinstance(names, list) and all(_name(n) for n in names)):
        raise SatelliteSpecError(
            f"{source}: field 'alternative_names' is {names!r}, expected a list of names"
        )


def _transmitters(raw: Any, source: str) -> list[TransmitterSpec]:
    """The validated transmitters of a non-empty list, their names distinct."""
    if not isinstance(raw, list) or not raw:
        raise SatelliteSpecError(
            f"{source}: field 'transmitters' is {raw!r}, expected a non-empty list"
        )
    transmitters = []
    for index, item in enumerate(raw):
        label = item.get("name") if isinstance(item, Mapping) else None
        where = f"{source}: transmitters[{index}]" + (f" ({label!r})" if label else "")
        transmitters.append(transmitter_from_mapping(item, where))
    seen: set[str] = set()
    for tx in transmitters:
        if tx.name in seen:
            raise SatelliteSpecError(f"{source}: two transmitters are named {tx.name!r}")
        seen.add(tx.name)
    return transmitters


def satellite_from_mapping(data: Any, source: str) -> SatelliteSpec:
    """Validate a satellite mapping (parsed YAML) into a ``SatelliteSpec``."""
    if not isinstance(data, Mapping):
        raise SatelliteSpecError(f"{source}: expected a mapping of fields, got {data!r}")
    _check_identity(data, source)
    transmitters = _transmitters(data["transmitters"], source)
    return SatelliteSpec(
        name=data["name"],
        norad_id=data["norad_id"],
        transmitters=tuple(transmitters),
        alternative_names=tuple(data.get("alternative_names", [])),
    )
