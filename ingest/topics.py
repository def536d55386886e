"""Topic contracts: names, frame headers, and the JSON messages, each defined
once here as a pydantic dataclass.

Three topics share one configurable prefix (``<prefix>.frames``,
``<prefix>.contact-events``, ``<prefix>.datasets``):

* frames: value = the frame bytes exactly as decoded; key = the satellite's
  NORAD id as ASCII digits (so one satellite's frames stay in order in one
  partition); headers (UTF-8 text) carry the frame metadata of `FrameMeta`,
  one header per field, named by the field's alias;
* contact events: JSON, `ContactEventMessage`;
* dataset-ready notices: JSON, `DatasetReadyMessage`.

The JSON Schemas in ``ingest/schemas/`` and the tables of docs/topics.md are
generated from these classes (``python -m ingest.contracts --write``; a test
checks that the committed files are current).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass as stdlib_dataclass
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    computed_field,
)
from pydantic.dataclasses import dataclass

from ingest.errors import ContractError

FRAMES_SCHEMA_ID = "groundstation.frame/1"
CONTACT_EVENT_SCHEMA_ID = "groundstation.contact-event/1"
DATASET_READY_SCHEMA_ID = "groundstation.dataset-ready/1"
RESOURCE_EVENT_SCHEMA_ID = "groundstation.resource-event/1"

Headers = list[tuple[str, bytes]]

#: The text form of every time in the contracts.
UTC_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


# The values of groundstation.states.ContactState: ingest may not import
# groundstation, so tests/domain/test_contact_event_states.py checks that the
# two agree.
class ContactEventState(StrEnum):
    """A contact's state (groundstation.states.ContactState)."""

    AVAILABLE = "AVAILABLE"
    SCHEDULED = "SCHEDULED"
    PREPASS = "PREPASS"
    PASS = "PASS"
    POSTPASS = "POSTPASS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    FAILED_TO_SCHEDULE = "FAILED_TO_SCHEDULE"
    PROVIDER_FAILED = "PROVIDER_FAILED"
    CANCELLING = "CANCELLING"


# The values of groundstation.vetting.Verdict and VerdictSource (checked by
# tests/domain/test_contact_event_states.py as the states are).
class ContactVerdict(StrEnum):
    """A contact's verdict (groundstation.vetting.Verdict)."""

    GOOD = "good"
    PARTIAL = "partial"
    BAD = "bad"
    FAILED = "failed"


class VerdictSource(StrEnum):
    """Who gave a verdict: the service from the measured quality, or an operator."""

    AUTO = "auto"
    MANUAL = "manual"


class ResourceKind(StrEnum):
    """What a resource event is about (groundstation.resource_events)."""

    EPHEMERIS = "ephemeris"
    STATION = "station"
    ANTENNA = "antenna"
    DATASET = "dataset"


class ResourceStatus(StrEnum):
    """A resource's status: an ephemeris's (AWS Ground Station's words,
    groundstation.ephemerides.ephemeris_status), a station's agent's
    (groundstation.agents), an antenna's (groundstation.maintenance) or a
    contact's dataset (``ready``: stored, checksummed and catalogued;
    groundstation.contact_datasets)."""

    ENABLED = "ENABLED"
    DISABLED = "DISABLED"
    EXPIRED = "EXPIRED"
    NONE = "NONE"
    ONLINE = "online"
    OFFLINE = "offline"
    MAINTENANCE = "maintenance"
    READY = "ready"


@stdlib_dataclass(frozen=True, slots=True)
class TopicNames:
    """The three topic names derived from one prefix (``gs`` -> ``gs.frames``)."""

    prefix: str = "groundstation"

    def __post_init__(self) -> None:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        if not self.prefix or not set(self.prefix) <= allowed or len(self.prefix) > 200:
            raise ContractError(
                f"topic prefix {self.prefix!r} is not a valid Kafka topic prefix: "
                "use 1-200 characters from [a-zA-Z0-9._-]"
            )

    @property
    def frames(self) -> str:
        return f"{self.prefix}.frames"

    @property
    def contact_events(self) -> str:
        return f"{self.prefix}.contact-events"

    @property
    def datasets(self) -> str:
        return f"{self.prefix}.datasets"

    def all(self) -> tuple[str, str, str]:
        return (self.frames, self.contact_events, self.datasets)


def utc_iso(t: datetime) -> str:
    """``2026-11-27T01:02:03.456789Z``; refuses naive datetimes."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ContractError(f"time {t!r} is naive; pass a timezone-aware UTC datetime")
    if t.utcoffset():
        t = t.astimezone(UTC)
    return t.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc_iso(text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractError(f"time {text!r} is not ISO-8601") from exc
    if t.tzinfo is None:
        raise ContractError(f"time {text!r} has no UTC offset")
    return t.astimezone(UTC)


# --- field types: how each kind of value is written on the wire -------------


def _utc_time(value: object) -> datetime:
    if isinstance(value, str):
        return parse_utc_iso(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ContractError(f"time {value!r} is naive; pass a timezone-aware UTC datetime")
        return value
    raise ContractError(f"time {value!r} is neither a datetime nor ISO-8601 text")


#: An aware time, written as ``2026-11-27T01:02:03.456789Z`` (UTC).
UtcTime = Annotated[
    datetime,
    BeforeValidator(_utc_time),
    PlainSerializer(utc_iso, return_type=str),
    WithJsonSchema({"type": "string", "pattern": UTC_TIME_PATTERN}),
]

#: A non-negative integer in a frame header (decimal text).
HeaderCount = Annotated[
    int,
    Field(ge=0),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$"}),
]

#: Symbols corrected by Reed-Solomon in a frame header, -1 = uncorrectable.
HeaderCorrections = Annotated[
    int,
    Field(ge=-1),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^-?[0-9]+$"}),
]

_CRC_TEXT: dict[bool | None, str] = {True: "ok", False: "bad", None: "none"}
_CRC_FROM_TEXT = {text: ok for ok, text in _CRC_TEXT.items()}


def _crc_result(value: object) -> object:
    if isinstance(value, str):
        if value not in _CRC_FROM_TEXT:
            raise ContractError(f"crc {value!r} is not ok, bad or none")
        return _CRC_FROM_TEXT[value]
    return value


#: The FECF check: True (``ok``), False (``bad``) or None (``none``: no CRC).
CrcResult = Annotated[
    bool | None,
    BeforeValidator(_crc_result),
    PlainSerializer(lambda v: _CRC_TEXT[v], return_type=str),
    WithJsonSchema({"enum": ["ok", "bad", "none"]}),
]


# --- the messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True, config=ConfigDict(populate_by_name=True))
class FrameMeta:
    """Metadata that travels as headers with every decoded frame.

    Every field is one header (its alias), as UTF-8 text, after
    ``gs-schema``. ``(contact-id, seq)`` identifies a frame: after a broker
    outage a frame may be delivered twice, and consumers drop the repeat by
    that pair.
    """

    SCHEMA_FIELD: ClassVar[str] = "gs-schema"
    SCHEMA_ID: ClassVar[str] = FRAMES_SCHEMA_ID
    TITLE: ClassVar[str] = (
        "Headers of a record in <prefix>.frames (value = frame bytes, key = NORAD id as "
        "ASCII digits); every header value is UTF-8 text, shown here as a JSON object of "
        "header name -> text"
    )

    contact_id: Annotated[
        str,
        Field(
            alias="contact-id",
            min_length=1,
            description="the contact (pass booking)",
            examples=["c-7f3a"],
        ),
    ]
    norad_id: Annotated[
        HeaderCount, Field(alias="norad-id", description="satellite", examples=[25544])
    ]
    station: Annotated[str, Field(description="station where it was received", examples=["lisbon"])]
    antenna: Annotated[str, Field(description="antenna where it was received", examples=["dish-1"])]
    frame_time: Annotated[
        UtcTime,
        Field(
            alias="frame-time",
            description="UTC time of the frame's end",
            examples=["2026-11-27T01:02:03.456789Z"],
        ),
    ]
    virtual_channel: Annotated[
        HeaderCount, Field(alias="vc", description="virtual channel id", examples=[1])
    ]
    frame_counter: Annotated[
        HeaderCount,
        Field(
            alias="frame-counter",
            description="VC frame counter from the frame header",
            examples=[200],
        ),
    ]
    rs_corrections: Annotated[
        HeaderCorrections,
        Field(
            alias="rs-corrections",
            description="symbols corrected by Reed-Solomon (0 also without RS), -1 = uncorrectable",
            examples=[4],
        ),
    ]
    crc_ok: Annotated[
        CrcResult,
        Field(
            alias="crc",
            description="FECF check result (none: no CRC in the profile)",
            examples=[True],
        ),
    ]
    sequence: Annotated[
        HeaderCount,
        Field(
            alias="seq",
            description="per-contact sequence number, from 0 without gaps; (contact-id, seq) "
            "identifies a frame",
            examples=[1234],
        ),
    ]

    @property
    def key(self) -> bytes:
        """The Kafka record key: the satellite's NORAD id."""
        return str(self.norad_id).encode()

    @property
    def decoded_ok(self) -> bool:
        """The frame passed its integrity checks: Reed-Solomon did not give
        up (``rs-corrections`` >= 0) and the CRC, if any, matched (the
        receiver's ``ok``, ``dsp.receiver``)."""
        return self.rs_corrections >= 0 and self.crc_ok is not False

    def headers(self) -> Headers:
        texts = _adapter(FrameMeta).dump_python(self, mode="json", by_alias=True)
        return [(self.SCHEMA_FIELD, _FRAMES_SCHEMA_B)] + [(n, t.encode()) for n, t in texts.items()]

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes]] | None) -> FrameMeta:
        texts: dict[str, str] = {}
        for name, value in headers or ():
            try:
                texts[name] = value.decode() if value is not None else ""
            except UnicodeDecodeError as exc:
                raise ContractError(f"header {name!r} is not UTF-8: {value!r}") from exc
        schema = texts.pop(cls.SCHEMA_FIELD, None)
        if schema != cls.SCHEMA_ID:
            raise ContractError(
                f"header {cls.SCHEMA_FIELD} is {schema!r}, expected {cls.SCHEMA_ID!r}"
            )
        return _validate(cls, texts, "frame header")


#: Every field of a JSON message is on the wire, also those with a default.
_ALWAYS_SENT = ConfigDict(json_schema_serialization_defaults_required=True)


@dataclass(frozen=True, slots=True, config=_ALWAYS_SENT)
class ContactEventMessage:
    """A contact changed state (or its window was updated: old == new state)."""

    SCHEMA_FIELD: ClassVar[str] = "schema"
    SCHEMA_ID: ClassVar[str] = CONTACT_EVENT_SCHEMA_ID
    TITLE: ClassVar[str] = "Contact event (value of <prefix>.contact-events, key = contact id)"
    #: Fields left out of the wire form when null (``to_json``): not required.
    OMITTED_WHEN_NULL: ClassVar[tuple[str, ...]] = ("verdict", "verdict_source")

    contact_id: Annotated[
        str, Field(min_length=1, description="the contact (pass booking)", examples=["c-7f3a"])
    ]
    old_state: Annotated[ContactEventState, Field(description="state before", examples=["PREPASS"])]
    new_state: Annotated[
        ContactEventState,
        Field(description="state after (the same for a window update)", examples=["PASS"]),
    ]
    at: Annotated[
        UtcTime,
        Field(description="UTC time of the change", examples=["2026-11-27T01:00:00.000000Z"]),
    ]
    reason: Annotated[str, Field(description="why the state changed, for people", examples=["AOS"])]
    norad_id: Annotated[int | None, Field(ge=0, description="satellite", examples=[25544])] = None
    station: Annotated[str | None, Field(description="station", examples=["lisbon"])] = None
    antenna: Annotated[
        str | None, Field(description="antenna of the station", examples=["dish-1"])
    ] = None
    verdict: Annotated[
        ContactVerdict | None,
        Field(
            description=(
                "set on the event that gave the contact its verdict: with COMPLETED (from the "
                "measured quality and the profile's thresholds), FAILED and PROVIDER_FAILED "
                "(`failed`), or on its own (old == new state) when an operator sets it; "
                "left out of other events"
            ),
            examples=[None],
        ),
    ] = None
    verdict_source: Annotated[
        VerdictSource | None,
        Field(description="`auto` or `manual`, with `verdict` only", examples=[None]),
    ] = None

    @property
    def key(self) -> bytes:
        return self.contact_id.encode()

    def to_json(self) -> dict[str, Any]:
        """The wire form; ``verdict`` and ``verdict_source`` only on a verdict
        event (the other events are byte for byte what they were before)."""
        out = _wire_json(self)
        for name in self.OMITTED_WHEN_NULL:
            if out.get(name) is None:
                out.pop(name, None)
        return out

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> ContactEventMessage:
        return _validate(cls, _load_json(value, cls), "contact event field")


@dataclass(frozen=True, slots=True, config=_ALWAYS_SENT)
class ResourceEventMessage:
    """An ephemeris's or a station's status changed (same topic as contact
    events, told apart by ``schema``)."""

    SCHEMA_FIELD: ClassVar[str] = "schema"
    SCHEMA_ID: ClassVar[str] = RESOURCE_EVENT_SCHEMA_ID
    TITLE: ClassVar[str] = (
        "Resource event (value of <prefix>.contact-events, key = kind:subject_id)"
    )

    kind: Annotated[
        ResourceKind,
        Field(
            description="what changed: an ephemeris, a station, an antenna, a dataset (ready)",
            examples=["ephemeris"],
        ),
    ]
    subject_id: Annotated[
        str,
        Field(
            min_length=1,
            description="the ephemeris, station, antenna or dataset id",
            examples=["42"],
        ),
    ]
    old_status: Annotated[
        ResourceStatus,
        Field(
            description="status before (`NONE` for a new ephemeris or dataset)",
            examples=["NONE"],
        ),
    ]
    new_status: Annotated[
        ResourceStatus,
        Field(
            description="status after (the same when only `in_force` changed)", examples=["ENABLED"]
        ),
    ]
    at: Annotated[
        UtcTime,
        Field(description="UTC time of the change", examples=["2026-11-27T01:00:00.000000Z"]),
    ]
    reason: Annotated[
        str, Field(description="why, for people", examples=["uploaded (source upload)"])
    ]
    norad_id: Annotated[
        int | None, Field(ge=0, description="the ephemeris's satellite", examples=[25544])
    ] = None
    station: Annotated[
        str | None, Field(description="the station (or the antenna's)", examples=[None])
    ] = None
    antenna: Annotated[str | None, Field(description="the antenna", examples=[None])] = None
    in_force: Annotated[
        bool | None,
        Field(
            description="an ephemeris: whether it is now the one in force for its satellite",
            examples=[True],
        ),
    ] = None

    @property
    def key(self) -> bytes:
        return f"{self.kind.value}:{self.subject_id}".encode()

    def to_json(self) -> dict[str, Any]:
        return _wire_json(self)

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> ResourceEventMessage:
        return _validate(cls, _load_json(value, cls), "resource event field")


@dataclass(frozen=True, slots=True)
class DatasetFileInfo:
    """One stored file of a dataset."""

    name: Annotated[str, Field(description="path inside the dataset", examples=["frames.h5"])]
    uri: Annotated[
        str,
        Field(
            description="where it is stored",
            examples=["s3://bucket/datasets/25544/2026/11/27/c-7f3a/frames.h5"],
        ),
    ]
    size_bytes: Annotated[int, Field(ge=0, description="its size", examples=[100000])]
    sha256: Annotated[
        str,
        Field(
            pattern="^[0-9a-f]{64}$",
            description="SHA-256 of its bytes, lowercase hex",
            examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
        ),
    ]


@dataclass(frozen=True, slots=True, config=_ALWAYS_SENT)
class DatasetReadyMessage:
    """A dataset's files are all stored and checksummed, and it is in the catalogue."""

    SCHEMA_FIELD: ClassVar[str] = "schema"
    SCHEMA_ID: ClassVar[str] = DATASET_READY_SCHEMA_ID
    TITLE: ClassVar[str] = "Dataset-ready notice (value of <prefix>.datasets, key = NORAD id)"

    dataset_id: Annotated[
        str, Field(min_length=1, description="the dataset's catalogue id", examples=["ds-1"])
    ]
    contact_id: Annotated[
        str, Field(min_length=1, description="the contact it recorded", examples=["c-7f3a"])
    ]
    norad_id: Annotated[int, Field(ge=0, description="satellite", examples=[25544])]
    station: Annotated[str, Field(description="station", examples=["lisbon"])]
    start: Annotated[
        UtcTime, Field(description="AOS of the contact", examples=["2026-11-27T01:00:00.000000Z"])
    ]
    end: Annotated[
        UtcTime, Field(description="LOS of the contact", examples=["2026-11-27T01:10:00.000000Z"])
    ]
    manifest_uri: Annotated[
        str,
        Field(
            description="s3://bucket/key or file:///path of manifest.json",
            examples=["s3://bucket/datasets/25544/2026/11/27/c-7f3a/manifest.json"],
        ),
    ]
    files: Annotated[
        tuple[DatasetFileInfo, ...], Field(description="every file but the manifest")
    ] = ()

    @computed_field(description="sum of the files' sizes")  # type: ignore[prop-decorator]
    @property
    def total_size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    @property
    def key(self) -> bytes:
        return str(self.norad_id).encode()

    def to_json(self) -> dict[str, Any]:
        doc = _wire_json(self)
        doc["files"] = doc.pop("files")  # the published order: total_size_bytes, then files
        return doc

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> DatasetReadyMessage:
        doc = dict(_load_json(value, cls))
        doc.pop("total_size_bytes", None)  # derived from the files
        return _validate(cls, doc, "dataset-ready notice field")


#: The topic messages, by the name of their JSON Schema in ingest/schemas/.
MESSAGES: dict[str, type[Any]] = {
    "frame-headers": FrameMeta,
    "contact-event": ContactEventMessage,
    "resource-event": ResourceEventMessage,
    "dataset-ready": DatasetReadyMessage,
}

_FRAMES_SCHEMA_B = FRAMES_SCHEMA_ID.encode()
_M = TypeVar("_M")
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[_M]) -> TypeAdapter[_M]:
    """The cached pydantic adapter of a message class (validation, dumps, schema)."""
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


def _wire_json(message: Any) -> dict[str, Any]:
    return {
        message.SCHEMA_FIELD: message.SCHEMA_ID,
        **_adapter(type(message)).dump_python(message, mode="json"),
    }


def _validate(cls: type[_M], doc: Mapping[str, Any], what: str) -> _M:
    """``doc`` as a ``cls``; a ``ContractError`` naming the first bad field and value."""
    try:
        return _adapter(cls).validate_python(doc)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            raise ContractError(f"{what} {name!r} is missing (got {sorted(doc)})") from None
        raise ContractError(f"{what} {name!r} is {error['input']!r}: {error['msg']}") from None


def _load_json(value: bytes, cls: type[Any]) -> dict[str, Any]:
    """The JSON object in ``value``, without its schema field (checked)."""
    try:
        d = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"message is not JSON: {value[:80]!r}") from exc
    if not isinstance(d, dict):
        raise ContractError(f"message is JSON {type(d).__name__}, expected an object")
    schema = d.pop(cls.SCHEMA_FIELD, None)
    if schema != cls.SCHEMA_ID:
        raise ContractError(f"message schema is {schema!r}, expected {cls.SCHEMA_ID!r}")
    return d


def decode_contact_topic(value: bytes) -> ContactEventMessage | ResourceEventMessage:
    """A record of the contact-events topic: a contact event or a resource
    event, told apart by its ``schema`` (``ContractError`` for any other)."""
    try:
        schema = json.loads(value).get("schema")
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        schema = None
    if schema == RESOURCE_EVENT_SCHEMA_ID:
        return ResourceEventMessage.decode(value)
    return ContactEventMessage.decode(value)


def load_schema(name: str) -> dict[str, Any]:
    """A shipped JSON Schema: ``contact-event``, ``dataset-ready`` or ``frame-headers``."""
    text = resources.files("ingest.schemas").joinpath(f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
