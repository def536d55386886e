"""The agent's antenna sets off for AOS before the pass's receiver is built
(on a busy machine building it outlasted the pre-positioning margin and the
rotator reached the AOS position late), and a receiver that cannot be built
ends the pointing it started."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from groundstation.agents import run_from_document
from groundstation.clock import SimulatedClock
from groundstation.executor import ContactExecutionError
from groundstation.station.agent import PassRunner
from groundstation.station.spool import Spool

from .test_station_agent_frontends import _pass_document


class _Pointing:
    """Stands for ``PointAlong``: records what the runner asks of it."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def start(self, track: Any, stop: threading.Event) -> None:
        self.calls.append("pointing")

    def cancel(self) -> None:
        self.calls.append("cancel")

    def finish(self, timeout_s: float = 60.0) -> dict[str, Any]:
        self.calls.append("finish")
        return {"samples": 0}


def _runner(tmp_path: Path, doc: dict[str, Any], calls: list[str]) -> PassRunner:
    run = run_from_document(doc["run"])
    return PassRunner(
        clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=1e5),
        spool=Spool(tmp_path / "spool"),
        front_end="simulated",
        software_version="test",
        stop=threading.Event(),
        tracker_factory=lambda _doc: _Pointing(calls),  # type: ignore[arg-type,return-value]
    )


def test_the_antenna_sets_off_before_the_receiver_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _pass_document(tmp_path)
    calls: list[str] = []
    build = PassRunner._chain

    def chain(self: PassRunner, run: Any, station: Any) -> Any:
        calls.append("chain")
        return build(self, run, station)

    monkeypatch.setattr(PassRunner, "_chain", chain)
    outcome = _runner(tmp_path, doc, calls).run(doc)
    assert outcome.ok, outcome.reason
    assert calls == ["pointing", "chain", "finish"]
    assert outcome.summary["pointing"] == {"samples": 0}


def test_a_receiver_that_cannot_be_built_cancels_the_pointing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _pass_document(tmp_path)
    calls: list[str] = []

    def chain(self: PassRunner, run: Any, station: Any) -> Any:
        raise ContactExecutionError("no such transmitter")

    monkeypatch.setattr(PassRunner, "_chain", chain)
    outcome = _runner(tmp_path, doc, calls).run(doc)
    assert not outcome.ok and outcome.reason == "no such transmitter"
    assert calls == ["pointing", "cancel", "finish"]
