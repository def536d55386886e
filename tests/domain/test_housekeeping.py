"""Retention of datasets and contact history, disk watermarks, the housekeeping
run (every DB test on SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
import time
import uuid
from collections import namedtuple
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from groundstation import datasets, event_log, resource_events, webhooks
from groundstation.clock import SimulatedClock
from groundstation.errors import GoneError, ValidationError
from groundstation.events import ResourceEvent
from groundstation.housekeeping import (
    HousekeepingThread,
    check_recording_space,
    disk_checks,
    disk_summary,
    expire_datasets,
    run_housekeeping,
)
from groundstation.inventory import add_profile
from groundstation.models import Contact, ContactTransition, MissionProfile, WebhookDelivery
from groundstation.settings import Settings
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from ingest.catalog import CatalogService, FileEntry
from ingest.objectstore import LocalObjectStore, ObjectStore
from ingest.publisher import LocalLogPublisher
from ingest.topics import TopicNames

from .helpers import T0, insert_contact, seed_basic

S = ContactState
NOW = T0 + timedelta(days=100)
GIB = 1024**3
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def catalog(engine: Engine) -> CatalogService:
    if engine.dialect.name == "postgresql":  # the domain database is shared by the tests
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE ingest_datasets, ingest_dataset_files CASCADE"))
    service = CatalogService(engine)
    service.create_schema()
    return service


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


def settings_for(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **kw)  # type: ignore[arg-type]


def add_contact(
    session_factory: sessionmaker[Session], *, ended_days_ago: float, profile_id: str = "p1"
) -> str:
    with session_factory() as s:
        if s.get(MissionProfile, "p1") is None:
            seed_basic(s)
        sat = s.scalar(select(func.min(Contact.satellite_id))) or 1
        aos = NOW - timedelta(days=ended_days_ago, minutes=12)
        contact = insert_contact(s, satellite_id=sat, aos=aos, state=S.COMPLETED)
        contact.profile_id = profile_id
        s.commit()
        return contact.id


def add_dataset(
    catalog: CatalogService,
    store: ObjectStore,
    contact_id: str,
    *,
    ended_days_ago: float,
    ready: bool = True,
    bucket: str | None = None,
) -> tuple[str, str]:
    """A dataset with one object in ``store`` (the tenant bucket ``bucket``;
    None: the default store); (dataset id, key prefix)."""
    end = NOW - timedelta(days=ended_days_ago)
    dataset_id = f"ds-{contact_id}"
    prefix = f"99001/{end:%Y/%m/%d}/{contact_id}"
    catalog.begin(
        dataset_id=dataset_id,
        contact_id=contact_id,
        norad_id=99001,
        satellite="TESTSAT",
        station="gs1",
        antenna="ant1",
        start_time=end - timedelta(minutes=10),
        end_time=end,
        store_uri=store.uri(prefix),
        key_prefix=prefix,
        now=end,
        bucket=bucket,
    )
    store.put_bytes(f"{prefix}/frames.h5", b"x" * 1000)
    if ready:
        catalog.mark_ready(
            dataset_id,
            files=[FileEntry("frames.h5", store.uri(f"{prefix}/frames.h5"), 1000, "0" * 64)],
            manifest_sha256="0" * 64,
            now=end,
        )
    return dataset_id, prefix


def expire(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: ObjectStore,
    **kw: object,
) -> list[str]:
    done = expire_datasets(
        settings=settings_for(tmp_path, **kw),
        session_factory=session_factory,
        catalog=catalog,
        store=store,
        now=NOW,
    )
    return sorted(d.dataset_id for d in done)


def test_expired_datasets_are_deleted_and_recorded_new_ones_and_partials_kept(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    old_id, old_prefix = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    new_id, new_prefix = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=10), ended_days_ago=10
    )
    writing_id, writing_prefix = add_dataset(
        catalog,
        store,
        add_contact(session_factory, ended_days_ago=45),
        ended_days_ago=45,
        ready=False,
    )
    assert expire(tmp_path, session_factory, catalog, store, dataset_retention_days=30) == [old_id]
    assert store.list_keys(old_prefix) == []
    assert store.list_keys(new_prefix) == [f"{new_prefix}/frames.h5"]
    assert store.list_keys(writing_prefix) == [f"{writing_prefix}/frames.h5"]
    row = catalog.get(old_id, include_unready=True)
    assert row.state == "expired"
    assert row.expired_at == NOW
    assert row.expired_reason is not None
    assert "kept 30 days (GS_DATASET_RETENTION_DAYS)" in row.expired_reason
    assert row.files == ()
    assert catalog.get(writing_id, include_unready=True).state == "writing"
    # The API lists it no more; asked for it, it says when and why it went.
    with session_factory() as s:
        listed, count = datasets.list_datasets(s)
        assert [d.id for d in listed] == [new_id] and count == 1
        with pytest.raises(GoneError, match=r"removed at .*kept 30 days"):
            datasets.get_dataset_for(s, dataset_id=old_id)
    # A second run finds nothing more to do.
    assert expire(tmp_path, session_factory, catalog, store, dataset_retention_days=30) == []


def test_a_profile_retention_overrides_the_default_and_zero_keeps_forever(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    short = add_contact(session_factory, ended_days_ago=3)
    with session_factory() as s:
        add_profile(s, profile_id="keep", dataset_options={"retention_days": 0})
        add_profile(s, profile_id="short", dataset_options={"retention_days": 2.5})
    keep = add_contact(session_factory, ended_days_ago=400, profile_id="keep")
    with session_factory() as s:
        s.get(Contact, short).profile_id = "short"  # type: ignore[union-attr]
        s.commit()
    default = add_contact(session_factory, ended_days_ago=3)
    ids = {
        name: add_dataset(catalog, store, cid, ended_days_ago=days)[0]
        for name, cid, days in (("short", short, 3), ("keep", keep, 400), ("default", default, 3))
    }
    assert expire(tmp_path, session_factory, catalog, store, dataset_retention_days=30) == [
        ids["short"]
    ]
    reason = catalog.get(ids["short"], include_unready=True).expired_reason or ""
    assert "kept 2.5 days (mission profile 'short')" in reason


def test_datasets_kept_forever_do_not_hold_back_later_ones_past_a_full_batch(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    add_contact(session_factory, ended_days_ago=1)  # seeds the station and profile p1
    with session_factory() as s:
        add_profile(s, profile_id="keep", dataset_options={"retention_days": 0})
    for days in (400, 399, 398):  # oldest first: a whole batch of them, never expiring
        cid = add_contact(session_factory, ended_days_ago=days, profile_id="keep")
        add_dataset(catalog, store, cid, ended_days_ago=days)
    due, _ = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    done = expire_datasets(
        settings=settings_for(tmp_path, dataset_retention_days=30),
        session_factory=session_factory,
        catalog=catalog,
        store=store,
        now=NOW,
        batch=2,
    )
    assert [d.dataset_id for d in done] == [due]


def test_retention_off_by_default_keeps_every_dataset(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=900), ended_days_ago=900
    )
    assert expire(tmp_path, session_factory, catalog, store) == []


def test_a_bad_retention_in_a_profile_is_refused_naming_the_value(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s, pytest.raises(ValidationError, match="'forever'"):
        add_profile(s, profile_id="bad", dataset_options={"retention_days": "forever"})


def test_with_an_archive_prefix_expired_datasets_are_moved_not_deleted(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    dataset_id, prefix = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    settings = settings_for(tmp_path, dataset_retention_days=30, dataset_archive_prefix="cold/")
    [done] = expire_datasets(
        settings=settings, session_factory=session_factory, catalog=catalog, store=store, now=NOW
    )
    assert store.list_keys(prefix) == []
    assert store.get_bytes(f"cold/{prefix}/frames.h5") == b"x" * 1000
    assert done.archived_to == store.uri(f"cold/{prefix}")
    assert "archive prefix 'cold'" in (
        catalog.get(dataset_id, include_unready=True).expired_reason or ""
    )


def test_a_removal_interrupted_after_the_row_was_marked_is_finished_by_the_next_run(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    dataset_id, prefix = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    assert catalog.expire(dataset_id, now=NOW, reason="retention (crashed before deleting)")
    assert store.list_keys(prefix) != []
    assert catalog.expired_with_files() != []
    expire(tmp_path, session_factory, catalog, store, dataset_retention_days=30)
    assert store.list_keys(prefix) == []
    assert catalog.expired_with_files() == []


def test_expired_datasets_are_deleted_from_s3(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    s3_endpoint: str,
) -> None:
    import boto3

    from ingest.config import S3Config
    from ingest.objectstore import S3ObjectStore

    bucket = f"gs-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    s3 = S3ObjectStore(
        S3Config(bucket=bucket, prefix="gs", endpoint_url=s3_endpoint, region="us-east-1")
    )
    old_id, old_prefix = add_dataset(
        catalog, s3, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    _, new_prefix = add_dataset(
        catalog, s3, add_contact(session_factory, ended_days_ago=1), ended_days_ago=1
    )
    assert expire(tmp_path, session_factory, catalog, s3, dataset_retention_days=30) == [old_id]
    assert s3.list_keys(old_prefix) == []
    assert s3.list_keys(new_prefix) == [f"{new_prefix}/frames.h5"]


# ------------------------------------------------------------ contact history


def _contact_with_history(
    session_factory: sessionmaker[Session], sat: int, *, aos: datetime, final: S | None
) -> str:
    """A contact that went SCHEDULED -> ... -> ``final`` (None: still SCHEDULED)."""
    with session_factory() as s:
        contact = insert_contact(s, satellite_id=sat, aos=aos, state=S.AVAILABLE)
        path = {
            None: [S.SCHEDULED],
            S.COMPLETED: [S.SCHEDULED, S.PREPASS, S.PASS, S.POSTPASS, S.COMPLETED],
            S.CANCELLED: [S.SCHEDULED, S.CANCELLED],
        }[final]
        for state in path:
            apply_transition(s, contact, state, at=aos, reason=f"to {state}")
        s.commit()
        return contact.id


def _rows(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as s:
        out = dict(
            s.execute(
                select(ContactTransition.contact_id, func.count()).group_by(
                    ContactTransition.contact_id
                )
            ).all()
        )
        s.rollback()
    return {str(k): int(v) for k, v in out.items()}


def test_history_of_contacts_that_ended_long_ago_is_pruned_in_batches(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
    old_done = _contact_with_history(session_factory, sat, aos=T0, final=S.COMPLETED)
    old_cancelled = _contact_with_history(
        session_factory, sat, aos=T0 + timedelta(hours=1), final=S.CANCELLED
    )
    old_open = _contact_with_history(  # never ended (a stuck booking): kept
        session_factory, sat, aos=T0 + timedelta(hours=2), final=None
    )
    recent = _contact_with_history(
        session_factory, sat, aos=NOW - timedelta(days=1), final=S.COMPLETED
    )
    with session_factory() as s:
        before_max = s.scalar(
            select(func.max(ContactTransition.id)).where(
                ContactTransition.contact_id == old_cancelled
            )
        )
    result = event_log.prune(
        session_factory, ended_before=NOW - timedelta(days=90), now=NOW, batch_rows=2
    )
    assert result.rows == 6 + 3  # the seeded row, then the path
    assert result.through_id == before_max
    rows = _rows(session_factory)
    assert old_done not in rows and old_cancelled not in rows
    assert rows == {old_open: 2, recent: 6}
    with session_factory() as s:
        assert event_log.pruned_through(s) == before_max
        # Contacts themselves stay, with their final state and reason.
        assert s.get(Contact, old_done).state == "COMPLETED"  # type: ignore[union-attr]
    # Nothing more to prune: the mark does not move back.
    again = event_log.prune(session_factory, ended_before=NOW - timedelta(days=90), now=NOW)
    assert again.rows == 0
    with session_factory() as s:
        assert event_log.pruned_through(s) == before_max


def test_the_event_log_reads_on_after_pruning_and_says_what_a_reader_missed(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
        assert isinstance(sat, int)
    _contact_with_history(session_factory, sat, aos=T0, final=S.COMPLETED)
    recent = _contact_with_history(
        session_factory, sat, aos=NOW - timedelta(days=1), final=S.COMPLETED
    )
    with session_factory() as s:
        first_id = s.scalar(select(func.min(ContactTransition.id)))
        assert first_id is not None
    event_log.prune(session_factory, ended_before=NOW - timedelta(days=90), now=NOW)
    with session_factory() as s:
        # A reader that had seen only the first (now pruned) event:
        gap = event_log.pruned_since(s, event_id=first_id)
        assert gap is not None and gap.pruned_through_id == first_id + 5
        start = event_log.position_of(s, event_id=first_id)
        left = event_log.events_after(s, start)
        assert [getattr(e.event, "contact_id", None) for e in left] == [recent] * 6
        # A reader already past the pruned range is told nothing.
        assert event_log.pruned_since(s, event_id=first_id + 5) is None


# ------------------------------------------------------------ disk watermarks


def fake_usage(free_gib: float, total_gib: float = 100.0) -> object:
    return lambda path: Usage(
        int(total_gib * GIB), int((total_gib - free_gib) * GIB), int(free_gib * GIB)
    )


def test_recordings_are_refused_below_the_refuse_watermark_naming_free_space_and_watermark(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, disk_warn_free="10%", disk_refuse_free="5%")
    assert check_recording_space(settings, usage=fake_usage(50)) is None  # type: ignore[arg-type]
    assert check_recording_space(settings, usage=fake_usage(8)) is None  # type: ignore[arg-type]
    reason = check_recording_space(settings, usage=fake_usage(3))  # type: ignore[arg-type]
    assert reason is not None
    assert reason.startswith("recording refused: only 3.00 GiB (3.0 %) free of 100.00 GiB")
    assert "GS_DISK_REFUSE_FREE=5% (5.00 GiB)" in reason
    level, text = disk_summary(disk_checks(settings, usage=fake_usage(8)), settings)  # type: ignore[arg-type]
    assert level == "warn" and "below GS_DISK_WARN_FREE=10%" in text


def test_absolute_watermarks_and_one_check_per_file_system(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, disk_warn_free="20GiB", disk_refuse_free="2GiB")
    checks = disk_checks(settings, usage=fake_usage(10, total_gib=1000))  # type: ignore[arg-type]
    assert len(checks) == 1  # data dir, staging and local store share tmp_path's file system
    assert (checks[0].warn_below_bytes, checks[0].refuse_below_bytes) == (20 * GIB, 2 * GIB)
    assert checks[0].level == "warn"
    with pytest.raises(ValueError, match="'lots'"):
        settings_for(tmp_path, disk_refuse_free="lots")


# ------------------------------------------------------------ the run


def test_a_housekeeping_run_applies_every_retention_and_reports_it(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for(
        tmp_path,
        dataset_retention_days=30,
        event_retention_days=60,
        topic_retention_ms=3600_000,
        topic_segment_ms=60_000,
    )
    wall = [int(time.time() * 1000) - 7200_000]
    pub = LocalLogPublisher(
        settings.kafka_config().local_log_dir,
        TopicNames(settings.kafka_topic_prefix),
        retention=settings.topic_retention(),
        wall_clock_ms=lambda: wall[0],
    )
    for _ in range(3):  # three one-record segments, the first two older than an hour
        pub.append("groundstation.frames", None, b"frame", [])
        wall[0] += 3000_000
    pub.close()
    dataset_id, _ = add_dataset(
        catalog, store, add_contact(session_factory, ended_days_ago=40), ended_days_ago=40
    )
    with session_factory() as s:
        sat = s.scalar(select(func.min(Contact.satellite_id)))
        assert sat is not None
    _contact_with_history(session_factory, sat, aos=T0, final=S.COMPLETED)
    caplog.set_level("INFO", logger="groundstation.housekeeping")
    report = run_housekeeping(
        settings,
        session_factory=session_factory,
        catalog=catalog,
        store=store,
        clock=SimulatedClock(NOW, speedup=1.0),
        usage=fake_usage(7),  # type: ignore[arg-type]
    )
    assert report.errors == []
    assert report.topic_segments_deleted == 2
    assert [d.dataset_id for d in report.datasets] == [dataset_id]
    assert report.transitions_pruned == 6
    assert report.disk_level == "warn"
    text_lines = "\n".join(report.lines())
    assert "topic log: 2 segments deleted" in text_lines
    assert f"{dataset_id} (contact" in text_lines
    assert "contact history: 6 transitions pruned" in text_lines
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert any("disk space low" in r.getMessage() for r in warnings)


def test_webhook_deliveries_finished_longer_ago_than_the_event_retention_are_pruned(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    wall = datetime.now(UTC)
    ages = [("delivered", 61), ("failed", 61), ("pending", 61), ("delivered", 1)]
    with session_factory() as s:
        endpoint, _ = webhooks.create_endpoint(
            s, tenant="acme", url="https://hooks.example.org/x", now=NOW
        )
        for n, (state, age_days) in enumerate(ages):
            at = wall - timedelta(days=age_days)
            s.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id,
                    tenant="acme",
                    event_id=n + 1,
                    event_type="contact.booked",
                    payload="{}",
                    state=state,
                    attempts=1,
                    next_attempt_at=at if state == "pending" else None,
                    last_error="",
                    attempt_log=[],
                    created_at=at,
                    updated_at=at,
                )
            )
        s.commit()
    report = run_housekeeping(
        settings_for(tmp_path, event_retention_days=60),
        session_factory=session_factory,
        catalog=catalog,
        store=store,
        clock=SimulatedClock(NOW, speedup=1.0),
        usage=fake_usage(50),  # type: ignore[arg-type]
        wall_clock_ms=lambda: int(wall.timestamp() * 1000),
    )
    assert report.errors == []
    assert report.webhook_deliveries_pruned == 2
    assert "webhook deliveries: 2 finished ones pruned" in report.lines()
    with session_factory() as s:
        left = s.execute(select(WebhookDelivery.event_id, WebhookDelivery.state)).all()
    assert sorted(tuple(r) for r in left) == [(3, "pending"), (4, "delivered")]


def test_the_housekeeping_thread_runs_on_its_interval_until_stopped() -> None:
    runs: list[float] = []
    thread = HousekeepingThread(lambda: runs.append(time.monotonic()), interval_s=0.05).start()
    # Three runs, however long a loaded machine takes to schedule them (a
    # fixed 0.3 s sleep raced the thread), each an interval after the last.
    deadline = time.monotonic() + 30
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    thread.stop()
    count = len(runs)
    assert count >= 3
    assert min(b - a for a, b in zip(runs, runs[1:], strict=False)) >= 0.05 * 0.9
    time.sleep(0.15)  # three intervals: a thread still running would have run again
    assert len(runs) == count
    with pytest.raises(ValueError, match="interval_s is 0"):
        HousekeepingThread(lambda: None, interval_s=0)


def test_housekeeping_run_command_prints_what_it_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from groundstation import cli

    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GS_TOPIC_RETENTION_MS", "1")
    monkeypatch.setenv("GS_TOPIC_SEGMENT_MS", "1")
    pub = LocalLogPublisher(tmp_path / "data" / "topics", TopicNames("groundstation"))
    pub.append("groundstation.frames", None, b"frame", [])
    pub.close()
    time.sleep(0.01)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        assert cli.main(["housekeeping", "run"]) == 0
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    out = capsys.readouterr().out
    # The idle active segment was rolled, then deleted as expired.
    assert "topic log: 1 segments deleted" in out
    assert "datasets: 0 expired" in out
    assert "contact history: 0 transitions pruned" in out
    assert "disk: " in out


# ---------------------------------------------------------------- tenant buckets


def test_retention_removes_a_dataset_from_the_bucket_it_was_written_to(
    tmp_path: Path,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    store: LocalObjectStore,
) -> None:
    from groundstation.tenant_buckets import DatasetStores

    bucket = LocalObjectStore(tmp_path / "buckets" / "acme-data")
    stores = DatasetStores(default=store, open_bucket=lambda name: bucket)
    contact_id = add_contact(session_factory, ended_days_ago=40)
    dataset_id, prefix = add_dataset(
        catalog, bucket, contact_id, ended_days_ago=40, bucket="acme-data"
    )
    store.put_bytes(f"{prefix}/frames.h5", b"same key, the default store: not this dataset")
    done = expire_datasets(
        settings=settings_for(tmp_path, dataset_retention_days=30),
        session_factory=session_factory,
        catalog=catalog,
        store=store,
        now=NOW,
        stores=stores,
    )
    assert [d.dataset_id for d in done] == [dataset_id]
    assert bucket.list_keys("") == []
    assert store.list_keys("") == [f"{prefix}/frames.h5"]


def test_resource_events_older_than_the_cut_off_are_pruned_with_the_contact_history(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        seed_basic(s)
        for at, station in ((T0, "old"), (NOW - timedelta(days=1), "recent")):
            resource_events.station_event(
                s, station, old_status="online", new_status="offline", at=at, reason="test"
            )
        s.commit()
    event_log.prune(session_factory, ended_before=NOW - timedelta(days=90), now=NOW)
    with session_factory() as s:
        left = event_log.events_after(s, event_log.START)
    stations = [e.event.subject_id for e in left if isinstance(e.event, ResourceEvent)]
    assert "old" not in stations and "recent" in stations
