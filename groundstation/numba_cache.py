"""Where numba keeps the compiled DSP kernels (``dsp/`` compiles them with
``cache=True``, so a process loads them instead of compiling them again;
so does ``orbital/grid_kernels.py``, installed beside ``dsp/``, so the same
check of ``dsp/__pycache__`` answers for it).

numba writes its cache beside the source (``dsp/__pycache__``) or, when
that is not writable (a read-only site-packages), in the user's cache
directory (``$XDG_CACHE_HOME/numba``, else ``~/.cache/numba``). When neither
is writable (a service account without a home on a read-only install) it
refuses to import the kernels at all: "cannot cache function ...: no
locator available". ``numba_cache_fallback`` finds that case before numba
is imported, and the edge (``groundstation.cli.main``) then sets
``NUMBA_CACHE_DIR`` to a private directory under the temporary directory.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from groundstation.errors import ConfigurationError


def _writable(directory: Path) -> bool:
    """What numba checks of a cache directory: it can be made and a file made in it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError:
        return False
    return True


def kernel_source_dir() -> Path:
    """The directory of the ``dsp`` package, not imported: one distribution
    installs it beside ``groundstation``."""
    return Path(__file__).resolve().parents[1] / "dsp"


def numba_cache_fallback(
    environ: Mapping[str, str], source_dir: Path, temp_dir: Path
) -> Path | None:
    """The directory to give numba as ``NUMBA_CACHE_DIR``, or None when its
    own choice works (or the user chose one). The fallback is
    ``temp_dir/groundstation-numba-<uid>``, made private (mode 0700); one
    that another user owns or can write to is refused with a
    ConfigurationError, since numba loads code from it."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(source_dir / "__pycache__"):
        return None
    user_cache = environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    if _writable(Path(user_cache) / "numba"):
        return None
    fallback = temp_dir / f"groundstation-numba-{os.getuid()}"
    try:
        fallback.mkdir(mode=0o700, exist_ok=True)
        info = fallback.lstat()
    except OSError as exc:
        raise ConfigurationError(
            f"no writable directory for numba's compiled-kernel cache ({source_dir}/__pycache__, "
            f"{user_cache}/numba and {fallback}: {exc.strerror}): set NUMBA_CACHE_DIR to one"
        ) from None
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise ConfigurationError(
            f"numba cache fallback {fallback} is not a private directory of this user "
            f"(mode {stat.filemode(info.st_mode)}, owner uid {info.st_uid}): set NUMBA_CACHE_DIR"
        )
    return fallback


def configure_numba_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` when numba could not cache the kernels by
    itself (the edge calls this once, before numba is imported)."""
    fallback = numba_cache_fallback(os.environ, kernel_source_dir(), Path(tempfile.gettempdir()))
    if fallback is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(fallback)
