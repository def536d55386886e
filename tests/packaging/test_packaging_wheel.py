"""The package as a user installs it (issue 20): ``python -m build`` makes an
sdist and a wheel (from that sdist) without a warning; the wheel, installed
into a fresh virtual environment outside the repository, runs
``groundstation`` and ``python -m groundstation`` and a short demo there, on
the sample data it carries, writing under the directory it is run from.

Slow (about 1-2 minutes, most of it pip unpacking the dependencies, from
pip's cache when it has them); run by ``make test``. Needs the package index
(PyPI) for the build's isolated environment and the dependencies."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from groundstation.commands.demo import SAMPLE_FILES
from groundstation.version import package_version, software_version

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
VERSION = package_version()


@dataclass(frozen=True)
class Built:
    sdist: Path
    wheel: Path
    log: str


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what would point the child at the
    repository, the test services or this test run's settings."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NUMBA_CACHE_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_") and k not in drop}
    return env | extra


def _run(argv: list[str], *, cwd: Path, timeout_s: float, **env: str) -> str:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{output[-4000:]}"
    return output


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    # PYTHONDONTWRITEBYTECODE (set on some machines) makes setuptools warn
    # that it skips byte-compiling: the user's choice, not a packaging fault.
    env = {k: v for k, v in _clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    return Built(
        out / f"groundstation-{VERSION}.tar.gz",
        out / f"groundstation-{VERSION}-py3-none-any.whl",
        log,
    )


@pytest.fixture(scope="module")
def venv(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the repository with the wheel
    installed (pip of this environment installing into it, from its cache)."""
    root = tmp_path_factory.mktemp("venv")
    assert REPO not in root.parents
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root, timeout_s=120)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(root / "bin" / "python"),
            "install",
            "--no-compile",
            "--disable-pip-version-check",
            "--quiet",
            str(built.wheel),
        ],
        cwd=root,
        timeout_s=600,
    )
    return root


def test_build_makes_an_sdist_and_a_wheel_without_a_warning(built: Built) -> None:
    assert built.sdist.is_file() and built.wheel.is_file()
    warnings = [line for line in built.log.splitlines() if re.search(r"warn", line, re.I)]
    assert warnings == []


def test_the_sdist_and_the_wheel_carry_the_sample_data_as_files(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel, tarfile.open(built.sdist) as sdist:
        for name in SAMPLE_FILES:
            expected = (REPO / "sample_tles" / name).read_bytes()
            assert wheel.read(f"groundstation/samples/{name}") == expected
            member = sdist.getmember(f"groundstation-{VERSION}/groundstation/samples/{name}")
            assert member.isfile()  # the link's contents, not the link
            extracted = sdist.extractfile(member)
            assert extracted is not None and extracted.read() == expected


def test_the_installed_command_and_python_dash_m_report_the_version(
    venv: Path, tmp_path: Path
) -> None:
    for argv in (
        [str(venv / "bin" / "groundstation")],
        [str(venv / "bin" / "python"), "-m", "groundstation"],
    ):
        assert _run([*argv, "--version"], cwd=tmp_path, timeout_s=120) == f"{software_version()}\n"
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import groundstation; print(groundstation.__file__)"],
        cwd=tmp_path,
        timeout_s=60,
    )
    assert Path(where.strip()).is_relative_to(venv)  # the wheel's copy, not the repository's


def test_the_installed_demo_runs_from_another_directory_writing_there(
    venv: Path, tmp_path: Path
) -> None:
    # One contact at x60. The DSP may fall behind the service clock on a
    # loaded machine (numba compiles the kernels on this first run): a lag
    # limit no pass reaches keeps the demo from shedding it; it then ends
    # late, within --grace-s.
    output = _run(
        [
            str(venv / "bin" / "groundstation"),
            "demo",
            "--contacts",
            "1",
            "--speedup",
            "60",
            "--progress-s",
            "30",
            "--grace-s",
            "400",
        ],
        cwd=tmp_path,
        timeout_s=600,
        GS_DOWNLINK_MAX_LAG_S="1000000",
    )
    assert "1 of 1 contacts completed" in output
    # Nothing in the demo's output may pass for a real pass.
    assert "\nSIMULATED: these passes run through the built-in RF simulator" in output
    assert "(simulated passes: no satellite was received)" in output
    progress = [line for line in output.splitlines() if line.startswith("[")]
    assert progress and all(" simulated] " in line for line in progress), progress
    states = [line for line in output.splitlines() if line.startswith("- ")]
    assert len(states) == 1 and states[0].endswith("COMPLETED (simulated)"), states
    assert (tmp_path / "var" / "demo" / "groundstation.db").is_file()
    (frames,) = (tmp_path / "var" / "demo" / "datasets").rglob("frames.h5")
    provenance = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, h5py; print(h5py.File(sys.argv[1]).attrs['software_version'])",
            str(frames),
        ],
        cwd=tmp_path,
        timeout_s=60,
    )
    assert provenance == f"{software_version()}\n"
