"""What a contact's pass is worked with, typed and checked when written.

``ProfileSettings`` is a mission profile's settings: margins and limits, and
one model per free-form section (``demod``, ``decode``, ``dataset_options``)
with every key the downlink executor reads, units in the names, ranges, and
unknown keys refused. It is defined once, here: the inventory validates with
it (so the CLI and the API refuse the same values), the API's request and
response schemas are derived from it, and the executor reads the typed
values (``groundstation.lifecycle.contact_run``).

``downlink_problems`` says why the receiver could not decode a satellite's
downlink (modulation and framing profile against ``dsp.profile``'s built-in
profiles, or, for ``framing_profile: catalogue``, the satellite catalogue's
entry with its NORAD id); satellites are refused at write time with it.
``transmitter_problems`` says why a contact of a satellite with a mission
profile could not be decoded: the catalogue transmitter its
``decode.transmitter`` picks (booking and the executor refuse with it).

Rows stored before these checks existed (or written to the database by
other means) are read with ``read_profile``: the settings that validate,
plus one problem line per stored value that does not. Listings show those
problems; booking with such a profile (or satellite) is refused with them
(``booking.reserve``), so the pass is not lost at AOS.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from groundstation.errors import ValidationError

DEFAULT_FRAMING = "ccsds-bpsk-conv-rs"  # the framing the receiver uses when a satellite names none
#: A satellite's ``framing_profile`` that links it to the catalogue by NORAD
#: id (``groundstation.satellites``, imported only for such satellites).
CATALOGUE_FRAMING = "catalogue"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DemodSettings(_Section):
    """Link-budget overrides of the simulated RF front end
    (``groundstation.downlink.LinkModel``); a key left out (or null) keeps
    the station's default."""

    eirp_dbw: float | None = Field(
        default=None, ge=-100, le=100, description="satellite EIRP toward the station, dBW"
    )
    g_over_t_db_k: float | None = Field(
        default=None, ge=-100, le=100, description="station figure of merit G/T, dB/K"
    )
    losses_db: float | None = Field(
        default=None, ge=0, le=100, description="pointing, polarisation and line losses, dB"
    )
    atmosphere_zenith_db: float | None = Field(
        default=None,
        ge=0,
        le=50,
        description="atmospheric loss at zenith (scaled by 1/sin(el)), dB",
    )
    oscillator_offset_hz: float | None = Field(
        default=None, ge=-1e6, le=1e6, description="satellite oscillator offset from nominal, Hz"
    )


class DecodeSettings(_Section):
    """Decoder settings. The receiver decodes with the satellite's framing
    profile (modulation, coding, framing: ``framing_profile``); for a
    satellite linked to the catalogue (``framing_profile: catalogue``), with
    the catalogue transmitter named here."""

    transmitter: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description=(
            "the catalogue transmitter to decode, by name, for satellites linked to the "
            "catalogue (framing_profile 'catalogue'); null: the satellite's only transmitter"
        ),
    )


class DatasetOptions(_Section):
    """What the contact's dataset keeps besides the decoded frames."""

    record_iq: bool = Field(default=False, description="also keep the raw IQ as a SigMF recording")
    record_iq_max_s: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="keep at most this many seconds of IQ, centred on TCA; null: the whole pass",
    )
    retention_days: float | None = Field(
        default=None,
        ge=0,
        le=36500,
        description=(
            "days after the pass ends that its dataset is kept (housekeeping deletes or "
            "archives it then); 0 keeps it forever; null: GS_DATASET_RETENTION_DAYS"
        ),
    )
    key_template: str | None = Field(
        default=None,
        min_length=1,
        max_length=300,
        description=(
            "where the contact's dataset goes in the object store, e.g. "
            "'{satellite_id}/{year}/{month}/{day}/{contact_id}' (placeholders: satellite_id, "
            "norad_id, station, antenna, profile_id, contact_id, year, month, day, hour; "
            "{contact_id} required); null: that default layout"
        ),
    )

    @field_validator("key_template")
    @classmethod
    def _known_placeholders(cls, value: str | None) -> str | None:
        from ingest.dataset import check_key_template
        from ingest.errors import DatasetError

        if value is None:
            return None
        try:
            return check_key_template(value)
        except DatasetError as exc:
            raise ValueError(str(exc)) from None


class VettingSettings(_Section):
    """Thresholds of a contact's automatic verdict (``groundstation.vetting``),
    applied to the pass's measured quality when the contact completes:
    ``good`` when at least ``good_min_frames_fraction`` of the expected frames
    were decoded and the mean Es/N0 is at least ``good_min_esn0_db``;
    ``partial`` when at least ``partial_min_frames_fraction`` were; ``bad``
    below that. FAILED and PROVIDER_FAILED contacts are ``failed``.

    The defaults call a nominal pass good: the simulated demo passes decode
    85-90 % of their frames (those near AOS and LOS are below the decoding
    threshold by design) at a mean Es/N0 of about 2 dB, and the CCSDS
    rate-1/2 convolutional + RS chain decodes down to about -0.5 dB Es/N0
    (Eb/N0 2.5 dB), so 0 dB keeps a margin above it."""

    good_min_frames_fraction: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="fraction of the expected frames decoded for 'good' (0..1)",
    )
    partial_min_frames_fraction: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="fraction decoded for 'partial' (0..1, at most good_min_frames_fraction)",
    )
    good_min_esn0_db: float | None = Field(
        default=0.0,
        ge=-30,
        le=60,
        description="mean Es/N0 of the decoded frames for 'good', dB; null: not checked",
    )

    @model_validator(mode="after")
    def _ordered(self) -> VettingSettings:
        if self.partial_min_frames_fraction > self.good_min_frames_fraction:
            raise ValueError(
                f"partial_min_frames_fraction {self.partial_min_frames_fraction} is above "
                f"good_min_frames_fraction {self.good_min_frames_fraction}; it must not be"
            )
        return self


class ProfileSettings(BaseModel):
    """A mission profile's settings (everything but its id and tenant)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    min_viable_duration_s: float = Field(
        default=60.0, ge=0, le=86400, description="shortest visibility worth booking, s"
    )
    prepass_s: float = Field(default=120.0, ge=0, le=86400, description="booked before AOS, s")
    postpass_s: float = Field(default=60.0, ge=0, le=86400, description="booked after LOS, s")
    min_elevation_deg: float = Field(
        default=10.0, ge=-5, le=90, description="passes are used above this elevation, deg"
    )
    demod: DemodSettings = Field(default_factory=DemodSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    kafka_topic: str = Field(
        default="",
        max_length=200,
        pattern=r"^[A-Za-z0-9._-]*$",
        description=(
            "the profile's own frames topic: its contacts' frames are published there "
            "(created on the first frame, with the frames topic's retention) instead of "
            "on <prefix>.frames; empty: the shared frames topic"
        ),
    )
    dataset_options: DatasetOptions = Field(default_factory=DatasetOptions)
    vetting: VettingSettings = Field(default_factory=VettingSettings)

    @field_validator("kafka_topic")
    @classmethod
    def _kafka_topic_name(cls, value: str) -> str:
        if value in (".", ".."):
            raise ValueError(f"kafka_topic {value!r} is not a valid Kafka topic name")
        return value

    def stored(self) -> dict[str, Any]:
        """The columns of a ``MissionProfile`` row: sections keep only the keys
        set to something else than their default."""
        out = self.model_dump(exclude=set(SECTIONS))
        for name in SECTIONS:
            out[name] = getattr(self, name).model_dump(exclude_defaults=True)
        return out


SECTIONS = ("demod", "decode", "dataset_options", "vetting")
FIELDS = tuple(ProfileSettings.model_fields)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch of ``target`` by ``patch``: objects merge
    member by member, null removes a member, anything else replaces."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------- messages


def summarize(value: Any, limit: int = 60) -> str:
    """A short description of any JSON value (never recurses into it, so a
    value nested thousands of levels deep is described, not printed)."""
    if isinstance(value, Mapping):
        keys = list(value)[:5]
        more = ", ..." if len(value) > 5 else ""
        return f"an object with {len(value)} key(s) ({', '.join(map(repr, keys))}{more})"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)} item(s)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _section_keys(loc: tuple[Any, ...]) -> str:
    if len(loc) == 2 and loc[0] in SECTIONS:
        model = ProfileSettings.model_fields[str(loc[0])].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        names = list(model.model_fields)
        return f"{loc[0]} takes {', '.join(names)}" if names else f"{loc[0]} takes no keys"
    return "the profile takes " + ", ".join(FIELDS)


def describe(error: Mapping[str, Any], *, stored: bool = False) -> str:
    """One pydantic error as ``field.key: what is wrong (got value)``."""
    loc = tuple(error.get("loc", ()))
    got = "stored" if stored else "got"
    if error.get("type") == "extra_forbidden":
        what = f"unknown key; {_section_keys(loc)}"
    elif error.get("type") == "missing":
        return f"{_loc(loc)}: is required"
    else:
        what = str(error.get("msg", "invalid"))
    return f"{_loc(loc)}: {what} ({got} {summarize(error.get('input'))})"


# ---------------------------------------------------------------- validation


def validate_profile(profile_id: str, document: Mapping[str, Any]) -> ProfileSettings:
    """``document`` (the profile's fields) as ``ProfileSettings``, or a
    ``ValidationError`` naming every offending field and value."""
    try:
        return ProfileSettings.model_validate(dict(document))
    except PydanticValidationError as exc:
        details = "; ".join(describe(e) for e in exc.errors(include_url=False))
        raise ValidationError(f"mission profile {profile_id!r}: {details}") from None


def _without(document: dict[str, Any], loc: tuple[Any, ...]) -> None:
    """Drop the value at ``loc`` (its first one or two levels) from ``document``."""
    if not loc:
        return
    top = loc[0]
    if len(loc) >= 2 and top in SECTIONS and isinstance(document.get(top), Mapping):
        section = dict(document[top])
        section.pop(loc[1], None)
        document[top] = section
    else:
        document.pop(top, None)


def read_profile(document: Mapping[str, Any]) -> tuple[ProfileSettings, list[str]]:
    """A stored profile's settings: the values that validate (defaults for
    the others) and one problem line per stored value that does not."""
    doc = {k: document[k] for k in FIELDS if k in document}
    try:
        return ProfileSettings.model_validate(doc), []
    except PydanticValidationError as exc:
        errors = exc.errors(include_url=False)
    problems = [describe(e, stored=True) for e in errors]
    for error in errors:
        _without(doc, tuple(error.get("loc", ())))
    try:
        return ProfileSettings.model_validate(doc), problems
    except PydanticValidationError:
        return ProfileSettings(), problems


def profile_document(profile: Any) -> dict[str, Any]:
    """The stored fields of a ``MissionProfile`` row as a document."""
    return {name: getattr(profile, name) for name in FIELDS}


# ---------------------------------------------------------------- satellites


@functools.cache
def _framings() -> dict[str, str]:
    """Built-in framing profile name -> its modulation (read once)."""
    from dsp.profile import builtin_profile, builtin_profile_names

    return {name: builtin_profile(name).modulation for name in builtin_profile_names()}


def supported_downlinks() -> str:
    """The modulation/framing pairs the receiver decodes, for messages."""
    by_mod: dict[str, list[str]] = {}
    for name, modulation in _framings().items():
        by_mod.setdefault(modulation, []).append(name)
    return "; ".join(f"{m} with {', '.join(names)}" for m, names in sorted(by_mod.items()))


def downlink_problems(*, norad_id: int, modulation: str, framing_profile: str) -> list[str]:
    """Why the receiver could not decode a downlink of ``modulation`` framed
    as ``framing_profile`` ('' = ``DEFAULT_FRAMING``; 'catalogue': the
    catalogue's satellite ``norad_id``); empty if it can."""
    if framing_profile == CATALOGUE_FRAMING:
        return _catalogue_problems(norad_id, modulation)
    from dsp.profile import MODULATIONS

    framings = _framings()
    framing = framing_profile or DEFAULT_FRAMING
    problems = []
    if modulation not in MODULATIONS:
        problems.append(
            f"modulation {modulation!r} is not one the receiver demodulates; "
            f"supported: {', '.join(MODULATIONS)}"
        )
    if framing not in framings:
        problems.append(
            f"framing_profile {framing_profile!r} is not a framing profile the receiver "
            f"decodes; supported: {', '.join(framings)}, or {CATALOGUE_FRAMING!r} for a "
            "satellite of the catalogue"
        )
    elif modulation in MODULATIONS and framings[framing] != modulation:
        default = "" if framing_profile else " (the default when none is given)"
        problems.append(
            f"modulation {modulation!r} does not match framing profile {framing!r}{default}, "
            f"which is {framings[framing]}; the receiver decodes {supported_downlinks()}"
        )
    return problems


def _catalogue_problems(norad_id: int, modulation: str) -> list[str]:
    """A satellite linked to the catalogue: its NORAD id is catalogued and
    ``modulation`` is that of one of its transmitters."""
    from groundstation.satellites import UnknownSatelliteError, builtin_catalogue

    try:
        sat = builtin_catalogue().find(norad_id)
    except UnknownSatelliteError as exc:
        return [f"framing_profile 'catalogue': {exc}"]
    if modulation in {t.modulation for t in sat.transmitters}:
        return []
    transmitters = "; ".join(f"{t.name!r} is {t.modulation}" for t in sat.transmitters)
    return [
        f"modulation {modulation!r} is not that of a transmitter of {sat.name} "
        f"({sat.norad_id}) in the catalogue: {transmitters}"
    ]


def transmitter_problems(
    *,
    norad_id: int,
    modulation: str,
    framing_profile: str,
    downlink_freq_hz: float,
    transmitter: str | None,
) -> list[str]:
    """Why a contact of this satellite could not be decoded with the
    catalogue transmitter ``transmitter`` (a mission profile's
    ``decode.transmitter``; None: the satellite's only one): it must exist
    and be what the satellite is registered as (modulation, downlink
    frequency). A satellite not linked to the catalogue takes no transmitter.
    Empty if it can (the satellite's own problems are ``downlink_problems``')."""
    if framing_profile != CATALOGUE_FRAMING:
        if transmitter is None:
            return []
        return [
            f"decode.transmitter {transmitter!r} names a catalogue transmitter, but satellite "
            f"{norad_id} is not linked to the catalogue (its framing_profile is "
            f"{framing_profile!r}, not {CATALOGUE_FRAMING!r})"
        ]
    from groundstation.satellites import (
        SatelliteSpecError,
        UnknownSatelliteError,
        catalogue_transmitter,
    )

    try:
        _, tx = catalogue_transmitter(norad_id, transmitter)
    except UnknownSatelliteError:
        return []  # said by downlink_problems
    except SatelliteSpecError as exc:
        return [f"decode.transmitter: {exc}"]
    problems = []
    if tx.modulation != modulation:
        problems.append(
            f"transmitter {tx.name!r} is {tx.modulation}, but satellite {norad_id} is "
            f"registered with modulation {modulation!r}"
        )
    if tx.frequency_hz != downlink_freq_hz:
        problems.append(
            f"transmitter {tx.name!r} is at {tx.frequency_hz / 1e6:.6f} MHz, but satellite "
            f"{norad_id} is registered with downlink_freq_hz {downlink_freq_hz / 1e6:.6f} MHz"
        )
    return problems


def satellite_transmitter_problems(satellite: Any, profile: Any) -> list[str]:
    """``transmitter_problems`` of a ``Satellite`` row with a mission profile
    (a ``MissionProfile`` row, or its ``ProfileSettings``)."""
    settings = (
        profile
        if isinstance(profile, ProfileSettings)
        else read_profile(profile_document(profile))[0]
    )
    return transmitter_problems(
        norad_id=satellite.norad_id,
        modulation=satellite.modulation,
        framing_profile=satellite.framing_profile,
        downlink_freq_hz=satellite.downlink_freq_hz,
        transmitter=settings.decode.transmitter,
    )


def check_downlink(norad_id: int, *, modulation: str, framing_profile: str) -> None:
    """``ValidationError`` naming the values if the receiver could not decode
    this downlink."""
    problems = downlink_problems(
        norad_id=norad_id, modulation=modulation, framing_profile=framing_profile
    )
    if problems:
        raise ValidationError(f"satellite {norad_id}: " + "; ".join(problems))
