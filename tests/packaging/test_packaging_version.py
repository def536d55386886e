"""One version, from one source (pyproject.toml's ``[project] version``, read
from the installed distribution's metadata by ``groundstation.version``):
``groundstation --version``, ``python -m groundstation``, ``GET /healthz``,
the OpenAPI document and datasets' provenance all report it (issue 20)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from groundstation.version import package_version, software_version

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_the_version_is_pyprojects_as_installed() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert package_version() == version("groundstation") == declared
    assert software_version() == f"groundstation {declared}"


def test_the_command_and_python_dash_m_print_the_version() -> None:
    for argv in ([str(BIN / "groundstation")], [sys.executable, "-m", "groundstation"]):
        done = subprocess.run(
            [*argv, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
        assert (done.returncode, done.stdout) == (0, f"{software_version()}\n"), argv


def test_version_alone_loads_no_subcommand_module() -> None:
    child = (
        "import json, sys\n"
        "from groundstation.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    code = e.code\n"
        "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=True
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0
    assert done.stdout == f"{software_version()}\n"
    assert not [m for m in report["modules"] if m.startswith("groundstation.commands.")]


def test_python_dash_m_runs_the_commands_like_the_command(tmp_path: Path) -> None:
    """The same subcommands, the same exit codes (2: bad input)."""
    done = subprocess.run(
        [sys.executable, "-m", "groundstation", "passes", "--tle", str(tmp_path / "none.tle")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("groundstation passes: error: ")


def _settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'gs.db'}", data_dir=tmp_path / "var")


def test_healthz_and_the_openapi_document_report_the_version(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path))) as client:
        health = client.get("/healthz")
        openapi = client.get("/openapi.json").json()
    assert health.json() == {"status": "ok", "version": package_version()}
    assert openapi["info"]["version"] == package_version()


def test_datasets_record_the_version_as_their_software_version(tmp_path: Path) -> None:
    runtime = open_runtime(_settings(tmp_path))
    try:
        assert runtime.executor.software_version == software_version()
    finally:
        runtime.close()
