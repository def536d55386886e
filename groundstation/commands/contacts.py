"""`availability`, `reserve`, `cancel` and `contacts` subcommands."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from groundstation import booking, contacts, passes
from groundstation.clock import iso_utc
from groundstation.commands._context import Context, norad_id, parse_time, run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("availability", help="predicted windows with free/busy per antenna")
    p.add_argument("--norad-id", type=norad_id, required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--start", type=parse_time, default=None, help="default: now")
    p.add_argument("--end", type=parse_time, default=None, help="default: start + 24 h")
    p.add_argument("--station", action="append", default=None)
    p.set_defaults(func=run(_availability))

    p = subparsers.add_parser("reserve", help="book a predicted pass on an antenna")
    p.add_argument("--norad-id", type=norad_id, required=True)
    p.add_argument("--antenna", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--start", type=parse_time, required=True, help="AOS (from availability)")
    p.add_argument("--end", type=parse_time, required=True, help="LOS (from availability)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--idempotency-key", default=None)
    p.set_defaults(func=run(_reserve))

    p = subparsers.add_parser("cancel", help="cancel a contact before its pre-pass")
    p.add_argument("contact_id")
    p.add_argument("--reason", default="cancelled by user")
    p.set_defaults(func=run(_cancel))

    contacts = subparsers.add_parser("contacts", help="booked contacts")
    co = contacts.add_subparsers(dest="action", required=True)
    p = co.add_parser("list")
    p.add_argument("--tenant", default=None)
    p.add_argument("--state", action="append", default=None)
    p.add_argument(
        "--verdict",
        action="append",
        default=None,
        help="good, partial, bad, failed or none (not vetted); repeatable",
    )
    p.add_argument("--start", type=parse_time, default=None)
    p.add_argument("--end", type=parse_time, default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(_contacts_list))


def _availability(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import timedelta

    now = ctx.clock.now()
    start = args.start or now
    end = args.end or start + timedelta(hours=24)
    with ctx.session() as s:
        windows = passes.availability(
            s,
            norad_id=args.norad_id,
            profile_id=args.profile,
            start=start,
            end=end,
            now=now,
            station_ids=args.station,
            policy=ctx.policy,
        )
    for w in windows:
        print(
            f"{w.antenna_id}\tAOS {iso_utc(w.aos)}\tTCA {iso_utc(w.tca)}\tLOS {iso_utc(w.los)}\t"
            f"max el {w.max_elevation_deg:5.1f}\t{w.duration_s:5.0f} s\t{w.state}"
            + (f" ({w.blocked_by})" if w.blocked_by else "")
        )
    print(f"{len(windows)} windows, {sum(w.free for w in windows)} available")
    return 0


def _reserve(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        c = booking.reserve(
            s,
            norad_id=args.norad_id,
            antenna_id=args.antenna,
            profile_id=args.profile,
            start=args.start,
            end=args.end,
            tenant=args.tenant,
            now=ctx.clock.now(),
            idempotency_key=args.idempotency_key,
            policy=ctx.policy,
        )
        print(
            f"contact {c.id} {c.state} on {c.antenna_id}: AOS {iso_utc(c.aos)} LOS {iso_utc(c.los)} "
            f"booked {iso_utc(c.booked_start)}..{iso_utc(c.booked_end)}"
        )
    return 0


def _cancel(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        c = booking.cancel(s, contact_id=args.contact_id, now=ctx.clock.now(), reason=args.reason)
        print(f"contact {c.id} {c.state}")
    return 0


#: The contacts ``contacts list`` shows at most (ordered by booked start).
LIST_LIMIT = 1000


def _contacts_list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        rows, count, _ = contacts.contacts_page(
            s,
            tenants=None if args.tenant is None else (args.tenant,),
            states=args.state,
            start=args.start,
            end=args.end,
            limit=LIST_LIMIT,
            verdicts=args.verdict,
        )
    if args.json:
        data = [
            {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
            for row in rows
        ]
        print(json.dumps({"data": data, "count": count}, indent=1))
        return 0
    for c in rows:
        print(
            f"{c['id']}\t{c['norad_id']}\t{c['antenna_id']}\tAOS {iso_utc(c['aos'])}\t"
            f"LOS {iso_utc(c['los'])}\t{c['state']}\t{c['verdict'] or '-'}\t{c['state_reason']}"
        )
    print(f"{count} contacts")
    return 0
