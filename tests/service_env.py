"""The integration services the tests use (started by scripts/test.sh through
scripts/services/*.sh): a missing service means skip when run locally and
FAIL under CI=true, where the integration tests must run."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pytest

REPO = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO / "scripts" / "services" / "kafka.sh"


#: Fixture (tests/conftest.py, tests/api, tests/domain, tests/dsp) -> the mark
#: of every test that uses it.
SERVICE_FIXTURES = {
    "postgres_base_url": "postgres",
    "_postgres_url": "postgres",
    "_postgres_engine": "postgres",
    "kafka_bootstrap": "kafka",
    "broker": "kafka",
    "s3_endpoint": "s3",
    "grsat": "grsat",
    "browser_paths": "browser",
    "axe_source": "browser",
    "hamlib": "hamlib",
    "gnuradio": "grsat",
    "soapy": "soapy",
}


class _Markable(Protocol):
    """A collected test (pytest.Item); its fixture names are read with getattr,
    as only pytest.Function items have them."""

    def add_marker(self, marker: str, /) -> object: ...


def mark_service_tests(items: Iterable[_Markable]) -> None:
    """Give each test the mark of every service fixture it uses (its whole
    fixture closure, so also through another fixture)."""
    for item in items:
        for name in getattr(item, "fixturenames", ()):
            if name in SERVICE_FIXTURES:
                item.add_marker(SERVICE_FIXTURES[name])


def need_env(var: str, service: str) -> str:
    """The value of ``var`` exported by ``scripts/services/<service>.sh start``.

    Under ``GS_TEST_SERVICES=none`` (``make check``, which runs only the tests
    without a service mark) asking is itself the failure: the test lacks its mark.
    """
    if os.environ.get("GS_TEST_SERVICES") == "none":
        pytest.fail(
            f"this test needs {service} ({var}) but is not marked @pytest.mark.{service}: "
            "mark it (see tests/conftest.py) so that make check leaves it out"
        )
    value = os.environ.get(var, "")
    if not value:
        msg = f"{var} is not set: start {service} with scripts/services/{service}.sh start"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: integration tests must not skip)")
        pytest.skip(msg)
    return value


@contextmanager
def scratch_database(base_url: str, purpose: str) -> Iterator[str]:
    """A fresh database on the test server (``base_url``'s), dropped at the end.

    Its name is unique (``<base>_<purpose>_<random>``): test sessions of
    several checkouts share the server and must never share a database.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"{base.database}_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:  # a failed test leaves no database behind either
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class BrokerControl:
    """Stops and starts the test broker, keeping its data and port."""

    def _run(self, verb: str) -> None:
        subprocess.run(["bash", str(KAFKA_SCRIPT), verb], check=True, timeout=180)

    def stop(self) -> None:
        self._run("broker-stop")

    def start(self) -> None:
        self._run("broker-start")
