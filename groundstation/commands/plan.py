"""`plan` subcommand: plan many requests at once (MILP vs greedy), optionally book."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from groundstation.commands._context import Context, iso, parse_time, run
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
    p.add_argument("--time-limit-s", type=float, default=10.0)
    p.add_argument("--book", action="store_true", help="reserve the planned contacts")
    p.add_argument("--tenant", default="")
    p.set_defaults(func=run(_plan))


def load_requests(text: str, *, start: Any, end: Any) -> list[PlanRequest]:
    data = yaml.safe_load(text)
    if not isinstance(data, list):
        raise ValidationError(f"requests file must hold a YAML list, got {type(data).__name__}")
    out = []
    for k, item in enumerate(data):
        if not isinstance(item, dict) or "norad_id" not in item:
            raise ValidationError(f"request #{k + 1} needs at least norad_id, got {item!r}")
        out.append(
            PlanRequest(
                request_id=str(item.get("id", f"r{k + 1}")),
                norad_id=int(item["norad_id"]),
                start=parse_time(str(item["start"])) if "start" in item else start,
                end=parse_time(str(item["end"])) if "end" in item else end,
                priority=float(item.get("priority", 1.0)),
                wanted_passes=item.get("wanted_passes"),
                wanted_minutes=item.get("wanted_minutes"),
            )
        )
    return out


def _plan(args: argparse.Namespace, ctx: Context) -> int:
    requests = load_requests(args.requests.read_text(), start=args.start, end=args.end)
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
            f"AOS {iso(w.aos)}\tLOS {iso(w.los)}\tmax el {w.max_elevation_deg:.1f}"
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
