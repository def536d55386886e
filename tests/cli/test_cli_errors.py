"""Bad input on the command line: exit code 2 and one line naming the
offending value, never a traceback (``groundstation.cli.run_command`` is the
one error boundary); refusals of a valid request exit 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundstation.cli import main

ROOT = Path(__file__).resolve().parents[2]
TLE = str(ROOT / "sample_tles" / "stations.tle")
STATIONS = str(ROOT / "sample_tles" / "stations.yaml")
PASSES = ["passes", "--tle", TLE, "--stations", STATIONS]
START = ["--start", "2023-07-04T00:00:00Z"]


def run(argv: list[str]) -> int:
    """``main(argv)``; argparse's own refusals exit through ``SystemExit``."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Input files of every kind, and the embedded database under tmp_path."""
    for key in ("GS_DATABASE_URL", "GS_CLOCK", "GS_CLOCK_SPEEDUP", "GS_DATA_DIR_MODE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "empty.cf32").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    np.zeros(4096, np.complex64).tofile(tmp_path / "zeros.cf32")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "broken.yaml").write_text("stations: [[[\n")
    (tmp_path / "deep.yaml").write_text("[" * 50_000)
    (tmp_path / "garbage.tle").write_text("1 25544U garbage\n2 25544 more garbage\n")
    (tmp_path / "orbit.oem").write_text(
        "CCSDS_OEM_VERS = 2.0\nMETA_START\nOBJECT_NAME = X\nMETA_STOP\n"
        "2023-07-04T18:00:00 1000.0 2000.0 6500.0 1.0 2.0 3.0\n"
    )
    (tmp_path / "page.xml").write_text("<html>\n")
    (tmp_path / "requests.yaml").write_text("- {norad_id: abc}\n")
    return tmp_path


CASES: list[tuple[str, list[str], str]] = [
    ("empty IQ file", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/empty.cf32",
                       "--sample-rate", "38400"], "'{d}/empty.cf32' is empty"),
    ("directory as --iq", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/adir",
                           "--sample-rate", "38400"], "'{d}/adir' is a directory"),
    ("--sample-rate 1e12", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/zeros.cf32",
                            "--sample-rate", "1e12"], "--sample-rate 1000000000000.0 with profile 'ccsds-bpsk-rs': sample rate 1e+12"),
    ("--sample-rate 0", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/zeros.cf32",
                         "--sample-rate", "0"], "--sample-rate 0.0 must be > 0"),
    ("--sample-rate -1", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/zeros.cf32",
                          "--sample-rate", "-1"], "--sample-rate -1.0 must be > 0"),
    ("--sample-rate nan", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/zeros.cf32",
                           "--sample-rate", "nan"], "--sample-rate: 'nan' is not a finite number"),
    ("missing IQ file", ["decode", "--profile", "ccsds-bpsk-rs", "--iq", "{d}/nope.cf32",
                         "--sample-rate", "38400"], "'{d}/nope.cf32' does not exist"),
    ("profile is a directory", ["decode", "--profile", "{d}/adir", "--iq", "{d}/zeros.cf32",
                                "--sample-rate", "38400"], "'{d}/adir' is a directory"),
    ("passes --hours 1e9", [*PASSES, *START, "--hours", "1e9"], "--hours 1000000000.0 must be <= 8784"),
    ("passes --hours -1", [*PASSES, *START, "--hours", "-1"], "--hours -1.0 must be > 0"),
    ("passes --hours inf", [*PASSES, *START, "--hours", "inf"], "--hours: 'inf' is not a finite number"),
    ("passes --start 9999", [*PASSES, "--start", "9999-12-31T00:00:00Z"],
     "--start 9999-12-31T00:00:00+00:00 is outside the supported range"),
    ("passes ending after 2099", [*PASSES, "--start", "2099-12-31T23:00:00Z", "--hours", "2"],
     "the end (--start + --hours) 2100-01-01T01:00:00+00:00 is outside"),
    ("stations file is binary", ["passes", "--tle", TLE, "--stations", "{d}/binary.yaml", *START],
     "stations file '{d}/binary.yaml' is not UTF-8 text"),
    ("stations YAML broken", ["stations", "import", "{d}/broken.yaml"],
     "stations file '{d}/broken.yaml': stations file is not valid YAML"),
    ("stations YAML nested deeply", ["stations", "import", "{d}/deep.yaml"],
     "stations file '{d}/deep.yaml' is nested too deeply"),
    ("stations file missing", ["stations", "import", "{d}/nope.yaml"],
     "cannot read stations file '{d}/nope.yaml': No such file"),
    ("garbage TLE", ["ephemeris", "upload", "{d}/garbage.tle"],
     "no element set of '{d}/garbage.tle' was stored"),
    ("OEM file", ["ephemeris", "upload", "{d}/orbit.oem"],
     "OEM segment at line 2 has no OBJECT_ID in its metadata"),
    ("XML not an ephemeris", ["ephemeris", "upload", "{d}/page.xml"],
     "the upload is XML (line 1: '<html>'), a format not read here"),
    ("TLE is a directory", ["ephemeris", "upload", "{d}/adir"], "'{d}/adir' is a directory"),
    ("requests not numbers", ["plan", "{d}/requests.yaml", "--profile", "p", *START,
                              "--end", "2023-07-05T00:00:00Z"], "norad_id 'abc' is not a number"),
    ("requests YAML broken", ["plan", "{d}/broken.yaml", "--profile", "p", *START,
                              "--end", "2023-07-05T00:00:00Z"],
     "requests file '{d}/broken.yaml' is not valid YAML"),
    ("unknown contact", ["cancel", "no-such-contact"], "contact 'no-such-contact' does not exist"),
    ("availability over decades", ["availability", "--norad-id", "1", "--profile", "p",
                                   "--start", "1970-01-01T00:00:00Z",
                                   "--end", "2023-07-04T00:00:00Z"],
     "spans 19542.0 days; at most 31 days"),
    ("NORAD id too large", ["availability", "--norad-id", "99999999999999999999",
                            "--profile", "p"], "99999999999999999999 is not between 1 and"),
    ("NaN number", ["profiles", "add", "--id", "p", "--prepass-s", "nan"],
     "--prepass-s: 'nan' is not a finite number"),
    ("missing log dir", ["consume", "frames", "--log-dir", "{d}/nope"],
     "--log-dir '{d}/nope' does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_naming_the_value(
    files: Path, capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    code = run([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"groundstation {argv[0]}") and ": error: " in lines[0]
    assert named.format(d=files) in lines[0]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("nonsense", "GS_DATABASE_URL 'nonsense' is not a database URL"),
        ("foo://u:pw1234@h/db", "GS_DATABASE_URL 'foo://u:***@h/db' is not a database URL"),
        ("postgresql+psycopg://u:pw1234@h:notaport/db", "is not a database URL"),
        (
            "postgresql+psycopg://u:pw1234@127.0.0.1:1/db",
            "cannot open the database at postgresql+psycopg://u:***@127.0.0.1:1/db",
        ),
    ],
)
def test_an_invalid_database_url_exits_2_naming_it_with_the_password_masked(
    files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    named: str,
) -> None:
    monkeypatch.setenv("GS_DATABASE_URL", url)
    for argv in (["db", "upgrade"], ["stations", "list"], ["contacts", "list"]):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert named in err
        assert "pw1234" not in err


def test_an_invalid_setting_exits_2_naming_the_variable(
    files: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GS_CLOCK_SPEEDUP", "fast")
    assert main(["stations", "list"]) == 2
    err = capsys.readouterr().err
    assert "GS_CLOCK_SPEEDUP='fast'" in err and err.count("\n") == 1
    monkeypatch.delenv("GS_CLOCK_SPEEDUP")
    monkeypatch.setenv("GS_DATA_DIR_MODE", "0600")
    assert main(["stations", "list"]) == 2
    assert "GS_DATA_DIR_MODE='0600'" in capsys.readouterr().err
