"""The ``groundstation`` command line.

Each area of the service contributes its subcommands from a module under
``groundstation/commands/`` exposing ``register(subparsers)``; every
subcommand sets ``func(args) -> int`` as its handler.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules under groundstation.commands that add subcommands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "passes",
    "demo",
    "dsp",
    "consume",
    "inventory",
    "contacts",
    "plan",
    "scheduler",
    "apikeys",
    "serve",
    "housekeeping",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groundstation",
        description="Self-hostable satellite ground-station service.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"groundstation.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
