"""The agent's spool and restart rules, without a central service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

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
