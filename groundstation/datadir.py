"""The data directory: created private (``Settings.data_dir_mode``, 0700 by
default), and everything the service creates there (SQLite database and its
WAL, frame spool, local topic log, datasets, staging, metrics) created with
the same mode, files without execute bits (0600): the database holds API key
hashes. Called at the edges (CLI context, ``open_runtime``, the uvicorn
factory, ``demo``) before anything is written.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from groundstation.settings import Settings

log = logging.getLogger(__name__)


def prepare_data_dir(settings: Settings) -> Path:
    """Set the process umask from ``settings.data_dir_mode`` (files get the
    mode without execute bits, directories the mode) and create the data
    directory, parents included, with that mode. An existing directory keeps
    its mode; a warning says when it is more open than configured."""
    mode = settings.data_dir_mode
    os.umask(0o777 & ~mode)
    path = settings.data_dir
    if not path.exists():
        path.mkdir(parents=True, mode=mode, exist_ok=True)
        path.chmod(mode)  # whatever umask the directory was created under
    elif path.is_dir():
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            log.warning(
                "data directory %s has mode %#o, more open than GS_DATA_DIR_MODE %#o; "
                "`chmod %o %s` to restrict it",
                path,
                current,
                mode,
                mode,
                path,
            )
    return path
