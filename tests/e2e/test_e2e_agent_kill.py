"""A station agent killed with SIGKILL in the middle of a pass, as a power
cut or the OOM killer would (issue 13): restarted, it reports that pass
FAILED "station agent stopped during the pass" (the central service says
so), uploads nothing twice, and works the station's next contact to
COMPLETED. ``serve`` and the agent are their own processes."""

from __future__ import annotations

import signal
import subprocess
from datetime import timedelta
from pathlib import Path

from groundstation import apikeys
from groundstation.commands.demo import DEMO_CLOCK_START, free_windows, reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Contact, MissionProfile
from groundstation.settings import Settings
from ingest.consumer import LocalLogSource, follow_frames
from ingest.topics import TopicNames

from .conftest import (
    DEMO_PROFILE,
    agent_process,
    central_for_agents,
    seed,
    stop_processes,
    wait_for,
    wait_for_api,
)

SPEEDUP = 10.0
TERMINAL = ("COMPLETED", "FAILED", "PROVIDER_FAILED", "CANCELLED")


def test_an_agent_killed_mid_pass_fails_that_pass_and_works_the_next_after_restart(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        windows = free_windows(
            session, names, now=DEMO_CLOCK_START, hours=6.0, min_elevation_deg=30.0
        )
        w = windows[0]
        (other,) = [
            x
            for x in windows
            if (x.norad_id, x.station_id, x.aos) == (w.norad_id, w.station_id, w.aos)
            and x.antenna_id != w.antenna_id
        ][:1]
        profile = session.get(MissionProfile, DEMO_PROFILE)
        assert profile is not None
        start = w.aos - timedelta(seconds=profile.prepass_s + 20)
        # One pass on the station's two antennas, booked whole and then
        # narrowed: its first 150 s on one (the agent is killed in it), and
        # from 400 s after AOS to LOS on the other.
        first, second = (reserve_choice(session, x, now=start) for x in (w, other))
        first.los = first.aos + timedelta(seconds=150)
        first.tca = min(first.tca, first.los)
        first.booked_end = first.los + timedelta(seconds=profile.postpass_s)
        second.aos = second.aos + timedelta(seconds=400)
        second.tca = max(second.tca, second.aos)
        second.booked_start = second.aos - timedelta(seconds=profile.prepass_s)
        session.commit()
        ids = [first.id, second.id]
        _, key = apikeys.create_key(
            session, name="agent", role="station", station_id=w.station_id, now=start
        )
    engine.dispose()

    def state(cid: str) -> tuple[str, str]:
        with sessions() as session:
            row = session.get(Contact, cid)
            assert row is not None
            return row.state, row.state_reason

    serve, base = central_for_agents(
        tmp_path, clock_start=start, speedup=SPEEDUP, offline_after_s=600, report_timeout_s=3600
    )
    log = tmp_path / "agent.log"
    procs: list[subprocess.Popen[bytes]] = [serve]
    try:
        wait_for_api(base, timeout_s=60)
        agent = agent_process(tmp_path, w.station_id, key, base, log, speedup=SPEEDUP)
        procs.append(agent)
        wait_for(lambda: state(ids[0])[0] == "PASS", timeout_s=120, what="the first pass")
        spool = tmp_path / f"agent-{w.station_id}"
        wait_for(
            lambda: b"frames" in log.read_bytes() or any(spool.rglob("*frame*")),
            timeout_s=60,
            what="the agent to decode frames",
        )
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)
        assert state(ids[0])[0] == "PASS"  # killed before its LOS
        procs.append(agent_process(tmp_path, w.station_id, key, base, log, speedup=SPEEDUP))
        wait_for(
            lambda: all(state(c)[0] in TERMINAL for c in ids),
            timeout_s=300,
            what=f"both contacts to end ({log})",
        )
    finally:
        stop_processes(procs)
    first_state, first_reason = state(ids[0])
    assert first_state in ("FAILED", "PROVIDER_FAILED"), (first_state, first_reason)
    assert "station agent stopped during the pass" in first_reason, first_reason
    second_state, second_reason = state(ids[1])
    assert second_state == "COMPLETED", (second_reason, log.read_text()[-3000:])
    # The frames that reached the topic are there once each, in order.
    topics = TopicNames("groundstation")
    for cid in ids:
        frames = list(
            follow_frames(
                LocalLogSource(tmp_path / "var" / "topics", topics.frames),
                contact_id=cid,
                idle_timeout_s=0.5,
            )
        )
        sequences = [f.meta.sequence for f in frames]
        assert sequences == list(range(1, len(sequences) + 1)), cid
        if cid == ids[1]:
            assert len(sequences) > 50
