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

from collections.abc import Iterator

import pytest

from tests.service_env import BrokerControl, mark_service_tests, need_env


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_service_tests(items)


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
