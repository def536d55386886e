from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import SpoolError
from ingest.spool import Spool, SpoolPosition, SpoolReader, SpoolRecord


def rec(i: int) -> SpoolRecord:
    return SpoolRecord("t.frames", b"k", i.to_bytes(4, "big") * 10, (("seq", str(i).encode()),))


def drain(spool: Spool) -> list[SpoolRecord]:
    out = []
    pos = spool.committed
    while batch := spool.read(pos, max_bytes=4096):
        out += [r for r, _ in batch]
        pos = batch[-1][1]
    return out


def test_records_come_back_in_order_with_key_value_and_headers(tmp_path: Path) -> None:
    with Spool(tmp_path) as s:
        for i in range(100):
            s.append(rec(i))
        assert drain(s) == [rec(i) for i in range(100)]


def test_committed_records_are_not_read_again_after_reopening(tmp_path: Path) -> None:
    with Spool(tmp_path) as s:
        for i in range(10):
            s.append(rec(i))
        batch = s.read(s.committed)
        s.commit(batch[3][1])  # records 0..3 delivered
    with Spool(tmp_path) as s:
        assert drain(s) == [rec(i) for i in range(4, 10)]
        assert not s.is_drained()


def test_a_torn_record_at_the_tail_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    with Spool(tmp_path) as s:
        for i in range(5):
            s.append(rec(i))
    seg = next(tmp_path.glob("seg-*.log"))
    seg.write_bytes(seg.read_bytes()[:-7])  # the process died inside the last write
    with Spool(tmp_path) as s:
        assert drain(s) == [rec(i) for i in range(4)]
        s.append(rec(99))
        assert drain(s)[-1] == rec(99)


def test_segments_rotate_and_delivered_ones_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=2048) as s:
        for i in range(200):
            s.append(rec(i))
        assert len(list(tmp_path.glob("seg-*.log"))) > 3
        assert drain(s) == [rec(i) for i in range(200)]
        s.commit(s.write_position)
        assert s.is_drained()
        assert len(list(tmp_path.glob("seg-*.log"))) == 1


def test_a_second_process_cannot_open_a_spool_in_use(tmp_path: Path) -> None:
    import subprocess
    import sys

    with Spool(tmp_path):
        code = (
            "import sys; from pathlib import Path; from ingest.spool import Spool\n"
            "from ingest.errors import SpoolError\n"
            "try:\n    Spool(Path(sys.argv[1])).open()\nexcept SpoolError as e:\n"
            "    print(e); sys.exit(3)\n"
        )
        r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True)
        assert r.returncode == 3
        assert b"in use by another process" in r.stdout


def test_a_full_spool_refuses_records_instead_of_blocking(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=1000) as s:
        with pytest.raises(SpoolError, match="max_bytes=1000"):
            for i in range(100):
                s.append(rec(i))
        assert 0 < s.pending_bytes() <= 1000


def test_reading_again_from_the_cursor_after_a_failed_delivery_gives_the_same_records(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path) as s:
        for i in range(50):
            s.append(rec(i))
        first = s.read(s.committed)  # handed to the producer, then delivery failed
        s.commit(first[9][1])
        again = [r for r, _ in s.read(s.committed)]
        assert again == [rec(i) for i in range(10, 50)]


def test_a_reader_that_does_not_own_the_spool_reads_up_to_the_given_position_across_segments(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path, segment_bytes=2048) as s:
        ends = []
        for i in range(200):
            s.append(rec(i))
            ends.append(s.write_position)
        assert ends[119].segment > 3  # the limit lies some segments on
        reader = SpoolReader(tmp_path)
        out: list[SpoolRecord] = []
        pos = SpoolPosition(1, 0)
        while batch := reader.read(pos, ends[119], max_bytes=4096):
            out += [r for r, _ in batch]
            pos = batch[-1][1]
        reader.close()
        assert out == [rec(i) for i in range(120)]
        assert pos == ends[119]


def test_records_with_many_distinct_headers_come_back_exactly_from_the_files(
    tmp_path: Path,
) -> None:
    def varied(i: int) -> SpoolRecord:
        key = None if i % 3 == 0 else b"%d" % (i % 7)
        headers = (("seq", b"%d" % i), ("station", b"lisbon"), ("empty", b""), ("\u00e9", b"x"))
        return SpoolRecord("t.frames", key, bytes([i % 256]) * (i % 50), headers)

    with Spool(tmp_path) as s:
        for i in range(3000):  # more distinct headers than the decoder caches
            s.append(varied(i))
    with Spool(tmp_path) as s:
        assert drain(s) == [varied(i) for i in range(3000)]
