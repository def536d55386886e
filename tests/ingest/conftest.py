"""Fixtures for the delivery tests: the real services started by scripts/test.sh.

A service variable missing means: skip when run locally, fail under CI=true
(the integration tests must run there).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "scripts" / "services" / "kafka.sh"


def _need(var: str, service: str) -> str:
    value = os.environ.get(var)
    if not value:
        msg = f"{var} is not set: start {service} with scripts/services/{service}.sh start"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: integration tests must not skip)")
        pytest.skip(msg)
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _need("GS_TEST_KAFKA_BOOTSTRAP", "kafka")


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    return _need("GS_TEST_S3_ENDPOINT", "s3")


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic prefix per test, so tests never see each other's records."""
    return f"t{uuid.uuid4().hex[:12]}"


class BrokerControl:
    """Stops and starts the test broker, keeping its data and port."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def _run(self, verb: str) -> None:
        subprocess.run(["bash", str(KAFKA_SCRIPT), verb], check=True, timeout=120)

    def stop(self) -> None:
        self._run("broker-stop")

    def start(self) -> None:
        self._run("broker-start")


@pytest.fixture
def broker(kafka_bootstrap: str) -> Iterator[BrokerControl]:
    control = BrokerControl(kafka_bootstrap)
    yield control
    control.start()  # whatever happened in the test, leave the broker running


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"gs-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture
def postgres_url() -> str | None:
    """PostgreSQL from scripts/services/postgres.sh when it is set (otherwise SQLite only)."""
    return os.environ.get("GS_TEST_POSTGRES_URL") or None
