"""Radio control against hamlib's real ``rigctld -m 1`` (dummy radio)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from groundstation.clock import SimulatedClock
from groundstation.station.errors import HardwareError
from groundstation.station.rig import DopplerSchedule, DopplerTuner, Radio
from orbital.track import compute_track
from tests.station.conftest import Daemon
from tests.station.passes import north_crossing_track, satellite, station

NOAA18_APT_HZ = 137.9125e6


def test_radio_tunes_and_sets_a_mode_it_lists(rigctld: Daemon) -> None:
    with Radio(rigctld.host, rigctld.port) as radio:
        radio.set_frequency(437_525_123.4)
        assert radio.frequency() == 437_525_123.0
        assert "FM" in radio.modes()
        radio.set_mode("FM", 15000)
        assert radio.mode() == ("FM", 15000)


def test_a_mode_the_radio_does_not_list_is_refused_naming_it(rigctld: Daemon) -> None:
    with Radio(rigctld.host, rigctld.port) as radio:
        with pytest.raises(
            HardwareError, match=r"rigctld at 127.0.0.1:\d+: mode 'GMSK' is not one"
        ):
            radio.set_mode("GMSK")
        with pytest.raises(HardwareError, match=r"freq_hz -5.0 must be a positive frequency"):
            radio.set_frequency(-5.0)


def test_the_radio_follows_the_doppler_of_a_pass_in_compressed_time(rigctld: Daemon) -> None:
    """NOAA 18's APT carrier over Svalbard, 16x faster than real time.

    Tolerance: a frequency is sent ``update_s/2`` ahead and held ``update_s``,
    so it is off by at most the peak Doppler rate times ``update_s/2``, plus
    that rate times ``speedup * 0.25 s`` for a late command on a loaded
    machine, plus rigctld's 1 Hz rounding.
    """
    track, p = north_crossing_track()
    speedup, update_s = 16.0, 2.0
    schedule = DopplerSchedule.downlink(track, NOAA18_APT_HZ)
    peak_rate_hz_s = float(np.abs(track.doppler_rate_hz_s(NOAA18_APT_HZ)).max())
    tol_hz = peak_rate_hz_s * (update_s / 2 + 0.25 * speedup) + 1.0
    clock = SimulatedClock(p.aos - timedelta(seconds=5), speedup=speedup)
    with Radio(rigctld.host, rigctld.port) as radio:
        report = DopplerTuner(radio, clock, update_s=update_s).tune(schedule)
    assert not report.errors and not report.stopped_early
    assert len(report.samples) >= 0.9 * p.duration_s / update_s  # late ticks are not queued
    for s in report.samples:
        assert abs(s.reported_hz - s.commanded_hz) <= 0.5  # rigctld reads back whole hertz
    predicted = compute_track(
        satellite("NOAA 18"), station("svalbard"), [s.time_utc for s in report.samples]
    ).doppler_hz(NOAA18_APT_HZ)
    errors_hz = [
        abs(s.reported_hz - (NOAA18_APT_HZ + d))
        for s, d in zip(report.samples, predicted, strict=True)
    ]
    print(
        f"tuning error over {len(errors_hz)} commands: max {max(errors_hz):.1f} Hz (tol {tol_hz:.1f})"
    )
    assert max(errors_hz) <= tol_hz
    # Approaching at AOS (above the carrier), receding at LOS (below).
    assert report.samples[0].reported_hz > NOAA18_APT_HZ + 1000
    assert report.samples[-1].reported_hz < NOAA18_APT_HZ - 1000
