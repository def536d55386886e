"""Datasets in a tenant's bucket at the ingest level: S3 bucket names, the
catalogue's record of the bucket, and start-up recovery of a dataset a
crashed writer left in a bucket (local stores: the recovery logic is the
same for S3, tested against the S3 server in tests/api)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from ingest.catalog import CatalogService
from ingest.dataset import DatasetWriter, recover
from ingest.errors import DatasetError, IngestError
from ingest.objectstore import LocalObjectStore, ObjectStore, check_bucket_name

from .test_ingest_storage import info, write_dataset


def test_valid_s3_bucket_names_pass() -> None:
    for name in ("abc", "acme-data", "acme.data.2026", "a" * 63, "1acme"):
        assert check_bucket_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "0 characters"),
        ("UPPER", "lowercase"),
        ("under_score", "lowercase"),
        ("trailing-", "start and end"),
        ("a..b", "two adjacent periods"),
        ("10.0.0.1", "IP address"),
        ("sthree-acme", "'sthree-'"),
        ("acme--ol-s3", "'--ol-s3'"),
        ("acme/../x", "lowercase"),
    ],
)
def test_a_bad_bucket_name_is_refused_naming_it_and_the_rule(name: str, rule: str) -> None:
    with pytest.raises(IngestError) as refused:
        check_bucket_name(name)
    assert repr(name) in str(refused.value) and rule in str(refused.value)


@pytest.fixture
def catalog(tmp_path: Path) -> CatalogService:
    c = CatalogService(create_engine(f"sqlite:///{tmp_path / 'catalog.db'}"))
    c.create_schema()
    return c


def test_start_up_resumes_a_crashed_dataset_in_its_bucket_not_the_default_store(
    catalog: CatalogService, tmp_path: Path
) -> None:
    default = LocalObjectStore(tmp_path / "default")
    buckets: dict[str | None, ObjectStore] = {None: default}
    buckets["acme-data"] = LocalObjectStore(tmp_path / "buckets" / "acme-data")
    ds = dataclasses.replace(info(), bucket="acme-data")
    staging = tmp_path / "staging"
    writer = DatasetWriter(ds, buckets["acme-data"], catalog, staging).begin()
    write_dataset(writer, n_frames=50)
    writer.stage_hook = lambda stage: (_ for _ in ()).throw(KeyboardInterrupt(stage))
    with pytest.raises(KeyboardInterrupt):
        writer.commit()  # dies after the manifest was staged, before any upload
    with pytest.raises(DatasetError, match="bucket 'acme-data': recover needs store_for"):
        recover(store=default, catalog=catalog, staging_root=staging)
    report = recover(
        store=default, catalog=catalog, staging_root=staging, store_for=buckets.__getitem__
    )
    assert report.resumed == (ds.dataset_id,)
    entry = catalog.get(ds.dataset_id)
    assert entry.bucket == "acme-data"
    assert buckets["acme-data"].exists(f"{ds.key_prefix}/manifest.json")
    assert default.list_keys("") == []


def test_start_up_cleans_a_crashed_dataset_in_its_bucket(
    catalog: CatalogService, tmp_path: Path
) -> None:
    default = LocalObjectStore(tmp_path / "default")
    bucket = LocalObjectStore(tmp_path / "buckets" / "acme-data")
    ds = dataclasses.replace(info(), bucket="acme-data")
    DatasetWriter(ds, bucket, catalog, tmp_path / "staging").begin()
    bucket.put_bytes(f"{ds.key_prefix}/frames.h5", b"half")  # then the writer died
    default.put_bytes(f"{ds.key_prefix}/frames.h5", b"not this dataset's")
    report = recover(
        store=default,
        catalog=catalog,
        staging_root=tmp_path / "staging",
        store_for=lambda name: bucket if name == "acme-data" else default,
    )
    assert report.cleaned == (ds.dataset_id,)
    assert bucket.list_keys("") == []
    assert default.list_keys("") == [f"{ds.key_prefix}/frames.h5"]  # the default store untouched
