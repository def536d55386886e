from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import jsonschema
import pytest
from pydantic import ValidationError

from ingest.errors import ContractError
from ingest.topics import (
    ContactEventMessage,
    ContactEventState,
    ContactVerdict,
    DatasetFileInfo,
    DatasetReadyMessage,
    FrameMeta,
    TopicNames,
    VerdictSource,
    load_schema,
)

T0 = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)


def meta(seq: int = 7, crc: bool | None = True) -> FrameMeta:
    return FrameMeta("c-1", 25544, "lisbon", "dish-1", T0, 3, 200, 4, crc, seq)


@pytest.mark.parametrize("crc", [True, False, None])
def test_frame_metadata_survives_a_round_trip_through_headers(crc: bool | None) -> None:
    m = meta(crc=crc)
    assert FrameMeta.from_headers(m.headers()) == m


def test_frame_key_is_the_norad_id_so_a_satellite_keeps_one_partition() -> None:
    assert meta().key == b"25544"


def test_frame_headers_follow_the_published_schema() -> None:
    headers = {n: v.decode() for n, v in meta().headers()}
    jsonschema.validate(headers, load_schema("frame-headers"))
    assert headers["seq"] == "7"
    assert headers["frame-time"] == "2026-11-27T01:02:03.456789Z"


def test_frame_time_in_another_zone_is_stored_as_utc() -> None:
    local = T0.astimezone(timezone(timedelta(hours=2)))
    m = FrameMeta("c", 1, "s", "a", local, 0, 0, 0, None, 0)
    assert dict(m.headers())["frame-time"] == b"2026-11-27T01:02:03.456789Z"


def test_a_naive_frame_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="naive"):
        FrameMeta("c", 1, "s", "a", datetime(2026, 1, 1), 0, 0, 0, None, 0)


def test_a_missing_header_is_named_in_the_error() -> None:
    headers = [h for h in meta().headers() if h[0] != "seq"]
    with pytest.raises(ContractError, match="'seq' is missing"):
        FrameMeta.from_headers(headers)


def test_a_non_numeric_header_is_named_with_its_value() -> None:
    headers = [(n, b"x7" if n == "vc" else v) for n, v in meta().headers()]
    with pytest.raises(ContractError, match="'vc' is 'x7'"):
        FrameMeta.from_headers(headers)


def test_contact_event_json_follows_its_schema_and_round_trips() -> None:
    ev = ContactEventMessage(
        "c-1",
        ContactEventState.PREPASS,
        ContactEventState.PASS,
        T0,
        "AOS",
        25544,
        "lisbon",
        "dish-1",
    )
    import json

    jsonschema.validate(json.loads(ev.encode()), load_schema("contact-event"))
    assert ContactEventMessage.decode(ev.encode()) == ev


def test_dataset_ready_json_follows_its_schema_and_round_trips() -> None:
    files = (DatasetFileInfo("frames.h5", "s3://b/k/frames.h5", 10, "a" * 64),)
    n = DatasetReadyMessage("d-1", "c-1", 25544, "lisbon", T0, T0, "s3://b/k/manifest.json", files)
    import json

    doc = json.loads(n.encode())
    jsonschema.validate(doc, load_schema("dataset-ready"))
    assert doc["total_size_bytes"] == 10
    assert DatasetReadyMessage.decode(n.encode()) == n


def test_a_message_of_another_schema_is_refused() -> None:
    with pytest.raises(ContractError, match="schema"):
        ContactEventMessage.decode(b'{"schema": "something/9"}')


def test_topic_names_share_the_configured_prefix() -> None:
    assert TopicNames("gs").all() == ("gs.frames", "gs.contact-events", "gs.datasets")


def test_a_prefix_kafka_cannot_use_is_refused_with_its_value() -> None:
    with pytest.raises(ContractError, match="'a b'"):
        TopicNames("a b")


# The bytes on the wire, pinned: the contracts may be rewritten, what a
# consumer receives may not change.
WIRE_TIME = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)


def test_frame_headers_on_the_wire_are_unchanged() -> None:
    m = FrameMeta("c-7f3a", 25544, "lisbon", "dish-1", WIRE_TIME, 1, 200, -1, None, 1234)
    assert m.headers() == [
        ("gs-schema", b"groundstation.frame/1"),
        ("contact-id", b"c-7f3a"),
        ("norad-id", b"25544"),
        ("station", b"lisbon"),
        ("antenna", b"dish-1"),
        ("frame-time", b"2026-11-27T01:02:03.456789Z"),
        ("vc", b"1"),
        ("frame-counter", b"200"),
        ("rs-corrections", b"-1"),
        ("crc", b"none"),
        ("seq", b"1234"),
    ]


def test_contact_events_on_the_wire_are_unchanged() -> None:
    plus2 = WIRE_TIME.astimezone(timezone(timedelta(hours=2)))
    ev = ContactEventMessage(
        "c-7f3a",
        ContactEventState.PREPASS,
        ContactEventState.PASS,
        plus2,
        "AOS",
        25544,
        "lisbon",
        "dish-1",
    )
    assert ev.encode() == (
        b'{"schema":"groundstation.contact-event/1","contact_id":"c-7f3a",'
        b'"old_state":"PREPASS","new_state":"PASS","at":"2026-11-27T01:02:03.456789Z",'
        b'"reason":"AOS","norad_id":25544,"station":"lisbon","antenna":"dish-1"}'
    )
    update = ContactEventMessage(
        "c-1", ContactEventState.SCHEDULED, ContactEventState.SCHEDULED, WIRE_TIME, "window updated"
    )
    assert update.encode() == (
        b'{"schema":"groundstation.contact-event/1","contact_id":"c-1",'
        b'"old_state":"SCHEDULED","new_state":"SCHEDULED","at":"2026-11-27T01:02:03.456789Z",'
        b'"reason":"window updated","norad_id":null,"station":null,"antenna":null}'
    )


def test_dataset_ready_notices_on_the_wire_are_unchanged() -> None:
    n = DatasetReadyMessage(
        "ds-1",
        "c-7f3a",
        25544,
        "lisbon",
        WIRE_TIME,
        WIRE_TIME + timedelta(minutes=10),
        "s3://b/k/manifest.json",
        (
            DatasetFileInfo("frames.h5", "s3://b/k/frames.h5", 100000, "a" * 64),
            DatasetFileInfo("iq.sigmf-data", "s3://b/k/iq.sigmf-data", 23456, "b" * 64),
        ),
    )
    assert n.encode() == (
        b'{"schema":"groundstation.dataset-ready/1","dataset_id":"ds-1","contact_id":"c-7f3a",'
        b'"norad_id":25544,"station":"lisbon","start":"2026-11-27T01:02:03.456789Z",'
        b'"end":"2026-11-27T01:12:03.456789Z","manifest_uri":"s3://b/k/manifest.json",'
        b'"total_size_bytes":123456,"files":[{"name":"frames.h5","uri":"s3://b/k/frames.h5",'
        b'"size_bytes":100000,"sha256":"' + b"a" * 64 + b'"},{"name":"iq.sigmf-data",'
        b'"uri":"s3://b/k/iq.sigmf-data","size_bytes":23456,"sha256":"' + b"b" * 64 + b'"}]}'
    )


def test_a_verdict_event_carries_the_verdict_and_its_source_and_decodes_back() -> None:
    ev = ContactEventMessage(
        "c-1",
        ContactEventState.COMPLETED,
        ContactEventState.COMPLETED,
        WIRE_TIME,
        "verdict bad (manual by key ops): lost",
        25544,
        "lisbon",
        "dish-1",
        ContactVerdict.BAD,
        VerdictSource.MANUAL,
    )
    wire = ev.encode()
    assert wire.endswith(b'"antenna":"dish-1","verdict":"bad","verdict_source":"manual"}')
    assert ContactEventMessage.decode(wire) == ev


def test_a_contact_event_with_an_unknown_verdict_is_refused_naming_it() -> None:
    wire = (
        b'{"schema":"groundstation.contact-event/1","contact_id":"c-1",'
        b'"old_state":"COMPLETED","new_state":"COMPLETED","at":"2026-11-27T01:02:03.456789Z",'
        b'"reason":"x","verdict":"meh","verdict_source":"manual"}'
    )
    with pytest.raises(ContractError, match="'verdict' is 'meh'"):
        ContactEventMessage.decode(wire)


def test_a_frame_is_decoded_ok_when_rs_and_crc_passed() -> None:
    assert meta(crc=True).decoded_ok and meta(crc=None).decoded_ok
    assert not meta(crc=False).decoded_ok
    uncorrectable = FrameMeta("c-1", 25544, "lisbon", "dish-1", T0, 3, 200, -1, None, 1)
    assert not uncorrectable.decoded_ok
