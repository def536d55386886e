"""Fixtures for the real services, shared by every test area."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from service_env import BrokerControl, need_env


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
