"""Plain configuration records for the delivery layer.

The service's pydantic ``Settings`` (groundstation/) fills these at the edge;
``ingest`` itself never reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.topiclog import TopicRetention


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    """Where and how frames and events are published.

    ``bootstrap_servers`` ``None`` selects the embedded local topic log under
    ``local_log_dir`` instead of a broker.
    """

    bootstrap_servers: str | None
    topic_prefix: str = "groundstation"
    partitions: int = 3
    replication_factor: int = 1
    spool_dir: Path = Path("var/spool")
    local_log_dir: Path = Path("var/topics")
    client_id: str = "groundstation"
    # Producer tuning for streams of small frames: wait up to linger_ms to fill
    # batches of up to batch_bytes, compress whole batches (lz4: 2-4 us less
    # CPU per frame than gzip in the producer process, bench/ingest.py).
    compression_type: str | None = "lz4"
    linger_ms: int = 5
    batch_bytes: int = 256 * 1024
    retries: int = 20
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 2000
    delivery_timeout_ms: int = 30_000
    request_timeout_ms: int = 10_000
    spool_fsync: bool = False
    spool_max_bytes: int | None = 8 * 1024**3
    # Rolling and retention of every topic (Kafka: the configs of topics this
    # service creates; local log: its segments), overridden per topic name.
    retention: TopicRetention = field(default_factory=TopicRetention)
    topic_retention: Mapping[str, TopicRetention] = field(default_factory=dict)

    def retention_for(self, topic: str) -> TopicRetention:
        """The topic's rolling and retention: its own, else (a mission
        profile's own frames topic) the frames topic's, else the default."""
        found = self.topic_retention.get(topic)
        if found is None:
            from ingest.topics import TopicNames

            names = TopicNames(self.topic_prefix)
            if topic not in names.all():
                found = self.topic_retention.get(names.frames)
        return found if found is not None else self.retention

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions={self.partitions} must be >= 1")
        if self.replication_factor < 1:
            raise ValueError(f"replication_factor={self.replication_factor} must be >= 1")
        if self.delivery_timeout_ms <= self.linger_ms + self.request_timeout_ms:
            raise ValueError(
                f"delivery_timeout_ms={self.delivery_timeout_ms} must exceed linger_ms + "
                f"request_timeout_ms = {self.linger_ms + self.request_timeout_ms}"
            )
        if self.compression_type not in (None, "gzip", "snappy", "lz4", "zstd"):
            raise ValueError(
                f"compression_type={self.compression_type!r}: use None, gzip, snappy, lz4 or zstd"
            )


@dataclass(frozen=True, slots=True)
class S3Config:
    """An S3 (or S3-compatible) bucket; ``endpoint_url`` None means AWS itself."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    multipart_threshold_bytes: int = 16 * 1024 * 1024
    multipart_chunk_bytes: int = 8 * 1024 * 1024
