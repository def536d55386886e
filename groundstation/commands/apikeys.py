"""`keys create/list/revoke`: API keys for the REST API (shown once, stored hashed)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from groundstation import apikeys
from groundstation.clock import iso_utc
from groundstation.commands._context import Context, run


def register(subparsers: Any) -> None:
    keys = subparsers.add_parser("keys", help="API keys of the REST API")
    sub = keys.add_subparsers(dest="action", required=True)
    p = sub.add_parser("create", help="create a key and print it (only this once)")
    p.add_argument("--name", required=True, help="who or what uses the key")
    p.add_argument("--role", required=True, choices=apikeys.ROLES)
    p.add_argument("--tenant", default="", help="operator: the tenant it acts for")
    p.add_argument(
        "--grant", action="append", default=[], help="scientist: a tenant whose datasets it reads"
    )
    p.add_argument("--station", default="", help="station: the station its agent runs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(_create))
    p = sub.add_parser("list", help="keys (never the keys themselves)")
    p.add_argument("--all", action="store_true", help="include revoked keys")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run(_list))
    p = sub.add_parser("revoke", help="revoke a key by its id")
    p.add_argument("key_id")
    p.set_defaults(func=run(_revoke))


def _create(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        row, key = apikeys.create_key(
            s,
            name=args.name,
            role=args.role,
            tenant=args.tenant,
            granted_tenants=args.grant,
            station_id=args.station,
            now=ctx.clock.now(),
        )
        if args.json:
            print(json.dumps({"id": row.id, "key": key, "role": row.role, "tenant": row.tenant}))
        else:
            print(f"id   {row.id}")
            print(f"key  {key}")
            print("(store the key now: only its hash is kept)")
    return 0


def _list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        rows = apikeys.list_keys(s, include_revoked=args.all)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "name": r.name,
                            "role": r.role,
                            "tenant": r.tenant,
                            "granted_tenants": r.granted_tenants,
                            "created_at": iso_utc(r.created_at),
                            "revoked_at": iso_utc(r.revoked_at) if r.revoked_at else None,
                        }
                        for r in rows
                    ]
                )
            )
            return 0
        for r in rows:
            scope = r.tenant or ",".join(r.granted_tenants) or r.station_id or "*"
            revoked = f" revoked {iso_utc(r.revoked_at)}" if r.revoked_at else ""
            print(f"{r.id}  {r.role:<9} {scope:<20} {r.name}{revoked}")
    return 0


def _revoke(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        row = apikeys.revoke_key(s, key_id=args.key_id, now=ctx.clock.now())
        print(f"revoked {row.id} ({row.name})")
    return 0
