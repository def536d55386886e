"""The embedded default: no broker, an append-only local topic log."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import threading
import time
import zlib
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from groundstation.commands import consume
from ingest import topiclog
from ingest.config import KafkaConfig
from ingest.consumer import LocalLogSource, follow_frames
from ingest.errors import IngestError
from ingest.publisher import LocalLogPublisher, open_publisher
from ingest.rebuild import rebuild_payload
from ingest.topics import ContactEventMessage, ContactEventState, FrameMeta, TopicNames

T0 = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)
DATA_LEN = 100  # data field bytes per frame
HEADER, TRAILER = 6, 2


def tiny_png() -> bytes:
    """A valid 40x40 grey PNG built by hand (no image library needed), ~1.7 kB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    ihdr = (40).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    raw = b"".join(
        b"\x00" + hashlib.sha256(r.to_bytes(2, "big")).digest()[:20] * 2 for r in range(40)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def frames_carrying(payload: bytes) -> list[bytes]:
    """Split ``payload`` into frames: 6-byte header, 100-byte data field (idle-filled), 2-byte trailer."""
    out = []
    for i in range(0, len(payload), DATA_LEN):
        data = payload[i : i + DATA_LEN].ljust(DATA_LEN, b"\x55")
        out.append(bytes([0x1A, 0xCF, 0, 0, i // DATA_LEN % 256, 0]) + data + b"\xee\xee")
    return out


def meta(seq: int, contact: str = "c-1") -> FrameMeta:
    return FrameMeta(
        contact, 25544, "lisbon", "dish-1", T0 + timedelta(seconds=seq), 1, seq, 0, True, seq
    )


def publish(directory: Path, frames: list[bytes], order: list[int] | None = None) -> None:
    pub = LocalLogPublisher(directory, TopicNames("gs"))
    for seq in order if order is not None else range(len(frames)):
        pub.publish_frame(frames[seq], meta(seq))
    pub.close()


def test_with_no_broker_configured_the_publisher_is_the_local_log(tmp_path: Path) -> None:
    pub = open_publisher(KafkaConfig(None, topic_prefix="gs", local_log_dir=tmp_path))
    assert isinstance(pub, LocalLogPublisher)
    pub.publish_frame(b"\x01\x02", meta(0))
    pub.publish_contact_event(
        ContactEventMessage("c-1", ContactEventState.PREPASS, ContactEventState.PASS, T0, "AOS")
    )
    pub.close()
    assert len(list(topiclog.iter_lines(tmp_path, "gs.frames"))) == 1
    [line] = topiclog.iter_lines(tmp_path, "gs.contact-events")
    assert line["offset"] == 0
    assert (tmp_path / "gs.frames" / f"{0:020d}.jsonl").is_file()


def test_a_profile_topic_gets_its_frames_with_the_frames_topic_retention(tmp_path: Path) -> None:
    from ingest.topiclog import TopicRetention

    frames_retention = TopicRetention(retention_ms=3_600_000, segment_bytes=4096)
    pub = open_publisher(
        KafkaConfig(
            None,
            topic_prefix="gs",
            local_log_dir=tmp_path,
            topic_retention={"gs.frames": frames_retention},
        )
    )
    assert isinstance(pub, LocalLogPublisher)
    for seq in range(3):
        pub.publish_frame(bytes([seq]) * 20, meta(seq), "weather-frames")
    assert pub.retention_for("weather-frames") == frames_retention
    pub.close()
    got = list(follow_frames(LocalLogSource(tmp_path, "weather-frames"), idle_timeout_s=0.2))
    assert [fr.data for fr in got] == [bytes([s]) * 20 for s in range(3)]
    assert got[1].meta == meta(1)
    assert not (tmp_path / "gs.frames").exists() or not list(
        topiclog.iter_lines(tmp_path, "gs.frames")
    )


def test_local_log_frames_come_back_with_metadata_and_increasing_offsets(tmp_path: Path) -> None:
    frames = [bytes([i]) * 50 for i in range(30)]
    publish(tmp_path, frames)
    publish(tmp_path, frames[:5])  # a second publisher appends after the first
    got = list(
        follow_frames(LocalLogSource(tmp_path, "gs.frames"), idle_timeout_s=0.2, deduplicate=False)
    )
    assert [fr.offset for fr in got] == list(range(35))
    assert [fr.data for fr in got[:30]] == frames
    assert got[7].meta == meta(7)


def test_duplicates_are_dropped_by_contact_and_sequence(tmp_path: Path) -> None:
    frames = [bytes([i]) * 10 for i in range(10)]
    publish(tmp_path, frames, order=[0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9])
    got = list(follow_frames(LocalLogSource(tmp_path, "gs.frames"), idle_timeout_s=0.2))
    assert [fr.meta.sequence for fr in got] == list(range(10))


def test_the_example_consumer_rebuilds_the_png_the_frames_carry(tmp_path: Path) -> None:
    png = tiny_png()
    frames = frames_carrying(png)
    order = list(range(len(frames)))
    order[3], order[4] = order[4], order[3]  # out of order, and one repeated
    publish(tmp_path / "log", frames, order=[*order, 2])
    got = follow_frames(LocalLogSource(tmp_path / "log", "gs.frames"), idle_timeout_s=0.2)
    assert rebuild_payload(got, header_bytes=HEADER, trailer_bytes=TRAILER) == png


def test_rebuilding_refuses_a_payload_with_missing_frames(tmp_path: Path) -> None:
    frames = frames_carrying(tiny_png())
    publish(tmp_path, frames, order=[0, 1, 3, 4])
    got = follow_frames(LocalLogSource(tmp_path, "gs.frames"), idle_timeout_s=0.2)
    with pytest.raises(IngestError, match=r"1 frames missing .*\[2\]"):
        rebuild_payload(got, header_bytes=HEADER, trailer_bytes=TRAILER)


def run_cli(*argv: str) -> str:
    parser = argparse.ArgumentParser()
    consume.register(parser.add_subparsers())
    args = parser.parse_args(["consume", "frames", *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.func(args) == 0
    return out.getvalue()


def test_consume_cli_reads_the_local_log_and_rebuilds_the_image(tmp_path: Path) -> None:
    png = tiny_png()
    publish(tmp_path / "log", frames_carrying(png))
    lines = run_cli("--log-dir", str(tmp_path / "log"), "--prefix", "gs", "--idle-timeout", "0.2")
    docs = [json.loads(line) for line in lines.splitlines()]
    assert [d["seq"] for d in docs] == list(range(len(frames_carrying(png))))
    assert docs[0]["norad_id"] == 25544
    assert docs[0]["length"] == HEADER + DATA_LEN + TRAILER
    out = tmp_path / "image.png"
    msg = run_cli(
        "--log-dir",
        str(tmp_path / "log"),
        "--prefix",
        "gs",
        "--idle-timeout",
        "0.2",
        "--rebuild",
        str(out),
        "--trailer-bytes",
        "2",
    )
    assert out.read_bytes() == png
    assert f"rebuilt {len(png)} bytes" in msg


def test_contact_lifecycle_events_reach_the_events_topic_through_the_sink(tmp_path: Path) -> None:
    from dataclasses import dataclass

    from ingest.publisher import PublisherEventSink

    @dataclass(frozen=True)
    class Event:  # the shape of groundstation.events.ContactEvent
        contact_id: str
        old_state: str
        new_state: str
        at: datetime
        reason: str

    pub = LocalLogPublisher(tmp_path, TopicNames("gs"))
    sink = PublisherEventSink(pub, details=lambda cid: (25544, "lisbon", "dish-1"))
    sink.publish(Event("c-9", "PREPASS", "PASS", T0, "AOS"))
    pub.close()
    [rec] = LocalLogSource(tmp_path, "gs.contact-events").records(idle_timeout_s=0.1)
    msg = ContactEventMessage.decode(rec.value)
    assert (msg.new_state, msg.reason, msg.norad_id, msg.at) == ("PASS", "AOS", 25544, T0)
    assert rec.key == b"c-9"


def test_consume_cli_reports_an_unreachable_broker_by_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    parser = argparse.ArgumentParser()
    consume.register(parser.add_subparsers())
    args = parser.parse_args(["consume", "frames", "--bootstrap", dead, "--connect-timeout", "2"])
    before = _kafka_io_threads()
    assert args.func(args) == 2
    assert f"cannot reach Kafka at '{dead}'" in capsys.readouterr().err
    # The consumer that could not bootstrap left no IO thread behind.
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and _kafka_io_threads() - before:
        time.sleep(0.1)
    assert _kafka_io_threads() - before == set()


def _kafka_io_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kafka-io-")}
