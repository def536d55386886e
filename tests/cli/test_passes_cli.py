from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundstation.cli import main

ROOT = Path(__file__).resolve().parents[2]
TLE = str(ROOT / "sample_tles" / "stations.tle")
STATIONS = str(ROOT / "sample_tles" / "stations.yaml")


def test_passes_json_lists_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["passes", "--tle", TLE, "--stations", STATIONS, "--start", "2023-07-04T00:00:00Z",
         "--hours", "6", "--json"]
    )  # fmt: skip
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) > 10
    assert set(rows[0]) == {
        "norad_id", "satellite", "station", "aos", "tca", "los", "max_elevation_deg",
        "aos_azimuth_deg", "tca_azimuth_deg", "los_azimuth_deg", "duration_s", "truncated",
    }  # fmt: skip
    assert rows[0]["aos"].endswith("Z")
    assert any(r["satellite"] == "ISS (ZARYA)" for r in rows)


def test_min_elevation_override_removes_low_passes(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["passes", "--tle", TLE, "--stations", STATIONS, "--start", "2023-07-04T00:00:00Z",
            "--hours", "24", "--json"]  # fmt: skip
    assert main(args) == 0
    low = json.loads(capsys.readouterr().out)
    assert main([*args, "--min-elevation", "40"]) == 0
    high = json.loads(capsys.readouterr().out)
    assert 0 < len(high) < len(low)
    assert all(r["max_elevation_deg"] >= 40 for r in high)


def test_workers_give_the_same_passes_and_a_bad_count_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["passes", "--tle", TLE, "--stations", STATIONS, "--start", "2023-07-04T00:00:00Z",
            "--hours", "12", "--json"]  # fmt: skip
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*args, "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == one
    assert main([*args, "--workers", "0"]) == 2
    assert "--workers 0 is outside 1..64" in capsys.readouterr().err


def test_table_output_and_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["passes", "--tle", TLE, "--stations", STATIONS, "--start",
                 "2023-07-04T00:00:00+00:00", "--hours", "3"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "ISS (ZARYA)" in out and "max el" in out
    assert main(["passes", "--tle", TLE, "--stations", STATIONS, "--start",
                 "2023-07-04T00:00:00"]) == 2  # fmt: skip
    assert "has no timezone" in capsys.readouterr().err
    assert main(["passes", "--tle", "/nonexistent.tle", "--stations", STATIONS, "--start",
                 "2023-07-04T00:00:00Z"]) == 2  # fmt: skip
    assert "cannot read TLE file '/nonexistent.tle'" in capsys.readouterr().err


def test_rejected_records_are_reported_and_good_ones_predicted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (ROOT / "sample_tles" / "stations.tle").read_text().splitlines()
    lines[2] = lines[2][:-1] + str((int(lines[2][-1]) + 1) % 10)  # break ISS's checksum
    bad = tmp_path / "mixed.tle"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["passes", "--tle", str(bad), "--stations", STATIONS, "--start",
                 "2023-07-04T00:00:00Z", "--hours", "6", "--json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "rejected: TLE line 2 (line 3 of upload) checksum is" in captured.err
    rows = json.loads(captured.out)
    assert rows and all(r["norad_id"] != 25544 for r in rows)
