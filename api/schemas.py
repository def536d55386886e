"""Request and response schemas, one family per entity:
``XCreate`` (body), ``XPublic`` (one), ``XsPublic(data, count)`` (a page).

Timestamps are ``AwareDatetime``: a naive one is refused with 422 naming the
field, and one that cannot be expressed in UTC (``0001-01-01T00:00+01:00``)
or lies outside the supported range (1970..2099) too; valid ones are
converted to UTC.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    create_model,
    model_validator,
)
from pydantic_core import PydanticUndefined

from groundstation.clock import require_supported
from groundstation.errors import ValidationError
from groundstation.profile_settings import ProfileSettings
from groundstation.vetting import Verdict, VerdictSource

PositiveHz = Annotated[float, Strict(), Field(gt=0, le=1e12)]
# Request numbers are JSON numbers only (no booleans, no numeric strings).
Num = Annotated[float, Strict()]
Int = Annotated[int, Strict()]


def _iso_only(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _NUMERIC.match(value.strip()):
        raise ValueError(
            f"expected an ISO 8601 timestamp with a zone like 2023-07-04T18:00:00Z, got {value!r}"
        )
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"timestamp {value.isoformat()} lies outside years 1..9999 once converted to UTC"
        ) from None


def _supported(value: datetime) -> datetime:
    try:
        return require_supported(value, "timestamp")
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


_NUMERIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# An ISO 8601 timestamp with its zone (naive ones and unix numbers are refused),
# converted to UTC, within the supported range (groundstation.clock.SUPPORTED_RANGE).
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_only),
    AfterValidator(_in_utc),
    AfterValidator(_supported),
]


def _examples(*docs: dict[str, Any]) -> ConfigDict:
    """A request body's examples, shown in the OpenAPI description (and
    checked valid against the body's schema by the OpenAPI test)."""
    return ConfigDict(json_schema_extra={"examples": list(docs)})


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _Body(BaseModel):
    """A request body: a field the schema does not have is refused (422
    naming it), not ignored, so a misspelt optional field is not lost."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- stations


Bands = list[tuple[PositiveHz, PositiveHz]]
_STATUS = Literal["online", "offline", "maintenance"]


class _AntennaBody(_Body):
    """An antenna's request body: its bands are ``bands_hz`` in requests and
    answers alike; ``bands`` (the answers' name before) is refused naming it."""

    @model_validator(mode="before")
    @classmethod
    def _bands_is_bands_hz(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bands" in data:
            raise ValueError(
                "field 'bands' is named 'bands_hz' (a list of [low_hz, high_hz] pairs): "
                "rename it, as the answers name it"
            )
        return data


class AntennaCreate(_AntennaBody):
    model_config = _examples(
        {
            "id": "lisbon-uhf",
            "bands_hz": [[400000000.0, 450000000.0]],
            "max_az_slew_deg_s": 6.0,
            "max_el_slew_deg_s": 6.0,
            "setup_s": 60.0,
            "teardown_s": 60.0,
        }
    )
    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    bands_hz: Bands = Field(min_length=1, max_length=32)
    min_elevation_deg: Num = Field(0.0, ge=-5, le=90)
    max_az_slew_deg_s: Num = Field(10.0, gt=0, le=100)
    max_el_slew_deg_s: Num = Field(10.0, gt=0, le=100)
    setup_s: Num = Field(0.0, ge=0, le=86400)
    teardown_s: Num = Field(0.0, ge=0, le=86400)
    status: _STATUS = "online"


class AntennaUpdate(_AntennaBody):
    """What ``PATCH .../antennas/{id}`` may change (at least one field)."""

    model_config = _examples(
        {
            "bands_hz": [[400000000.0, 450000000.0], [2200000000.0, 2300000000.0]],
            "max_az_slew_deg_s": 8.0,
            "status": "online",
        }
    )

    bands_hz: Bands | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="replaces the bands; booked contacts whose downlink falls outside them "
        "become PROVIDER_FAILED",
    )
    max_az_slew_deg_s: Num | None = Field(None, gt=0, le=100)
    max_el_slew_deg_s: Num | None = Field(None, gt=0, le=100)
    status: _STATUS | None = Field(
        None,
        description="not online: the antenna's contacts from now on that have not reached PASS "
        "become PROVIDER_FAILED",
    )


class AntennaPublic(_Public):
    id: str
    station_id: str
    bands_hz: list[list[float]] = Field(validation_alias=AliasChoices("bands_hz", "bands"))
    min_elevation_deg: float
    max_az_slew_deg_s: float
    max_el_slew_deg_s: float
    setup_s: float
    teardown_s: float
    status: str


class AntennasPublic(BaseModel):
    data: list[AntennaPublic]
    count: int


class StationCreate(_Body):
    model_config = _examples(
        {
            "id": "lisbon",
            "name": "Lisbon",
            "lat_deg": 38.7369,
            "lon_deg": -9.1427,
            "alt_m": 100.0,
            "min_elevation_deg": 5.0,
            "horizon_mask": [[0.0, 5.0], [180.0, 8.0]],
        }
    )
    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=120)
    lat_deg: Num = Field(ge=-90, le=90)
    lon_deg: Num = Field(ge=-180, le=360)
    alt_m: Num = Field(0.0, ge=-500, le=10000)
    min_elevation_deg: Num = Field(0.0, ge=-5, le=90)
    horizon_mask: list[tuple[Num, Num]] = Field(default_factory=list, max_length=3600)


class StationUpdate(_Body):
    """What ``PATCH /ground-stations/{id}`` may change (at least one field)."""

    model_config = _examples(
        {"min_elevation_deg": 7.5, "horizon_mask": [[0.0, 5.0], [90.0, 10.0], [270.0, 6.0]]}
    )

    name: str | None = Field(None, min_length=1, max_length=120)
    lat_deg: Num | None = Field(None, ge=-90, le=90)
    lon_deg: Num | None = Field(None, ge=-180, le=360)
    alt_m: Num | None = Field(None, ge=-500, le=10000)
    min_elevation_deg: Num | None = Field(None, ge=-5, le=90)
    horizon_mask: list[tuple[Num, Num]] | None = Field(None, max_length=3600)


class StationPublic(_Public):
    id: str
    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    min_elevation_deg: float
    horizon_mask: list[list[float]]
    antennas: list[AntennaPublic]


class StationsPublic(BaseModel):
    data: list[StationPublic]
    count: int


class MaintenanceCreate(_Body):
    model_config = _examples(
        {"start": "2026-12-01T08:00:00Z", "end": "2026-12-01T10:00:00Z", "reason": "feed swap"}
    )
    start: Timestamp
    end: Timestamp
    reason: str = Field("", max_length=200)


class MaintenancePublic(_Public):
    id: int
    antenna_id: str
    start: AwareDatetime
    end: AwareDatetime
    reason: str


class MaintenanceUpdate(_Body):
    model_config = _examples({"end": "2026-12-01T11:00:00Z", "reason": "feed swap, cable too"})
    start: Timestamp | None = None
    end: Timestamp | None = None
    reason: str | None = Field(None, max_length=200)


class HeldContactsPublic(BaseModel):
    contacts_failed: list[str] = Field(
        description="contacts (SCHEDULED or PREPASS) moved to PROVIDER_FAILED by this change"
    )
    contacts_running: list[str] = Field(
        description="contacts in PASS or POSTPASS in the window: left to finish, not stopped"
    )


class MaintenanceChangePublic(MaintenancePublic, HeldContactsPublic):
    pass


class AntennaChangePublic(AntennaPublic, HeldContactsPublic):
    pass


class StationChangePublic(StationPublic):
    contacts_moved: list[str] = Field(
        description="SCHEDULED contacts whose window moved with the station's new geometry"
    )
    contacts_failed: list[str] = Field(
        description="SCHEDULED contacts whose pass no longer fits (FAILED_TO_SCHEDULE, "
        "with the reason)"
    )


class MaintenancesPublic(BaseModel):
    data: list[MaintenancePublic]
    count: int


# ---------------------------------------------------------------- satellites


class SatelliteCreate(_Body):
    model_config = _examples(
        {
            "norad_id": 25544,
            "name": "ISS",
            "downlink_freq_hz": 437800000.0,
            "downlink_bandwidth_hz": 25000.0,
            "modulation": "bpsk",
            "symbol_rate_baud": 9600.0,
        }
    )
    norad_id: Int = Field(gt=0, lt=1_000_000_000)
    name: str = Field(min_length=1, max_length=120)
    tenant: str | None = Field(
        None, max_length=120, description="admin only; an operator's own tenant is used"
    )
    downlink_freq_hz: Num = Field(gt=0, le=1e12)
    downlink_bandwidth_hz: Num = Field(0.0, ge=0, le=1e10)
    modulation: str = Field(
        "bpsk",
        max_length=40,
        description="one the receiver demodulates (bpsk, qpsk); for a catalogue satellite, "
        "that of its transmitter (fsk, afsk, bpsk, dbpsk)",
    )
    symbol_rate_baud: Num = Field(0.0, ge=0, le=1e10)
    framing_profile: str = Field(
        "",
        max_length=80,
        description="a built-in framing profile of the receiver, of the same modulation "
        "('' = ccsds-bpsk-conv-rs), or 'catalogue': the satellite catalogue's entry with this "
        "NORAD id (the mission profile's decode.transmitter picks the transmitter); others "
        "are refused with the supported list",
    )


class SatellitePublic(_Public):
    norad_id: int
    name: str
    tenant: str
    downlink_freq_hz: float
    downlink_bandwidth_hz: float
    modulation: str
    symbol_rate_baud: float
    framing_profile: str
    created_at: AwareDatetime
    problems: list[str] = Field(
        default_factory=list,
        description="why the receiver could not decode this downlink (stored before the "
        "check existed); booking is refused until it is corrected",
    )


class SatellitesPublic(BaseModel):
    data: list[SatellitePublic]
    count: int


class CatalogueTransmitterPublic(BaseModel):
    """One downlink of a satellite as the built-in satellite catalogue
    describes it (groundstation/satellites/data, gr-satellites' satyaml style)."""

    name: str
    frequency_hz: float
    modulation: str
    baud_rate: float
    framing: str
    deviation_hz: float | None = None
    af_carrier_hz: float | None = None


class CatalogueTransmittersPublic(BaseModel):
    norad_id: int
    catalogued: bool = Field(
        description="whether the built-in satellite catalogue knows this NORAD id "
        "(false: data is empty; the satellite's own downlink settings still apply)"
    )
    catalogue_name: str | None = Field(
        default=None, description="the satellite's name in the catalogue"
    )
    data: list[CatalogueTransmitterPublic]
    count: int


class EphemerisPublic(_Public):
    id: int
    epoch: AwareDatetime = Field(
        description="element epoch (TLE/OMM); for a CCSDS OEM, the start of its usable span"
    )
    source: str
    source_format: str = Field(description="tle, omm or oem")
    text: str
    uploaded_at: AwareDatetime
    priority: int
    enabled: bool
    expires_at: AwareDatetime | None = Field(
        description="not in force from then on; an OEM's is at most the end of its usable span"
    )
    status: Literal["ENABLED", "DISABLED", "EXPIRED"] | None = Field(
        None, description="AWS Ground Station's ephemeris status at the time of the answer"
    )


class EphemerisUpdate(_Body):
    """What PATCH /satellites/{norad_id}/ephemerides/{id} may change; fields
    left out keep their value, `expires_at: null` removes the expiry."""

    model_config = _examples(
        {"priority": 10, "enabled": True, "expires_at": "2026-12-08T00:00:00Z"}
    )

    enabled: Annotated[bool, Strict()] | None = None
    priority: Int | None = Field(None, ge=-1000, le=1000)
    expires_at: Timestamp | None = None


class EphemeridesPublic(BaseModel):
    data: list[EphemerisPublic]
    count: int
    in_force_id: int | None


class EphemerisUploadReport(BaseModel):
    accepted: list[EphemerisPublic]
    rejected: list[str] = Field(description="one line per record not stored, with the reason")
    contacts_updated: int
    format: str = Field(
        "",
        description="the format the upload was read as: TLE/3LE, OMM JSON, OMM CSV, "
        "CCSDS OMM (KVN), XML (CCSDS OMM), CCSDS OEM (KVN) or XML (CCSDS OEM)",
    )


class SatelliteUploadResult(BaseModel):
    """What a multi-satellite upload did for one satellite."""

    norad_id: int
    accepted: list[EphemerisPublic]
    in_force_id: int | None = Field(description="the satellite's ephemeris in force after it")
    contacts_updated: int = Field(
        description="its SCHEDULED contacts moved or failed by the new ephemeris in force"
    )


class EphemeridesUploadReport(BaseModel):
    format: str = Field(description="the format the upload was read as")
    satellites: list[SatelliteUploadResult] = Field(
        description="one per satellite with an element set stored, by NORAD id"
    )
    rejected: list[str] = Field(description="one line per record not stored, with the reason")
    contacts_updated: int


# ---------------------------------------------------------------- profiles


def _all_required(
    model: type[BaseModel], name: str, doc: str, *, example: dict[str, Any] | None = None
) -> type[BaseModel]:
    """``model`` with every field required (same types and limits, no defaults)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        required = copy.copy(info)
        required.default = PydanticUndefined
        required.default_factory = None
        fields[field_name] = (info.annotation, required)
    config = ConfigDict(**model.model_config)
    if example is not None:
        config["json_schema_extra"] = {"examples": [example]}
    out: type[BaseModel] = create_model(name, __config__=config, __doc__=doc, **fields)
    return out


def _partial(
    model: type[BaseModel],
    name: str,
    doc: str,
    *,
    section: bool = False,
    example: dict[str, Any] | None = None,
) -> type[BaseModel]:
    """``model`` as a JSON merge patch (RFC 7396): every field optional and
    nullable (null removes the member, i.e. back to its default); sections
    are patches themselves, in which any other key may be sent as null only
    (to remove a key stored before validation existed)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        annotation: Any = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            annotation = _partial(
                annotation, f"{annotation.__name__}Patch", annotation.__doc__ or "", section=True
            )
        patch = copy.copy(info)
        patch.default = None
        patch.default_factory = None
        fields[field_name] = (annotation | None, patch)
    config = ConfigDict(**model.model_config)
    validators: dict[str, Any] = {}
    if section:
        config["extra"] = "allow"
        config["json_schema_extra"] = {"additionalProperties": {"type": "null"}}
        validators["only_null_extras"] = model_validator(mode="after")(_only_null_extras)
    if example is not None:
        config["json_schema_extra"] = {"examples": [example]}
    out: type[BaseModel] = create_model(
        name, __config__=config, __doc__=doc, __validators__=validators, **fields
    )
    return out


def _only_null_extras(patch: BaseModel) -> BaseModel:
    unknown = [k for k, v in (patch.model_extra or {}).items() if v is not None]
    if unknown:
        known = ", ".join(type(patch).model_fields) or "no keys"
        raise ValueError(
            f"unknown key(s) {', '.join(map(repr, unknown))}: this section takes {known} "
            "(another key may only be sent as null, to remove it)"
        )
    return patch


class ProfileCreate(ProfileSettings):
    """A new mission profile: its id, tenant and settings (omitted settings
    take their defaults)."""

    model_config = _examples(
        {
            "id": "leo-uhf",
            "min_viable_duration_s": 120.0,
            "prepass_s": 120.0,
            "postpass_s": 60.0,
            "min_elevation_deg": 10.0,
        }
    )

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
    tenant: str | None = Field(
        None,
        min_length=1,
        max_length=120,
        description="admin only (omitted: a shared profile, read-only to operators); "
        "an operator's own tenant is used",
    )


ProfileReplace = _all_required(
    ProfileSettings,
    "ProfileReplace",
    "Every setting of the profile (PUT replaces the whole profile: each field is required, "
    "an empty section `{}` resets it).",
    example=ProfileSettings().model_dump(mode="json"),
)
ProfilePatch = _partial(
    ProfileSettings,
    "ProfilePatch",
    "A JSON merge patch (RFC 7396) of the profile's settings: fields sent replace theirs, "
    "null removes one (back to its default), fields not sent are kept.",
    example={"min_elevation_deg": 15.0, "postpass_s": None},
)


class ProfilePublic(ProfileSettings):
    id: str
    tenant: str | None = Field(description="owning tenant; null: shared (admin-owned)")
    problems: list[str] = Field(
        description="stored values that do not validate (written before validation, or by "
        "other means), each naming the field and value; such values are shown as their "
        "defaults and booking with the profile is refused until they are corrected"
    )


class ProfilesPublic(BaseModel):
    data: list[ProfilePublic]
    count: int


# ---------------------------------------------------------------- passes


class AntennaAvailability(BaseModel):
    antenna_id: str
    free: bool
    blocked_by: str = Field(description="contact, maintenance or status blocking it; '' if free")


class PassPublic(BaseModel):
    norad_id: int
    station_id: str
    aos: AwareDatetime
    tca: AwareDatetime
    los: AwareDatetime
    duration_s: float
    max_elevation_deg: float
    aos_azimuth_deg: float
    tca_azimuth_deg: float
    los_azimuth_deg: float
    antennas: list[AntennaAvailability]


class PassesPublic(BaseModel):
    data: list[PassPublic]
    count: int


class TrackPoint(BaseModel):
    time: AwareDatetime
    azimuth_deg: float | None
    elevation_deg: float | None
    range_km: float | None
    range_rate_km_s: float | None
    doppler_hz: float | None


class TrackPublic(BaseModel):
    contact_id: str
    step_s: float
    downlink_freq_hz: float
    data: list[TrackPoint]
    count: int


class ContactProgressPublic(BaseModel):
    """The live figures of a contact's pass (GET /contacts/{id}/progress, and
    `event: progress` on GET /contacts/events), stored by the executor every
    second or so while the pass runs and once more when it ends."""

    contact_id: str
    state: str = Field(description="the contact's state now", examples=["PASS"])
    status: Literal["not_started", "running", "final"] = Field(
        description="`not_started`: no figure yet (the pass has not begun, or the contact ended "
        "before it); `running`: the pass is on and the figures move; `final`: the pass has "
        "ended and these are its last figures"
    )
    updated_at: AwareDatetime | None = Field(description="service time of the figures")
    elapsed_s: float | None = Field(description="seconds since AOS", examples=[95.0])
    remaining_s: float | None = Field(description="seconds to LOS", examples=[205.0])
    duration_s: float | None = Field(description="AOS to LOS, seconds", examples=[300.0])
    fraction: float | None = Field(
        description="share of the pass (AOS to LOS) elapsed, 0 to 1", examples=[0.317]
    )
    frames_decoded: int | None = Field(
        description="frames decoded so far (integrity check passed)", examples=[212]
    )
    frames_sent: int | None = Field(
        description="frames the simulated satellite has sent so far (null: not known, as for "
        "a station agent's pass)",
        examples=[230],
    )
    esn0_db: float | None = Field(
        description="the receiver's Es/N0 estimate so far, dB (null: not measured yet)",
        examples=[8.4],
    )
    doppler_hz: float | None = Field(
        description="Doppler shift of the downlink now, Hz, predicted along the track (the one "
        "the RF simulator applies in a simulated pass)",
        examples=[-4210.5],
    )
    simulated: bool = Field(
        description="true: the figures come from a simulated pass (the service's RF simulator "
        "or an agent's simulated front end), not from a radio"
    )
    executed_by: str = Field(description="who works the pass: the central service or an agent")


# ---------------------------------------------------------------- contacts


class ContactCreate(_Body):
    model_config = _examples(
        {
            "norad_id": 25544,
            "antenna_id": "lisbon-uhf",
            "profile_id": "leo-uhf",
            "start": "2026-12-01T08:12:30Z",
            "end": "2026-12-01T08:21:10Z",
        }
    )
    norad_id: Int = Field(gt=0, lt=1_000_000_000)
    antenna_id: str = Field(min_length=1, max_length=80)
    profile_id: str = Field(min_length=1, max_length=80)
    start: Timestamp = Field(description="AOS of the wanted window (from GET /passes)")
    end: Timestamp = Field(description="LOS of the wanted window")
    ephemeris_id: Int | None = Field(
        None,
        gt=0,
        description="book with this ephemeris of the satellite instead of the one in force "
        "(AWS's tracking override); an az/el table of the antenna's station: the antenna "
        "follows it",
    )


class TransitionPublic(_Public):
    old_state: str
    new_state: str
    at: AwareDatetime
    reason: str
    verdict: Verdict | None = Field(None, description="the verdict this change set, if it set one")
    verdict_source: VerdictSource | None = None


class ContactPublic(BaseModel):
    id: str
    norad_id: int
    station_id: str
    antenna_id: str
    profile_id: str
    tenant: str
    state: str
    state_reason: str
    aos: AwareDatetime
    tca: AwareDatetime
    los: AwareDatetime
    booked_start: AwareDatetime
    booked_end: AwareDatetime
    blocked_start: AwareDatetime
    blocked_end: AwareDatetime
    max_elevation_deg: float
    ephemeris_epoch: AwareDatetime
    created_at: AwareDatetime
    version: int = Field(
        description="1 when booked, one more at every change (state, window, profile); "
        "the `ETag` of GET and PATCH /contacts/{id}, to send as `If-Match` with a PATCH"
    )
    verdict: Verdict | None = Field(
        description="good, partial, bad or failed (null: not vetted yet): set when the contact "
        "ends, from the measured quality and the profile's `vetting` thresholds (`failed` for "
        "FAILED and PROVIDER_FAILED), or by an operator (PUT /contacts/{id}/verdict)"
    )
    verdict_source: VerdictSource | None = Field(description="`auto` or `manual`; null: no verdict")
    verdict_reason: str = Field(description="why: the figures and thresholds, or the operator's")
    verdict_by: str = Field(description="who set a manual verdict (the API key's name)")
    verdict_at: AwareDatetime | None = Field(description="when the verdict was set")
    frames_ok: int | None = Field(
        description="frames decoded in the pass (null: not measured)", examples=[420]
    )
    frames_expected: int | None = Field(
        description="frames expected in the pass (sent by the simulated satellite; for a "
        "station agent, every frame its receiver found)",
        examples=[1000],
    )
    esn0_db: float | None = Field(description="the receiver's Es/N0 estimate, dB", examples=[6.2])

    simulated: bool = Field(
        description="true: the pass is worked by the service's RF simulator (no antenna, no "
        "radio); its frames and dataset are simulated too"
    )


class ContactDetail(ContactPublic):
    history: list[TransitionPublic]


class ContactsPublic(BaseModel):
    data: list[ContactPublic]
    count: int
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at end")


class ContactUpdate(_Body):
    """What PATCH /contacts/{id} may change (AWS UpdateContact): the mission
    profile and the visibility window, trimmed inside the contact's AOS..LOS.
    Fields left out keep their value."""

    model_config = _examples({"profile_id": "leo-uhf", "start": "2026-12-01T08:14:00Z"})

    profile_id: str | None = Field(None, min_length=1, max_length=80)
    start: Timestamp | None = Field(None, description="new AOS, not before the contact's AOS")
    end: Timestamp | None = Field(None, description="new LOS, not after the contact's LOS")


class ContactVerdictSet(_Body):
    """An operator's verdict on an ended contact (PUT /contacts/{id}/verdict)."""

    model_config = _examples(
        {"verdict": "partial", "reason": "image half lost to interference; frames kept"}
    )

    # An enum: only its four strings validate (a number or other text is 422).
    verdict: Verdict = Field(description="good, partial, bad or failed", examples=["partial"])
    reason: Annotated[str, Strict()] = Field(
        min_length=1,
        max_length=500,
        description="why, for the history and the event",
        examples=["image half lost to interference; frames kept"],
    )


class ContactCancel(_Body):
    model_config = _examples({"reason": "satellite in safe mode"})
    reason: str = Field("cancelled by user", max_length=500)


# ---------------------------------------------------------------- plans


class PlanRequestIn(_Body):
    norad_id: Int = Field(gt=0, lt=1_000_000_000)
    start: Timestamp
    end: Timestamp
    priority: Num = Field(1.0, gt=0, le=1000)
    max_passes: Int | None = Field(None, ge=1, le=10000)
    max_minutes: Num | None = Field(None, gt=0, le=1e6)


class PlanCreate(_Body):
    model_config = _examples(
        {
            "profile_id": "leo-uhf",
            "requests": [
                {
                    "norad_id": 25544,
                    "start": "2026-12-01T00:00:00Z",
                    "end": "2026-12-02T00:00:00Z",
                    "priority": 2.0,
                    "max_passes": 3,
                }
            ],
            "antenna_ids": ["lisbon-uhf"],
            "time_limit_s": 5.0,
        }
    )
    profile_id: str = Field(min_length=1, max_length=80)
    requests: list[PlanRequestIn] = Field(min_length=1, max_length=500)
    antenna_ids: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        None, max_length=1000
    )
    time_limit_s: Num = Field(5.0, gt=0, le=60)


class PlannedContactPublic(BaseModel):
    norad_id: int
    antenna_id: str
    aos: AwareDatetime
    los: AwareDatetime


class PlanPublic(BaseModel):
    id: str
    profile_id: str
    status: str
    objective: float
    gap: float | None
    greedy_objective: float
    proposed: list[PlannedContactPublic]
    created_at: AwareDatetime


class PlanDetail(BaseModel):
    """A plan read back: its proposal and, once committed, its contacts."""

    id: str
    profile_id: str
    state: Literal["proposed", "committing", "committed"] = Field(
        description="proposed (committable), committed; committing only in rows of old versions"
    )
    created_at: AwareDatetime
    expires_at: AwareDatetime = Field(description="read back and committable until then")
    proposed: list[PlannedContactPublic]
    committed_at: AwareDatetime | None
    booked: list[ContactPublic] = Field(
        description="the contacts the commit booked, in their current state; [] until committed"
    )


class PlanCommitPublic(BaseModel):
    plan_id: str
    booked: list[ContactPublic]


# ---------------------------------------------------------------- datasets


class DatasetFilePublic(BaseModel):
    name: str
    size_bytes: int
    sha256: str


class QuicklookPublic(BaseModel):
    name: str = Field(description="file name in the dataset, e.g. products/quicklook/waterfall.png")
    url: str = Field(description="where to download the PNG (this API, same key)")
    thumbnail_url: str | None = Field(description="a small copy of it; null when there is none")


class DatasetPublic(BaseModel):
    id: str
    contact_id: str
    norad_id: int
    satellite: str
    station: str
    antenna: str
    start_time: AwareDatetime
    end_time: AwareDatetime
    total_size_bytes: int
    manifest_sha256: str | None
    ready_at: AwareDatetime | None
    files: list[DatasetFilePublic]
    bucket: str | None = Field(
        None,
        description=(
            "the tenant bucket holding the dataset (`PUT /tenants/{tenant}/bucket`, "
            "GS_TENANT_BUCKETS); null: the service's default store"
        ),
    )
    quicklooks: list[QuicklookPublic] = Field(
        default_factory=list,
        description=(
            "quick-look images of the pass (waterfall, Es/N0 and frequency, constellation) "
            "with thumbnails, when the dataset has them"
        ),
    )


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int


class FramePublic(BaseModel):
    """One decoded frame of a dataset's ``frames.h5``."""

    sequence: int = Field(description="per-contact frame sequence number", examples=[17])
    time: AwareDatetime = Field(description="time of the frame's first symbol (UTC)")
    length_bytes: int = Field(description="bytes of the frame", examples=[256])
    frame_ok: bool = Field(description="decoded and passed its checks (CRC, Reed-Solomon)")
    crc_ok: bool | None = Field(description="the frame's CRC check; null: the framing has none")
    rs_corrections: int = Field(
        description="Reed-Solomon symbols corrected; -1: uncorrectable", examples=[0]
    )
    virtual_channel: int = Field(examples=[0])
    frame_counter: int = Field(description="virtual channel frame count", examples=[17])
    esn0_db: float | None = Field(
        description="Es/N0 the receiver estimated for the frame, dB; null: not estimated",
        examples=[8.2],
    )
    head_hex: str = Field(
        description="the frame's first `head_bytes` bytes (at most its length), hex",
        examples=["1acffc1d0a3f"],
    )


class FramesPublic(BaseModel):
    """A page of a dataset's decoded frames, in frame order."""

    dataset_id: str
    data: list[FramePublic]
    count: int = Field(description="frames in the dataset (all pages)", examples=[412])
    offset: int = Field(examples=[0])
    limit: int = Field(examples=[50])


class DatasetContactPublic(ContactPublic):
    """The contact a dataset was recorded in, as a reader of the dataset
    sees it: geometry (aos/tca/los, max_elevation_deg), state and
    ``state_reason`` (why it failed, if it did), and the receiver's quality
    summary of the pass."""

    dataset_id: str
    quality: dict[str, Any] | None = Field(
        description=(
            "the receiver's summary of the pass (products/receiver.json: frames expected, "
            "decoded and failed, Es/N0, ...); null when the dataset has none"
        )
    )


# ---------------------------------------------------------------- usage, health


class TenantUsage(BaseModel):
    tenant: str
    booked_minutes: float
    used_minutes: float
    contacts_booked: int
    contacts_completed: int


class UsagePublic(BaseModel):
    month: str
    start: AwareDatetime
    end: AwareDatetime
    data: list[TenantUsage]
    count: int


class Health(BaseModel):
    status: str
    version: str = Field(
        description="the installed groundstation's version (as `groundstation --version` says)"
    )


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str


# --- station agents (issue 13) ---


class AgentHeartbeat(_Body):
    model_config = _examples(
        {
            "software_version": "0.9.0",
            "front_end": "rtlsdr (real)",
            "status": {"rotator_az_deg": 180.0, "disk_free_bytes": 52000000000},
        }
    )
    software_version: str = Field("", max_length=80)
    front_end: str = Field("", max_length=200, description="its IQ source; says 'simulated'")
    status: dict[str, Any] = Field(
        default_factory=dict, description="rotator position, disk space, spool depth, ..."
    )


class AgentStatusPublic(BaseModel):
    station_id: str
    registered: bool
    online: bool
    last_seen_at: datetime | None
    software_version: str
    front_end: str
    status: dict[str, Any]
    service_now: datetime = Field(description="the central service clock's time")


class AgentContactsPublic(BaseModel):
    data: list[dict[str, Any]] = Field(
        description="each: state, stop_reason (why a contact in CANCELLING was stopped during "
        "its pass: the agent ends it; else empty), run (the ContactRun document), station, antenna"
    )
    count: int


HeaderName = Annotated[str, Field(max_length=16)]
HeaderText = Annotated[str, Field(max_length=80)]  # station and antenna ids: 80


class AgentFrameQuality(_Body):
    ok: bool = Field(strict=True, description="the frame passed its integrity check")
    esn0_db: float | None = Field(None, description="the receiver's Es/N0 (dB); null: none")


class AgentFrameUpload(_Body):
    sequence: int = Field(ge=1, le=2**31 - 1, strict=True)
    frame_time: Timestamp
    data: str = Field(
        description="the frame's bytes, base64 (frames up to 1536 bytes)",
        max_length=2048,
        pattern=r"^[A-Za-z0-9+/]*={0,2}$",
    )
    meta: dict[HeaderName, HeaderText] = Field(
        default_factory=dict, max_length=12, description="FrameMeta headers (name -> text)"
    )
    quality: AgentFrameQuality | None = Field(
        None, description="the frame's quality at the station (the dataset's per-frame columns)"
    )


class AgentFramesUpload(_Body):
    model_config = _examples(
        {
            "frames": [
                {
                    "sequence": 1,
                    "frame_time": "2026-12-01T08:13:00.250Z",
                    "data": "Gs/8HQABAgM=",
                    "meta": {
                        "contact-id": "c-7f3a",
                        "norad-id": "25544",
                        "station": "lisbon",
                        "antenna": "lisbon-uhf",
                        "frame-time": "2026-12-01T08:13:00.250000Z",
                        "vc": "0",
                        "frame-counter": "1",
                        "rs-corrections": "0",
                        "crc": "ok",
                        "seq": "1",
                    },
                    "quality": {"ok": True, "esn0_db": 11.5},
                }
            ]
        }
    )
    # Small batches: the largest body stays well under the request body limit.
    frames: list[AgentFrameUpload] = Field(max_length=40)


class AgentFramesStored(BaseModel):
    received: int
    new: int
    stored: int


class AgentReportCreate(_Body):
    model_config = _examples(
        {"ok": True, "reason": "", "frames_total": 1420, "summary": {"esn0_db_median": 11.2}}
    )
    ok: bool = Field(strict=True)
    reason: str = Field("", max_length=4000)
    frames_total: int = Field(0, ge=0, strict=True)
    summary: dict[str, Any] = Field(default_factory=dict)


class AgentReportPublic(BaseModel):
    contact_id: str
    ok: bool
    reason: str
    frames_total: int
    reported_at: datetime
