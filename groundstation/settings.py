"""Service settings: one pydantic-settings ``Settings``, environment prefix ``GS_``.

Loaded once at the edge (CLI, app factory) with ``Settings()`` and passed in;
nothing here reads the environment at import time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from groundstation.executor import parse_pause_points
from ingest.config import KafkaConfig, S3Config
from ingest.topiclog import TopicRetention

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def free_space_bytes(spec: str, *, total_bytes: int) -> int:
    """A free-space watermark in bytes: ``"10%"`` of ``total_bytes``, or a size
    (``"20GiB"``, ``"500MB"``, ``"1048576"``)."""
    text = spec.strip().upper().replace(" ", "")
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return int(total_bytes * percent / 100)
        number = text.rstrip("KMGTIB")
        unit = text[len(number) :]
        value = float(number) * _UNITS[unit]
        if value < 0:
            raise ValueError
        return int(value)
    except (ValueError, KeyError):
        raise ValueError(
            f"free-space watermark {spec!r} is neither a percentage (e.g. '10%') "
            "nor a size (e.g. '20GiB', '500MB', '1048576')"
        ) from None


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

    # --- logging, retention and housekeeping ---
    # Log lines on stderr: "text" (time level logger: message key=value ...)
    # or "json" (one object per line for log collectors); the level of the
    # service's own loggers (APScheduler, kafka and boto chatter only from
    # DEBUG on; their warnings and errors always).
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Topics: Kafka topic configs of the topics this service creates, and the
    # segments of the local topic log (-1: no limit; Kafka's defaults are
    # 7 days and no size limit).
    topic_retention_ms: int = 7 * 24 * 3600 * 1000
    topic_retention_bytes: int = -1
    topic_segment_ms: int = 24 * 3600 * 1000
    topic_segment_bytes: int = 16 * 1024 * 1024
    # Datasets are kept this many days after their pass ends (0: forever),
    # unless the mission profile's dataset_options.retention_days says
    # otherwise; expired ones are deleted, or moved under
    # dataset_archive_prefix of the store when that is set.
    dataset_retention_days: float = 0.0
    dataset_archive_prefix: str = ""
    # Contact history (contact_transitions, the SSE event log) of contacts
    # that ended more than this many days ago is pruned (0: never), in
    # batches of housekeeping_batch_rows rows.
    event_retention_days: float = 90.0
    housekeeping_batch_rows: int = 1000
    # How often `serve` runs housekeeping (wall seconds; 0: never).
    housekeeping_interval_s: float = 600.0
    # Free space on the file systems of data_dir (and staging, local
    # datasets): below disk_warn_free a WARNING and a note on /readyz, below
    # disk_refuse_free new recordings are refused and /readyz answers 503.
    # A percentage of the file system ("10%") or a size ("20GiB", "500MB").
    disk_warn_free: str = "10%"
    disk_refuse_free: str = "5%"
    # --- API limits (hardening: no silent data loss, no stalls) ---
    # Dataset downloads: a file up to this size is read and checked against
    # its manifest SHA-256 before the first byte is sent (a corrupt one is
    # refused with 500); a larger one is checked on the way and the
    # connection is broken off before its last chunk if it does not match.
    download_verify_first_bytes: int = 16 << 20
    # The longest pass a booking may cover: a POST /contacts window longer
    # than this plus twice window_tolerance_s is refused (422) before any
    # prediction. 12 h covers LEO (< 30 min) and MEO/HEO passes.
    max_pass_s: float = 43200.0
    # Threads per API process that run the expensive operations (passes,
    # plans and their commits, tracks, ephemeris uploads), apart from
    # api_threads, so cheap requests never queue behind them.
    prediction_threads: int = 2
    # Per API key and process: expensive requests at once, and open event
    # streams (GET /contacts/events); more answer 429 with Retry-After.
    max_expensive_per_key: int = 2
    max_event_streams_per_key: int = 4
    # Request target (path and query) plus header lines; larger: 431.
    max_header_bytes: int = 16384
    # GET /metrics (contact counts and request rates of every tenant): not
    # served (404) unless true; then without a key, so expose it only where
    # the scraper alone reaches it.
    metrics_public: bool = False
    # Planning (POST /plans, `groundstation plan`): refused with 422 when it
    # would predict more satellites x stations x days than this, or weigh
    # more candidate windows (its greedy baseline is quadratic in them). The
    # defaults take bench/planning.py's instance (200 satellites, 6
    # stations, 7 days: 8,400 and 36,440) with room to spare.
    max_plan_satellite_station_days: float = 20_000.0
    max_plan_candidates: int = 50_000
    # The most contacts one plan may propose and book: its commit re-checks
    # every window in one request (bench/limits.py: about 6 ms of CPU each),
    # so this bounds that request's CPU; a larger schedule is planned in parts
    # (by time range or satellites).
    max_plan_contacts: int = 2_000
    # --- contact lifecycle: DSP capacity and crash-test hook ---
    # How far (service seconds) a pass's DSP may fall behind the service clock
    # before the machine counts as unable to keep up: the most recently started
    # pass is then stopped (FAILED with that reason) so the others stay on time.
    downlink_max_lag_s: float = 60.0
    # Passes executed at once; one more is refused at AOS (0: no fixed limit,
    # only the lag above decides).
    downlink_max_passes: int = 0
    # Test hook, empty in production: "point[@contact_id],..." makes the
    # downlink executor wait at that point (before-commit, manifest-written,
    # after-ready) until it is stopped, so a test can kill the process there.
    test_pause_at: str = ""
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
    # --- API reads (api-perf) ---
    # Seconds an API process trusts a key it has verified before it looks it
    # up again: a revoked key keeps working for up to this long in a process
    # that saw it just before. 0 looks the key up on every request.
    api_key_cache_s: float = 5.0

    # --- station agents (issue 13) ---
    # Central side: an agent whose last heartbeat is older than this is
    # offline; a contact at its station fails "station X offline since T".
    agent_offline_after_s: float = 30.0
    # Central side: a pass of an agent ends FAILED when its report has not
    # come this long after LOS.
    agent_report_timeout_s: float = 120.0
    # Central side: how far ahead an agent is told its contacts.
    agent_contacts_horizon_s: float = 86_400.0
    # Central side: booking at a station whose agent has been offline longer
    # than this is refused, with since when.
    agent_booking_offline_s: float = 3600.0
    # Agent side (`groundstation agent`): its station, the central API and
    # the station key (`groundstation keys create --role station --station ID`).
    agent_station_id: str = ""
    agent_central_url: str = ""
    agent_key: str = ""
    # Agent side: the IQ source: "simulated" (the simulated downlink, labelled
    # so everywhere) or "replay:<path>" (a SigMF/WAV/cf32 recording).
    agent_front_end: str = "simulated"
    # Agent side: hamlib rotctld as "host:port" (empty: no antenna control).
    agent_rotctld: str = ""
    # Agent side: seconds between heartbeats and between schedule reads.
    agent_heartbeat_s: float = 5.0
    agent_poll_s: float = 5.0
    # Agent side: where frames and reports wait until the central service has
    # them (default <data_dir>/agent-spool).
    agent_spool_dir: Path | None = None

    # --- process memory (issue 19) ---
    # glibc malloc arenas of serve, agent and demo (groundstation/memory.py);
    # 0 leaves glibc's default (eight per core).
    malloc_arena_max: int = 2

    # --- tenant buckets ---
    # A tenant's own dataset bucket, as a JSON object {"tenant": "bucket"}:
    # its contacts' datasets go there (same S3 endpoint and credentials as
    # GS_S3_BUCKET, no GS_S3_PREFIX); a bucket an admin sets over the API
    # (PUT /tenants/{tenant}/bucket) wins. Each is checked writable at start.
    # With the local store a bucket is the folder <local_buckets_dir>/<bucket>.
    tenant_buckets: dict[str, str] = {}
    # The local store's tenant buckets (default <data_dir>/buckets).
    local_buckets_dir: Path | None = None

    # --- outbound webhooks (issue 15) ---
    # `serve` runs the delivery worker (groundstation.webhooks): every contact
    # event goes to the matching endpoints of its tenant. False: deliveries
    # wait in the database until a `serve` with it on runs.
    webhook_delivery: bool = True
    # Seconds one POST may take (connect + answer) before it counts as failed.
    webhook_timeout_s: float = 10.0
    # Attempts per delivery (the first included); then it is `failed`.
    webhook_max_attempts: int = 8
    # Wait before the 2nd attempt; doubled after each failure up to the max.
    webhook_backoff_s: float = 10.0
    webhook_backoff_max_s: float = 3600.0
    # Seconds between looks for new events and due retries (an event
    # published in this process wakes the worker at once).
    webhook_poll_s: float = 1.0
    # POSTs in flight at once (one slow endpoint does not hold the others).
    webhook_concurrency: int = 4
    # Endpoints on loopback, private, link-local or reserved addresses are
    # refused (a tenant's URL must not reach the service's own network)
    # unless this is true (tests, a receiver on the same host).
    webhook_allow_private: bool = False
    # --- products worker (issue 17) ---
    # Worker processes writing the passes' products (image, quick-looks,
    # georeferenced products) at nice 10, so that GIL-bound work does not
    # slow the passes still streaming; 0: in each contact's own thread.
    downlink_products_processes: int = 1

    # --- station agent spool ---
    # Agent side: hours a contact's spool directory (frames, report, edge
    # dataset document, raw IQ) is kept after the central service has its
    # report; then the agent's upload loop removes it. A contact not yet
    # delivered is never removed. 0: removed as soon as delivered.
    agent_spool_retention_h: float = 24.0

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

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("topic_retention_ms", "topic_retention_bytes", "topic_segment_ms")
    @classmethod
    def _positive_or_unlimited(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError(f"must be >= 1 or -1 (no limit), got {value}")
        return value

    @field_validator("topic_segment_bytes")
    @classmethod
    def _segment_size(cls, value: int) -> int:
        if value < 1024:
            raise ValueError(f"topic_segment_bytes must be >= 1024, got {value}")
        return value

    @field_validator("dataset_retention_days", "event_retention_days", "housekeeping_interval_s")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if not value >= 0:
            raise ValueError(f"must be >= 0 (0: never), got {value}")
        return value

    @field_validator("housekeeping_batch_rows")
    @classmethod
    def _batch_positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"housekeeping_batch_rows must be >= 1, got {value}")
        return value

    @field_validator("dataset_archive_prefix")
    @classmethod
    def _archive_prefix_clean(cls, value: str) -> str:
        value = value.strip("/")
        if value and any(p in ("", ".", "..") for p in value.split("/")):
            raise ValueError(
                f"dataset_archive_prefix {value!r} is not a clean relative key prefix like 'archive'"
            )
        return value

    @field_validator("disk_warn_free", "disk_refuse_free")
    @classmethod
    def _free_space_spec(cls, value: str) -> str:
        free_space_bytes(value, total_bytes=1)  # raises naming the bad value
        return value.strip()

    @field_validator("prediction_threads", "max_expensive_per_key", "max_event_streams_per_key")
    @classmethod
    def _at_least_one(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise ValueError(f"{info.field_name} must be >= 1, got {value}")
        return value

    @field_validator("max_header_bytes")
    @classmethod
    def _room_for_a_key(cls, value: int) -> int:
        if value < 1024:
            raise ValueError(f"max_header_bytes must be >= 1024, got {value}")
        return value

    @field_validator(
        "max_pass_s", "max_plan_satellite_station_days", "max_plan_candidates", "max_plan_contacts"
    )
    @classmethod
    def _positive(cls, value: float, info: ValidationInfo) -> float:  # int fields too
        if not value > 0:
            raise ValueError(f"{info.field_name} must be > 0, got {value}")
        return value

    @field_validator("download_verify_first_bytes")
    @classmethod
    def _not_negative_bytes(cls, value: int, info: ValidationInfo) -> int:
        if value < 0:
            raise ValueError(f"{info.field_name} must be >= 0, got {value}")
        return value

    @field_validator("downlink_max_lag_s")
    @classmethod
    def _max_lag_positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"downlink_max_lag_s must be > 0 service seconds, got {value}")
        return value

    @field_validator("downlink_max_passes")
    @classmethod
    def _max_passes_not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"downlink_max_passes must be >= 0 (0: no limit), got {value}")
        return value

    @field_validator("test_pause_at")
    @classmethod
    def _pause_points_known(cls, value: str) -> str:
        parse_pause_points(value)
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

    @field_validator("api_key_cache_s")
    @classmethod
    def _key_cache_not_negative(cls, value: float) -> float:
        if not 0 <= value <= 3600:
            raise ValueError(f"api_key_cache_s must be 0..3600 seconds (0: no cache), got {value}")
        return value

    @field_validator(
        "agent_offline_after_s",
        "agent_report_timeout_s",
        "agent_contacts_horizon_s",
        "agent_booking_offline_s",
        "agent_heartbeat_s",
        "agent_poll_s",
    )
    @classmethod
    def _agent_seconds_positive(cls, value: float, info: ValidationInfo) -> float:
        if not value > 0:
            raise ValueError(f"{info.field_name} must be > 0 seconds, got {value}")
        return value

    @field_validator("malloc_arena_max")
    @classmethod
    def _arenas(cls, value: int) -> int:
        if not 0 <= value <= 1024:
            raise ValueError(f"malloc_arena_max must be 0 (glibc's default) .. 1024, got {value}")
        return value

    @field_validator("tenant_buckets")
    @classmethod
    def _tenant_buckets_valid(cls, value: dict[str, str]) -> dict[str, str]:
        from ingest.errors import IngestError
        from ingest.objectstore import check_bucket_name

        for tenant, bucket in value.items():
            if not 1 <= len(tenant) <= 120:
                raise ValueError(f"tenant_buckets: tenant {tenant!r} must be 1..120 characters")
            try:
                check_bucket_name(bucket)
            except IngestError as exc:
                raise ValueError(f"tenant_buckets[{tenant!r}]: {exc}") from None
        return value

    @field_validator(
        "webhook_timeout_s", "webhook_backoff_s", "webhook_backoff_max_s", "webhook_poll_s"
    )
    @classmethod
    def _webhook_seconds_positive(cls, value: float, info: ValidationInfo) -> float:
        if not 0 < value <= 86_400:
            raise ValueError(f"{info.field_name} must be in (0, 86400] seconds, got {value}")
        return value

    @field_validator("webhook_max_attempts", "webhook_concurrency")
    @classmethod
    def _webhook_count(cls, value: int, info: ValidationInfo) -> int:
        if not 1 <= value <= 100:
            raise ValueError(f"{info.field_name} must be 1..100, got {value}")
        return value

    @field_validator("downlink_products_processes")
    @classmethod
    def _products_processes(cls, value: int) -> int:
        if not 0 <= value <= 16:
            raise ValueError(
                f"downlink_products_processes must be 0..16 (0: in the contact's thread), "
                f"got {value}"
            )
        return value

    @field_validator("agent_spool_retention_h")
    @classmethod
    def _spool_retention(cls, value: float) -> float:
        if not value >= 0 or value == float("inf"):
            raise ValueError(
                f"agent_spool_retention_h must be a finite number of hours >= 0 "
                f"(0: removed once delivered), got {value}"
            )
        return value

    def agent_spool(self) -> Path:
        """Where a station agent keeps what the central service has not acknowledged."""
        return self.agent_spool_dir or self.data_dir / "agent-spool"

    def kafka_config(self) -> KafkaConfig:
        """Publisher settings for ingest (broker, or the local topic log)."""
        return KafkaConfig(
            bootstrap_servers=self.kafka_bootstrap or None,
            topic_prefix=self.kafka_topic_prefix,
            partitions=self.kafka_partitions,
            spool_dir=self.data_dir / "spool",
            local_log_dir=self.data_dir / "topics",
            retention=self.topic_retention(),
        )

    def topic_retention(self) -> TopicRetention:
        """Rolling and retention of every topic (-1 settings mean no limit)."""

        def limit(value: int) -> int | None:
            return None if value == -1 else value

        return TopicRetention(
            retention_ms=limit(self.topic_retention_ms),
            retention_bytes=limit(self.topic_retention_bytes),
            segment_bytes=self.topic_segment_bytes,
            segment_ms=limit(self.topic_segment_ms),
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

    def effective_local_buckets_dir(self) -> Path:
        """Where the local store keeps tenant buckets, one folder each."""
        return self.local_buckets_dir or self.data_dir / "buckets"

    def bucket_s3_config(self, bucket: str) -> S3Config:
        """A tenant bucket on the default store's S3 endpoint and credentials."""
        return S3Config(
            bucket=bucket,
            endpoint_url=self.s3_endpoint_url or None,
            region=self.s3_region or None,
            access_key_id=self.s3_access_key_id or None,
            secret_access_key=self.s3_secret_access_key or None,
        )

    def dataset_staging_dir(self) -> Path:
        """Where datasets are written before they are uploaded and catalogued."""
        return self.data_dir / "staging"

    def effective_database_url(self) -> str:
        """The configured URL, or ``sqlite:///<data_dir>/groundstation.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundstation.db').as_posix()}"
