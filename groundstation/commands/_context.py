"""Shared plumbing of the subcommands: settings, database, clock, reading
input files, parsing times and numbers. Errors are raised, never printed
here: ``groundstation.cli.run_command`` turns them into one line and an exit
code (2 for bad input: an argument, a file or a setting, the value named).

Commands that need no database (``decode``, ``simulate``) use the parsing
helpers too, so the database, booking and settings modules are imported
only by the functions that use them, not by importing this module.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from groundstation.clock import (
    SUPPORTED_END,
    SUPPORTED_RANGE,
    SUPPORTED_START,
    Clock,
    clock_from_settings,
    require_supported,
)
from groundstation.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from groundstation.policy import BookingPolicy
    from groundstation.settings import Settings

Handler = Callable[[argparse.Namespace, "Context"], int]
T = TypeVar("T")


@dataclass
class Context:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock

    @property
    def policy(self) -> BookingPolicy:
        from groundstation.policy import BookingPolicy

        return BookingPolicy.from_settings(self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.session_factory() as session:
            yield session


def load_settings(env_file: Path | None = None) -> Settings:
    """``Settings()`` from the environment (and ``env_file``); an invalid
    value is a ``ConfigurationError`` naming the variable and the value."""
    from pydantic import ValidationError as PydanticValidationError

    from groundstation.db import redact
    from groundstation.settings import Settings

    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except PydanticValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error.get("loc", ()))
            value = redact(repr(error.get("input")))
            problems.append(f"GS_{field.upper()}={value}: {error.get('msg', 'invalid')}")
        raise ConfigurationError("invalid setting " + "; ".join(problems)) from None


def open_context(settings: Settings | None = None) -> Context:
    """Load settings (once, here at the edge), open and migrate the database."""
    from groundstation.db import make_session_factory, open_database

    settings = settings or load_settings()
    clock = clock_from_settings(
        settings.clock, start=settings.clock_start, speedup=settings.clock_speedup
    )
    engine = open_database(settings)
    return Context(settings, engine, make_session_factory(engine), clock)


def run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler: load the settings, set up logging, build the context,
    run it, close the database (errors are ``cli.run_command``'s)."""

    def func(args: argparse.Namespace) -> int:
        from groundstation.logs import configure_logging

        settings = load_settings()
        configure_logging(settings)
        ctx = open_context(settings)
        try:
            return handler(args, ctx)
        finally:
            ctx.engine.dispose()

    return func


def read_input(path: str | Path, what: str) -> str:
    """The UTF-8 text of input file ``path``; a missing, unreadable, binary
    or directory path is a ``ValidationError`` naming ``what`` and the path."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except IsADirectoryError:
        raise ValidationError(f"{what} {str(path)!r} is a directory, not a file") from None
    except OSError as exc:
        raise ValidationError(f"cannot read {what} {str(path)!r}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
            f"{exc.start})"
        ) from None


def load_input(path: str | Path, what: str, parse: Callable[[str], T]) -> T:
    """``parse`` of the text of input file ``path`` (see ``read_input``); a
    parser's refusal (a ``ValueError``, as ``OrbitalError`` and
    ``ProfileError`` are, or nesting too deep to parse) becomes a
    ``ValidationError`` naming ``what`` and the path."""
    text = read_input(path, what)
    try:
        return parse(text)
    except ValueError as exc:
        raise ValidationError(f"{what} {str(path)!r}: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ValidationError(f"{what} {str(path)!r} is nested too deeply to parse") from None


def check_time(value: datetime, what: str) -> datetime:
    """``value`` if it lies in the supported range (``clock.SUPPORTED_RANGE``,
    the API's too), else a ``ValidationError`` naming ``what``."""
    return require_supported(value, what)


def parse_time(value: str) -> datetime:
    """ISO 8601; a trailing Z or no zone means UTC (argparse ``type``)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"time {value!r} is not ISO 8601 (e.g. 2023-07-04T12:00:00Z)"
        ) from None
    if not SUPPORTED_START <= parsed < SUPPORTED_END:
        raise argparse.ArgumentTypeError(
            f"time {value!r} is outside the supported range {SUPPORTED_RANGE}"
        )
    return parsed


def finite(
    value: float, what: str, *, low: float | None = None, high: float | None = None
) -> float:
    """``value`` if it is a finite number within ``low`` < value <= ``high``
    (bounds optional), else a ``ValidationError`` naming ``what``."""
    if not math.isfinite(value):
        raise ValidationError(f"{what} {value} is not a finite number")
    if low is not None and not value > low:
        raise ValidationError(f"{what} {value!r} must be > {low:g}")
    if high is not None and not value <= high:
        raise ValidationError(f"{what} {value!r} must be <= {high:g}")
    return value


def finite_float(text: str) -> float:
    """argparse ``type`` of every float option: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def int_in(low: int, high: int) -> Callable[[str], int]:
    """argparse ``type``: an integer from ``low`` to ``high`` (ids, counts:
    the database stores 64-bit integers at most)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    parse.__name__ = "integer"
    return parse


#: A NORAD catalogue number (nine digits, as the API accepts).
norad_id = int_in(1, 999_999_999)
#: A database row id.
row_id = int_in(1, 2**63 - 1)


def parse_band(value: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in value.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"band {value!r} must be MIN_HZ:MAX_HZ, e.g. 435e6:438e6"
        ) from exc
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise argparse.ArgumentTypeError(
            f"band {value!r} must be MIN_HZ:MAX_HZ with 0 < MIN_HZ < MAX_HZ, finite"
        )
    return low, high
