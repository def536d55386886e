"""The consumer helper without a broker: bounded deduplication, the
``--good-only`` frame filter, and the contact-event and dataset topics
followed by ``groundstation consume`` from the local topic log."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

from groundstation.commands import consume
from ingest.consumer import Deduplicator
from ingest.publisher import LocalLogPublisher
from ingest.topics import (
    ContactEventMessage,
    ContactEventState,
    DatasetFileInfo,
    DatasetReadyMessage,
    FrameMeta,
    ResourceEventMessage,
    ResourceKind,
    ResourceStatus,
    TopicNames,
)

T0 = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)


def meta(seq: int, contact: str = "c-1", *, crc_ok: bool | None = True, rs: int = 0) -> FrameMeta:
    return FrameMeta(
        contact_id=contact,
        norad_id=25544,
        station="lisbon",
        antenna="dish-1",
        frame_time=T0 + timedelta(seconds=seq),
        virtual_channel=0,
        frame_counter=seq % 256,
        rs_corrections=rs,
        crc_ok=crc_ok,
        sequence=seq,
    )


def run_cli(*argv: str) -> list[dict[str, object]]:
    parser = argparse.ArgumentParser()
    consume.register(parser.add_subparsers())
    args = parser.parse_args(["consume", *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_deduplication_holds_a_bounded_number_of_contacts_and_sequences() -> None:
    dedup = Deduplicator(max_contacts=2, window=100)
    assert [dedup.first_time(meta(s)) for s in (0, 1, 1, 0)] == [True, True, False, False]
    for s in range(2, 1000):
        assert dedup.first_time(meta(s))
    _, seen = dedup._seen["c-1"]
    assert len(seen) <= 200  # trimmed to the window, not every sequence seen
    assert not dedup.first_time(meta(950))  # a recent repeat
    assert not dedup.first_time(meta(5))  # far behind the window: taken as seen
    for contact in ("c-2", "c-3"):
        assert dedup.first_time(meta(0, contact))
    assert list(dedup._seen) == ["c-2", "c-3"]  # the oldest contact forgotten
    assert dedup.duplicates == 4


def test_good_only_keeps_the_frames_that_decoded(tmp_path: Path) -> None:
    pub = LocalLogPublisher(tmp_path, TopicNames())
    metas = [
        meta(0),
        meta(1, crc_ok=False),
        meta(2, crc_ok=None),  # a framing without CRC: kept
        meta(3, rs=-1),  # Reed-Solomon gave up
        meta(4),
    ]
    for m in metas:
        pub.publish_frame(bytes([m.sequence]) * 4, m)
    pub.close()
    common = ("frames", "--log-dir", str(tmp_path), "--idle-timeout", "0.2")
    assert [d["seq"] for d in run_cli(*common)] == [0, 1, 2, 3, 4]
    assert [d["seq"] for d in run_cli(*common, "--good-only")] == [0, 2, 4]


def test_consume_follows_the_contact_event_and_dataset_topics(tmp_path: Path) -> None:
    pub = LocalLogPublisher(tmp_path, TopicNames())
    events = [
        ContactEventMessage(
            f"c-{i}", ContactEventState.PREPASS, ContactEventState.PASS, T0, "AOS", 25544 + i
        )
        for i in range(3)
    ]
    for ev in events:
        pub.publish_contact_event(ev)
    notice = DatasetReadyMessage(
        "d-1",
        "c-1",
        25545,
        "lisbon",
        T0,
        T0,
        "s3://b/m.json",
        (DatasetFileInfo("frames.h5", "s3://b/f.h5", 5, "0" * 64),),
    )
    pub.publish_dataset_ready(notice)
    pub.close()
    common = ("--log-dir", str(tmp_path), "--idle-timeout", "0.2")
    got = run_cli("contact-events", *common)
    assert [(d["contact_id"], d["new_state"], d["offset"]) for d in got] == [
        ("c-0", "PASS", 0),
        ("c-1", "PASS", 1),
        ("c-2", "PASS", 2),
    ]
    assert [d["contact_id"] for d in run_cli("contact-events", *common, "--norad", "25546")] == [
        "c-2"
    ]
    [ds] = run_cli("datasets", *common)
    assert (ds["dataset_id"], ds["contact_id"], ds["topic"]) == (
        "d-1",
        "c-1",
        "groundstation.datasets",
    )
    assert DatasetReadyMessage.decode(json.dumps(ds).encode()) == notice


def test_consume_contact_events_prints_resource_events_of_the_same_topic(tmp_path: Path) -> None:
    pub = LocalLogPublisher(tmp_path, TopicNames())
    pub.publish_contact_event(
        ContactEventMessage("c-1", ContactEventState.PREPASS, ContactEventState.PASS, T0, "AOS")
    )
    status = ResourceEventMessage(
        ResourceKind.EPHEMERIS,
        "7",
        ResourceStatus.ENABLED,
        ResourceStatus.DISABLED,
        T0,
        "changed (enabled)",
        norad_id=25544,
        in_force=False,
    )
    pub.publish_contact_event(status)
    pub.close()
    common = ("--log-dir", str(tmp_path), "--idle-timeout", "0.2")
    got = run_cli("contact-events", *common)
    assert [d["schema"] for d in got] == [
        "groundstation.contact-event/1",
        "groundstation.resource-event/1",
    ]
    assert ResourceEventMessage.decode(json.dumps(got[1]).encode()) == status
    assert [d["schema"] for d in run_cli("contact-events", *common, "--contact", "c-1")] == [
        "groundstation.contact-event/1"
    ]
    assert [
        d.get("subject_id") for d in run_cli("contact-events", *common, "--norad", "25544")
    ] == ["7"]
