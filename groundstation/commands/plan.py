"""`plan` subcommand: plan many requests at once (MILP vs greedy), optionally book."""

from __future__ import annotations

import argparse
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from groundstation.clock import iso_utc
from groundstation.commands._context import (
    Context,
    finite,
    finite_float,
    load_input,
    parse_time,
    run,
)
from groundstation.errors import ValidationError
from groundstation.plan_service import plan_contacts
from groundstation.planning import PlanRequest


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan",
        help="plan many contact requests at once",
        description=(
            "REQUESTS is YAML: a list of {id, norad_id, priority, wanted_passes | "
            "wanted_minutes, start?, end?}; start/end default to --start/--end."
        ),
    )
    p.add_argument("requests", type=Path)
    p.add_argument("--profile", required=True)
    p.add_argument("--start", type=parse_time, required=True)
    p.add_argument("--end", type=parse_time, required=True)
    p.add_argument("--antenna", action="append", default=None)
    p.add_argument("--time-limit-s", type=finite_float, default=10.0)
    p.add_argument("--book", action="store_true", help="reserve the planned contacts")
    p.add_argument("--tenant", default="")
    p.set_defaults(func=run(_plan))


#: The longest range one plan covers (as ``POST /plans``: 14 days).
MAX_SPAN = timedelta(days=14)


def load_requests(
    text: str, *, start: Any, end: Any, source: str = "requests file"
) -> list[PlanRequest]:
    """Plan requests from YAML text; any bad entry is a ``ValidationError``
    naming ``source``, the entry and the value."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, list) or not data:
        raise ValidationError(
            f"{source} must hold a non-empty YAML list of requests, got {type(data).__name__}"
        )
    return [_request(item, k, start=start, end=end, source=source) for k, item in enumerate(data)]


def _number(
    item: dict[str, Any], key: str, kind: type[int] | type[float], where: str, high: float = 1e12
) -> Any:
    """``item[key]`` as a finite ``kind`` in (0, high], None when absent."""
    value = item.get(key)
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        out = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{where}: {key} {_short(value)} is not a number") from None
    if not math.isfinite(out) or not 0 < out <= high:
        raise ValidationError(f"{where}: {key} {_short(value)} must be > 0 and <= {high:g}")
    return out


def _time(item: dict[str, Any], key: str, default: Any, where: str) -> Any:
    """``item[key]`` as an ISO 8601 time, ``default`` when absent."""
    if key not in item:
        return default
    try:
        return parse_time(str(item[key]))
    except argparse.ArgumentTypeError as exc:
        raise ValidationError(f"{where}: {key}: {exc}") from None


def _request(item: Any, k: int, *, start: Any, end: Any, source: str) -> PlanRequest:
    where = f"{source}, request #{k + 1}"
    if not isinstance(item, dict) or "norad_id" not in item:
        raise ValidationError(f"{where} needs at least norad_id, got {_short(item)}")

    def number(key: str, kind: type[int] | type[float], high: float = 1e12) -> Any:
        return _number(item, key, kind, where, high)

    request_start, request_end = _time(item, "start", start, where), _time(item, "end", end, where)
    if request_end - request_start > MAX_SPAN:
        raise ValidationError(
            f"{where}: {iso_utc(request_start)} .. {iso_utc(request_end)} spans more than "
            f"{MAX_SPAN.days} days"
        )
    try:
        return PlanRequest(
            request_id=str(item.get("id", f"r{k + 1}"))[:80],
            norad_id=number("norad_id", int, high=999_999_999),
            start=request_start,
            end=request_end,
            priority=number("priority", float) or 1.0,
            wanted_passes=number("wanted_passes", int),
            wanted_minutes=number("wanted_minutes", float),
        )
    except ValidationError as exc:  # the request's own rules
        raise ValidationError(f"{where}: {exc}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plan(args: argparse.Namespace, ctx: Context) -> int:
    finite(args.time_limit_s, "--time-limit-s", low=0.0, high=600.0)
    source = f"requests file {str(args.requests)!r}"
    requests = load_input(
        args.requests,
        "requests file",
        lambda text: load_requests(text, start=args.start, end=args.end, source=source),
    )
    with ctx.session() as s:
        outcome = plan_contacts(
            s,
            requests=requests,
            profile_id=args.profile,
            now=ctx.clock.now(),
            antenna_ids=args.antenna,
            time_limit_s=args.time_limit_s,
            book=args.book,
            tenant=args.tenant,
            policy=ctx.policy,
        )
    r, g = outcome.result, outcome.greedy
    for planned in sorted(outcome.chosen, key=lambda pc: pc.window.aos):
        w = planned.window
        print(
            f"{requests[w.request_index].request_id}\t{w.norad_id}\t{planned.antenna_id}\t"
            f"AOS {iso_utc(w.aos)}\tLOS {iso_utc(w.los)}\tmax el {w.max_elevation_deg:.1f}"
        )
    print(
        f"candidates {outcome.candidate_count}, chosen {len(outcome.chosen)}, objective "
        f"{r.objective:.1f} ({r.status}, gap {r.gap_pct:.3f} %, {r.seconds:.2f} s); "
        f"greedy {g.objective:.1f} with {len(g.chosen)} contacts"
    )
    if args.book:
        print(f"booked {len(outcome.booked)}, refused {len(outcome.refused)}")
        for line in outcome.refused:
            print(f"  refused: {line}")
    return 0
