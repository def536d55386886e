"""Downlink profiles: YAML text -> validated ``DownlinkProfile``.

A profile names the modulation, coding and framing of a downlink. Every
field is checked on load and errors name the field and the bad value. The
built-in profiles ship as package data in ``dsp/profiles/*.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

import yaml

from dsp.reed_solomon import K_DATA, N_PARITY

MODULATIONS = ("bpsk", "qpsk")
CODINGS = ("none", "rs", "conv+rs")
RS_BASES = ("dual", "conventional")
FRAME_FORMATS = ("tm", "raw")
CONVOLUTIONAL_ORDERS = ("ccsds", "nasa-dsn")


class ProfileError(ValueError):
    """A downlink profile field is missing or has a bad value."""


@dataclass(frozen=True)
class ImagerSpec:
    """The scanning radiometer a satellite of this profile carries (the
    profile's optional ``imager`` mapping): ``fov_deg``, the full scan
    across the track; ``pixels_per_line``, null to fill one TM frame's
    packet (``ingest.imagery.max_pixels_per_line``); ``scan_rate_hz``, lines
    per second, null for as many as the downlink carries (one frame per line
    and band). Checked against the frame length by ``ingest.imagery``."""

    fov_deg: float = 110.0
    pixels_per_line: int | None = None
    scan_rate_hz: float | None = None


_IMAGER_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "fov_deg": (
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 180,
        "a number of degrees in (0, 180)",
    ),
    "pixels_per_line": (
        lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1),
        "null or an integer >= 1",
    ),
    "scan_rate_hz": (
        lambda v: v is None or (isinstance(v, int | float) and not isinstance(v, bool) and v > 0),
        "null or a positive number of lines per second",
    ),
}


def imager_from_mapping(data: Any, source: str) -> ImagerSpec:
    """Validate a profile's ``imager`` mapping."""
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: field 'imager' is {data!r}, expected a mapping")
    for key, value in data.items():
        if key not in _IMAGER_CHECKS:
            raise ProfileError(
                f"{source}: unknown field 'imager.{key}'; known fields: "
                + ", ".join(sorted(_IMAGER_CHECKS))
            )
        check, expected = _IMAGER_CHECKS[key]
        if not check(value):
            raise ProfileError(f"{source}: field 'imager.{key}' is {value!r}, expected {expected}")
    return ImagerSpec(**dict(data))


@dataclass(frozen=True)
class DownlinkProfile:
    """One validated downlink profile.

    frame_length is the bytes of data per frame (the transfer frame; 223*I for
    full-length RS, less for shortened codewords). differential: BPSK with
    differential precoding (channel bit = data bit XOR previous channel bit),
    as some amateur satellites send; it also removes the phase ambiguity.
    """

    name: str
    modulation: str
    symbol_rate: float
    rrc_alpha: float = 0.35
    coding: str = "conv+rs"
    rs_basis: str = "dual"
    rs_interleave: int = 1
    frame_length: int = 223
    randomizer: bool = True
    frame_format: str = "tm"
    fecf: bool = True
    differential: bool = False
    convolutional: str = "ccsds"
    spacecraft_id: int = 0
    description: str = ""
    imager: ImagerSpec | None = None

    @property
    def uses_rs(self) -> bool:
        return self.coding in ("rs", "conv+rs")

    @property
    def uses_conv(self) -> bool:
        return self.coding == "conv+rs"

    @property
    def codeblock_length(self) -> int:
        """Bytes after the ASM: frame plus RS parity."""
        return self.frame_length + (N_PARITY * self.rs_interleave if self.uses_rs else 0)

    @property
    def cadu_bits(self) -> int:
        """Bits per frame on the link before convolutional coding (ASM included)."""
        return 8 * (4 + self.codeblock_length)

    @property
    def channel_bits_per_frame(self) -> int:
        return self.cadu_bits * (2 if self.uses_conv else 1)

    @property
    def bits_per_symbol(self) -> int:
        return 2 if self.modulation == "qpsk" else 1

    @property
    def info_bits_per_channel_bit(self) -> float:
        """Rate of data bits (the transfer frame) per channel bit."""
        return 8 * self.frame_length / self.channel_bits_per_frame


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool)


_Check = tuple[Callable[[Any], bool], str]
_CHECKS: dict[str, _Check] = {
    "name": (lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    "modulation": (lambda v: v in MODULATIONS, "one of " + ", ".join(MODULATIONS)),
    "symbol_rate": (lambda v: _is_number(v) and v > 0, "a positive number of symbols/s"),
    "rrc_alpha": (lambda v: _is_number(v) and 0 < v <= 1, "a number in (0, 1]"),
    "coding": (lambda v: v in CODINGS, "one of " + ", ".join(CODINGS)),
    "rs_basis": (lambda v: v in RS_BASES, "one of " + ", ".join(RS_BASES)),
    "rs_interleave": (lambda v: _is_int(v) and 1 <= v <= 5, "an integer in 1..5"),
    "frame_length": (lambda v: _is_int(v) and 8 <= v <= 16384, "an integer number of bytes"),
    "randomizer": (lambda v: isinstance(v, bool), "true or false"),
    "frame_format": (lambda v: v in FRAME_FORMATS, "one of " + ", ".join(FRAME_FORMATS)),
    "fecf": (lambda v: isinstance(v, bool), "true or false"),
    "differential": (lambda v: isinstance(v, bool), "true or false"),
    "convolutional": (
        lambda v: v in CONVOLUTIONAL_ORDERS,
        "one of " + ", ".join(CONVOLUTIONAL_ORDERS),
    ),
    "spacecraft_id": (lambda v: _is_int(v) and 0 <= v < 1024, "an integer in 0..1023"),
    "description": (lambda v: isinstance(v, str), "a string"),
    "imager": (lambda v: True, "a mapping"),  # checked field by field: imager_from_mapping
}
_REQUIRED = ("name", "modulation", "symbol_rate")


def _check_fields(data: Mapping[str, Any], source: str) -> None:
    """Every field known, every required one present, every value of its kind."""
    known = {f.name for f in fields(DownlinkProfile)}
    for key in data:
        if key not in known:
            raise ProfileError(
                f"{source}: unknown field {key!r}; known fields: {', '.join(sorted(known))}"
            )
    for key in _REQUIRED:
        if key not in data:
            raise ProfileError(f"{source}: field {key!r} is missing")
    for key, value in data.items():
        check, expected = _CHECKS[key]
        if not check(value):
            raise ProfileError(f"{source}: field {key!r} is {value!r}, expected {expected}")


def _check_consistency(profile: DownlinkProfile, source: str) -> None:
    """Fields that are each valid but do not go together."""
    if profile.uses_rs:
        top = K_DATA * profile.rs_interleave
        if profile.frame_length > top or profile.frame_length % profile.rs_interleave:
            raise ProfileError(
                f"{source}: field 'frame_length' is {profile.frame_length}, expected a multiple "
                f"of rs_interleave={profile.rs_interleave} no larger than {top} (223*I)"
            )
    if profile.differential and profile.modulation != "bpsk":
        raise ProfileError(
            f"{source}: field 'differential' is true with modulation {profile.modulation!r}; "
            "differential precoding is supported for bpsk only"
        )
    if profile.imager is not None and profile.frame_format != "tm":
        raise ProfileError(
            f"{source}: field 'imager' is set with frame_format {profile.frame_format!r}; "
            "the imaging payload needs TM frames"
        )
    if profile.frame_format == "tm" and profile.frame_length < 6 + (2 if profile.fecf else 0) + 1:
        raise ProfileError(
            f"{source}: field 'frame_length' is {profile.frame_length}, too short for a TM frame"
        )


def profile_from_mapping(data: Mapping[str, Any], source: str = "profile") -> DownlinkProfile:
    """Validate a mapping (already parsed YAML) into a profile."""
    if not isinstance(data, Mapping):
        raise ProfileError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    _check_fields(data, source)
    values = dict(data)
    if "imager" in values:
        values["imager"] = imager_from_mapping(values["imager"], source)
    profile = DownlinkProfile(**values)
    _check_consistency(profile, source)
    return profile


def load_profile(text: str, source: str = "profile") -> DownlinkProfile:
    """Parse and validate one profile from YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{source}: not valid YAML: {exc}") from exc
    return profile_from_mapping(data, source)


def builtin_profile_names() -> list[str]:
    """Names of the profiles shipped in dsp/profiles/."""
    root = resources.files("dsp.profiles")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def builtin_profile(name: str) -> DownlinkProfile:
    """Load a built-in profile by name."""
    names = builtin_profile_names()
    if name not in names:
        raise ProfileError(f"profile {name!r} is not built in; built-in: {', '.join(names)}")
    text = resources.files("dsp.profiles").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return load_profile(text, source=f"built-in profile {name}")
