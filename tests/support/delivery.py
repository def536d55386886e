"""Delivery to the real Kafka broker and S3 server of the test services
(GS_TEST_KAFKA_BOOTSTRAP, GS_TEST_S3_ENDPOINT): the settings a central
service, or a station agent publishing at the edge, is given, as
``Settings`` fields or as the GS_ variables of a process."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal, TypedDict


class KafkaS3(TypedDict):
    """The ``Settings`` fields of delivery to Kafka and S3."""

    kafka_bootstrap: str
    kafka_topic_prefix: str
    object_store: Literal["s3"]
    s3_bucket: str
    s3_endpoint_url: str
    s3_region: str


def unique_name(prefix: str) -> str:
    """``prefix`` and ten random hex digits: a topic prefix and bucket of
    one test's own (test sessions share the broker and the S3 server)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def kafka_s3(kafka_bootstrap: str, s3_endpoint: str, name: str) -> KafkaS3:
    """Frames to the broker at ``kafka_bootstrap`` under topic prefix
    ``name``; datasets to the S3 server at ``s3_endpoint``, bucket ``name``."""
    return KafkaS3(
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic_prefix=name,
        object_store="s3",
        s3_bucket=name,
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
    )


def as_env(fields: Mapping[str, object]) -> dict[str, str]:
    """``Settings`` fields as the GS_ variables that set them in a process."""
    return {f"GS_{name.upper()}": str(value) for name, value in fields.items()}
