"""The data directory is private: created 0700, and what the service writes
in it (SQLite database and WAL, local topic log, datasets) 0600, whatever
the umask it was started with; ``GS_DATA_DIR_MODE`` chooses another mode.
Run as subprocesses (the setting sets the process umask)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SERVICE_WRITES = """
from datetime import UTC, datetime
from groundstation.events import ContactEvent
from groundstation.runtime import open_runtime
from groundstation.settings import Settings

runtime = open_runtime(Settings())
runtime.store.put_bytes("datasets/c1/frames.h5", b"frames")
runtime.events.publish(ContactEvent("c1", "SCHEDULED", "PREPASS", datetime.now(UTC), "test"))
runtime.close()
"""


def _run(tmp_path: Path, argv: list[str], **env: str) -> None:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    full.update(GS_DATA_DIR=str(tmp_path / "new" / "data"), **env)
    done = subprocess.run(
        argv,
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
        # A permissive umask, as a shell's 022 or worse.
        preexec_fn=lambda: os.umask(0o002),
    )
    assert done.returncode == 0, done.stderr


def _modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return out


@pytest.mark.parametrize(
    ("setting", "dir_mode", "file_mode"), [(None, 0o700, 0o600), ("0750", 0o750, 0o640)]
)
def test_data_dir_and_everything_in_it_get_the_configured_mode(
    tmp_path: Path, setting: str | None, dir_mode: int, file_mode: int
) -> None:
    env = {"GS_DATA_DIR_MODE": setting} if setting else {}
    _run(tmp_path, [sys.executable, "-m", "groundstation.cli", "db", "upgrade"], **env)
    _run(tmp_path, [sys.executable, "-c", SERVICE_WRITES], **env)
    data = tmp_path / "new" / "data"
    modes = _modes(data)
    assert "groundstation.db" in modes
    assert any(name.startswith("topics") for name in modes)
    assert any(name.startswith("datasets/datasets/c1") for name in modes)
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (dir_mode if (data / name).is_dir() else file_mode)
    }
    assert not wrong, f"expected dirs {dir_mode:o}, files {file_mode:o}: {wrong}"
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == dir_mode  # parents made too
