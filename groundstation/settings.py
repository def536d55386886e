"""Service settings: one pydantic-settings ``Settings``, environment prefix ``GS_``.

Loaded once at the edge (CLI, app factory) with ``Settings()`` and passed in;
nothing here reads the environment at import time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingest.config import KafkaConfig, S3Config


class Settings(BaseSettings):
    """Configuration of the ground-station service.

    Every field can be set from the environment as ``GS_<FIELD>``, e.g.
    ``GS_DATABASE_URL=postgresql+psycopg://user:pw@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="GS_", extra="ignore")

    # Where the embedded database and other local state live.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means the embedded SQLite file under data_dir.
    database_url: str = ""

    # Service clock: "real" follows the wall clock; "simulated" starts at
    # clock_start and runs clock_speedup times faster than the wall clock.
    clock: Literal["real", "simulated"] = "real"
    clock_start: datetime | None = None
    clock_speedup: float = 1.0

    # Booking rules.
    max_ephemeris_age_days: float = 7.0
    # How far a requested window may lie outside the predicted AOS/LOS.
    window_tolerance_s: float = 60.0

    # REST API: threads per process that run the blocking (database) part of
    # requests. Few threads contend less for the GIL than many: with one
    # worker per core, 2 answered ~10 % more reservations per second than 4,
    # and both far more than Starlette's default 40 (bench/api.py).
    api_threads: int = 2

    # Lifecycle scheduler.
    scheduler_instance_id: str = ""
    scheduler_heartbeat_s: float = 10.0
    # How late (service seconds) a transition may run and still count as on
    # time; a later AOS means the pass was missed.
    scheduler_grace_s: float = 60.0

    # Delivery. Kafka: an empty bootstrap selects the embedded local topic log
    # under data_dir/topics (what the demo uses); frames are spooled on disk
    # under data_dir/spool before they are sent.
    kafka_bootstrap: str = ""
    kafka_topic_prefix: str = "groundstation"
    kafka_partitions: int = 3
    # Datasets: "local" keeps them in a folder (object_store_dir, default
    # data_dir/datasets); "s3" uses the bucket below (any S3-compatible
    # endpoint when s3_endpoint_url is set).
    object_store: Literal["local", "s3"] = "local"
    object_store_dir: Path | None = None
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # Dataset file downloads from S3: by default the API streams the bytes;
    # with s3_presigned_downloads it answers 307 to a pre-signed GET URL valid
    # for s3_presigned_expiry_s seconds (clients then need to reach the S3
    # endpoint themselves). The local store always streams.
    s3_presigned_downloads: bool = False
    s3_presigned_expiry_s: int = 300

    # --- plan commit, CLI and data directory (cli-plans) ---
    # Mode of the data directory and of what the service creates in it: dirs
    # get this mode, files the same without execute bits (0700 -> files 0600).
    # Given in octal (GS_DATA_DIR_MODE=0750).
    data_dir_mode: int = 0o700
    # TEST ONLY: a plan commit pauses (inside its transaction) for
    # test_plan_commit_pause_s after staging this many windows, logging a line,
    # so a test can kill the process mid-commit. 0 (the default) never pauses.
    test_plan_commit_pause_after: int = 0
    test_plan_commit_pause_s: float = 300.0

    @field_validator("clock_start")
    @classmethod
    def _clock_start_is_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("clock_speedup")
    @classmethod
    def _speedup_positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"clock_speedup must be > 0, got {value}")
        return value

    @field_validator("s3_presigned_expiry_s")
    @classmethod
    def _presigned_expiry_in_s3_range(cls, value: int) -> int:
        if not 1 <= value <= 604_800:
            raise ValueError(
                f"s3_presigned_expiry_s must be 1..604800 s (S3's limit is 7 days), got {value}"
            )
        return value

    @field_validator("api_threads")
    @classmethod
    def _threads_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"api_threads must be >= 1, got {value}")
        return value

    @field_validator("data_dir_mode", mode="before")
    @classmethod
    def _mode_is_octal(cls, value: object) -> object:
        """``GS_DATA_DIR_MODE`` is octal text (``0700``, ``750``, ``0o750``)."""
        if isinstance(value, str):
            text = value.strip().lower().removeprefix("0o")
            try:
                value = int(text, 8)
            except ValueError:
                raise ValueError(
                    f"data_dir_mode {value!r} is not an octal mode such as 0700"
                ) from None
        if isinstance(value, int) and not (0o700 <= value <= 0o777):
            raise ValueError(
                f"data_dir_mode {value:#o} must give the owner rwx (0700..0777), e.g. 0700 or 0750"
            )
        return value

    def kafka_config(self) -> KafkaConfig:
        """Publisher settings for ingest (broker, or the local topic log)."""
        return KafkaConfig(
            bootstrap_servers=self.kafka_bootstrap or None,
            topic_prefix=self.kafka_topic_prefix,
            partitions=self.kafka_partitions,
            spool_dir=self.data_dir / "spool",
            local_log_dir=self.data_dir / "topics",
        )

    def s3_config(self) -> S3Config:
        """The S3 bucket for datasets; refuses an incomplete configuration."""
        if not self.s3_bucket:
            raise ValueError("GS_OBJECT_STORE is 's3' but GS_S3_BUCKET is empty; set the bucket")
        return S3Config(
            bucket=self.s3_bucket,
            prefix=self.s3_prefix,
            endpoint_url=self.s3_endpoint_url or None,
            region=self.s3_region or None,
            access_key_id=self.s3_access_key_id or None,
            secret_access_key=self.s3_secret_access_key or None,
        )

    def effective_object_store_dir(self) -> Path:
        return self.object_store_dir or self.data_dir / "datasets"

    def dataset_staging_dir(self) -> Path:
        """Where datasets are written before they are uploaded and catalogued."""
        return self.data_dir / "staging"

    def effective_database_url(self) -> str:
        """The configured URL, or ``sqlite:///<data_dir>/groundstation.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundstation.db').as_posix()}"
