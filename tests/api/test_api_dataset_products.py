"""A dataset as a scientist takes it: manifest.json, the whole dataset as one
streamed tar archive, and the contact it was recorded in (on the local store
and the S3 server)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator

import pytest

from groundstation.settings import Settings
from ingest.archive import TarMember, tar_size, tar_stream
from tests.service_env import need_env

from .conftest import NOAA19, World
from .helpers import DATASET_BYTES, add_dataset, contact_body, dataset_world, first_free_pass
from .helpers import s3_settings as _s3_settings

IMAGE = b"\x89PNG-not-really"


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store_world(request: pytest.FixtureRequest, settings: Settings) -> Iterator[World]:
    if request.param == "s3":
        settings = _s3_settings(settings, need_env("GS_TEST_S3_ENDPOINT", "s3"))
    with dataset_world(settings) as world:
        yield world


def test_manifest_json_downloads_with_the_catalogued_checksum(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1/files/manifest.json", headers=w.as_("scientist"))
    assert r.status_code == 200, r.text
    listed = w.client.get("/datasets/ds-1", headers=w.as_("scientist")).json()
    assert hashlib.sha256(r.content).hexdigest() == listed["manifest_sha256"]
    assert r.headers["x-checksum-sha256"] == listed["manifest_sha256"]
    files = {f["name"]: f for f in json.loads(r.content)["files"]}
    assert files["frames.h5"]["sha256"] == hashlib.sha256(DATASET_BYTES).hexdigest()
    other = w.client.get("/datasets/ds-1/files/manifest.json", headers=w.as_("globex-scientist"))
    assert other.status_code == 404


def test_a_whole_dataset_downloads_as_one_tar_with_its_manifest(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1/archive", headers=w.as_("scientist"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-tar"
    assert int(r.headers["content-length"]) == len(r.content)
    assert 'filename="ds-1.tar"' in r.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        names = tar.getnames()
        assert names == ["ds-1/manifest.json", "ds-1/frames.h5", "ds-1/products/image.png"]
        member = tar.extractfile("ds-1/frames.h5")
        assert member is not None and member.read() == DATASET_BYTES
        image = tar.extractfile("ds-1/products/image.png")
        assert image is not None and image.read() == IMAGE
        manifest = tar.extractfile("ds-1/manifest.json")
        assert manifest is not None
        listed = {f["name"] for f in json.loads(manifest.read())["files"]}
    assert listed == {"frames.h5", "products/image.png"}


def test_another_tenants_dataset_archive_is_404(store_world: World) -> None:
    w = store_world
    r = w.client.get("/datasets/ds-1/archive", headers=w.as_("globex-scientist"))
    assert r.status_code == 404


def test_the_tar_stream_is_the_size_it_announces_and_refuses_a_short_member() -> None:
    members = [TarMember("d/a.bin", 700), TarMember("d/empty", 0), TarMember("d/b", 1)]
    data = {"d/a.bin": [b"x" * 300, b"y" * 400], "d/empty": [], "d/b": [b"z"]}
    out = b"".join(tar_stream(members, lambda m: iter(data[m.name])))
    assert len(out) == tar_size(members)
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        a = tar.extractfile("d/a.bin")
        assert a is not None and a.read() == b"x" * 300 + b"y" * 400
    short = tar_stream([TarMember("d/a.bin", 701)], lambda m: iter(data[m.name]))
    with pytest.raises(ValueError, match="'d/a.bin' gave 700 bytes, expected 701"):
        b"".join(short)


def test_a_scientist_reads_the_contact_of_a_dataset_with_its_quality(world: World) -> None:
    w = world
    p = first_free_pass(w)
    booked = w.client.post("/contacts", json=contact_body(p), headers=w.as_("acme"))
    assert booked.status_code == 201, booked.text
    contact_id = booked.json()["id"]
    quality = {"frames_expected": 120, "frames_ok": 117, "esn0_db": 9.5, "simulated": "yes"}
    add_dataset(
        w.engine,
        w.app.state.ctx.object_store(),
        dataset_id="ds-2",
        norad_id=NOAA19,
        contact_id=contact_id,
        files={"frames.h5": b"h5", "products/receiver.json": json.dumps(quality).encode()},
    )
    r = w.client.get("/datasets/ds-2/contact", headers=w.as_("scientist"))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["id"] == contact_id and got["dataset_id"] == "ds-2"
    assert got["aos"] == booked.json()["aos"]
    assert got["max_elevation_deg"] == booked.json()["max_elevation_deg"]
    assert got["state"] == booked.json()["state"] and "state_reason" in got
    assert got["quality"] == quality
    assert got["simulated"] is True
    # the contact itself stays an operator's resource
    assert w.client.get(f"/contacts/{contact_id}", headers=w.as_("scientist")).status_code == 403
    other = w.client.get("/datasets/ds-2/contact", headers=w.as_("globex-scientist"))
    assert other.status_code == 404


def test_the_contact_of_a_dataset_without_a_receiver_summary_has_no_quality(
    world: World,
) -> None:
    w = world
    p = first_free_pass(w)
    booked = w.client.post("/contacts", json=contact_body(p), headers=w.as_("acme"))
    add_dataset(
        w.engine,
        w.app.state.ctx.object_store(),
        dataset_id="ds-3",
        norad_id=NOAA19,
        contact_id=booked.json()["id"],
        files={"frames.h5": b"h5"},
    )
    r = w.client.get("/datasets/ds-3/contact", headers=w.as_("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["quality"] is None


def test_the_dataset_listing_links_its_quicklooks_and_their_thumbnails(world: World) -> None:
    w = world
    add_dataset(
        w.engine,
        w.app.state.ctx.object_store(),
        dataset_id="ds-q",
        norad_id=NOAA19,
        files={
            "frames.h5": b"h5",
            "products/quicklook/waterfall.png": b"png-1",
            "products/quicklook/waterfall_thumb.png": b"png-2",
            "products/quicklook/esn0_frequency.png": b"png-3",
        },
    )
    listed = w.client.get("/datasets", headers=w.as_("scientist")).json()["data"]
    (ds,) = [d for d in listed if d["id"] == "ds-q"]
    assert ds["quicklooks"] == [
        {
            "name": "products/quicklook/esn0_frequency.png",
            "url": "/datasets/ds-q/files/products/quicklook/esn0_frequency.png",
            "thumbnail_url": None,
        },
        {
            "name": "products/quicklook/waterfall.png",
            "url": "/datasets/ds-q/files/products/quicklook/waterfall.png",
            "thumbnail_url": "/datasets/ds-q/files/products/quicklook/waterfall_thumb.png",
        },
    ]
    thumb = w.client.get(ds["quicklooks"][1]["thumbnail_url"], headers=w.as_("scientist"))
    assert thumb.status_code == 200 and thumb.content == b"png-2"
