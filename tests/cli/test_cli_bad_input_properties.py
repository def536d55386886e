"""Property-based bad input for every command that reads a file: empty,
binary, random text, truncated or byte-flipped versions of a valid file,
huge or deeply nested ones, the wrong kind of file, a directory, a missing
path; and for number, id and time arguments (NaN, infinities, huge or
negative values, far-off dates, text).

For each generated input: never a traceback; an error exits 2 (``decode``
may also exit 1, "nothing found") with one ``groundstation CMD: error:``
line naming the file or the offending value in it; and when a command
refuses, nothing stored changed (a dump of the embedded database before and
after). A mutated file that stays valid may be accepted (exit 0).

The commands run in-process through ``groundstation.cli.main`` (the same
error boundary as the console script). ``pytest --hypothesis-show-statistics``
reports how many inputs each property generated.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groundstation.cli import main

ROOT = Path(__file__).resolve().parents[2]
STATIONS_YAML = (ROOT / "sample_tles" / "stations.yaml").read_bytes()
SAMPLE_TLE = (ROOT / "tests" / "data" / "domain" / "sample.tle").read_bytes()
PROFILE_YAML = (ROOT / "dsp" / "profiles" / "ccsds-bpsk-rs.yaml").read_bytes()
REQUESTS_YAML = b"- {id: n19, norad_id: 33591, priority: 2, wanted_passes: 1}\n"
RANGE_RATE_CSV = b"time_s,range_rate_km_s\n0,-6.5\n10,-6.4\n20,-6.2\n"
SIGMF_META = json.dumps(
    {"global": {"core:datatype": "cf32_le", "core:sample_rate": 38400, "core:version": "1.0.0"}}
).encode()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
WINDOW = ["--start", "2023-07-04T18:00:00Z", "--end", "2023-07-05T06:00:00Z"]
_names = itertools.count()

COMMON = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DB_COMMON = settings(COMMON, max_examples=25)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Corrupt versions of ``valid`` and inputs of the wrong kind."""
    flips = st.lists(
        st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)), min_size=1, max_size=8
    )

    def flip(changes: list[tuple[int, int]]) -> bytes:
        data = bytearray(valid)
        for at, value in changes:
            data[at] = value
        return bytes(data)

    return st.one_of(
        st.just(b""),
        st.binary(max_size=2048),
        st.text(max_size=400).map(lambda t: t.encode("utf-8")),
        st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),
        flips.map(flip),
        st.sampled_from(
            [
                PNG,
                b"[" * 60_000,  # nesting deeper than any parser recursion
                b"- " * 20_000,
                b"9" * 300_000,
                b"\x00" * 100_000,
                SAMPLE_TLE,  # the wrong kind of file for most commands
                STATIONS_YAML,
                b"{}",
                b"null",
                b"[1, 2, 3]",
                valid * 40,
            ]
        ),
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded database with the sample stations, NOAA 18/19 and
    FUNCUBE-1 registered with their elements, a profile; env set."""
    root = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("GS_DATABASE_URL", "GS_DATA_DIR_MODE", "GS_CLOCK_SPEEDUP"):
            mp.delenv(key, raising=False)
        mp.setenv("GS_DATA_DIR", str(root / "data"))
        mp.setenv("GS_CLOCK", "simulated")
        mp.setenv("GS_CLOCK_START", "2023-07-04T18:00:00Z")
        (root / "adir").mkdir()
        setup = [
            ["stations", "import", str(ROOT / "sample_tles" / "stations.yaml"),
             "--antennas-per-station", "1"],
            ["satellites", "add", "--norad-id", "33591", "--name", "NOAA 19", "--tenant", "acme",
             "--downlink-freq-hz", "137.1e6"],
            ["satellites", "add", "--norad-id", "28654", "--name", "NOAA 18", "--tenant", "acme",
             "--downlink-freq-hz", "137.9e6"],
            ["profiles", "add", "--id", "leo", "--min-viable-duration-s", "120"],
            ["ephemeris", "upload", str(ROOT / "tests" / "data" / "domain" / "sample.tle")],
        ]  # fmt: skip
        for argv in setup:
            assert main(argv) == 0, argv
        yield root


def snapshot(root: Path) -> list[str]:
    """Every row of the database (not the planner statistics ``ANALYZE``
    refreshes when a command opens it)."""
    with sqlite3.connect(root / "data" / "groundstation.db") as conn:
        return [line for line in conn.iterdump() if "sqlite_stat" not in line]


def place(root: Path, kind: str, data: bytes, suffix: str) -> str:
    """The path handed to the command: a file holding ``data``, a
    directory, or a path that does not exist."""
    if kind == "directory":
        return str(root / "adir")
    path = root / f"in-{next(_names)}{suffix}"
    if kind == "file":
        path.write_bytes(data)
    return str(path)


def names_the_value(line: str, path: str, data: bytes) -> bool:
    """The error line names the file (or argument), a value that occurs in
    the file, or the same number (``0.0`` may be shown as ``0``)."""
    if path in line or repr(path)[1:-1] in line:
        return True
    text = data.decode("utf-8", errors="replace")
    values = [a or b for a, b in re.findall(r"'([^']{1,80})'|\b(\d{3,})\b", line)]
    if any(v in text for v in values):
        return True
    try:
        wanted = float(path)
    except ValueError:
        return False
    shown = re.findall(r"[-+]?(?:inf|nan|\d+(?:\.\d*)?(?:e[-+]?\d+)?)", line, re.IGNORECASE)
    return any(float(v) == wanted for v in shown)


def check(
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    path: str,
    data: bytes,
    *,
    allowed: tuple[int, ...] = (0, 1, 2),
    root: Path | None = None,
) -> int:
    before = snapshot(root) if root is not None else None
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refused an argument
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    assert "internal error" not in out.err, out.err
    assert code in allowed, (code, out.err)
    if code == 2:
        line = out.err.strip().splitlines()[-1]
        assert line.startswith(f"groundstation {argv[0]}") and ": error: " in line, out.err
        assert names_the_value(line, path, data), line
    if code != 0 and before is not None and root is not None:
        assert snapshot(root) == before, "a refused command changed the database"
    return code


KINDS = st.sampled_from(["file"] * 8 + ["directory", "missing"])


@DB_COMMON
@given(kind=KINDS, data=mutations(STATIONS_YAML))
def test_stations_import(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    path = place(workdir, kind, data, ".yaml")
    check(capsys, ["stations", "import", path], path, data, root=workdir)


@DB_COMMON
@given(kind=KINDS, data=mutations(SAMPLE_TLE))
def test_ephemeris_upload(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    path = place(workdir, kind, data, ".tle")
    check(capsys, ["ephemeris", "upload", path], path, data, root=workdir)


@DB_COMMON
@given(kind=KINDS, data=mutations(REQUESTS_YAML))
def test_plan_requests(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    path = place(workdir, kind, data, ".yaml")
    argv = ["plan", path, "--profile", "leo", "--book", "--time-limit-s", "2", *WINDOW]
    check(capsys, argv, path, data, root=workdir)


@COMMON
@given(which=st.sampled_from(["--tle", "--stations"]), kind=KINDS, data=st.data())
def test_passes_files(
    workdir: Path, capsys: pytest.CaptureFixture[str], which: str, kind: str, data: st.DataObject
) -> None:
    valid = SAMPLE_TLE if which == "--tle" else STATIONS_YAML
    content = data.draw(mutations(valid))
    path = place(workdir, kind, content, ".txt")
    files = {"--tle": str(ROOT / "tests" / "data" / "domain" / "sample.tle"),
             "--stations": str(ROOT / "sample_tles" / "stations.yaml"), which: path}  # fmt: skip
    argv = ["passes", "--tle", files["--tle"], "--stations", files["--stations"],
            "--start", "2023-07-04T18:00:00Z", "--hours", "2"]  # fmt: skip
    check(capsys, argv, path, content)


@COMMON
@given(kind=KINDS, data=st.one_of(mutations(np.zeros(64, np.complex64).tobytes()),
                                  st.binary(min_size=8, max_size=65536)))  # fmt: skip
def test_decode_iq(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    path = place(workdir, kind, data, ".cf32")
    argv = ["decode", "--profile", "ccsds-bpsk-rs", "--iq", path, "--sample-rate", "38400"]
    check(capsys, argv, path, data, allowed=(0, 1, 2))


@COMMON
@given(kind=KINDS, data=mutations(SIGMF_META))
def test_decode_sigmf_metadata(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    base = place(workdir, "missing", b"", "")
    np.zeros(4096, np.complex64).tofile(base + ".sigmf-data")
    meta = base + ".sigmf-meta"
    if kind == "file":
        Path(meta).write_bytes(data)
    elif kind == "directory":
        Path(meta).mkdir()
    argv = ["decode", "--profile", "ccsds-bpsk-rs", "--iq", base, "--format", "sigmf"]
    check(capsys, argv, meta, data, allowed=(0, 1, 2))


@COMMON
@given(kind=KINDS, data=mutations(PROFILE_YAML), command=st.sampled_from(["decode", "simulate"]))
def test_profile_files(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes, command: str
) -> None:
    path = place(workdir, kind, data, ".yaml")
    iq = workdir / "zeros.cf32"
    if not iq.exists():
        np.zeros(8192, np.complex64).tofile(iq)
    if command == "decode":
        argv = ["decode", "--profile", path, "--iq", str(iq), "--sample-rate", "38400"]
    else:
        out = workdir / f"sim-{next(_names)}.cf32"
        argv = ["simulate", "--profile", path, "--frames", "1", "--out", str(out)]
    check(capsys, argv, path, data, allowed=(0, 1, 2))


@COMMON
@given(kind=KINDS, data=mutations(RANGE_RATE_CSV))
def test_range_rate_csv(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, data: bytes
) -> None:
    path = place(workdir, kind, data, ".csv")
    iq = workdir / "zeros.cf32"
    if not iq.exists():
        np.zeros(8192, np.complex64).tofile(iq)
    argv = ["decode", "--profile", "ccsds-bpsk-rs", "--iq", str(iq), "--sample-rate", "38400",
            "--range-rate-csv", path, "--carrier-hz", "437e6"]  # fmt: skip
    check(capsys, argv, path, data, allowed=(0, 1, 2))


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "-0", "0x10", "", " ", "1,5", "9" * 50]),
    st.text(max_size=12),
)
TIMES = st.one_of(
    st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(lambda t: t.isoformat()),
    st.sampled_from(["9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z", "2023-02-30T00:00:00Z",
                     "2023-07-04T25:00:00Z", "2023-07-04", "now", ""]),
    st.text(max_size=25),
)  # fmt: skip


def _number_commands(value: str, uniq: str) -> dict[str, list[str]]:
    """Each value is passed as ``--flag=VALUE`` (or after ``--``), so a
    negative number reaches the command rather than argparse's option parsing."""
    iq = "{iq}"
    return {
        "satellites add --norad-id": ["satellites", "add", f"--norad-id={value}", "--name", "x",
                                      "--tenant", "t", "--downlink-freq-hz", "137e6"],
        "satellites add --downlink-freq-hz": ["satellites", "add", "--norad-id", "77",
                                              "--name", "x", "--tenant", "t",
                                              f"--downlink-freq-hz={value}"],
        "stations add --lat-deg": ["stations", "add", "--id", uniq, "--name", "n",
                                   f"--lat-deg={value}", "--lon-deg", "0"],
        "profiles add --prepass-s": ["profiles", "add", "--id", uniq, f"--prepass-s={value}"],
        "antennas add --band": ["antennas", "add", "--id", uniq, "--station", "svalbard",
                                f"--band={value}:450e6"],
        "ephemeris enable": ["ephemeris", "enable", "--", value],
        "ephemeris list --norad-id": ["ephemeris", "list", f"--norad-id={value}"],
        "decode --sample-rate": ["decode", "--profile", "ccsds-bpsk-rs", "--iq", iq,
                                 f"--sample-rate={value}"],
        "decode --max-offset-hz": ["decode", "--profile", "ccsds-bpsk-rs", "--iq", iq,
                                   "--sample-rate", "38400", f"--max-offset-hz={value}"],
        "simulate --sps": ["simulate", "--profile", "bpsk-uncoded", "--frames", "1",
                           f"--sps={value}", "--out", "{out}"],
    }  # fmt: skip


@DB_COMMON
@given(which=st.sampled_from(sorted(_number_commands("", ""))), value=NUMBERS)
def test_number_and_id_arguments(
    workdir: Path, capsys: pytest.CaptureFixture[str], which: str, value: str
) -> None:
    iq = workdir / "zeros.cf32"
    if not iq.exists():
        np.zeros(8192, np.complex64).tofile(iq)
    uniq = f"u{next(_names)}"
    out = str(workdir / f"{uniq}.cf32")
    places = {"{iq}": str(iq), "{out}": out}
    argv = [places.get(a, a) for a in _number_commands(value, uniq)[which]]
    check(capsys, argv, value, value.encode(), root=workdir)


@DB_COMMON
@given(
    command=st.sampled_from(["availability", "maintenance", "plan"]),
    value=TIMES,
)
def test_time_arguments(
    workdir: Path, capsys: pytest.CaptureFixture[str], command: str, value: str
) -> None:
    requests = workdir / "requests.yaml"
    requests.write_bytes(REQUESTS_YAML)
    argv = {
        "availability": ["availability", "--norad-id", "33591", "--profile", "leo",
                         f"--start={value}", "--end", "2023-07-05T00:00:00Z"],
        "maintenance": ["antennas", "maintenance", "--id", "svalbard-1", f"--start={value}",
                        "--end", "2023-07-05T00:00:00Z"],
        "plan": ["plan", str(requests), "--profile", "leo", f"--start={value}",
                 "--end", "2023-07-05T06:00:00Z"],
    }[command]  # fmt: skip
    check(capsys, argv, value, value.encode(), root=workdir)
