"""Fixtures for the delivery tests: the real services started by scripts/test.sh.

A service variable missing means: skip when run locally, fail under CI=true
(the integration tests must run there).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "scripts" / "services" / "kafka.sh"


@pytest.fixture
def topic_prefix() -> str:
    """A fresh topic prefix per test, so tests never see each other's records."""
    return f"t{uuid.uuid4().hex[:12]}"


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
