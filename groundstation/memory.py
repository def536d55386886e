"""Memory settings of the long-running processes (``serve``, ``agent``, ``demo``).

glibc's malloc gives threads that allocate at the same time their own
arenas, up to eight per core, and an arena keeps what is freed in it for
reuse instead of returning it to the system. Each pass runs its DSP in its
own thread and allocates large NumPy buffers, so every new peak of passes
at once spread freed memory over more arenas: in the 20-minute soak
(bench/soak.py) the server's resident memory rose in steps with each
busier peak, from 944 MB after warm-up to 1,146 MB, though nothing was
kept. Capping the arenas (``GS_MALLOC_ARENA_MAX``, default 2) makes the
passes reuse the same freed memory; measured with 6 passes at once in one
process, rounds of passes held 630-660 MB instead of 720-800 MB, at the
same CPU time (a fixed mmap threshold held less but cost 40 % more CPU in
page faults, so it is not used).

Called at the edge (the command's handler), before the passes' threads
start; arenas already made stay.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

# mallopt's parameter number for the arena cap (glibc's malloc.h).
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int) -> bool:
    """Cap glibc malloc's arenas at ``arenas`` (0: leave glibc's default);
    True when the cap is set, False where there is no glibc (musl, macOS)."""
    if arenas < 0:
        raise ValueError(f"malloc arenas must be 0 (glibc's default) or more, not {arenas}")
    if arenas == 0 or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_ARENA_MAX, arenas))
    log.debug("malloc arenas capped at %d: %s", arenas, done)
    return done
