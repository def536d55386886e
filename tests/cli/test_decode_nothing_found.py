"""``decode`` that finds no frame says so, with what it tried and hints, and
exits 1 (not 0 with "0 frames ok"): a wrong sample rate, a carrier outside
the searched range, pure noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundstation.cli import main

PROFILE = "ccsds-bpsk-conv-rs"  # 9600 baud


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 frames at 4 samples/symbol (38400 Hz), carrier 800 Hz off centre."""
    path = tmp_path_factory.mktemp("decode") / "pass.cf32"
    assert main(["simulate", "--profile", PROFILE, "--frames", "6", "--ebn0", "8",
                 "--freq-offset-hz", "800", "--out", str(path)]) == 0  # fmt: skip
    return path


def _decode(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["decode", "--profile", PROFILE, "--iq", str(path), *extra])
    return code, capsys.readouterr().err


def test_the_right_sample_rate_decodes_and_exits_0(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _decode(recording, capsys, "--sample-rate", "38400")
    assert code == 0 and "6 frames ok" in err and "hint" not in err


@pytest.mark.parametrize("rate", ["76800", "19200"])
def test_a_wrong_sample_rate_exits_1_suggesting_the_rate_the_spectrum_shows(
    recording: Path, capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    code, err = _decode(recording, capsys, "--sample-rate", rate)
    assert code == 1
    assert "no frame found (no attached sync marker) in " in err
    assert f"--sample-rate {rate} Hz" in err and PROFILE in err and "9600 baud" in err
    hint = next(line for line in err.splitlines() if "sample rate near" in line)
    suggested = float(hint.split("sample rate near ")[1].split()[0])
    assert 0.85 * 38400 < suggested < 1.15 * 38400
    assert f"not {rate}: check --sample-rate" in hint


def test_a_carrier_outside_the_searched_range_exits_1_suggesting_the_offset(
    recording: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _decode(recording, capsys, "--sample-rate", "38400", "--center-offset-hz", "-6000")
    assert code == 1
    assert "carrier searched -6000 +- 4320 Hz" in err
    hint = next(line for line in err.splitlines() if "centred near" in line)
    centre = float(hint.split("centred near ")[1].split()[0])
    assert abs(centre - 800) < 300 and "--center-offset-hz" in hint


def test_pure_noise_exits_1_saying_nothing_stands_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(7)
    noise = (rng.normal(size=200_000) + 1j * rng.normal(size=200_000)).astype(np.complex64)
    path = tmp_path / "noise.cf32"
    noise.tofile(path)
    code, err = _decode(path, capsys, "--sample-rate", "38400", "--json")
    assert code == 1
    assert "no frame found" in err and "the spectrum is flat" in err
    assert "frames ok" not in err


def test_a_silent_recording_exits_1_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "silence.cf32"
    np.zeros(60_000, np.complex64).tofile(path)
    code, err = _decode(path, capsys, "--sample-rate", "38400")
    assert code == 1 and "Traceback" not in err
    assert "no frame found" in err and "the recording is silent" in err
