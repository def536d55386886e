"""Shared plumbing of the domain subcommands: settings, database, clock, output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from groundstation.booking import BookingPolicy
from groundstation.clock import Clock, clock_from_settings
from groundstation.errors import GroundStationError
from groundstation.settings import Settings

Handler = Callable[[argparse.Namespace, "Context"], int]


@dataclass
class Context:
    settings: Settings
    session_factory: sessionmaker[Session]
    clock: Clock

    @property
    def policy(self) -> BookingPolicy:
        return BookingPolicy.from_settings(self.settings)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.session_factory() as session:
            yield session


def open_context(settings: Settings | None = None) -> Context:
    """Load settings (once, here at the edge), open and migrate the database."""
    from groundstation.db import make_engine, make_session_factory, migrate

    settings = settings or Settings()
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    clock = clock_from_settings(
        settings.clock, start=settings.clock_start, speedup=settings.clock_speedup
    )
    return Context(settings, make_session_factory(engine), clock)


def run(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler: load the settings, set up logging, build the context,
    print domain errors as one line, exit 1."""

    def func(args: argparse.Namespace) -> int:
        from groundstation.logs import configure_logging

        settings = Settings()
        configure_logging(settings)
        try:
            return handler(args, open_context(settings))
        except GroundStationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return func


def parse_time(value: str) -> datetime:
    """ISO 8601; a trailing Z or no zone means UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"time {value!r} is not ISO 8601 (e.g. 2023-07-04T12:00:00Z)"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_band(value: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in value.split(":"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"band {value!r} must be MIN_HZ:MAX_HZ, e.g. 435e6:438e6"
        ) from exc
    return low, high


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
