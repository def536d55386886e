"""The central service restarted (SIGTERM, or SIGKILL as a crash) while a
station agent works a pass (issue 13): the agent goes on and spools; the
restarted ``serve`` follows the pass again from the last frame it had
published, and the contact COMPLETES with every frame on the topic once, in
order. Before, the stop failed the contact ("service stopped during the
pass") though the station received the whole pass."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from groundstation import apikeys
from groundstation.agents import agent_status
from groundstation.commands.demo import DEMO_CLOCK_START, free_windows, reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import AgentReport, Contact, MissionProfile
from groundstation.settings import Settings
from ingest.consumer import LocalLogSource, follow_frames
from ingest.topics import TopicNames

from .conftest import (
    DEMO_PROFILE,
    agent_process,
    central_for_agents,
    free_port,
    seed,
    stop_processes,
    wait_for,
    wait_for_api,
)

SPEEDUP = 10.0
LEAD_S = 300.0


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_central_restart_mid_pass_leaves_the_agents_contact_to_complete(
    tmp_path: Path, how: signal.Signals
) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        w = free_windows(session, names, now=DEMO_CLOCK_START, hours=6.0, min_elevation_deg=30.0)[0]
        profile = session.get(MissionProfile, DEMO_PROFILE)
        assert profile is not None
        # AOS LEAD_S service seconds after serve starts: time for the agent
        # to start and register on a loaded machine, or the pass is worked
        # in-process (a station without an agent) and the test means nothing.
        start = w.aos - timedelta(seconds=profile.prepass_s + LEAD_S)
        contact_id = reserve_choice(session, w, now=start).id
        _, key = apikeys.create_key(
            session, name="agent", role="station", station_id=w.station_id, now=start
        )
    engine.dispose()

    def state() -> tuple[str, str]:
        with sessions() as session:
            row = session.get(Contact, contact_id)
            assert row is not None
            return row.state, row.state_reason

    log = tmp_path / "serve.log"
    port = free_port()  # the same after the restart: the agent keeps its URL
    began = time.monotonic()
    serve, base = _central(start, port, tmp_path)
    procs: list[subprocess.Popen[bytes]] = [serve]
    topics = TopicNames("groundstation")

    def on_topic() -> list[int]:
        return [
            f.meta.sequence
            for f in follow_frames(
                LocalLogSource(tmp_path / "var" / "topics", topics.frames),
                contact_id=contact_id,
                idle_timeout_s=0.2,
            )
        ]

    try:
        # The agent starts with serve (it retries until the API answers).
        procs.append(
            agent_process(
                tmp_path, w.station_id, key, base, tmp_path / "agent.log", speedup=SPEEDUP
            )
        )
        wait_for_api(base, timeout_s=60)
        wait_for(
            lambda: _registered(sessions, w.station_id), timeout_s=60, what="the agent to register"
        )
        assert state()[0] == "SCHEDULED", ("the agent registered too late", state())
        wait_for(lambda: state()[0] == "PASS", timeout_s=120, what="the pass")
        wait_for(lambda: len(on_topic()) >= 20, timeout_s=60, what="frames on the topic")
        serve.send_signal(how)
        serve.wait(timeout=60)
        assert state()[0] == "PASS", state()  # not failed: the agent goes on
        time.sleep(3.0)  # the agent spools what it cannot upload
        resumed_at = start + timedelta(seconds=(time.monotonic() - began) * SPEEDUP)
        serve, _ = _central(resumed_at, port, tmp_path)
        procs.append(serve)
        wait_for(
            lambda: state()[0] in ("COMPLETED", "FAILED", "PROVIDER_FAILED"),
            timeout_s=300,
            what=f"the contact to end ({log})",
        )
    finally:
        stop_processes(procs)
    final, reason = state()
    assert final == "COMPLETED", (reason, log.read_text()[-3000:])
    with sessions() as session:
        report = session.scalar(select(AgentReport).where(AgentReport.contact_id == contact_id))
        assert report is not None and report.ok
        total = report.frames_total
    # Every frame once, in order: none published twice after the restart.
    assert on_topic() == list(range(1, total + 1))
    text = log.read_text()
    assert "following its pass again" in text
    if how == signal.SIGTERM:
        assert "left in PASS" in text


def _central(
    clock_start: datetime, port: int, tmp_path: Path
) -> tuple[subprocess.Popen[bytes], str]:
    return central_for_agents(
        tmp_path,
        clock_start=clock_start,
        speedup=SPEEDUP,
        offline_after_s=600,
        report_timeout_s=3600,
        port=port,
    )


def _registered(sessions: sessionmaker[Session], station_id: str) -> bool:
    """Whether the station's agent has registered (the service then hands
    its contacts to the agent, as ``StationRouter`` decides)."""
    with sessions() as session:
        return agent_status(
            session, station_id=station_id, now=datetime.now(UTC), offline_after_s=0.0
        ).registered
