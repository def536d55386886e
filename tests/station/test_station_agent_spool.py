"""The agent's spool and restart rules, without a central service."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from groundstation.clock import SimulatedClock
from groundstation.station.agent import CentralClient, StationAgent
from groundstation.station.spool import Spool


def _agent(spool: Spool) -> StationAgent:
    return StationAgent(
        client=CentralClient("http://127.0.0.1:9", key="k", station_id="s", timeout_s=0.5),
        clock=SimulatedClock(datetime(2026, 11, 30, tzinfo=UTC)),
        spool=spool,
        front_end="simulated",
        software_version="t",
    )


def test_a_pass_cut_by_a_restart_is_reported_failed_with_the_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.start("c1", {})
    spool.add_frames("c1", [{"sequence": 1}, {"sequence": 2}])
    spool.start("c2", {})
    spool.put_report("c2", {"ok": True, "frames_total": 0})
    _agent(spool).recover()
    report = spool.report("c1")
    assert report is not None and report["ok"] is False
    assert "station agent stopped during the pass" in report["reason"]
    assert report["frames_total"] == 2
    assert spool.report("c2") == {"ok": True, "frames_total": 0}  # its own report kept


def test_a_frame_line_cut_by_a_crash_is_not_a_frame(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.add_frames("c1", [{"sequence": 1}])
    with open(tmp_path / "c1" / "frames.jsonl", "a") as f:
        f.write('{"sequence": 2, "da')
    assert spool.frames("c1") == [{"sequence": 1}]
    spool.add_frames("c1", [{"sequence": 3}])  # appended after the cut line: kept
    assert spool.frames("c1") == [{"sequence": 1}, {"sequence": 3}]


def test_nothing_is_lost_while_the_centre_is_unreachable(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.add_frames("c1", [{"sequence": 1}])
    spool.put_report("c1", {"ok": True, "frames_total": 1})
    assert _agent(spool).flush() == 0
    assert spool.pending() == ["c1"] and spool.acked("c1") == 0
    assert spool.depth_frames() == 1


def test_frames_spooled_just_before_the_report_are_uploaded_before_it(tmp_path: Path) -> None:
    """The pass spools its last frames, then its report, while the uploader
    runs in another thread. When both land between the uploader's read of
    the frames and its read of the report, the report must not go out (and
    the contact be marked done) without those frames: they were never
    uploaded (the 3-agent e2e test saw 1,424 of 1,426 frames on the topic)."""
    spool = Spool(tmp_path)
    spool.start("c1", {})
    spool.add_frames("c1", [{"sequence": n} for n in range(1, 41)])
    sent: list[object] = []

    class Client:
        def upload_frames(self, contact_id: str, frames: list[dict[str, object]]) -> None:
            sent.extend(int(f["sequence"]) for f in frames)  # type: ignore[call-overload]

        def report(self, contact_id: str, report: dict[str, object]) -> None:
            sent.append("report")

    real = spool.frames
    late = {"done": False}

    def frames_then_the_pass_ends(contact_id: str) -> list[dict[str, object]]:
        rows = real(contact_id)
        if not late["done"]:  # the pass's last frames and its report, right after this read
            late["done"] = True
            spool.add_frames("c1", [{"sequence": 41}, {"sequence": 42}])
            spool.put_report("c1", {"ok": True, "frames_total": 42})
        return rows

    spool.frames = frames_then_the_pass_ends  # type: ignore[method-assign]
    agent = _agent(spool)
    agent.client = Client()  # type: ignore[assignment]
    agent.flush()
    agent.flush()
    assert sent == [*range(1, 43), "report"]


HOUR_S = 3600.0


def _delivered(spool: Spool, contact_id: str, *, done_h_ago: float, now_s: float) -> None:
    """A contact whose report the central service has had for ``done_h_ago`` hours."""
    spool.start(contact_id, {})
    spool.add_frames(contact_id, [{"sequence": 1}])
    spool.put_report(contact_id, {"ok": True, "frames_total": 1})
    (spool.root / contact_id / "iq.sigmf-data").write_bytes(b"\0" * 4096)
    spool.mark_done(contact_id)
    t = now_s - done_h_ago * HOUR_S
    os.utime(spool.root / contact_id / "done", (t, t))


def test_a_delivered_contact_older_than_the_retention_is_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    now_s = time.time()
    _delivered(spool, "old", done_h_ago=25.0, now_s=now_s)
    agent = _agent(spool)
    agent.spool_retention_s = 24 * HOUR_S
    with caplog.at_level("INFO", logger="groundstation.station.agent"):
        removed = agent.prune(now_s=now_s)
    assert [r.contact_id for r in removed] == ["old"]
    assert not (tmp_path / "old").exists()
    assert list(tmp_path.iterdir()) == []  # nothing left behind, not even the hidden name
    assert spool.contacts() == [] and spool.pending() == []
    lines = [r.getMessage() for r in caplog.records if "spool: removed contact" in r.getMessage()]
    assert len(lines) == 1 and "old" in lines[0] and "25.0 h ago" in lines[0]


def test_a_contact_not_delivered_is_kept_whatever_its_age(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    now_s = time.time()
    spool.start("pending", {})
    spool.add_frames("pending", [{"sequence": 1}])
    spool.put_report("pending", {"ok": True, "frames_total": 1})
    ancient = now_s - 1000 * HOUR_S
    for f in (tmp_path / "pending").iterdir():
        os.utime(f, (ancient, ancient))
    os.utime(tmp_path / "pending", (ancient, ancient))
    agent = _agent(spool)
    agent.spool_retention_s = 0.0  # even "remove as soon as delivered"
    assert agent.prune(now_s=now_s) == []
    assert spool.pending() == ["pending"]
    assert spool.frames("pending") == [{"sequence": 1}]
    assert spool.report("pending") == {"ok": True, "frames_total": 1}


def test_a_delivered_contact_younger_than_the_retention_is_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    now_s = time.time()
    _delivered(spool, "recent", done_h_ago=23.0, now_s=now_s)
    agent = _agent(spool)
    agent.spool_retention_s = 24 * HOUR_S
    assert agent.prune(now_s=now_s) == []
    assert spool.contacts() == ["recent"] and spool.done("recent")
    assert (tmp_path / "recent" / "iq.sigmf-data").exists()
    agent.spool_retention_s = 0.0  # 0: removed as soon as delivered
    assert [r.contact_id for r in agent.prune(now_s=now_s)] == ["recent"]
    assert spool.contacts() == []


def test_a_removal_cut_by_a_crash_is_finished_and_never_looks_undelivered(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    cut = tmp_path / ".c9.removing"  # renamed, then the agent died mid-delete
    cut.mkdir()
    (cut / "frames.jsonl").write_text('{"sequence": 1}\n')
    assert spool.contacts() == [] and spool.pending() == []  # not resent
    _agent(spool).prune(now_s=time.time())
    assert not cut.exists()


def test_the_retention_setting_is_checked() -> None:
    from pydantic import ValidationError

    from groundstation.settings import Settings

    assert Settings().agent_spool_retention_h == 24.0
    assert Settings(agent_spool_retention_h=0).agent_spool_retention_h == 0.0
    with pytest.raises(ValidationError, match="agent_spool_retention_h.*-1"):
        Settings(agent_spool_retention_h=-1)
