"""Summarise a GS_TEST_LEAK_REPORT file (one JSON line per test module,
written by tests/conftest.py): per module, the threads, fds, children and
TCP connections it added to the pytest process, and the totals at the end.

    GS_TEST_LEAK_REPORT=build/leaks.jsonl GS_TEST_LEAK_GUARD=off .venv/bin/pytest tests/api
    .venv/bin/python scripts/leak_report.py build/leaks.jsonl
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _names(threads: list[str]) -> Counter[str]:
    return Counter(
        t.split(" ", 1)[0].rstrip("_0123456789") + " " + t.split(" ")[-1] for t in threads
    )


def main(path: str) -> None:
    rows: list[dict[str, Any]] = [json.loads(x) for x in Path(path).read_text().splitlines()]
    prev: dict[str, Any] = {"threads": [], "fds": 0, "children": [], "tcp": {}, "cpu_s": 0.0}
    print(
        f"{'module':60} {'s':>7} {'cpu':>7} {'thr':>4} {'+thr':>5} {'fds':>5} {'+fd':>5} "
        f"{'kids':>4} tcp"
    )
    for row in rows:
        added = _names(row["threads"]) - _names(prev["threads"])
        print(
            f"{row['module'][-60:]:60} {row['seconds']:7.1f} {row['cpu_s'] - prev['cpu_s']:7.1f} "
            f"{len(row['threads']):4} {len(row['threads']) - len(prev['threads']):+5} "
            f"{row['fds']:5} {row['fds'] - prev['fds']:+5} {len(row['children']):4} {row['tcp']}"
        )
        for name, n in sorted(added.items()):
            print(f"{'':8}+{n} {name}")
        prev = row
    last = rows[-1]
    print(
        f"\nat the end: {len(last['threads'])} threads, {last['fds']} fds, "
        f"children {last['children']}, tcp {last['tcp']}"
    )
    for name, n in _names(last["threads"]).most_common():
        print(f"  {n:4} {name}")


if __name__ == "__main__":
    main(sys.argv[1])
