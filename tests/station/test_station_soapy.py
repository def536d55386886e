"""The SoapySDR front end against Debian's SoapySDR and its built-in ``null``
driver: open, rate, frequency, gain, stream set-up and tear-down are real;
the null device streams no samples, which the front end reports."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from groundstation.clock import SimulatedClock
from groundstation.station.errors import HardwareError
from groundstation.station.frontends.soapy import SoapyFrontEnd, load_soapysdr

T0 = datetime(2023, 7, 4, 5, 15, tzinfo=UTC)


def test_debian_soapysdr_loads_into_this_python(soapy: None) -> None:
    module = load_soapysdr()
    assert module.Device({"driver": "null"}).getDriverKey() == "null"


def test_the_null_device_opens_tunes_and_sets_up_its_stream_then_says_it_streams_nothing(
    soapy: None,
) -> None:
    front_end = SoapyFrontEnd(
        "driver=null",
        clock=SimulatedClock(T0),
        fs_hz=2.048e6,
        center_hz=437.5e6,
        gain_db=20.0,
    )
    assert front_end.retunable and not front_end.recorded
    front_end.start()
    front_end.tune(437.51e6)
    front_end.set_gain(30.0)
    assert (front_end.center_hz, front_end.gain_db) == (437.51e6, 30.0)
    with pytest.raises(
        HardwareError, match=r"'driver=null': readStream returned NOT_SUPPORTED \(-5\)"
    ):
        next(front_end.chunks(1024))
    front_end.stop()


def test_a_device_soapysdr_cannot_find_is_an_error_naming_the_device_string(soapy: None) -> None:
    front_end = SoapyFrontEnd(
        "driver=nosuchsdr,serial=42", clock=SimulatedClock(T0), fs_hz=1e6, center_hz=1e8
    )
    with pytest.raises(HardwareError, match=r"'driver=nosuchsdr,serial=42': open .* failed"):
        front_end.start()


def test_without_debian_soapysdr_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SoapySDR", "_SoapySDR"):  # as if never loaded (the venv cannot import it)
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(HardwareError, match="apt-get install python3-soapysdr"):
        load_soapysdr(tmp_path)
