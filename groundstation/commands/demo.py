"""``groundstation demo``: what the service does, on embedded defaults.

For now: the next passes of the sample weather satellites over the sample
stations, on a service clock set near the sample elements' epoch.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from groundstation.commands.passes import format_table
from orbital.omm import parse_elements
from orbital.passes import predict_passes
from orbital.stations import parse_stations

#: The sample elements date from 2023-07-04; the demo clock starts there.
DEMO_CLOCK_START = datetime(2023, 7, 4, 12, 0, tzinfo=UTC)


def find_samples(explicit: str | None) -> Path:
    candidates = [Path(explicit)] if explicit else []
    candidates += [Path.cwd() / "sample_tles", Path(__file__).resolve().parents[2] / "sample_tles"]
    for c in candidates:
        if (c / "weather.tle").is_file() and (c / "stations.yaml").is_file():
            return c
    raise FileNotFoundError(
        "sample_tles/ (weather.tle, stations.yaml) not found; run from the repository "
        "or pass --samples DIR"
    )


def run(args: argparse.Namespace) -> int:
    try:
        samples = find_samples(args.samples)
    except FileNotFoundError as exc:
        print(f"groundstation demo: error: {exc}", file=sys.stderr)
        return 2
    elements = parse_elements((samples / "weather.tle").read_text()).elements
    stations = parse_stations((samples / "stations.yaml").read_text())
    start = DEMO_CLOCK_START
    end = start + timedelta(hours=args.hours)
    result = predict_passes(elements, stations, start, end)
    passes = [p for p in result.passes if not p.truncated][: args.limit]
    print(
        f"Service clock: {start.isoformat()} (near the sample elements' epoch)\n"
        f"{len(elements)} weather satellites x {len(stations)} stations, next {args.hours:g} h: "
        f"{len(result.passes)} passes; the first {len(passes)}:\n"
    )
    print(format_table(passes))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("demo", help="run the demo on embedded defaults")
    p.add_argument("--samples", default=None, help="sample_tles directory")
    p.add_argument("--hours", type=float, default=6.0, help="look-ahead (hours)")
    p.add_argument("--limit", type=int, default=25, help="passes to print")
    p.set_defaults(func=run)
