"""``groundstation passes``: predict passes of a TLE file over a stations file."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from groundstation.commands._context import check_time, finite, finite_float, load_input
from groundstation.errors import ValidationError
from orbital.omm import parse_elements
from orbital.passes import Pass, predict_passes
from orbital.stations import parse_stations

#: The longest range one command predicts (a year).
MAX_HOURS = 366 * 24.0
#: The most processes ``--workers`` starts.
MAX_WORKERS = 64


def parse_utc(text: str, what: str) -> datetime:
    """ISO 8601 time with an explicit zone (``Z`` or an offset), converted to
    UTC, within the supported range."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{what} {text!r} is not an ISO 8601 time such as 2023-07-04T12:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ValidationError(f"{what} {text!r} has no timezone; add Z or an offset like +00:00")
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{what} {text!r} is outside the supported range") from None
    return check_time(value, what)


def format_table(passes: list[Pass]) -> str:
    header = (
        f"{'satellite':<24} {'norad':>6} {'station':<15} {'AOS (UTC)':<20} {'TCA':<8} "
        f"{'LOS':<8} {'max el':>7} {'az AOS/TCA/LOS':>17} {'dur s':>7}"
    )
    lines = [header, "-" * len(header)]
    for p in passes:
        flag = " *" if p.truncated else ""
        lines.append(
            f"{p.satellite[:24]:<24} {p.norad_id:>6} {p.station_id[:15]:<15} "
            f"{p.aos:%Y-%m-%d %H:%M:%S} {p.tca:%H:%M:%S} {p.los:%H:%M:%S} "
            f"{p.max_elevation_deg:>7.2f} {p.aos_azimuth_deg:>5.0f}/{p.tca_azimuth_deg:>3.0f}/"
            f"{p.los_azimuth_deg:>3.0f}    {p.duration_s:>7.0f}{flag}"
        )
    if any(p.truncated for p in passes):
        lines.append("* truncated: in progress at the start or end of the range")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    start = parse_utc(args.start, "--start")
    hours = finite(args.hours, "--hours", low=0.0, high=MAX_HOURS)
    end = check_time(start + timedelta(hours=hours), "the end (--start + --hours)")
    if args.min_elevation is not None:
        finite(args.min_elevation, "--min-elevation", low=-90.0, high=90.0)
    if not 1 <= args.workers <= MAX_WORKERS:
        raise ValidationError(f"--workers {args.workers} is outside 1..{MAX_WORKERS}")
    parsed = load_input(args.tle, "TLE file", parse_elements)
    stations = load_input(args.stations, "stations file", parse_stations)
    for rej in parsed.rejected:
        print(f"rejected: {rej.message}", file=sys.stderr)
    if not parsed.elements:
        raise ValidationError(f"no usable element sets in TLE file {args.tle!r}")
    result = predict_passes(
        parsed.elements,
        stations,
        start,
        end,
        min_elevation_deg=args.min_elevation,
        workers=args.workers,
    )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for failure in result.failures:
        print(
            f"warning: {failure.satellite} ({failure.norad_id}): propagation failed "
            f"(SGP4 error {failure.error_code}: {failure.message})",
            file=sys.stderr,
        )
    passes = result.passes
    if args.json:
        payload: list[dict[str, Any]] = [p.as_dict() for p in passes]
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_table(passes))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "passes",
        help="predict passes of satellites over ground stations",
        description="Predict every pass of the satellites in a TLE/3LE/OMM file over the "
        "stations in a stations YAML file.",
    )
    p.add_argument("--tle", required=True, help="TLE, 3LE or OMM (JSON/CSV) file")
    p.add_argument("--stations", required=True, help="stations YAML file")
    p.add_argument("--start", required=True, help="start time, ISO 8601 with zone")
    p.add_argument("--hours", type=finite_float, default=24.0, help="length of the range (hours)")
    p.add_argument(
        "--min-elevation",
        type=finite_float,
        default=None,
        help="minimum elevation (deg); overrides every station's minimum and mask",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes to split the satellites between (the result is the same; "
        "use the number of cores for large catalogues)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=run)
