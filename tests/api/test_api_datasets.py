"""Dataset search and file download (HTTP Range, checksum headers) against
the local store and the S3 server (moto, scripts/services/s3.sh)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from groundstation.settings import Settings
from tests.service_env import need_env

from .conftest import NOAA19, NOW, World
from .helpers import DATASET_BYTES, dataset_world, s3_settings

DATA = DATASET_BYTES


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_world(request: pytest.FixtureRequest, settings: Settings) -> Iterator[World]:
    if request.param == "s3":
        settings = s3_settings(settings, need_env("GS_TEST_S3_ENDPOINT", "s3"))
    with dataset_world(settings) as world:
        yield world


def test_dataset_lists_its_files_with_sizes_and_checksums(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1", headers=w.as_("scientist"))
    assert r.status_code == 200
    files = {f["name"]: f for f in r.json()["files"]}
    assert files["frames.h5"]["size_bytes"] == len(DATA)
    assert files["frames.h5"]["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert r.json()["total_size_bytes"] == len(DATA) + len(b"\x89PNG-not-really")


def test_whole_file_download_carries_the_sha256_headers(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1/files/frames.h5", headers=w.as_("scientist"))
    assert r.status_code == 200
    assert r.content == DATA
    digest = hashlib.sha256(DATA)
    assert r.headers["x-checksum-sha256"] == digest.hexdigest()
    assert r.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert r.headers["accept-ranges"] == "bytes"
    assert int(r.headers["content-length"]) == len(DATA)
    nested = w.client.get("/datasets/ds-1/files/products/image.png", headers=w.as_("scientist"))
    assert nested.content == b"\x89PNG-not-really"


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-", 1000, len(DATA) - 1),
        ("bytes=-4", len(DATA) - 4, len(DATA) - 1),
        ("bytes=255990-999999", 255990, len(DATA) - 1),
    ],
)
def test_range_requests_return_206_with_exactly_those_bytes(
    store_world: World, header: str, first: int, last: int
) -> None:
    w = store_world
    r = w.client.get(
        "/datasets/ds-1/files/frames.h5", headers={**w.as_("scientist"), "Range": header}
    )
    assert r.status_code == 206
    assert r.content == DATA[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert r.headers["x-checksum-sha256"] == hashlib.sha256(DATA).hexdigest()


def test_unsatisfiable_range_is_416_with_the_size(store_world: World) -> None:
    w = store_world
    r = w.client.get(
        "/datasets/ds-1/files/frames.h5", headers={**w.as_("scientist"), "Range": "bytes=999999-"}
    )
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"


def test_unknown_file_is_404_naming_it(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1/files/nope.bin", headers=w.as_("scientist"))
    assert r.status_code == 404
    assert "nope.bin" in r.json()["detail"]


def test_datasets_filter_by_satellite_and_time_range(store_world: World) -> None:
    w = store_world
    h = w.as_("admin")
    assert w.client.get("/datasets", params={"satellite": NOAA19}, headers=h).json()["count"] == 1
    assert w.client.get("/datasets", params={"satellite": 28654}, headers=h).json()["count"] == 0
    later = (NOW + timedelta(days=1)).isoformat()
    assert w.client.get("/datasets", params={"start": later}, headers=h).json()["count"] == 0
    assert (
        w.client.get("/datasets", params={"end": later, "contact": "c-1"}, headers=h).json()[
            "count"
        ]
        == 1
    )


def test_readyz_reports_database_broker_and_object_store(store_world: World) -> None:
    r = store_world.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert set(r.json()["checks"]) == {"database", "broker", "object_store", "disk"}
