"""bench/dsp.py measures the peak memory of its streamed pass in a child
process: the figure must be the child's own (VmHWM), not getrusage's
ru_maxrss, which across fork + exec keeps the RSS of the parent it was
forked from (bench/proc_status.py)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

BENCH = Path(__file__).parents[2] / "bench" / "dsp.py"


def test_memory_child_of_the_dsp_bench_reports_its_own_peak_not_its_parents() -> None:
    ballast = np.ones(600 * 2**20 // 8)  # 600 MB resident in this (the parent) process
    child = subprocess.run(
        [sys.executable, str(BENCH), "--memory-child", "0.02"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    assert ballast.sum() > 0
    assert mem["ok"] >= 1
    assert mem["rss_quarter_mb"] <= mem["peak_rss_mb"] < 500
