"""Segments and retention of the embedded local topic log (Kafka's semantics)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest

from ingest import topiclog
from ingest.consumer import LocalLogSource
from ingest.publisher import LocalLogPublisher
from ingest.topiclog import TopicRetention, apply_retention
from ingest.topics import TopicNames

TOPIC = "gs.frames"
DAY_MS = 24 * 3600 * 1000
T0_MS = 1_800_000_000_000


class FakeWallClock:
    def __init__(self, start_ms: int = T0_MS) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms


def publisher(
    directory: Path, retention: TopicRetention, clock: FakeWallClock | None = None
) -> LocalLogPublisher:
    if clock is None:
        return LocalLogPublisher(directory, TopicNames("gs"), retention=retention)
    return LocalLogPublisher(directory, TopicNames("gs"), retention=retention, wall_clock_ms=clock)


def append_n(pub: LocalLogPublisher, n: int, size: int = 200, start: int = 0) -> None:
    for i in range(start, start + n):
        pub.append(TOPIC, None, i.to_bytes(4, "big") * (size // 4), [])


def read_all(directory: Path, source: LocalLogSource | None = None) -> list[int]:
    source = source or LocalLogSource(directory, TOPIC)
    return [r.offset for r in source.records(idle_timeout_s=0.1)]


def test_segments_roll_by_size_with_continuous_offsets_and_read_back_in_order(
    tmp_path: Path,
) -> None:
    pub = publisher(tmp_path, TopicRetention(segment_bytes=4096, segment_ms=None))
    append_n(pub, 100)
    pub.close()
    segs = topiclog.segments(tmp_path, TOPIC)
    assert len(segs) > 5
    assert segs[0].base_offset == 0
    for seg in segs[:-1]:  # closed segments are at least segment_bytes long, none much more
        assert 4096 <= seg.path.stat().st_size < 4096 + 400
    bases = [s.base_offset for s in segs]
    counts = [len(s.path.read_text().splitlines()) for s in segs]
    assert bases == [sum(counts[:i]) for i in range(len(segs))]
    assert read_all(tmp_path) == list(range(100))


def test_segments_roll_by_age_of_their_first_record(tmp_path: Path) -> None:
    clock = FakeWallClock()
    pub = publisher(tmp_path, TopicRetention(segment_ms=DAY_MS), clock)
    append_n(pub, 3)
    clock.ms += DAY_MS - 1
    append_n(pub, 1, start=3)
    assert len(topiclog.segments(tmp_path, TOPIC)) == 1
    clock.ms += 1
    append_n(pub, 1, start=4)
    pub.close()
    assert [s.base_offset for s in topiclog.segments(tmp_path, TOPIC)] == [0, 4]


def test_time_retention_deletes_whole_old_segments_and_keeps_new_ones(tmp_path: Path) -> None:
    clock = FakeWallClock()
    retention = TopicRetention(retention_ms=7 * DAY_MS, segment_ms=DAY_MS)
    pub = publisher(tmp_path, retention, clock)
    for day in range(10):  # one segment per day, 5 records each
        append_n(pub, 5, start=5 * day)
        clock.ms += DAY_MS
    clock.ms -= DAY_MS  # "now" is the time of the last appends
    report = apply_retention(tmp_path, TOPIC, retention, now_ms=clock.ms)
    # Day d's newest record is 9 - d days old: days 0 and 1 are beyond 7 days.
    assert [s.base_offset for s in report.deleted] == [0, 5]
    assert report.deleted_bytes > 0
    assert [s.base_offset for s in topiclog.segments(tmp_path, TOPIC)] == list(range(10, 50, 5))
    assert read_all(tmp_path) == list(range(10, 50))
    # The next offset is unaffected by the deletion.
    append_n(pub, 1, start=50)
    pub.close()
    assert read_all(tmp_path)[-1] == 50


def test_the_active_segment_is_never_deleted_an_idle_one_is_rolled_then_expires(
    tmp_path: Path,
) -> None:
    clock = FakeWallClock()
    retention = TopicRetention(retention_ms=DAY_MS, segment_ms=DAY_MS)
    pub = publisher(tmp_path, retention, clock)
    append_n(pub, 5)
    pub.close()
    # Not yet a day old: the only segment is active and stays.
    young = apply_retention(tmp_path, TOPIC, retention, now_ms=T0_MS + DAY_MS - 1)
    assert not young.rolled and young.deleted == []
    # Long idle: the active segment is rolled (never deleted while active),
    # then, closed and expired, it goes; the new empty active one stays.
    old = apply_retention(tmp_path, TOPIC, retention, now_ms=T0_MS + 30 * DAY_MS)
    assert old.rolled
    assert [s.base_offset for s in old.deleted] == [0]
    assert [s.base_offset for s in topiclog.segments(tmp_path, TOPIC)] == [5]
    # A new publisher continues the offsets from the empty segment's name.
    pub = publisher(tmp_path, retention, clock)
    append_n(pub, 1, start=5)
    pub.close()
    assert read_all(tmp_path) == [5]


def test_size_retention_keeps_at_least_retention_bytes_deleting_oldest_first(
    tmp_path: Path,
) -> None:
    retention = TopicRetention(
        retention_ms=None, retention_bytes=10_000, segment_bytes=4096, segment_ms=None
    )
    pub = publisher(tmp_path, retention)
    append_n(pub, 200)
    pub.close()
    before = topiclog.segments(tmp_path, TOPIC)
    total = topiclog.topic_bytes(tmp_path, TOPIC)
    assert total > 30_000
    report = apply_retention(tmp_path, TOPIC, retention, now_ms=T0_MS)
    after = topiclog.segments(tmp_path, TOPIC)
    kept = topiclog.topic_bytes(tmp_path, TOPIC)
    assert report.deleted == before[: len(before) - len(after)]
    assert 10_000 <= kept < 10_000 + 4096 + 400  # Kafka: never below retention.bytes
    assert after[-1] == before[-1]
    offsets = read_all(tmp_path)
    assert offsets == list(range(after[0].base_offset, 200))


def test_a_reader_whose_segment_was_deleted_continues_at_the_oldest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    retention = TopicRetention(
        retention_ms=None, retention_bytes=5000, segment_bytes=4096, segment_ms=None
    )
    pub = publisher(tmp_path, retention)
    append_n(pub, 30)
    source = LocalLogSource(tmp_path, TOPIC)
    records = source.records(idle_timeout_s=0.1)
    assert [next(records).offset for _ in range(3)] == [0, 1, 2]
    append_n(pub, 100, start=30)
    apply_retention(tmp_path, TOPIC, retention, now_ms=T0_MS)
    oldest = topiclog.segments(tmp_path, TOPIC)[0].base_offset
    assert oldest > 30
    rest = [r.offset for r in records]
    pub.close()
    # The 1 MiB chunk read before the deletion still yields the rest of that segment.
    first_segment = [o for o in rest if o < oldest]
    assert first_segment == list(range(3, first_segment[-1] + 1)) if first_segment else True
    assert rest[len(first_segment) :] == list(range(oldest, 130))
    assert source.records_skipped == oldest - (first_segment[-1] + 1 if first_segment else 3)
    assert "deleted by retention" in caplog.text


def test_a_reader_tailing_while_segments_roll_misses_nothing(tmp_path: Path) -> None:
    retention = TopicRetention(segment_bytes=2048, segment_ms=None)
    pub = publisher(tmp_path, retention)
    got: list[int] = []
    source = LocalLogSource(tmp_path, TOPIC)

    def consume() -> None:
        got.extend(r.offset for r in source.records(idle_timeout_s=1.0))

    reader = threading.Thread(target=consume)
    reader.start()
    append_n(pub, 400, size=40)
    reader.join(10)
    pub.close()
    assert got == list(range(400))


def test_two_publishers_on_one_directory_share_rolling_and_offsets(tmp_path: Path) -> None:
    retention = TopicRetention(segment_bytes=2048, segment_ms=None)
    a, b = publisher(tmp_path, retention), publisher(tmp_path, retention)
    for i in range(150):
        (a if i % 3 else b).append(TOPIC, None, b"x" * 40, [])
    a.close()
    b.close()
    assert read_all(tmp_path) == list(range(150))
    lines = list(topiclog.iter_lines(tmp_path, TOPIC))
    assert [line["offset"] for line in lines] == list(range(150))


def test_a_log_written_before_segments_is_read_and_then_moved_into_segments(
    tmp_path: Path,
) -> None:
    legacy = tmp_path / f"{TOPIC}.jsonl"
    legacy.write_text(
        "".join(
            json.dumps(
                {
                    "offset": i,
                    "timestamp_ms": T0_MS,
                    "key_b64": None,
                    "headers": [],
                    "value_b64": base64.b64encode(b"old").decode(),
                }
            )
            + "\n"
            for i in range(3)
        )
    )
    assert read_all(tmp_path) == [0, 1, 2]
    pub = publisher(tmp_path, TopicRetention())
    append_n(pub, 2, start=3)
    pub.close()
    assert not legacy.exists()
    assert read_all(tmp_path) == [0, 1, 2, 3, 4]


def test_retention_settings_become_kafka_topic_configs() -> None:
    assert TopicRetention(retention_ms=3_600_000, retention_bytes=None).kafka_configs() == {
        "retention.ms": "3600000",
        "retention.bytes": "-1",
        "segment.ms": str(DAY_MS),
    }
    with pytest.raises(ValueError, match="retention_ms=0"):
        TopicRetention(retention_ms=0)


def test_a_publisher_follows_a_segment_rolled_by_housekeeping_elsewhere(tmp_path: Path) -> None:
    clock = FakeWallClock()
    retention = TopicRetention(retention_ms=None, segment_ms=DAY_MS)
    pub = publisher(tmp_path, retention, clock)
    append_n(pub, 3)
    # Housekeeping (another process, a later wall clock) rolls the idle segment ...
    assert apply_retention(tmp_path, TOPIC, retention, now_ms=T0_MS + 2 * DAY_MS).rolled
    # ... and this publisher, which saw no append since its own, writes to the new one.
    append_n(pub, 2, start=3)
    pub.close()
    segs = topiclog.segments(tmp_path, TOPIC)
    assert [(s.base_offset, len(s.path.read_text().splitlines())) for s in segs] == [(0, 3), (3, 2)]
    assert read_all(tmp_path) == list(range(5))
