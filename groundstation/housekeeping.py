"""Housekeeping: what keeps a long-running station from filling its disk.

One run (`run_housekeeping`, on a schedule in ``serve`` by `HousekeepingThread`,
once by ``groundstation housekeeping run``):

1. local topic log: rolls idle segments and deletes those beyond
   ``GS_TOPIC_RETENTION_MS`` / ``GS_TOPIC_RETENTION_BYTES``
   (`ingest.topiclog.apply_retention`; a broker applies the same topic
   configs itself);
2. datasets: a ready dataset whose pass ended more than its retention ago --
   the mission profile's ``dataset_options.retention_days``, else
   ``GS_DATASET_RETENTION_DAYS``; 0 keeps it -- is marked ``expired`` in the
   catalogue with the time and reason (the API no longer lists it and answers
   410 with the reason), then its objects are deleted, or moved under
   ``GS_DATASET_ARCHIVE_PREFIX``. A dataset being written (``writing``) is
   never touched. An interrupted removal is finished by the next run;
3. contact history: transitions of contacts that ended more than
   ``GS_EVENT_RETENTION_DAYS`` ago, in batches (`groundstation.event_log.prune`),
   and the webhook deliveries delivered or failed that long ago (wall clock;
   `groundstation.webhooks.prune_deliveries`);
4. disk watermarks: free space on the file systems of the data directory,
   the dataset staging directory and a local dataset store. Below
   ``GS_DISK_WARN_FREE`` a WARNING (and ``/readyz`` says so), below
   ``GS_DISK_REFUSE_FREE`` new recordings are refused
   (`check_recording_space`) and ``/readyz`` answers 503. A station agent
   applies the same refuse watermark to its spool before recording a pass's
   raw IQ (`check_raw_iq_space`).

Dataset and history ages are in service time (the clock the contacts run
on); topic records carry wall-clock times, as Kafka's do.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, literal, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from groundstation import event_log, webhooks
from groundstation.clock import Clock
from groundstation.errors import ValidationError
from groundstation.models import Contact, MissionProfile
from groundstation.settings import Settings, free_space_bytes
from groundstation.tenant_buckets import DatasetStores, no_tenant_buckets
from ingest import topiclog
from ingest.catalog import CatalogService, DatasetEntry, DatasetRow, UTCDateTime
from ingest.objectstore import ObjectStore

log = logging.getLogger(__name__)

DiskUsage = Callable[[Path], Any]
"""``shutil.disk_usage``: a path -> an object with ``total``, ``used``, ``free`` (bytes)."""

_GIB = 1024**3


# ------------------------------------------------------------ disk watermarks


@dataclass(frozen=True)
class DiskCheck:
    """Free space of the file system holding ``path`` (what it is for: ``role``)."""

    role: str
    path: Path
    total_bytes: int
    free_bytes: int
    warn_below_bytes: int
    refuse_below_bytes: int

    @property
    def level(self) -> str:
        """``ok``, ``warn`` or ``refuse``."""
        if self.free_bytes < self.refuse_below_bytes:
            return "refuse"
        if self.free_bytes < self.warn_below_bytes:
            return "warn"
        return "ok"

    def describe(self) -> str:
        percent = 100.0 * self.free_bytes / self.total_bytes if self.total_bytes else 0.0
        return (
            f"{self.free_bytes / _GIB:.2f} GiB ({percent:.1f} %) free of "
            f"{self.total_bytes / _GIB:.2f} GiB on {self.path} ({self.role})"
        )


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (a data dir not made yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _watched_paths(settings: Settings) -> list[tuple[str, Path]]:
    paths = [
        ("data_dir", settings.data_dir),
        ("dataset staging", settings.dataset_staging_dir()),
    ]
    if settings.object_store == "local":
        paths.append(("local dataset store", settings.effective_object_store_dir()))
    return paths


def disk_check(
    role: str, path: Path, settings: Settings, *, usage: DiskUsage = shutil.disk_usage
) -> DiskCheck:
    """The free space of the file system holding ``path`` (or its nearest
    existing parent) against the GS_DISK_* watermarks."""
    existing = _existing(path)
    du = usage(existing)
    return DiskCheck(
        role=role,
        path=existing,
        total_bytes=int(du.total),
        free_bytes=int(du.free),
        warn_below_bytes=free_space_bytes(settings.disk_warn_free, total_bytes=du.total),
        refuse_below_bytes=free_space_bytes(settings.disk_refuse_free, total_bytes=du.total),
    )


def disk_checks(settings: Settings, *, usage: DiskUsage = shutil.disk_usage) -> list[DiskCheck]:
    """One check per file system among the paths the service writes to."""
    checks: list[DiskCheck] = []
    seen: set[int] = set()
    for role, path in _watched_paths(settings):
        device = os.stat(_existing(path)).st_dev
        if device in seen:
            continue
        seen.add(device)
        checks.append(disk_check(role, path, settings, usage=usage))
    return checks


def _worst(checks: list[DiskCheck]) -> DiskCheck:
    order = {"ok": 0, "warn": 1, "refuse": 2}
    return max(checks, key=lambda c: (order[c.level], -c.free_bytes))


def disk_summary(checks: list[DiskCheck], settings: Settings) -> tuple[str, str]:
    """(level, text) for ``/readyz`` and the logs: the worst of ``checks``."""
    worst = _worst(checks)
    if worst.level == "refuse":
        return "refuse", (
            f"full: {worst.describe()}, below GS_DISK_REFUSE_FREE={settings.disk_refuse_free} "
            f"({worst.refuse_below_bytes / _GIB:.2f} GiB): new recordings are refused"
        )
    if worst.level == "warn":
        return "warn", (
            f"low: {worst.describe()}, below GS_DISK_WARN_FREE={settings.disk_warn_free} "
            f"({worst.warn_below_bytes / _GIB:.2f} GiB); recordings are refused below "
            f"GS_DISK_REFUSE_FREE={settings.disk_refuse_free}"
        )
    return "ok", "; ".join(c.describe() for c in checks)


def check_recording_space(
    settings: Settings, *, usage: DiskUsage = shutil.disk_usage
) -> str | None:
    """Why a new recording must be refused (free space below the refuse
    watermark), or None when there is room. For the executor's start of pass."""
    worst = _worst(disk_checks(settings, usage=usage))
    if worst.level != "refuse":
        return None
    return (
        f"recording refused: only {worst.describe()}, below GS_DISK_REFUSE_FREE="
        f"{settings.disk_refuse_free} ({worst.refuse_below_bytes / _GIB:.2f} GiB); "
        "free disk space (or shorten dataset/topic retention)"
    )


def check_raw_iq_space(
    settings: Settings, path: Path, *, usage: DiskUsage = shutil.disk_usage
) -> str | None:
    """Why a station agent must not record a pass's raw IQ into its spool at
    ``path`` (free space below GS_DISK_REFUSE_FREE, as the central service
    refuses new recordings), or None when there is room. The pass itself
    still runs and decodes."""
    check = disk_check("station agent spool", path, settings, usage=usage)
    if check.level != "refuse":
        return None
    return (
        f"raw IQ not recorded: {check.free_bytes / _GIB:.2f} GiB free on {check.path}, "
        f"below GS_DISK_REFUSE_FREE={settings.disk_refuse_free} "
        f"({check.refuse_below_bytes / _GIB:.2f} GiB)"
    )


# ------------------------------------------------------------ datasets


def profile_retention_days(options: Mapping[str, Any], *, profile_id: str = "") -> float | None:
    """A mission profile's ``dataset_options.retention_days`` (None: not set;
    0: keep forever); refuses anything but a number >= 0, naming it."""
    if "retention_days" not in options or options["retention_days"] is None:
        return None
    value = options["retention_days"]
    where = f"mission profile {profile_id!r}: " if profile_id else ""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationError(
            f"{where}dataset_options.retention_days is {value!r}; "
            "use a number of days >= 0 (0 keeps datasets forever)"
        )
    return float(value)


@dataclass(frozen=True)
class ExpiredDataset:
    dataset_id: str
    contact_id: str
    size_bytes: int
    reason: str
    archived_to: str = ""


def _expiry_candidates(
    session: Session, *, ended_before: datetime, after: tuple[datetime, str] | None, batch: int
) -> list[tuple[str, datetime, str | None, dict[str, Any] | None]]:
    """(dataset id, end time, profile id, dataset_options) of ready datasets
    whose pass ended before ``ended_before``, in (end time, id) order after ``after``."""
    query = (
        select(
            DatasetRow.id,
            DatasetRow.end_time,
            MissionProfile.id,
            MissionProfile.dataset_options,
        )
        .select_from(DatasetRow)
        .outerjoin(Contact, Contact.id == DatasetRow.contact_id)
        .outerjoin(MissionProfile, MissionProfile.id == Contact.profile_id)
        .where(DatasetRow.state == "ready", DatasetRow.end_time < ended_before)
    )
    if after is not None:
        last = tuple_(literal(after[0], UTCDateTime()), literal(after[1], String()))
        query = query.where(tuple_(DatasetRow.end_time, DatasetRow.id) > last)
    rows = list(session.execute(query.order_by(DatasetRow.end_time, DatasetRow.id).limit(batch)))
    session.rollback()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _shortest_retention_days(session: Session, settings: Settings) -> float | None:
    """The shortest retention of any dataset (None: every dataset is kept)."""
    days = [settings.dataset_retention_days]
    for profile_id, options in session.execute(
        select(MissionProfile.id, MissionProfile.dataset_options)
    ):
        days.append(_retention_days(settings, profile_id, options))
    session.rollback()
    positive = [d for d in days if d > 0]
    return min(positive) if positive else None


def _retention_days(settings: Settings, profile_id: str | None, options: Any) -> float:
    if isinstance(options, Mapping):
        try:
            days = profile_retention_days(options, profile_id=profile_id or "")
        except ValidationError as exc:
            log.warning("%s; using GS_DATASET_RETENTION_DAYS", exc)
            days = None
        if days is not None:
            return days
    return settings.dataset_retention_days


def _move_objects(store: ObjectStore, prefix: str, archive_prefix: str) -> int:
    """Copy every object under ``prefix`` to ``archive_prefix/prefix``, then delete them."""
    keys = store.list_keys(prefix + "/")
    with tempfile.TemporaryDirectory(prefix="gs-archive-") as tmp:
        for key in keys:
            local = Path(tmp) / "object"
            store.get_file(key, local)
            store.put_file(f"{archive_prefix}/{key}", local)
            local.unlink()
    return store.delete_prefix(prefix + "/")


def _remove_objects(entry: DatasetEntry, stores: DatasetStores, archive_prefix: str) -> str:
    """Delete (or move under ``archive_prefix``, in the same bucket) the
    objects of ``entry``, in the bucket the catalogue records for it."""
    store = stores.store(entry.bucket)
    prefix = entry.key_prefix.rstrip("/")
    if archive_prefix:
        _move_objects(store, prefix, archive_prefix)
        return store.uri(f"{archive_prefix}/{prefix}")
    store.delete_prefix(prefix + "/")
    return ""


def expire_datasets(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: ObjectStore,
    now: datetime,
    batch: int = 1000,
    stores: DatasetStores | None = None,
) -> list[ExpiredDataset]:
    """Step 2 of the module docstring; returns the datasets removed by this
    call. ``stores``: the tenant buckets too (else ``store`` only)."""
    stores = stores or DatasetStores(default=store, open_bucket=no_tenant_buckets)
    out: list[ExpiredDataset] = []
    archive = settings.dataset_archive_prefix
    # Removals an earlier run began (row expired, objects maybe still there).
    for unfinished in catalog.expired_with_files(limit=batch):
        _remove_objects(unfinished, stores, archive)
        catalog.forget_files(unfinished.id)
    with session_factory() as session:
        shortest = _shortest_retention_days(session, settings)
    if shortest is None:
        return out
    after: tuple[datetime, str] | None = None
    while len(out) < batch:
        with session_factory() as session:
            page = _expiry_candidates(
                session, ended_before=now - timedelta(days=shortest), after=after, batch=batch
            )
        if not page:
            break
        after = (page[-1][1], page[-1][0])
        out.extend(_expire_page(settings, catalog, stores, page, now=now))
    return out


def _expire_page(
    settings: Settings,
    catalog: CatalogService,
    stores: DatasetStores,
    page: list[tuple[str, datetime, str | None, dict[str, Any] | None]],
    *,
    now: datetime,
) -> list[ExpiredDataset]:
    out: list[ExpiredDataset] = []
    archive = settings.dataset_archive_prefix
    for dataset_id, end_time, profile_id, options in page:
        days = _retention_days(settings, profile_id, options)
        if days <= 0 or end_time > now - timedelta(days=days):
            continue
        source = (
            f"mission profile {profile_id!r}"
            if profile_id and isinstance(options, Mapping) and "retention_days" in options
            else "GS_DATASET_RETENTION_DAYS"
        )
        reason = f"retention: pass ended {end_time.isoformat()}, kept {days:g} days ({source})"
        if archive:
            reason += f"; moved under archive prefix {archive!r}"
        entry = catalog.expire(dataset_id, now=now, reason=reason)
        if entry is None:
            continue  # another run took it
        archived_to = _remove_objects(entry, stores, archive)
        catalog.forget_files(dataset_id)
        out.append(
            ExpiredDataset(
                dataset_id, entry.contact_id, entry.total_size_bytes, reason, archived_to
            )
        )
        log.info(
            "dataset expired",
            extra={
                "dataset_id": dataset_id,
                "contact_id": entry.contact_id,
                "size_bytes": entry.total_size_bytes,
                "reason": reason,
            },
        )
    return out


# ------------------------------------------------------------ one run


@dataclass
class HousekeepingReport:
    topic_segments_deleted: int = 0
    topic_bytes_deleted: int = 0
    datasets: list[ExpiredDataset] = field(default_factory=list)
    transitions_pruned: int = 0
    pruned_through_id: int = 0
    webhook_deliveries_pruned: int = 0
    disk_level: str = "ok"
    disk: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def removed_anything(self) -> bool:
        return bool(
            self.topic_segments_deleted
            or self.datasets
            or self.transitions_pruned
            or self.webhook_deliveries_pruned
        )

    def lines(self) -> list[str]:
        """What the run removed, for people (``groundstation housekeeping run``)."""
        out = [
            f"topic log: {self.topic_segments_deleted} segments deleted "
            f"({self.topic_bytes_deleted / 1e6:.1f} MB)",
            f"datasets: {len(self.datasets)} expired "
            f"({sum(d.size_bytes for d in self.datasets) / 1e6:.1f} MB)",
        ]
        out += [
            f"  {d.dataset_id} (contact {d.contact_id})"
            + (f" -> {d.archived_to}" if d.archived_to else " deleted")
            + f": {d.reason}"
            for d in self.datasets
        ]
        out.append(
            f"contact history: {self.transitions_pruned} transitions pruned"
            + (f" (ids up to {self.pruned_through_id})" if self.transitions_pruned else "")
        )
        out.append(f"webhook deliveries: {self.webhook_deliveries_pruned} finished ones pruned")
        out.append(f"disk: {self.disk_level}: {self.disk}")
        out += [f"error: {e}" for e in self.errors]
        return out


def prune_webhook_log(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session],
    now_ms: int,
    report: HousekeepingReport,
) -> None:
    """Step 3, webhook deliveries finished GS_EVENT_RETENTION_DAYS ago (wall clock)."""
    if settings.event_retention_days <= 0:
        return
    wall_now = datetime.fromtimestamp(now_ms / 1000, UTC)
    report.webhook_deliveries_pruned = webhooks.prune_deliveries(
        session_factory,
        finished_before=wall_now - timedelta(days=settings.event_retention_days),
        batch_rows=settings.housekeeping_batch_rows,
    )


def prune_topic_log(settings: Settings, *, now_ms: int, report: HousekeepingReport) -> None:
    """Step 1 (local topic log only: a broker applies retention itself)."""
    if settings.kafka_bootstrap:
        return
    config = settings.kafka_config()
    for topic in topiclog.topics_in(config.local_log_dir):
        done = topiclog.apply_retention(
            config.local_log_dir, topic, config.retention_for(topic), now_ms=now_ms
        )
        report.topic_segments_deleted += len(done.deleted)
        report.topic_bytes_deleted += done.deleted_bytes


def run_housekeeping(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: ObjectStore,
    clock: Clock,
    usage: DiskUsage = shutil.disk_usage,
    wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    stores: DatasetStores | None = None,
) -> HousekeepingReport:
    """One run of every step (module docstring); a failing step is logged and
    reported, and the others still run."""
    report = HousekeepingReport()
    now = clock.now()

    def step(name: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:
            log.exception("housekeeping: %s failed", name)
            report.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    step(
        "topic log retention",
        lambda: prune_topic_log(settings, now_ms=wall_clock_ms(), report=report),
    )

    def datasets() -> None:
        report.datasets = expire_datasets(
            settings=settings,
            session_factory=session_factory,
            catalog=catalog,
            store=store,
            now=now,
            batch=settings.housekeeping_batch_rows,
            stores=stores,
        )

    step("dataset retention", datasets)

    def history() -> None:
        if settings.event_retention_days <= 0:
            return
        result = event_log.prune(
            session_factory,
            ended_before=now - timedelta(days=settings.event_retention_days),
            now=now,
            batch_rows=settings.housekeeping_batch_rows,
        )
        report.transitions_pruned = result.rows
        report.pruned_through_id = result.through_id

    step("contact history pruning", history)

    step(
        "webhook delivery log pruning",
        lambda: prune_webhook_log(
            settings, session_factory=session_factory, now_ms=wall_clock_ms(), report=report
        ),
    )

    def disk() -> None:
        report.disk_level, report.disk = disk_summary(disk_checks(settings, usage=usage), settings)
        if report.disk_level != "ok":
            log.warning("disk space %s", report.disk, extra={"disk_level": report.disk_level})

    step("disk watermarks", disk)
    summary = {
        "topic_segments_deleted": report.topic_segments_deleted,
        "topic_bytes_deleted": report.topic_bytes_deleted,
        "datasets_expired": len(report.datasets),
        "transitions_pruned": report.transitions_pruned,
        "webhook_deliveries_pruned": report.webhook_deliveries_pruned,
    }
    log.log(
        logging.INFO if report.removed_anything else logging.DEBUG,
        "housekeeping run",
        extra=summary,
    )
    return report


class HousekeepingThread:
    """Runs ``run()`` every ``interval_s`` wall seconds in its own thread (not
    the lifecycle scheduler's workers) until `stop`."""

    def __init__(self, run: Callable[[], object], *, interval_s: float) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s is {interval_s}, expected > 0")
        self._run = run
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> HousekeepingThread:
        self._thread = threading.Thread(target=self._loop, name="housekeeping", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._run()
            except Exception:  # a run reports its own step failures; this is a bug
                log.exception("housekeeping run failed")
            self.runs += 1
            self._stop.wait(self.interval_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
