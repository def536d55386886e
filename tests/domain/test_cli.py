from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path

import pytest

from groundstation import cli

DATA = Path(__file__).resolve().parent.parent / "data" / "domain"
MODULES = ("inventory", "contacts", "plan", "scheduler")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="groundstation")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in MODULES:
        importlib.import_module(f"groundstation.commands.{name}").register(sub)
    args = parser.parse_args(argv)
    code = cli.run_command(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GS_CLOCK", "simulated")
    monkeypatch.setenv("GS_CLOCK_START", "2023-07-04T18:00:00Z")
    monkeypatch.setenv("GS_CLOCK_SPEEDUP", "1")
    return tmp_path


def test_domain_commands_are_registered_in_the_cli() -> None:
    assert set(MODULES) <= set(cli.COMMAND_MODULES)


def test_cli_books_lists_and_cancels_a_contact(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = [
        [
            "stations", "add", "--id", "svalbard", "--name", "SvalSat",
            "--lat-deg", "78.2298", "--lon-deg", "15.4078", "--alt-m", "501",
        ],
        ["antennas", "add", "--id", "sv-uhf", "--station", "svalbard", "--band", "400e6:450e6"],
        [
            "satellites", "add", "--norad-id", "33591", "--name", "NOAA 19",
            "--tenant", "acme", "--downlink-freq-hz", "437.5e6",
        ],
        ["profiles", "add", "--id", "leo", "--min-viable-duration-s", "120"],
    ]  # fmt: skip
    for argv in setup:
        assert run(argv, capsys)[0] == 0
    code, out, _ = run(["ephemeris", "upload", str(DATA / "sample.tle")], capsys)
    assert code == 0
    assert "stored 1 element sets, 2 not stored" in out
    assert "NORAD 28654 (NOAA 18): satellite is not registered" in out

    code, out, _ = run(["ephemeris", "list", "--norad-id", "33591"], capsys)
    assert code == 0
    assert re.search(r"^1\tepoch 2023-07-04T16:11:18Z\ttle\tsource upload\t.*in force$", out, re.M)

    code, out, _ = run(["availability", "--norad-id", "33591", "--profile", "leo"], capsys)
    assert code == 0
    first = re.search(r"sv-uhf\tAOS (\S+)\tTCA \S+\tLOS (\S+)", out)
    assert first is not None and "AVAILABLE" in out
    aos, los = first.group(1), first.group(2)

    reserve = ["reserve", "--norad-id", "33591", "--antenna", "sv-uhf", "--profile", "leo"]
    reserve += ["--start", aos, "--end", los, "--tenant", "acme"]
    code, out, _ = run(reserve, capsys)
    assert code == 0
    contact_id = re.search(r"contact (\S+) SCHEDULED", out)
    assert contact_id is not None

    code, out, err = run(reserve, capsys)
    assert code == 1 and "error: antenna sv-uhf is booked by contact" in err

    code, out, _ = run(["contacts", "list", "--json"], capsys)
    listed = json.loads(out)
    assert listed["count"] == 1
    assert listed["data"][0]["id"] == contact_id.group(1)
    assert listed["data"][0]["state"] == "SCHEDULED"

    assert run(["cancel", contact_id.group(1)], capsys)[0] == 0
    code, out, _ = run(["contacts", "list", "--state", "CANCELLED"], capsys)
    assert contact_id.group(1) in out and "1 contacts" in out
    code, out, _ = run(["contacts", "list", "--verdict", "none"], capsys)  # not vetted
    assert contact_id.group(1) in out and "1 contacts" in out
    code, out, _ = run(["contacts", "list", "--verdict", "good"], capsys)
    assert contact_id.group(1) not in out and "0 contacts" in out
    code, _, err = run(["contacts", "list", "--verdict", "great"], capsys)
    assert code != 0 and "verdict 'great' is not one of good, partial, bad, failed" in err

    requests = env / "requests.yaml"
    requests.write_text("- {id: noaa19, norad_id: 33591, priority: 2, wanted_passes: 2}\n")
    code, out, _ = run(
        [
            "plan", str(requests), "--profile", "leo", "--book",
            "--start", "2023-07-04T18:00:00Z", "--end", "2023-07-05T06:00:00Z",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0
    assert "chosen 2" in out and "booked 2, refused 0" in out

    code, out, _ = run(["serve-scheduler", "--run-for-s", "0.3"], capsys)
    assert code == 0 and "2 contact jobs" in out


def test_cli_imports_the_sample_stations_with_antennas(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stations_yaml = Path(__file__).resolve().parents[2] / "sample_tles" / "stations.yaml"
    code, out, _ = run(
        ["stations", "import", str(stations_yaml), "--antennas-per-station", "2"], capsys
    )
    assert code == 0
    code, out, _ = run(["antennas", "list"], capsys)
    ids = [line.split("\t")[0] for line in out.splitlines()]
    assert len(ids) == 12 and "svalbard-1" in ids and "seoul-2" in ids
    code, out, _ = run(["stations", "list"], capsys)
    assert "svalbard" in out and "lat 78.2298" in out
