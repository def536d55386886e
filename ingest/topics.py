"""Topic contracts: names, frame headers, and the JSON messages.

Three topics share one configurable prefix (``<prefix>.frames``,
``<prefix>.contact-events``, ``<prefix>.datasets``):

* frames: value = the frame bytes exactly as decoded; key = the satellite's
  NORAD id as ASCII digits (so one satellite's frames stay in order in one
  partition); headers (UTF-8 text) carry the frame metadata of `FrameMeta`;
* contact events: JSON, see ``ingest/schemas/contact-event.schema.json``;
* dataset-ready notices: JSON, see ``ingest/schemas/dataset-ready.schema.json``.

docs/topics.md documents the same contracts for people.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from ingest.errors import ContractError

FRAMES_SCHEMA_ID = "groundstation.frame/1"
CONTACT_EVENT_SCHEMA_ID = "groundstation.contact-event/1"
DATASET_READY_SCHEMA_ID = "groundstation.dataset-ready/1"
_FRAMES_SCHEMA_B = FRAMES_SCHEMA_ID.encode()

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """Metadata that travels as headers with every decoded frame.

    ``rs_corrections`` is the number of symbols Reed-Solomon corrected (-1: the
    codeword was uncorrectable; 0 also when the profile has no RS).
    ``crc_ok`` is None when the frame has no CRC (FECF) to check.
    ``sequence`` counts the frames of one contact from 0 without gaps; with
    ``contact_id`` it identifies a frame, so consumers can drop duplicates.
    """

    contact_id: str
    norad_id: int
    station: str
    antenna: str
    frame_time: datetime
    virtual_channel: int
    frame_counter: int
    rs_corrections: int
    crc_ok: bool | None
    sequence: int

    @property
    def key(self) -> bytes:
        """The Kafka record key: the satellite's NORAD id."""
        return str(self.norad_id).encode()

    def headers(self) -> Headers:
        crc = b"none" if self.crc_ok is None else (b"ok" if self.crc_ok else b"bad")
        return [
            ("gs-schema", _FRAMES_SCHEMA_B),
            ("contact-id", self.contact_id.encode()),
            ("norad-id", b"%d" % self.norad_id),
            ("station", self.station.encode()),
            ("antenna", self.antenna.encode()),
            ("frame-time", utc_iso(self.frame_time).encode()),
            ("vc", b"%d" % self.virtual_channel),
            ("frame-counter", b"%d" % self.frame_counter),
            ("rs-corrections", b"%d" % self.rs_corrections),
            ("crc", crc),
            ("seq", b"%d" % self.sequence),
        ]

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes]] | None) -> FrameMeta:
        h: dict[str, str] = {}
        for name, value in headers or ():
            try:
                h[name] = value.decode() if value is not None else ""
            except UnicodeDecodeError as exc:
                raise ContractError(f"header {name!r} is not UTF-8: {value!r}") from exc
        schema = h.get("gs-schema")
        if schema != FRAMES_SCHEMA_ID:
            raise ContractError(f"header gs-schema is {schema!r}, expected {FRAMES_SCHEMA_ID!r}")

        def need(name: str) -> str:
            if name not in h:
                raise ContractError(f"frame header {name!r} is missing (got {sorted(h)})")
            return h[name]

        def integer(name: str) -> int:
            text = need(name)
            try:
                return int(text)
            except ValueError as exc:
                raise ContractError(f"frame header {name!r} is {text!r}, not an integer") from exc

        crc_text = need("crc")
        crc_map: dict[str, bool | None] = {"ok": True, "bad": False, "none": None}
        if crc_text not in crc_map:
            raise ContractError(f"frame header 'crc' is {crc_text!r}, expected ok, bad or none")
        return cls(
            contact_id=need("contact-id"),
            norad_id=integer("norad-id"),
            station=need("station"),
            antenna=need("antenna"),
            frame_time=parse_utc_iso(need("frame-time")),
            virtual_channel=integer("vc"),
            frame_counter=integer("frame-counter"),
            rs_corrections=integer("rs-corrections"),
            crc_ok=crc_map[crc_text],
            sequence=integer("seq"),
        )


@dataclass(frozen=True, slots=True)
class ContactEventMessage:
    """A contact changed state (or its window was updated, old == new state)."""

    contact_id: str
    old_state: str
    new_state: str
    at: datetime
    reason: str
    norad_id: int | None = None
    station: str | None = None
    antenna: str | None = None

    @property
    def key(self) -> bytes:
        return self.contact_id.encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": CONTACT_EVENT_SCHEMA_ID,
            "contact_id": self.contact_id,
            "old_state": self.old_state,
            "new_state": self.new_state,
            "at": utc_iso(self.at),
            "reason": self.reason,
            "norad_id": self.norad_id,
            "station": self.station,
            "antenna": self.antenna,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> ContactEventMessage:
        d = _load_json(value, CONTACT_EVENT_SCHEMA_ID)
        try:
            return cls(
                contact_id=str(d["contact_id"]),
                old_state=str(d["old_state"]),
                new_state=str(d["new_state"]),
                at=parse_utc_iso(str(d["at"])),
                reason=str(d["reason"]),
                norad_id=None if d.get("norad_id") is None else int(d["norad_id"]),
                station=d.get("station"),
                antenna=d.get("antenna"),
            )
        except KeyError as exc:
            raise ContractError(f"contact event lacks field {exc.args[0]!r}") from exc


@dataclass(frozen=True, slots=True)
class DatasetFileInfo:
    name: str
    uri: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class DatasetReadyMessage:
    """A dataset's files are all stored and checksummed, and it is in the catalogue."""

    dataset_id: str
    contact_id: str
    norad_id: int
    station: str
    start: datetime
    end: datetime
    manifest_uri: str
    files: tuple[DatasetFileInfo, ...] = field(default_factory=tuple)

    @property
    def key(self) -> bytes:
        return str(self.norad_id).encode()

    @property
    def total_size_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": DATASET_READY_SCHEMA_ID,
            "dataset_id": self.dataset_id,
            "contact_id": self.contact_id,
            "norad_id": self.norad_id,
            "station": self.station,
            "start": utc_iso(self.start),
            "end": utc_iso(self.end),
            "manifest_uri": self.manifest_uri,
            "total_size_bytes": self.total_size_bytes,
            "files": [
                {"name": f.name, "uri": f.uri, "size_bytes": f.size_bytes, "sha256": f.sha256}
                for f in self.files
            ],
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> DatasetReadyMessage:
        d = _load_json(value, DATASET_READY_SCHEMA_ID)
        try:
            return cls(
                dataset_id=str(d["dataset_id"]),
                contact_id=str(d["contact_id"]),
                norad_id=int(d["norad_id"]),
                station=str(d["station"]),
                start=parse_utc_iso(str(d["start"])),
                end=parse_utc_iso(str(d["end"])),
                manifest_uri=str(d["manifest_uri"]),
                files=tuple(
                    DatasetFileInfo(
                        name=str(f["name"]),
                        uri=str(f["uri"]),
                        size_bytes=int(f["size_bytes"]),
                        sha256=str(f["sha256"]),
                    )
                    for f in d["files"]
                ),
            )
        except KeyError as exc:
            raise ContractError(f"dataset-ready notice lacks field {exc.args[0]!r}") from exc


def _load_json(value: bytes, schema_id: str) -> Mapping[str, Any]:
    try:
        d = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"message is not JSON: {value[:80]!r}") from exc
    if not isinstance(d, dict):
        raise ContractError(f"message is JSON {type(d).__name__}, expected an object")
    if d.get("schema") != schema_id:
        raise ContractError(f"message schema is {d.get('schema')!r}, expected {schema_id!r}")
    return d


def load_schema(name: str) -> dict[str, Any]:
    """A shipped JSON Schema: ``contact-event``, ``dataset-ready`` or ``frame-headers``."""
    text = resources.files("ingest.schemas").joinpath(f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
