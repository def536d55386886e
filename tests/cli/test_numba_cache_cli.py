"""numba compiles the DSP kernels once and caches them (``cache=True``),
also from an installed, read-only package: with a read-only site-packages
and no writable home, ``groundstation`` gives numba a private cache under
the temporary directory (groundstation.numba_cache); before, importing the
kernels failed ("cannot cache function ...: no locator available")."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from groundstation.errors import ConfigurationError
from groundstation.numba_cache import numba_cache_fallback

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "tests" / "data" / "dsp" / "recordings" / "entrysat.wav"
CHILD = "import sys; from groundstation.cli import main; sys.exit(main(sys.argv[1:]))"


def installed_copy(site: Path) -> None:
    """The project's packages as an install puts them in site-packages (no caches)."""
    for package in ("groundstation", "dsp", "orbital", "ingest"):
        shutil.copytree(
            ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )


def run_read_only(
    site: Path, home: Path, temp: Path, argv: list[str]
) -> subprocess.CompletedProcess[str]:
    """``groundstation argv`` from ``site`` with ``site`` and ``home`` read-only:
    a read-only bind mount in a private mount namespace for root (which file
    modes do not stop), file modes for anyone else."""
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "HOME": str(home),
        "TMPDIR": str(temp),
        "NUMBA_DEBUG_CACHE": "1",  # numba says what it loads and what it saves
    }
    for key in ("XDG_CACHE_HOME", "NUMBA_CACHE_DIR"):
        env.pop(key, None)
    command = [sys.executable, "-c", CHILD, *argv]
    if os.geteuid() == 0:
        mount = (
            'mount --bind -o ro "$1" "$1" && mount --bind -o ro "$2" "$2" && shift 2 && exec "$@"'
        )
        command = ["unshare", "--mount", "sh", "-c", mount, "sh", str(site), str(home), *command]
    else:
        for path in (site, home):
            for directory, _, _ in os.walk(path):
                os.chmod(directory, 0o555)
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=900, check=False, cwd=temp
    )


@pytest.mark.slow
def test_kernels_compile_once_into_a_private_cache_when_nothing_else_is_writable(
    tmp_path: Path,
) -> None:
    site, home, temp = tmp_path / "site", tmp_path / "home", tmp_path / "tmp"
    installed_copy(site)
    home.mkdir()
    temp.mkdir()
    argv = ["decode", "--satellite", "EntrySat", "--iq", str(RECORDING)]
    first = run_read_only(site, home, temp, argv)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "no locator available" not in first.stderr
    frames = [line for line in first.stdout.splitlines() if line and line[0] in "0123456789abcdef"]
    assert len(frames) == 1
    cache = temp / f"groundstation-numba-{os.getuid()}"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert list(cache.rglob("*.nbi")) and "data saved to" in first.stdout
    assert not (site / "dsp" / "__pycache__").exists() and not any(home.iterdir())

    second = run_read_only(site, home, temp, argv)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "data loaded from" in second.stdout and "data saved to" not in second.stdout
    assert [line for line in second.stdout.splitlines() if line in frames] == frames


def test_the_fallback_is_used_only_when_numba_has_no_writable_place(tmp_path: Path) -> None:
    source, user = tmp_path / "dsp", tmp_path / "cache"
    source.mkdir()
    assert numba_cache_fallback({}, source, tmp_path) is None  # beside the source
    assert numba_cache_fallback({"NUMBA_CACHE_DIR": "/x"}, Path("/proc/dsp"), tmp_path) is None
    if os.geteuid() != 0:  # root writes anywhere: the read-only case is the test above
        os.chmod(source, 0o555)
        assert numba_cache_fallback({"XDG_CACHE_HOME": str(user)}, source, tmp_path) is None
    proc = Path("/proc/dsp")  # never writable, not even by root
    assert numba_cache_fallback({"XDG_CACHE_HOME": "/proc/x"}, proc, tmp_path) == (
        tmp_path / f"groundstation-numba-{os.getuid()}"
    )


def test_a_fallback_directory_others_can_write_to_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / f"groundstation-numba-{os.getuid()}"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(ConfigurationError, match="not a private directory.*NUMBA_CACHE_DIR"):
        numba_cache_fallback({"XDG_CACHE_HOME": "/proc/x"}, Path("/proc/dsp"), tmp_path)
