"""Memory of the calling process from /proc/self/status (Linux), for the
benches that measure a stream in a child process.

VmHWM is the peak resident set of this process's own address space.
getrusage's ru_maxrss is no substitute in a child: across fork + exec the
kernel folds the high-water mark of the address space being replaced (the
parent's, copied or shared at the fork) into it, so a child started by a
bench holding 600 MB reports at least 600 MB whatever it uses itself.
"""

from __future__ import annotations

from pathlib import Path


def status_mb(field: str) -> float:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM, ...) in MB; NaN if absent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM)."""
    return status_mb("VmHWM")


def current_rss_mb() -> float:
    return status_mb("VmRSS")
