"""The ``groundstation`` command line.

Each area of the service contributes its subcommands from a module under
``groundstation/commands/`` exposing ``register(subparsers)``; every
subcommand sets ``func(args) -> int`` as its handler.

``run_command`` is the one error boundary of every subcommand: handlers
raise, it prints one line (passwords masked) and chooses the exit code:

- 0: done;
- 1: refused or failed (a booking rule, nothing decoded, a contact failed);
- 2: bad input: an argument, a file or a setting, the offending value named
  (argparse's own errors exit 2 too);
- 130: interrupted;
- 141: the reader of the output went away (``| head``), as SIGPIPE would.

Anything else is a bug: its traceback is printed (passwords masked), exit 1.

Only the module of the subcommand given is imported (``COMMAND_OF``), so
``groundstation decode`` does not load the database, web or Kafka modules
that other areas need; ``--help`` and unknown words load every module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from groundstation.errors import ConfigurationError

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
    "agent",
)

# Subcommand -> the module under groundstation.commands that registers it
# (tests/domain/test_cli.py checks this against what the modules register).
COMMAND_OF: dict[str, str] = {
    "passes": "passes",
    "demo": "demo",
    "decode": "dsp",
    "simulate": "dsp",
    "consume": "consume",
    "stations": "inventory",
    "antennas": "inventory",
    "satellites": "inventory",
    "profiles": "inventory",
    "ephemeris": "inventory",
    "availability": "contacts",
    "reserve": "contacts",
    "cancel": "contacts",
    "contacts": "contacts",
    "plan": "plan",
    "serve-scheduler": "scheduler",
    "db": "scheduler",
    "keys": "apikeys",
    "serve": "serve",
    "housekeeping": "housekeeping",
    "agent": "agent",
}

EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + 13  # as a process killed by SIGPIPE


class _Parser(argparse.ArgumentParser):
    """argparse, its usage errors on one line too (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _VersionAction(argparse.Action):
    """``--version``: the version read when asked for, not each time the
    parser is built (importlib.metadata and the distribution's METADATA cost
    ~30 ms of CPU, 3 % of a decode's start-up)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        from groundstation.version import software_version

        print(software_version())
        parser.exit()


def build_parser(
    command: str | None = None, *, subcommands: bool = True
) -> argparse.ArgumentParser:
    """The parser of every subcommand, or only of those of ``command``'s
    module when ``command`` is a known subcommand, or of none (the top
    level's own options: ``--version``) when ``subcommands`` is false."""
    parser = _Parser(
        prog="groundstation",
        description="Self-hostable satellite ground-station service.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    only = COMMAND_OF.get(command) if command is not None else None
    for name in () if not subcommands else (only,) if only else COMMAND_MODULES:
        module = importlib.import_module(f"groundstation.commands.{name}")
        module.register(subparsers)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first word; the top level takes
    no option with a value), None for ``--help`` alone or nothing."""
    first = argv[0] if argv else None
    return None if first is None or first.startswith("-") else first


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an error a handler raised, None for a bug."""
    from dsp.profile import ProfileError
    from groundstation.errors import (
        ConfigurationError,
        GroundStationError,
        NotFoundError,
        ValidationError,
    )
    from orbital.errors import OrbitalError

    bad_input: tuple[type[BaseException], ...] = (
        ValidationError,
        NotFoundError,
        ConfigurationError,
        OrbitalError,
        ProfileError,
    )
    if isinstance(exc, bad_input):
        return EXIT_BAD_INPUT
    if isinstance(exc, OSError) and exc.filename is not None:
        return EXIT_BAD_INPUT  # a path given on the command line or in a setting
    if isinstance(exc, GroundStationError):
        return EXIT_REFUSED
    return None


def describe(exc: BaseException) -> str:
    """One line for an error: its message, or for an ``OSError`` the path
    and the system's reason."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename!s}: {exc.strerror or exc}"
    return " ".join(str(exc).split()) or type(exc).__name__


def run_command(args: argparse.Namespace) -> int:
    """Run the subcommand ``args`` selects, behind the error boundary."""
    # "groundstation stations add", as argparse names the subcommand in its errors
    words = [getattr(args, key, None) for key in ("command", "action", "what")]
    prog = " ".join(["groundstation", *(str(w) for w in words if isinstance(w, str))])
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, as a shell would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush must not fail again
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        from groundstation.db import redact  # the database modules only on an error

        exit_code = exit_code_for(exc)
        if exit_code is None:
            text = "".join(traceback.format_exception(exc))
            print(redact(text), file=sys.stderr, end="")
            print(
                f"{prog}: internal error ({type(exc).__name__}); please report it", file=sys.stderr
            )
            return EXIT_REFUSED
        print(f"{prog}: error: {redact(describe(exc))}", file=sys.stderr)
        return exit_code
    return code


def main(argv: Sequence[str] | None = None) -> int:
    from groundstation.numba_cache import configure_numba_cache

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        configure_numba_cache()  # before any command imports numba
    except ConfigurationError as exc:
        print(f"groundstation: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # ``--version`` alone needs no subcommand's module
    parser = build_parser(command_word(argv), subcommands=argv != ["--version"])
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
