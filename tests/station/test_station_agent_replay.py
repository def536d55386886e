"""An agent replaying a real recording through a booked contact (issue 13):
BY70-1's pass worked with ``replay:by701.wav`` (receiver audio, as the
satellite-recordings collection holds it) decodes every frame gr-satellites
found in that recording, and the pass is labelled a replay, not simulated
and not live."""

from __future__ import annotations

import base64
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from groundstation import agents
from groundstation.booking import reserve
from groundstation.clock import SimulatedClock
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.station.agent import PassRunner, front_end_label
from groundstation.station.spool import Spool
from tests.by70_1 import (
    EPOCH,
    PROFILE,
    free_windows,
    recording,
    reference_frames,
    seed_by70_1,
)


def _by70_1_document(tmp_path: Path) -> dict[str, Any]:
    """The agent's document of BY70-1's next pass over one station."""
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    migrate(engine)
    try:
        with make_session_factory(engine)() as session:
            seed_by70_1(session, now=EPOCH)
            w = free_windows(session, now=EPOCH)[0]
            contact = reserve(
                session,
                norad_id=w.norad_id,
                antenna_id=w.antenna_id,
                profile_id=PROFILE,
                start=w.aos,
                end=w.los,
                tenant="demo",
                now=EPOCH,
            )
            (doc,) = (
                d
                for d in agents.station_runs(
                    session, station_id=w.station_id, now=w.aos, horizon_s=3600.0
                )
                if d["run"]["contact_id"] == contact.id
            )
            return doc
    finally:
        engine.dispose()


def test_an_agent_replaying_the_by70_1_recording_decodes_what_gr_satellites_found(
    tmp_path: Path,
) -> None:
    doc = _by70_1_document(tmp_path)
    run = agents.run_from_document(doc["run"])
    spec = f"replay:{recording()}"
    outcome = PassRunner(
        clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=20.0),
        spool=Spool(tmp_path / "spool"),
        front_end=spec,
        software_version="test",
        stop=threading.Event(),
    ).run(doc)
    assert outcome.ok, outcome.reason
    spooled = Spool(tmp_path / "spool").frames(run.contact_id)
    decoded = {base64.b64decode(f["data"]) for f in spooled}
    print(f"BY70-1 replay: {len(decoded)} distinct frames, gr-satellites {len(reference_frames())}")
    # Every frame the reference decoder found, and at least its median count.
    assert reference_frames() <= decoded
    assert outcome.frames_ok == len(spooled) >= 15
    # Labelled a replay of the recording: not simulated, not live.
    label = outcome.summary["front_end"]
    assert label == front_end_label(spec) and "replay of the recording" in label
    assert "not live" in label and "simulated" not in label
    assert outcome.summary["simulated"] == label
    # Frame times: within the pass, from AOS on, in order.
    times = [f["frame_time"] for f in spooled]
    assert times == sorted(times)
