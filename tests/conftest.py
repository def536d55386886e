"""Fixtures for the real services, shared by every test area, and the marks
that keep the tests needing them out of ``make check``.

A test that needs a service carries its mark (postgres, kafka, s3, grsat):
a test using one of ``service_env.SERVICE_FIXTURES`` (directly or through another
fixture) gets it here; a parametrized variant that reaches a service
(``pytest.param("postgres", marks=pytest.mark.postgres)``) or a test that
asks ``service_env.need_env`` itself is marked where it is written.
``make check`` deselects the marked tests and sets ``GS_TEST_SERVICES=none``,
under which a test that asks for a service without its mark fails.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leaks import LEAKY_THREADS, Snapshot, leftover_threads, thread_label
from tests.service_env import BrokerControl, mark_service_tests, need_env

#: How long a module's threads get to end after its last teardown before the
#: leak guard names them (a thread told to stop may take a poll period).
LEAK_GRACE_S = 10.0


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_service_tests(items)


class _ModuleWatch:
    """Per test module: the threads alive when it started (``before``), its
    start time; at its end, a ``Snapshot`` appended to GS_TEST_LEAK_REPORT
    (when set) and the leak guard (unless GS_TEST_LEAK_GUARD=off)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.before: set[int] = set()
        self.started = 0.0
        self.report = os.environ.get("GS_TEST_LEAK_REPORT")
        self.guard = os.environ.get("GS_TEST_LEAK_GUARD", "on") != "off"

    def start(self, item: pytest.Item) -> None:
        if item.path != self.path:
            self.path = item.path
            self.before = {t.ident for t in threading.enumerate() if t.ident is not None}
            self.started = time.monotonic()

    def end(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if nextitem is not None and nextitem.path == item.path:
            return
        module = item.nodeid.split("::")[0]
        left = leftover_threads(self.before, LEAK_GRACE_S) if self.guard else []
        if self.report:
            line = Snapshot.take(module, self.started).as_json()
            with open(self.report, "a") as out:
                out.write(json.dumps(line) + "\n")
        self.path = None
        if left:
            names = "\n".join(f"  {thread_label(t)}" for t in left)
            owners = "\n".join(f"  {k}: {v}" for k, v in LEAKY_THREADS.items())
            raise AssertionError(
                f"{module} left {len(left)} thread(s) running {LEAK_GRACE_S:.0f} s after "
                f"its last test:\n{names}\nClose what started them (known owners:\n{owners})"
            )


_watch = _ModuleWatch()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _watch.start(item)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    _watch.end(item, nextitem)
    return result


@pytest.fixture(autouse=True)
def _schemathesis_asgi_closed() -> Iterator[None]:
    """Shut down what ``schemathesis.openapi.from_asgi`` started: it runs
    every app it calls in one event-loop thread kept for the process and
    starts each app's lifespan without ever ending it (until exit), so each
    app, its database pool and the loop's worker threads outlived the test."""
    yield
    asgi = sys.modules.get("schemathesis.python.asgi")
    if asgi is not None:
        # Its atexit hook: the lifespans stopped, then the loop thread closed
        # (made again on next use). Only shutdown_lifespans is public.
        close = getattr(asgi, "_shutdown", None) or asgi.shutdown_lifespans
        close()


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The test server's URL; tests make their own scratch databases on it."""
    return need_env("GS_TEST_POSTGRES_URL", "postgres")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return need_env("GS_TEST_KAFKA_BOOTSTRAP", "kafka")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return need_env("GS_TEST_S3_ENDPOINT", "s3")


@pytest.fixture
def broker(kafka_bootstrap: str) -> Iterator[BrokerControl]:
    control = BrokerControl()
    yield control
    control.start()  # whatever happened in the test, leave the broker running
