"""Antenna control against hamlib's real ``rotctld -m 1`` (dummy rotator, 6 deg/s)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pytest

from groundstation.clock import SimulatedClock
from groundstation.errors import ValidationError
from groundstation.station.errors import HardwareConnectionError, HardwareError
from groundstation.station.pointing import PointingPlan, RotatorConfig, plan_pointing
from groundstation.station.rotator import AzEl, Rotator, RotatorLimits
from groundstation.station.tracker import Tracker
from orbital.passes import predict_passes
from orbital.track import compute_track
from tests.station.conftest import Daemon
from tests.station.passes import DUMMY_SPEED_DEG_S, START, north_crossing_track, satellite, station


def _angle_error_deg(a_deg: float, b_deg: float) -> float:
    return abs((a_deg - b_deg + 180.0) % 360.0 - 180.0)


# --- pointing plans (pure) ---


def test_a_pass_across_north_is_one_continuous_turn_on_an_overlap_rotator() -> None:
    track, p = north_crossing_track()
    assert p.aos_azimuth_deg > 300 and p.los_azimuth_deg < 90
    config = RotatorConfig(min_azimuth_deg=-180, max_azimuth_deg=450)
    plan = plan_pointing(track, config, current=AzEl(0, 0))
    assert not plan.wrapped and not plan.flipped
    assert np.all(np.abs(np.diff(plan.azimuth_deg)) < 2.0)  # no swing through the stop
    assert -10 < plan.azimuth_deg[0] < 0  # 351 deg reached as -9, nearest the rotator
    near_450 = plan_pointing(track, config, current=AzEl(400, 0))
    assert 350 < near_450.azimuth_deg[0] < 360


def test_a_pass_across_the_stop_of_a_0_to_360_rotator_is_wrapped_and_says_so() -> None:
    track, _ = north_crossing_track()
    plan = plan_pointing(track, RotatorConfig(min_azimuth_deg=0, max_azimuth_deg=360))
    assert plan.wrapped
    assert plan.azimuth_deg.min() >= 0 and plan.azimuth_deg.max() <= 360
    assert np.max(np.abs(np.diff(plan.azimuth_deg))) > 300  # the one swing round


def test_an_overhead_pass_flips_when_its_azimuth_rate_exceeds_the_slew_rate() -> None:
    sat, where = satellite("NOAA 19"), station("svalbard")
    passes = predict_passes([sat], [where], START, START + timedelta(days=1)).passes
    p = max((q for q in passes if not q.truncated), key=lambda q: q.max_elevation_deg)
    track = compute_track(sat, where, start=p.aos, end=p.los, step_s=1.0)
    peak_rate = float(np.abs(track.azimuth_rate_deg_s).max())
    flip_rotator = dict(min_azimuth_deg=0.0, max_azimuth_deg=450.0, max_elevation_deg=180.0)
    slow = RotatorConfig(max_az_slew_deg_s=peak_rate / 2, **flip_rotator)  # type: ignore[arg-type]
    plan = plan_pointing(track, slow)
    assert plan.flipped
    assert plan.elevation_deg.max() > 90  # over the top instead of round the keyhole
    tca = int(np.argmax(track.elevation_deg))
    flipped_az = float(plan.azimuth_deg[tca])
    assert _angle_error_deg(flipped_az, float(track.azimuth_deg[tca]) + 180.0) < 1e-6
    fast = RotatorConfig(max_az_slew_deg_s=peak_rate * 2, **flip_rotator)  # type: ignore[arg-type]
    assert not plan_pointing(track, fast).flipped
    no_flip = RotatorConfig(max_az_slew_deg_s=peak_rate / 2, max_azimuth_deg=450.0)
    assert not plan_pointing(track, no_flip).flipped  # elevation stops at 90
    with pytest.raises(ValidationError, match="stops at 90"):
        plan_pointing(track, RotatorConfig(flip="always"))


def test_elevation_below_the_rotator_travel_is_held_at_its_limit() -> None:
    track, _ = north_crossing_track()
    plan = plan_pointing(track, RotatorConfig(min_elevation_deg=8.0, max_azimuth_deg=450))
    assert track.elevation_deg.min() < 6.0  # Svalbard sees from 5 deg
    assert plan.elevation_deg.min() == 8.0
    assert plan.elevation_deg.max() == pytest.approx(float(track.elevation_deg.max()))


def test_a_rotator_configuration_out_of_range_is_refused_naming_the_value() -> None:
    with pytest.raises(ValidationError, match="update_s 0"):
        RotatorConfig(update_s=0)
    with pytest.raises(ValidationError, match="azimuth travel 90..10"):
        RotatorConfig(min_azimuth_deg=90, max_azimuth_deg=10)
    with pytest.raises(ValidationError, match="flip 'sometimes'"):
        RotatorConfig(flip="sometimes")  # type: ignore[arg-type]


# --- the rotctld client ---


def test_rotator_reports_its_travel_and_moves_towards_a_commanded_position(
    rotctld: Daemon,
) -> None:
    with Rotator(rotctld.host, rotctld.port) as rot:
        assert rot.limits() == RotatorLimits(-180.0, 450.0, 0.0, 90.0)
        assert rot.position() == AzEl(0.0, 0.0)
        rot.set_position(30.0, 20.0)
        time.sleep(1.0)
        moved = rot.position()
        assert 3.0 < moved.azimuth_deg < 30.0 and 3.0 < moved.elevation_deg <= 20.0
        rot.stop()
        stopped = rot.position()
        time.sleep(0.5)
        assert rot.position() == stopped


def test_a_refused_position_names_the_daemon_the_command_and_the_reply(rotctld: Daemon) -> None:
    with Rotator(rotctld.host, rotctld.port) as rot:
        where = f"rotctld at 127.0.0.1:{rotctld.port}"
        with pytest.raises(HardwareError, match=rf"{where} refused 'P 999.00 10.00': RPRT -1"):
            rot.set_position(999.0, 10.0)
        assert rot.position() == AzEl(0.0, 0.0)  # still usable afterwards


def test_an_unreachable_or_silent_rotator_is_a_connection_error_naming_host_and_port() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        rot = Rotator("127.0.0.1", port, timeout_s=0.3)
        with pytest.raises(HardwareConnectionError, match=rf"127.0.0.1:{port}: no reply to 'p'"):
            rot.position()
    with pytest.raises(
        HardwareConnectionError, match=rf"cannot connect to rotctld at 127.0.0.1:{port}"
    ):
        Rotator("127.0.0.1", port, timeout_s=0.3).position()


# --- a pass in compressed time ---


class _Poller:
    """Reads the rotator's position on its own connection, as an observer would."""

    def __init__(self, daemon: Daemon, clock: SimulatedClock) -> None:
        self.rot = Rotator(daemon.host, daemon.port)
        self.clock = clock
        self.readings: list[tuple[datetime, AzEl]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            before = self.clock.now()
            pos = self.rot.position()
            after = self.clock.now()
            self.readings.append((before + (after - before) / 2, pos))
            time.sleep(0.1)


def test_the_rotator_follows_a_pass_within_the_tolerance_of_its_speed_and_update_rate(
    rotctld: Daemon,
) -> None:
    """NOAA 18 over Svalbard (487 s, across north) run 16x faster than real time.

    Tolerance, per axis: a command points ``update_s/2`` ahead and is held
    ``update_s``, so the truth is at most ``rate * update_s/2`` from it; the
    dummy (6 deg/s, twice the compressed track's peak rate) catches up within
    that; plus ``rate * speedup * 0.25 s`` for commands late on a loaded
    machine, and 0.01 deg of rotctld's rounding.
    """
    track, p = north_crossing_track()
    speedup = 16.0
    peak_az_rate = float(np.abs(track.azimuth_rate_deg_s).max())
    peak_el_rate = float(np.abs(track.elevation_rate_deg_s).max())
    assert peak_az_rate * speedup < DUMMY_SPEED_DEG_S / 2  # the dummy can keep up
    update_s = 4.0
    late_s = 0.25 * speedup
    tol_az = peak_az_rate * (update_s / 2 + late_s) + 0.01
    tol_el = peak_el_rate * (update_s / 2 + late_s) + 0.01

    with Rotator(rotctld.host, rotctld.port) as rot:
        config = RotatorConfig.for_rotator(
            rot.limits(),
            max_az_slew_deg_s=DUMMY_SPEED_DEG_S / speedup,
            max_el_slew_deg_s=DUMMY_SPEED_DEG_S / speedup,
            update_s=update_s,
            park=AzEl(0.0, 90.0),
        )
        plan = plan_pointing(track, config, current=rot.position())
        clock = SimulatedClock(p.aos - timedelta(seconds=60), speedup=speedup)
        tracker = Tracker(rot, config, clock)
        prepos = tracker.preposition_time(plan, rot.position())
        assert prepos > clock.now()  # 9 deg at 0.375 deg/s + 5 s margin: 29 s before AOS
        poller = _Poller(rotctld, clock)
        poller.thread.start()
        report = tracker.track(plan)
        poller.done.set()
        poller.thread.join(timeout=5)
        poller.rot.close()
        time.sleep(1.0)
        after_park = rot.position()

    assert report.prepositioned_at is not None and report.prepositioned_at < p.aos
    assert report.preposition_late_s == 0.0 and not report.errors
    assert len(report.samples) >= 0.9 * p.duration_s / update_s  # late ticks are not queued
    in_pass = [(t, pos) for t, pos in poller.readings if p.aos <= t <= p.los]
    assert len(in_pass) > 50
    times = [t for t, _ in in_pass] + [s.time_utc for s in report.samples]
    reported = [pos for _, pos in in_pass] + [s.reported for s in report.samples]
    predicted = compute_track(satellite("NOAA 18"), station("svalbard"), times)
    az_err = [
        _angle_error_deg(r.azimuth_deg, float(a))
        for r, a in zip(reported, predicted.azimuth_deg, strict=True)
    ]
    el_err = [
        abs(r.elevation_deg - max(float(e), 0.0))
        for r, e in zip(reported, predicted.elevation_deg, strict=True)
    ]
    print(
        f"pointing error over {len(times)} readings: az max {max(az_err):.3f} deg "
        f"(tol {tol_az:.3f}), el max {max(el_err):.3f} deg (tol {tol_el:.3f})"
    )
    assert max(az_err) <= tol_az
    assert max(el_err) <= tol_el
    # Parked after LOS: heading for (0, 90) at 6 deg/s.
    assert after_park.elevation_deg > reported[-1].elevation_deg + 3.0


def _slice_plan(rot: Rotator, speedup: float, seconds: float) -> tuple[RotatorConfig, PointingPlan]:
    track, p = north_crossing_track()
    keep = track.t_s <= seconds
    short = replace(
        track,
        times_utc=[t for t, k in zip(track.times_utc, keep, strict=True) if k],
        **{
            name: getattr(track, name)[keep]
            for name in (
                "t_s",
                "azimuth_deg",
                "elevation_deg",
                "range_km",
                "range_rate_km_s",
                "elevation_rate_deg_s",
                "azimuth_rate_deg_s",
                "error_code",
            )
        },
    )
    config = RotatorConfig.for_rotator(
        rot.limits(),
        max_az_slew_deg_s=DUMMY_SPEED_DEG_S / speedup,
        max_el_slew_deg_s=DUMMY_SPEED_DEG_S / speedup,
        update_s=2.0,
    )
    return config, plan_pointing(short, config, current=rot.position())


def test_a_pass_stopped_early_says_so_and_still_parks(rotctld: Daemon) -> None:
    speedup = 16.0
    with Rotator(rotctld.host, rotctld.port) as rot:
        config, plan = _slice_plan(rot, speedup, 240.0)
        clock = SimulatedClock(plan.start - timedelta(seconds=40), speedup=speedup)
        stop = threading.Event()
        threading.Timer(4.0, stop.set).start()  # 64 s of a 240 s pass
        report = Tracker(rot, config, clock).track(plan, stop=stop)
    assert report.stopped_early
    assert 10 <= len(report.samples) < 120 / config.update_s
    assert report.parked_at is not None and report.parked_at < plan.end


def test_a_rotator_lost_mid_pass_ends_the_pass_with_an_error_naming_it(rotctld: Daemon) -> None:
    speedup = 16.0
    with Rotator(rotctld.host, rotctld.port, timeout_s=0.5) as rot:
        config, plan = _slice_plan(rot, speedup, 240.0)
        clock = SimulatedClock(plan.start - timedelta(seconds=40), speedup=speedup)
        threading.Timer(4.0, rotctld.process.kill).start()
        tracker = Tracker(rot, config, clock)
        with pytest.raises(HardwareConnectionError, match=rf"rotctld at 127.0.0.1:{rotctld.port}"):
            tracker.track(plan)
