"""The agent's antenna control (``PointAlong``) against hamlib's dummy
rotator (``rotctld -m 1``): the pass's pointing plan followed in compressed
time, and the summary the agent reports names how closely."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from groundstation.clock import SimulatedClock
from groundstation.station.agent import PointAlong, StationAgent
from groundstation.station.spool import Spool
from tests.e2e.conftest import utc

from .conftest import Daemon
from .passes import DUMMY_SPEED_DEG_S, north_crossing_track


def test_the_agent_points_the_rotator_along_the_pass_and_reports_its_error(
    rotctld: Daemon,
) -> None:
    track, p = north_crossing_track()
    speedup = 16.0
    clock = SimulatedClock(p.aos - timedelta(seconds=60), speedup=speedup)
    pointing = PointAlong(
        host=rotctld.host,
        port=rotctld.port,
        clock=clock,
        antenna={
            "max_az_slew_deg_s": DUMMY_SPEED_DEG_S / speedup,
            "max_el_slew_deg_s": DUMMY_SPEED_DEG_S / speedup,
        },
        update_s=4.0,
    )
    # Nothing else reads the rotator: hamlib's dummy advances its position
    # only when it is read, and a new command restarts its motion from the
    # last read, so the tracker's own reads must keep it moving.
    pointing.start(track, threading.Event())
    summary = pointing.finish(timeout_s=600.0)
    # Read at each tick, the rotator holds the previous command, which
    # pointed update_s/2 = 2 s ahead of its tick: update_s/2 behind the track;
    # plus 0.25 s of wall time late on a loaded machine (x16), 0.01 deg rounding.
    update_s, late_s = 4.0, 0.25 * speedup
    tol_az = float(np.abs(track.azimuth_rate_deg_s).max()) * (update_s / 2 + late_s) + 0.01
    tol_el = float(np.abs(track.elevation_rate_deg_s).max()) * (update_s / 2 + late_s) + 0.01
    print(f"pointing summary {summary}, tolerances az {tol_az:.2f} el {tol_el:.2f} deg")
    assert "error" not in summary and summary["errors"] == []
    assert summary["samples"] >= 0.5 * p.duration_s / update_s
    assert summary["p95_az_error_deg"] <= tol_az
    assert summary["p95_el_error_deg"] <= tol_el
    assert summary["preposition_late_s"] == 0.0 and summary["flipped"] is False
    assert summary["rotctld"] == f"{rotctld.host}:{rotctld.port}"


def test_cancelled_pointing_ends_at_once_and_parks(rotctld: Daemon) -> None:
    track, p = north_crossing_track()
    speedup = 16.0
    pointing = PointAlong(
        host=rotctld.host,
        port=rotctld.port,
        clock=SimulatedClock(p.aos - timedelta(seconds=60), speedup=speedup),
        antenna={"max_az_slew_deg_s": 1.0, "max_el_slew_deg_s": 1.0},
        update_s=4.0,
    )
    halt = threading.Event()
    pointing.start(track, halt)
    time.sleep(0.3)
    pointing.cancel()
    began = time.monotonic()
    summary = pointing.finish(timeout_s=30.0)
    assert time.monotonic() - began < 5.0  # not the pass's 30 s of wall time
    assert summary["samples"] == 0 and summary["errors"] == [], summary
    assert not halt.is_set()  # the pass's own stop is left alone


def test_the_heartbeats_rotator_reading_says_when_it_was_read_to_the_microsecond(
    rotctld: Daemon, tmp_path: Path
) -> None:
    """A rotator moving a few deg/s is read against the track at ``read_at``:
    written to the second, a reading's time was up to 1 s early."""
    clock = SimulatedClock(datetime(2026, 1, 1, 12, 0, 0, 700_000, tzinfo=UTC))
    agent = StationAgent(
        client=None,  # type: ignore[arg-type]  # not called: only the rotator is read
        clock=clock,
        spool=Spool(tmp_path),
        front_end="simulated",
        software_version="test",
        rotctld=f"{rotctld.host}:{rotctld.port}",
    )
    before = clock.now()
    reading = agent.status()["rotator"]
    after = clock.now()
    assert (reading["azimuth_deg"], reading["elevation_deg"]) == (0.0, 0.0)
    assert before <= utc(reading["read_at"]) <= after, (before, reading, after)
