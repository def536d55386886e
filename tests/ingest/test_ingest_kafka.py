"""Against the real Kafka broker started by scripts/services/kafka.sh."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from kafka.admin import KafkaAdminClient

from ingest.config import KafkaConfig
from ingest.consumer import KafkaSource, follow_frames
from ingest.kafka_publisher import KafkaPublisher
from ingest.topics import (
    ContactEventMessage,
    ContactEventState,
    DatasetFileInfo,
    DatasetReadyMessage,
    FrameMeta,
    TopicNames,
    load_schema,
)

pytestmark = pytest.mark.kafka
T0 = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)


def frame_bytes(contact: str, seq: int, length: int = 223) -> bytes:
    head = f"{contact}:{seq:08d}:".encode()
    return (head * (length // len(head) + 1))[:length]


def meta(contact: str, norad: int, seq: int) -> FrameMeta:
    return FrameMeta(
        contact_id=contact,
        norad_id=norad,
        station="lisbon",
        antenna="dish-1",
        frame_time=T0 + timedelta(milliseconds=10 * seq),
        virtual_channel=seq % 3,
        frame_counter=seq % 256,
        rs_corrections=seq % 5,
        crc_ok=seq % 7 != 0,
        sequence=seq,
    )


def config(bootstrap: str, prefix: str, spool: Path, **kw: Any) -> KafkaConfig:
    return KafkaConfig(bootstrap, topic_prefix=prefix, partitions=3, spool_dir=spool, **kw)


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list:
    """Every record on ``topic``: at least ``expected`` (or until the timeout), then
    whatever else arrives within a second (duplicates, extras)."""
    source = KafkaSource(bootstrap, topic)
    out: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(source.records(idle_timeout_s=1.0))
        out.extend(source.records(idle_timeout_s=1.0))
    finally:
        source.close()
    return out


def test_topics_are_created_at_start_up_with_the_configured_partition_count(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    try:
        assert pub.connected.wait(20)
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        names = TopicNames(topic_prefix).all()
        described = admin.describe_topics(list(names))
        admin.close()
        assert sorted(t["name"] for t in described) == sorted(names)
        assert all(len(t["partitions"]) == 3 for t in described)
    finally:
        pub.close()


def topic_configs(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    """The topic's configs set on it (not the broker's defaults), as text."""
    from kafka.admin import ConfigResource, ConfigResourceType

    described: Any = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    if isinstance(described, dict):  # kafka-python >= 3
        entries = described["topic"][topic]
        return {name: str(entry["value"]) for name, entry in entries.items()}
    out = {}  # kafka-python 2.x: raw DescribeConfigsResponse objects
    for response in described:
        for resource in response.resources:
            for entry in resource[4]:
                out[entry[0]] = str(entry[1])
    return out


def test_topics_this_service_creates_carry_the_retention_settings(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    from ingest.topiclog import TopicRetention

    names = TopicNames(topic_prefix)
    retention = TopicRetention(retention_ms=3 * 3600 * 1000, retention_bytes=512 * 1024**2)
    frames = TopicRetention(retention_ms=3600 * 1000, retention_bytes=None, segment_ms=600_000)
    pub = KafkaPublisher(
        config(
            kafka_bootstrap,
            topic_prefix,
            tmp_path,
            retention=retention,
            topic_retention={names.frames: frames},
        )
    ).start()
    try:
        assert pub.connected.wait(20)
    finally:
        pub.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        events = topic_configs(admin, names.contact_events)
        frame_configs = topic_configs(admin, names.frames)
    finally:
        admin.close()
    assert events["retention.ms"] == "10800000"
    assert events["retention.bytes"] == str(512 * 1024**2)
    assert events["segment.ms"] == str(24 * 3600 * 1000)
    assert frame_configs["retention.ms"] == "3600000"
    assert frame_configs["segment.ms"] == "600000"
    # -1 (keep any size) is the broker's default: not reported as set, or -1.
    assert frame_configs.get("retention.bytes", "-1") == "-1"


def test_frames_come_back_with_keys_headers_and_per_satellite_order(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    sats = {"c-a": 25544, "c-b": 43013, "c-c": 40069}
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    sent = {}
    for seq in range(300):
        for contact, norad in sats.items():
            m = meta(contact, norad, seq)
            data = frame_bytes(contact, seq)
            pub.publish_frame(data, m)
            sent[(contact, seq)] = (data, m)
    assert pub.flush(60)
    pub.close()
    topic = TopicNames(topic_prefix).frames
    with KafkaSource(kafka_bootstrap, topic) as source:
        got = list(follow_frames(source, idle_timeout_s=15.0, max_frames=900))
    assert len(got) == 900
    partitions: dict[int, set[int]] = {}
    for fr in got:
        data, m = sent[(fr.meta.contact_id, fr.meta.sequence)]
        assert fr.data == data
        assert fr.meta == m
        assert fr.key == str(m.norad_id).encode()
        partitions.setdefault(m.norad_id, set()).add(fr.partition)
    assert all(len(p) == 1 for p in partitions.values())  # one satellite, one partition
    for contact in sats:
        seqs = [fr.meta.sequence for fr in got if fr.meta.contact_id == contact]
        assert seqs == list(range(300))


def test_contact_events_and_dataset_notices_are_schema_valid_json_on_their_topics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    ev = ContactEventMessage(
        "c-1", ContactEventState.PREPASS, ContactEventState.PASS, T0, "AOS reached", 25544, "l", "d"
    )
    notice = DatasetReadyMessage(
        "d-1",
        "c-1",
        25544,
        "l",
        T0,
        T0,
        "s3://b/m.json",
        (DatasetFileInfo("frames.h5", "s3://b/f.h5", 5, "0" * 64),),
    )
    pub.publish_contact_event(ev)
    pub.publish_dataset_ready(notice)
    assert pub.flush(30)
    pub.close()
    names = TopicNames(topic_prefix)
    [ev_rec] = consume_all(kafka_bootstrap, names.contact_events, 1)
    [ds_rec] = consume_all(kafka_bootstrap, names.datasets, 1)
    jsonschema.validate(json.loads(ev_rec.value), load_schema("contact-event"))
    jsonschema.validate(json.loads(ds_rec.value), load_schema("dataset-ready"))
    assert ContactEventMessage.decode(ev_rec.value) == ev
    assert DatasetReadyMessage.decode(ds_rec.value) == notice
    assert ev_rec.key == b"c-1"


def test_broker_stopped_mid_stream_and_restarted_loses_no_frame_and_never_blocks_publishing(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, broker: Any
) -> None:
    pub = KafkaPublisher(
        config(
            kafka_bootstrap,
            topic_prefix,
            tmp_path,
            delivery_timeout_ms=8000,
            request_timeout_ms=3000,
        )
    ).start()
    assert pub.connected.wait(20)
    total = 3000
    slowest_publish_s = 0.0
    sent: dict[int, bytes] = {}
    done = threading.Event()

    def receiver() -> None:  # a receiver producing ~1000 frames/s
        nonlocal slowest_publish_s
        for seq in range(total):
            data = frame_bytes("c-x", seq, 1115)
            t = time.perf_counter()
            pub.publish_frame(data, meta("c-x", 25544, seq))
            slowest_publish_s = max(slowest_publish_s, time.perf_counter() - t)
            sent[seq] = data
            time.sleep(0.001)
        done.set()

    th = threading.Thread(target=receiver)
    th.start()
    time.sleep(0.5)
    broker.stop()  # the broker goes away mid-contact, longer than the delivery timeout
    gave_up_by = time.monotonic() + 30
    while pub.failed_attempts == 0 and time.monotonic() < gave_up_by:
        time.sleep(0.2)
    assert not pub.spool.is_drained()  # frames are waiting in the spool
    assert pub.failed_attempts >= 1  # the producer gave up; the spool will send them again
    broker.start()
    th.join(60)
    assert done.is_set()
    assert pub.flush(90), pub.last_error
    pub.close()
    assert slowest_publish_s < 0.1  # the receiver never waited for the broker
    topic = TopicNames(topic_prefix).frames
    raw = consume_all(kafka_bootstrap, topic, total)
    frames = [(FrameMeta.from_headers(r.headers), r.value) for r in raw]
    unique = {m.sequence: v for m, v in frames}
    assert len(unique) == total  # none lost (duplicates, if any, carry the same seq)
    assert all(v == sent[m.sequence] for m, v in frames)  # bytes exact, duplicates included


PUBLISHER_CHILD = r"""
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from ingest.config import KafkaConfig
from ingest.kafka_publisher import KafkaPublisher
from ingest.topics import FrameMeta
bootstrap, prefix, spool, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
pub = KafkaPublisher(KafkaConfig(bootstrap, topic_prefix=prefix, spool_dir=spool)).start()
for seq in range(n):
    m = FrameMeta("c-k", 25544, "lisbon", "dish-1", datetime.now(UTC), 0, seq % 256, 0, True, seq)
    pub.publish_frame(seq.to_bytes(4, "big") * 50, m)
while pub.producer_pid is None:
    time.sleep(0.01)
print("published", pub.producer_pid, flush=True)
time.sleep(600)
"""


def start_publisher_child(bootstrap: str, prefix: str, spool: Path, n: int) -> tuple[Any, int]:
    """A process publishing ``n`` frames, then idling; and its producer process's pid."""
    child = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_CHILD, bootstrap, prefix, str(spool), str(n)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdout is not None
    word, pid = child.stdout.readline().split()
    assert word == b"published"
    return child, int(pid)


def process_ended(pid: int) -> bool:
    """Gone, or a zombie nobody reaped (an orphan's parent may be a plain init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def dead_broker_address() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{s.getsockname()[1]}"
    s.close()
    return address


def test_a_publisher_killed_while_draining_to_the_broker_loses_nothing_on_restart(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    n = 20000
    child, _ = start_publisher_child(kafka_bootstrap, topic_prefix, spool, n)
    os.kill(child.pid, signal.SIGKILL)  # while its drainer is still sending
    child.wait(10)
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, spool)).start()
    assert pub.flush(60), pub.last_error
    pub.close()
    raw = consume_all(kafka_bootstrap, TopicNames(topic_prefix).frames, n)
    seqs = [FrameMeta.from_headers(r.headers).sequence for r in raw]
    assert set(seqs) == set(range(n))  # none lost
    first_seen = list(dict.fromkeys(seqs))
    assert first_seen == list(range(n))  # drained in order; a repeat only re-sends a tail
    assert all(r.value == s.to_bytes(4, "big") * 50 for s, r in zip(seqs, raw, strict=True))


def test_spooled_frames_survive_sigkill_of_the_publisher_and_are_delivered_on_restart(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # The child publishes while no broker is reachable (a closed port), so
    # every frame sits in its spool when it is killed.
    spool = tmp_path / "spool"
    n = 2000
    child, _ = start_publisher_child(dead_broker_address(), topic_prefix, spool, n)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, spool)).start()
    assert pub.flush(60), pub.last_error
    pub.close()
    raw = consume_all(kafka_bootstrap, TopicNames(topic_prefix).frames, n)
    seqs = [FrameMeta.from_headers(r.headers).sequence for r in raw]
    assert seqs == list(range(n))  # all of them, in order, exactly once
    assert all(r.value == i.to_bytes(4, "big") * 50 for i, r in enumerate(raw))


def test_the_producer_process_ends_when_its_publisher_is_killed(
    topic_prefix: str, tmp_path: Path
) -> None:
    child, producer_pid = start_publisher_child(
        dead_broker_address(), topic_prefix, tmp_path / "spool", 10
    )
    assert not process_ended(producer_pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    deadline = time.monotonic() + 5
    while not process_ended(producer_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_ended(producer_pid)  # no orphan keeps reading the spool


def test_a_killed_producer_process_is_replaced_and_no_frame_is_lost(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    assert pub.connected.wait(20)
    first = pub.producer_pid
    assert first is not None
    n = 6000
    for seq in range(n):
        pub.publish_frame(frame_bytes("c-p", seq), meta("c-p", 25544, seq))
        if seq == n // 3:
            os.kill(first, signal.SIGKILL)  # while it holds records in flight
    assert pub.flush(60), pub.last_error
    replacement, failures = pub.producer_pid, pub.failed_attempts
    pub.close()
    assert replacement not in (None, first)
    assert failures >= 1
    raw = consume_all(kafka_bootstrap, TopicNames(topic_prefix).frames, n)
    seqs = [FrameMeta.from_headers(r.headers).sequence for r in raw]
    assert set(seqs) == set(range(n))  # none lost
    assert list(dict.fromkeys(seqs)) == list(range(n))  # in order; a repeat re-sends a tail


def test_kcat_reads_our_frames_topic_as_a_third_party_client(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    for seq in range(20):
        pub.publish_frame(frame_bytes("c-q", seq, 64), meta("c-q", 25544, seq))
    assert pub.flush(30)
    pub.close()
    out = subprocess.run(
        [
            "kcat",
            "-C",
            "-b",
            kafka_bootstrap,
            "-t",
            TopicNames(topic_prefix).frames,
            "-e",
            "-q",
            "-f",
            "%k\t%h\t%s\n",
        ],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout.decode()
    lines = [line.split("\t") for line in out.splitlines() if line]
    assert len(lines) == 20
    by_seq = {}
    for key, headers, value in lines:
        h = dict(kv.split("=", 1) for kv in headers.split(","))
        assert key == "25544"
        assert h["contact-id"] == "c-q"
        assert h["gs-schema"] == "groundstation.frame/1"
        by_seq[int(h["seq"])] = value
    assert by_seq == {seq: frame_bytes("c-q", seq, 64).decode() for seq in range(20)}


def test_consume_cli_prints_the_frames_as_json_lines(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    for seq in range(10):
        pub.publish_frame(frame_bytes("c-z", seq), meta("c-z", 25544, seq))
    assert pub.flush(30)
    pub.close()
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, argparse\n"
            "from groundstation.commands import consume\n"
            "p = argparse.ArgumentParser(); consume.register(p.add_subparsers())\n"
            "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))",
            "consume",
            "frames",
            "--bootstrap",
            kafka_bootstrap,
            "--prefix",
            topic_prefix,
            "--idle-timeout",
            "15",
            "--max",
            "10",
        ],
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["seq"] for d in docs] == list(range(10))
    assert bytes.fromhex(docs[4]["data_hex"]) == frame_bytes("c-z", 4)
    assert docs[4]["crc_ok"] is True


def test_a_profile_topic_is_created_on_its_first_frame_and_gets_that_profiles_frames(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A mission profile's ``kafka_topic``: its contacts' frames go there, in
    order per satellite with their headers; the broker does not auto-create
    topics, so the producer makes it, with the frames topic's retention."""
    from ingest.topiclog import TopicRetention

    names = TopicNames(topic_prefix)
    own = f"{topic_prefix}-profile-weather"
    frames = TopicRetention(retention_ms=2 * 3600 * 1000, segment_ms=900_000)
    pub = KafkaPublisher(
        config(kafka_bootstrap, topic_prefix, tmp_path, topic_retention={names.frames: frames})
    ).start()
    sent = {}
    try:
        for seq in range(100):
            for contact, norad in (("c-w1", 33591), ("c-w2", 28654)):
                m = meta(contact, norad, seq)
                data = frame_bytes(contact, seq)
                pub.publish_frame(data, m, own)
                sent[(contact, seq)] = (data, m)
        assert pub.flush(60)
    finally:
        pub.close()
    with KafkaSource(kafka_bootstrap, own) as source:
        got = list(follow_frames(source, idle_timeout_s=15.0, max_frames=200))
    assert len(got) == 200
    for fr in got:
        data, m = sent[(fr.meta.contact_id, fr.meta.sequence)]
        assert (fr.data, fr.meta) == (data, m)
    for contact in ("c-w1", "c-w2"):
        assert [fr.meta.sequence for fr in got if fr.meta.contact_id == contact] == list(range(100))
    with KafkaSource(kafka_bootstrap, names.frames) as source:
        shared = list(follow_frames(source, idle_timeout_s=3.0, max_frames=1))
    assert shared == []
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        configs = topic_configs(admin, own)
    finally:
        admin.close()
    assert configs["retention.ms"] == "7200000"
    assert configs["segment.ms"] == "900000"


def test_a_group_consumer_commits_only_what_it_processed_so_a_crash_loses_nothing(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    for seq in range(10):
        pub.publish_frame(frame_bytes("c-g", seq), meta("c-g", 25544, seq))
    assert pub.flush(30)
    pub.close()
    topic = TopicNames(topic_prefix).frames
    group = f"{topic_prefix}-app"
    committed: list[dict[tuple[str, int], int]] = []
    first = KafkaSource(kafka_bootstrap, topic, group_id=group, on_commit=committed.append)
    processed: list[int] = []
    try:
        for fr in follow_frames(first, idle_timeout_s=15.0):
            if len(processed) == 5:
                raise RuntimeError("the application crashed while handling this frame")
            processed.append(fr.meta.sequence)
    except RuntimeError:
        pass
    finally:
        first.close()  # commits what was processed, not what was polled
    assert processed == [0, 1, 2, 3, 4]
    [partition] = {p for c in committed for (_, p) in c}
    assert committed[-1] == {(topic, partition): 5}
    second = KafkaSource(kafka_bootstrap, topic, group_id=group)
    try:
        again = [fr.meta.sequence for fr in follow_frames(second, idle_timeout_s=5.0)]
    finally:
        second.close()
    assert again == [5, 6, 7, 8, 9]  # the one in hand when it crashed comes again


def test_consume_cli_follows_contact_events_and_keeps_good_frames_only(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    pub = KafkaPublisher(config(kafka_bootstrap, topic_prefix, tmp_path)).start()
    for seq in range(10):  # crc_ok is False for 0 and 7 (``meta``)
        pub.publish_frame(frame_bytes("c-y", seq), meta("c-y", 25544, seq))
    ev = ContactEventMessage(
        "c-y", ContactEventState.PASS, ContactEventState.POSTPASS, T0, "LOS", 25544, "l", "d"
    )
    pub.publish_contact_event(ev)
    assert pub.flush(30)
    pub.close()

    def cli(*argv: str) -> list[dict[str, Any]]:
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, argparse\n"
                "from groundstation.commands import consume\n"
                "p = argparse.ArgumentParser(); consume.register(p.add_subparsers())\n"
                "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))",
                "consume",
                *argv,
                "--bootstrap",
                kafka_bootstrap,
                "--prefix",
                topic_prefix,
                "--idle-timeout",
                "10",
            ],
            capture_output=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines()]

    good = cli("frames", "--good-only", "--max", "8")
    assert [d["seq"] for d in good] == [1, 2, 3, 4, 5, 6, 8, 9]
    [event] = cli("contact-events", "--max", "1")
    assert ContactEventMessage.decode(json.dumps(event).encode()) == ev
