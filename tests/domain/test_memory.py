"""The malloc arena cap of the long-running processes (groundstation/memory.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from groundstation.memory import limit_malloc_arenas
from groundstation.settings import Settings

# Eight threads each allocate once they all started; glibc then reports its
# arenas with malloc_stats() on stderr ("Arena N:" per arena).
SCRIPT = """
import ctypes, sys, threading
from groundstation.memory import limit_malloc_arenas
if sys.argv[1] != "0":
    assert limit_malloc_arenas(int(sys.argv[1]))
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
start = threading.Barrier(8)
def work():
    start.wait()
    for _ in range(50):
        libc.malloc(100_000)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc.malloc_stats()
"""


def _arenas(cap: int) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cap)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return len(re.findall(r"^Arena \d+:", proc.stderr, flags=re.MULTILINE))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_cap_bounds_the_arenas_that_concurrent_threads_get() -> None:
    assert _arenas(0) > 2  # glibc's default: an arena per allocating thread
    assert _arenas(2) == 2


def test_a_negative_cap_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="-1"):
        limit_malloc_arenas(-1)
    with pytest.raises(ValueError, match="malloc_arena_max .* got -3"):
        Settings(malloc_arena_max=-3)
    assert Settings().malloc_arena_max == 2
