"""``groundstation housekeeping run``: one housekeeping run now (what ``serve``
does every ``GS_HOUSEKEEPING_INTERVAL_S``), printing what it removed."""

from __future__ import annotations

import argparse
from typing import Any

from groundstation.commands._context import Context, run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "housekeeping", help="retention of topics, datasets and history; disk watermarks"
    )
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser(
        "run", help="apply retention once and print what was removed and the free disk space"
    )
    r.set_defaults(func=run(_run))


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from groundstation.delivery import open_dataset_stores
    from groundstation.housekeeping import run_housekeeping
    from ingest.catalog import CatalogService

    with ctx.session() as session:
        engine = session.get_bind()
    catalog = CatalogService(engine)  # type: ignore[arg-type]
    catalog.create_schema()
    stores = open_dataset_stores(ctx.settings)
    report = run_housekeeping(
        ctx.settings,
        session_factory=ctx.session_factory,
        catalog=catalog,
        store=stores.default,
        clock=ctx.clock,
        stores=stores,
    )
    for line in report.lines():
        print(line)
    return 1 if report.errors else 0
