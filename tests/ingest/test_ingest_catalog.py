"""The dataset catalogue on SQLite, and on PostgreSQL when GS_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ingest.catalog import Base, CatalogService, FileEntry
from ingest.errors import DatasetError

T0 = datetime(2026, 11, 27, 0, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None
) -> Iterator[CatalogService]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    else:
        if postgres_url is None:
            msg = "GS_TEST_POSTGRES_URL is not set: start scripts/services/postgres.sh"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(msg + " (CI=true: integration tests must not skip)")
            pytest.skip(msg)
        schema = f"t_{uuid.uuid4().hex[:10]}"
        admin = create_engine(postgres_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    service = CatalogService(engine)
    service.create_schema()
    yield service
    if request.param == "postgresql":
        Base.metadata.drop_all(engine)
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def add(
    c: CatalogService,
    dataset_id: str,
    *,
    norad: int = 25544,
    station: str = "lisbon",
    contact: str | None = None,
    start: datetime = T0,
    minutes: int = 10,
    ready: bool = True,
) -> None:
    c.begin(
        dataset_id=dataset_id,
        contact_id=contact or f"c-{dataset_id}",
        norad_id=norad,
        satellite=f"SAT {norad}",
        station=station,
        antenna="dish-1",
        start_time=start,
        end_time=start + timedelta(minutes=minutes),
        store_uri=f"s3://b/{dataset_id}",
        key_prefix=dataset_id,
        now=start,
    )
    if ready:
        c.mark_ready(
            dataset_id,
            files=[
                FileEntry("frames.h5", f"s3://b/{dataset_id}/frames.h5", 5_000_000_000, "a" * 64),
                FileEntry("manifest.json", f"s3://b/{dataset_id}/m", 10, "b" * 64),
            ],
            manifest_sha256="c" * 64,
            now=start + timedelta(minutes=minutes + 1),
        )


def ids(entries: list) -> list[str]:
    return [e.id for e in entries]


def test_a_ready_dataset_keeps_its_files_sizes_checksums_and_utc_times(
    catalog: CatalogService,
) -> None:
    add(catalog, "d1")
    e = catalog.get("d1")
    assert e.state == "ready"
    assert e.total_size_bytes == 5_000_000_010  # larger than 32 bits
    assert [(f.name, f.sha256) for f in e.files] == [
        ("frames.h5", "a" * 64),
        ("manifest.json", "b" * 64),
    ]
    assert e.start_time == T0
    assert e.start_time.tzinfo is not None
    assert e.ready_at == T0 + timedelta(minutes=11)


def test_queries_select_by_satellite_station_contact_and_time_range(
    catalog: CatalogService,
) -> None:
    add(catalog, "a", norad=1, station="lisbon", start=T0)
    add(catalog, "b", norad=2, station="lisbon", start=T0 + timedelta(hours=1))
    add(catalog, "c", norad=1, station="oslo", start=T0 + timedelta(hours=2), contact="c-x")
    assert ids(catalog.find(norad_id=1)) == ["a", "c"]
    assert ids(catalog.find(station="lisbon")) == ["a", "b"]
    assert ids(catalog.find(contact_id="c-x")) == ["c"]
    # overlapping [T0+5min, T0+65min]: a (ends at +10) and b (starts at +60)
    assert ids(catalog.find(start=T0 + timedelta(minutes=5), end=T0 + timedelta(minutes=65))) == [
        "a",
        "b",
    ]
    assert ids(catalog.find(start=T0 + timedelta(minutes=11), end=T0 + timedelta(minutes=59))) == []
    assert ids(catalog.find(norad_id=1, station="oslo")) == ["c"]


def test_a_dataset_still_being_written_is_not_visible(catalog: CatalogService) -> None:
    add(catalog, "w", ready=False)
    assert catalog.find() == []
    with pytest.raises(DatasetError, match="'writing', not ready"):
        catalog.get("w")
    assert ids(catalog.in_state("writing")) == ["w"]


def test_a_failed_dataset_records_why_and_cannot_become_ready(catalog: CatalogService) -> None:
    add(catalog, "f", ready=False)
    catalog.mark_failed("f", reason="writer crashed")
    assert catalog.get("f", include_unready=True).error == "writer crashed"
    with pytest.raises(DatasetError, match="'failed'"):
        catalog.mark_ready("f", files=[], manifest_sha256="0" * 64, now=T0)


def test_the_same_dataset_id_cannot_be_registered_twice(catalog: CatalogService) -> None:
    add(catalog, "d")
    with pytest.raises(DatasetError, match="already in the catalogue"):
        add(catalog, "d")


def test_a_naive_time_is_refused(catalog: CatalogService) -> None:
    with pytest.raises(Exception, match="naive"):
        add(catalog, "n", start=datetime(2026, 1, 1))
