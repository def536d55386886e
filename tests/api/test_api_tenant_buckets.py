"""A tenant's own dataset bucket (issue 18): set by an admin over the API
(checked: a valid S3 name, writable by the service) or by GS_TENANT_BUCKETS;
a tenant's contacts' datasets land there under the profile's key template,
the catalogue records the bucket, and downloads, manifests, archives and the
dataset's contact read from it; datasets stored before stay where they are
and keep downloading. On the local store and the S3 server (moto), SQLite
and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from groundstation.dataset_placement import place_dataset
from groundstation.db import make_session_factory
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.settings import Settings
from ingest.catalog import CatalogService
from ingest.dataset import DatasetWriter
from ingest.objectstore import ObjectStore
from tests.service_env import need_env

from .conftest import NOAA19, World
from .helpers import DATASET_BYTES, contact_body, dataset_world, first_free_pass
from .helpers import s3_settings as _s3_settings

TEMPLATE = "{station}/{satellite_id}/{year}/{contact_id}"


def _new_bucket(endpoint: str | None) -> str:
    """A fresh bucket name; made on the S3 server when ``endpoint`` is given."""
    name = f"gs-tenant-{uuid.uuid4().hex[:10]}"
    if endpoint is not None:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket=name
        )
    return name


def _s3_keys(endpoint: str, bucket: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    found = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in found)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def endpoint(request: pytest.FixtureRequest) -> str | None:
    """The S3 server's endpoint (None: the local store)."""
    return need_env("GS_TEST_S3_ENDPOINT", "s3") if request.param == "s3" else None


@pytest.fixture
def store_world(settings: Settings, endpoint: str | None) -> Iterator[World]:
    if endpoint is not None:
        settings = _s3_settings(settings, endpoint)
    with dataset_world(settings) as world:
        yield world


def _keys_in(world: World, endpoint: str | None, bucket: str) -> list[str]:
    if endpoint is not None:
        return _s3_keys(endpoint, bucket)
    root = world.app.state.ctx.settings.effective_local_buckets_dir() / bucket
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _set(world: World, tenant: str, bucket: str, who: str = "admin") -> httpx.Response:
    return world.client.put(
        f"/tenants/{tenant}/bucket", json={"bucket": bucket}, headers=world.as_(who)
    )


# ---------------------------------------------------------------- configuring


def test_a_bucket_name_s3_refuses_is_422_naming_it_and_the_rule(world: World) -> None:
    cases = {
        "Acme_Data": "lowercase letters, digits",
        "ab": "3 to 63",
        "x" * 64: "3 to 63",
        "acme..data": "two adjacent periods",
        "192.168.10.2": "IP address",
        "xn--acme": "'xn--'",
        "acme-data-s3alias": "'-s3alias'",
        "-acme": "start and end with a letter or digit",
    }
    for name, rule in cases.items():
        r = _set(world, "acme", name)
        assert r.status_code == 422, (name, r.text)
        detail = r.json()["detail"]
        assert repr(name) in detail and rule in detail, detail
    got = world.client.get("/tenants/acme/bucket", headers=world.as_("admin")).json()
    assert got == {"tenant": "acme", "bucket": None, "source": "default", "updated_at": None}


def test_a_bucket_body_takes_a_string_only_and_no_other_field(world: World) -> None:
    for body in ({"bucket": 123}, {"bucket": "acme-data", "prefix": "x"}, {}):
        r = world.client.put("/tenants/acme/bucket", json=body, headers=world.as_("admin"))
        assert r.status_code == 422, (body, r.text)


@pytest.mark.s3
def test_a_bucket_the_service_cannot_write_to_is_refused_with_the_reason(
    settings: Settings,
) -> None:
    endpoint = need_env("GS_TEST_S3_ENDPOINT", "s3")
    with dataset_world(_s3_settings(settings, endpoint)) as w:
        missing = _new_bucket(None)  # never made on the server
        r = _set(w, "acme", missing)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert repr(missing) in detail and "cannot write" in detail and "no such bucket" in detail
        assert endpoint in detail
        got = w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()
        assert got["bucket"] is None and got["source"] == "default"


def test_a_local_bucket_folder_the_service_cannot_write_is_refused_with_the_reason(
    settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the buckets folder should be")
    with dataset_world(settings.model_copy(update={"local_buckets_dir": blocker})) as w:
        r = _set(w, "acme", "acme-data")
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert "'acme-data'" in detail and "cannot write" in detail and str(blocker) in detail
        assert w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()["bucket"] is None


def test_only_an_admin_sets_a_bucket_and_an_operator_reads_its_own_tenants(
    store_world: World, endpoint: str | None
) -> None:
    w = store_world
    bucket = _new_bucket(endpoint)
    assert _set(w, "acme", bucket, who="acme").status_code == 403
    r = _set(w, "acme", bucket)
    assert r.status_code == 200, r.text
    assert r.json()["bucket"] == bucket and r.json()["source"] == "api"
    assert w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()["bucket"] == bucket
    assert w.client.get("/tenants/acme/bucket", headers=w.as_("globex")).status_code == 404
    assert w.client.get("/tenants/acme/bucket", headers=w.as_("scientist")).status_code == 403
    assert _keys_in(w, endpoint, bucket) == []  # the write check's probe is deleted
    unknown = _set(w, "acmee", bucket)  # no satellite or key names it: a typo
    assert unknown.status_code == 404 and "'acmee'" in unknown.json()["detail"]
    cleared = w.client.delete("/tenants/acme/bucket", headers=w.as_("admin"))
    assert cleared.status_code == 200 and cleared.json()["source"] == "default"


def test_a_bucket_of_the_settings_shows_and_one_set_over_the_api_wins(
    settings: Settings,
) -> None:
    with dataset_world(settings.model_copy(update={"tenant_buckets": {"acme": "acme-set"}})) as w:
        got = w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()
        assert got["bucket"] == "acme-set" and got["source"] == "settings"
        assert _set(w, "acme", "acme-api").status_code == 200
        got = w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()
        assert got["bucket"] == "acme-api" and got["source"] == "api"
        w.client.delete("/tenants/acme/bucket", headers=w.as_("admin"))
        got = w.client.get("/tenants/acme/bucket", headers=w.as_("acme")).json()
        assert got["bucket"] == "acme-set" and got["source"] == "settings"


def test_a_bad_bucket_name_in_the_settings_is_refused_naming_it(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="tenant_buckets\\['acme'\\]: bucket name 'Acme'"):
        Settings(data_dir=tmp_path, tenant_buckets={"acme": "Acme"})


@pytest.mark.s3
def test_a_bucket_of_the_settings_the_service_cannot_write_to_stops_the_start(
    settings: Settings,
) -> None:
    from groundstation.delivery import open_dataset_stores
    from groundstation.errors import TenantBucketError

    endpoint = need_env("GS_TEST_S3_ENDPOINT", "s3")
    missing = _new_bucket(None)
    s3 = _s3_settings(settings, endpoint, tenant_buckets={"acme": missing})
    with pytest.raises(TenantBucketError) as refused:
        open_dataset_stores(s3).check_configured()
    message = str(refused.value)
    assert "GS_TENANT_BUCKETS" in message and "'acme'" in message and repr(missing) in message


# ---------------------------------------------------------------- datasets in the bucket


def _contact_dataset(w: World) -> tuple[str, str]:
    """A contact of acme's NOAA 19 booked over the API with the key template
    on its profile, and its dataset written as the executors write it
    (``place_dataset``: its tenant's bucket now); (dataset id, key prefix)."""
    r = w.client.patch(
        "/mission-profiles/leo",
        json={"dataset_options": {"key_template": TEMPLATE}},
        headers=w.as_("admin"),
    )
    assert r.status_code == 200, r.text
    booked = w.client.post(
        "/contacts", json=contact_body(first_free_pass(w)), headers=w.as_("acme")
    )
    assert booked.status_code == 201, booked.text
    factory = make_session_factory(w.engine)
    with factory() as session:
        contact = session.scalar(select(Contact).where(Contact.id == booked.json()["id"]))
        assert contact is not None
        run = contact_run(contact)
    ctx = w.app.state.ctx
    info, store = place_dataset(run, ctx.dataset_stores(), factory)
    writer = DatasetWriter(
        info=info,
        store=store,
        catalog=CatalogService(w.engine),
        staging_root=ctx.settings.data_dir / "staging-test",
    ).begin()
    writer.add_product_bytes("receiver.json", json.dumps({"frames_ok": 7}).encode())
    (writer.staging / "frames.h5").write_bytes(DATASET_BYTES)
    writer.commit()
    return info.dataset_id, info.key_prefix


def test_a_tenants_contact_dataset_lands_in_its_bucket_under_the_key_template(
    store_world: World, endpoint: str | None
) -> None:
    w = store_world
    bucket = _new_bucket(endpoint)
    assert _set(w, "acme", bucket).status_code == 200
    default_before = w.app.state.ctx.object_store().list_keys("")
    dataset_id, prefix = _contact_dataset(w)
    assert prefix.startswith(f"svalbard/{NOAA19}/")
    assert _keys_in(w, endpoint, bucket) == [
        f"{prefix}/frames.h5",
        f"{prefix}/manifest.json",
        f"{prefix}/products/receiver.json",
    ]
    assert w.app.state.ctx.object_store().list_keys("") == default_before  # nothing there
    entry = CatalogService(w.engine).get(dataset_id)
    assert entry.bucket == bucket and bucket in entry.store_uri
    listed = w.client.get(f"/datasets/{dataset_id}", headers=w.as_("scientist"))
    assert listed.status_code == 200 and listed.json()["bucket"] == bucket

    # every way of reading it reads the bucket
    r = w.client.get(f"/datasets/{dataset_id}/files/frames.h5", headers=w.as_("scientist"))
    assert r.status_code == 200 and r.content == DATASET_BYTES
    ranged = w.client.get(
        f"/datasets/{dataset_id}/files/frames.h5",
        headers={**w.as_("scientist"), "Range": "bytes=10-19"},
    )
    assert ranged.status_code == 206 and ranged.content == DATASET_BYTES[10:20]
    assert r.headers["x-checksum-sha256"] == next(
        f["sha256"] for f in listed.json()["files"] if f["name"] == "frames.h5"
    )
    manifest = w.client.get(
        f"/datasets/{dataset_id}/files/manifest.json", headers=w.as_("scientist")
    )
    assert manifest.status_code == 200
    assert {f["name"] for f in manifest.json()["files"]} == {"frames.h5", "products/receiver.json"}
    archive = w.client.get(f"/datasets/{dataset_id}/archive", headers=w.as_("scientist"))
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        member = tar.extractfile(f"{dataset_id}/frames.h5")
        assert member is not None and member.read() == DATASET_BYTES
    contact = w.client.get(f"/datasets/{dataset_id}/contact", headers=w.as_("scientist"))
    assert contact.status_code == 200 and contact.json()["quality"] == {"frames_ok": 7}


def test_another_tenant_cannot_read_a_dataset_in_a_tenants_bucket(
    store_world: World, endpoint: str | None
) -> None:
    w = store_world
    bucket = _new_bucket(endpoint)
    assert _set(w, "acme", bucket).status_code == 200
    dataset_id, _ = _contact_dataset(w)
    paths = [
        f"/datasets/{dataset_id}",
        f"/datasets/{dataset_id}/files/frames.h5",
        f"/datasets/{dataset_id}/files/manifest.json",
        f"/datasets/{dataset_id}/archive",
        f"/datasets/{dataset_id}/contact",
    ]
    for who in ("globex", "globex-scientist"):
        for path in paths:
            r = w.client.get(path, headers=w.as_(who))
            assert r.status_code == 404, (who, path, r.status_code)
            assert DATASET_BYTES[:64] not in r.content
        listed = w.client.get("/datasets", headers=w.as_(who)).json()
        assert dataset_id not in [d["id"] for d in listed["data"]]
    for who in ("acme", "scientist", "admin"):
        r = w.client.get(paths[1], headers=w.as_(who))
        assert r.status_code == 200 and r.content == DATASET_BYTES


def test_datasets_stored_before_stay_in_the_default_store_and_keep_downloading(
    store_world: World, endpoint: str | None
) -> None:
    """``ds-1`` was stored in the default store (bucket null); the tenant
    then gets a bucket, its next dataset goes there, and both download."""
    w = store_world
    before = w.app.state.ctx.object_store().list_keys("")
    assert CatalogService(w.engine).get("ds-1").bucket is None
    first = _new_bucket(endpoint)
    assert _set(w, "acme", first).status_code == 200
    in_first, _ = _contact_dataset(w)
    second = _new_bucket(endpoint)  # the bucket changes again: nothing moves
    assert _set(w, "acme", second).status_code == 200
    assert w.app.state.ctx.object_store().list_keys("") == before
    for dataset_id, name in (("ds-1", "frames.h5"), (in_first, "frames.h5")):
        r = w.client.get(f"/datasets/{dataset_id}/files/{name}", headers=w.as_("scientist"))
        assert r.status_code == 200 and r.content == DATASET_BYTES, dataset_id
        archive = w.client.get(f"/datasets/{dataset_id}/archive", headers=w.as_("scientist"))
        assert archive.status_code == 200, dataset_id
    assert _keys_in(w, endpoint, second) == []


def test_a_tenant_without_a_bucket_writes_to_the_default_store(
    store_world: World, endpoint: str | None
) -> None:
    w = store_world
    _set(w, "globex", _new_bucket(endpoint))  # another tenant's bucket changes nothing for acme
    dataset_id, prefix = _contact_dataset(w)
    assert CatalogService(w.engine).get(dataset_id).bucket is None
    assert w.app.state.ctx.object_store().exists(f"{prefix}/manifest.json")
    r = w.client.get(f"/datasets/{dataset_id}/files/frames.h5", headers=w.as_("scientist"))
    assert r.status_code == 200 and r.content == DATASET_BYTES


@pytest.mark.s3
def test_a_presigned_download_of_a_dataset_in_a_tenants_bucket_points_into_that_bucket(
    settings: Settings,
) -> None:
    endpoint = need_env("GS_TEST_S3_ENDPOINT", "s3")
    s3 = _s3_settings(settings, endpoint, s3_presigned_downloads=True)
    with dataset_world(s3) as w:
        bucket = _new_bucket(endpoint)
        assert _set(w, "acme", bucket).status_code == 200
        dataset_id, prefix = _contact_dataset(w)
        r = w.client.get(
            f"/datasets/{dataset_id}/files/frames.h5",
            headers=w.as_("scientist"),
            follow_redirects=False,
        )
        assert r.status_code == 307, r.text
        assert f"/{bucket}/{prefix}/frames.h5" in r.headers["location"]
        assert httpx.get(r.headers["location"]).content == DATASET_BYTES


# ---------------------------------------------------------------- stored before migration 0011d


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'before.db'}"
        return
    from tests.service_env import scratch_database

    with scratch_database(request.getfixturevalue("postgres_base_url"), "tenantbucket") as url:
        yield url


def _store_old_dataset(url: str, store: ObjectStore) -> None:
    """Dataset ``ds-old`` of NOAA 19 as a service at migration 0010c stored
    it: objects in the default store, catalogue rows without a bucket column."""
    import hashlib
    from datetime import timedelta

    from sqlalchemy import MetaData, Table, insert

    from groundstation.db import make_engine, migrate
    from ingest.dataset import Manifest, ManifestFile

    from .conftest import NOW

    engine = make_engine(url)
    migrate(engine, "0010c")
    prefix = f"{NOAA19}/2023/07/04/c-old"
    store.put_bytes(f"{prefix}/frames.h5", DATASET_BYTES)
    sha = hashlib.sha256(DATASET_BYTES).hexdigest()
    manifest = Manifest(
        info={"dataset_id": "ds-old"}, files=(ManifestFile("frames.h5", len(DATASET_BYTES), sha),)
    ).encode()
    store.put_bytes(f"{prefix}/manifest.json", manifest)
    sqlite = engine.dialect.name == "sqlite"

    def at(minutes: int) -> object:
        t = NOW + timedelta(minutes=minutes)
        return t.replace(tzinfo=None) if sqlite else t

    meta = MetaData()
    datasets = Table("ingest_datasets", meta, autoload_with=engine)
    files = Table("ingest_dataset_files", meta, autoload_with=engine)
    assert "bucket" not in datasets.c
    with engine.begin() as conn:
        conn.execute(
            insert(datasets).values(
                id="ds-old",
                contact_id="c-old",
                norad_id=NOAA19,
                satellite="NOAA 19",
                station="svalbard",
                antenna="sv-uhf",
                start_time=at(60),
                end_time=at(70),
                store_uri=store.uri(prefix),
                key_prefix=prefix,
                state="ready",
                total_size_bytes=len(DATASET_BYTES),
                manifest_sha256=hashlib.sha256(manifest).hexdigest(),
                created_at=at(0),
                ready_at=at(71),
            )
        )
        conn.execute(
            insert(files).values(
                dataset_id="ds-old",
                name="frames.h5",
                uri=store.uri(f"{prefix}/frames.h5"),
                size_bytes=len(DATASET_BYTES),
                sha256=sha,
            )
        )
    engine.dispose()


def test_a_dataset_stored_before_migration_0011d_keeps_downloading_from_the_default_store(
    fresh_database_url: str, tmp_path: Path
) -> None:
    from groundstation.delivery import open_object_store

    from .conftest import NOW

    settings = Settings(
        database_url=fresh_database_url,
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=1.0,
    )
    _store_old_dataset(fresh_database_url, open_object_store(settings))
    with dataset_world(settings) as w:  # create_app migrates to head
        assert CatalogService(w.engine).get("ds-old").bucket is None
        assert _set(w, "acme", "acme-later").status_code == 200
        for name in ("frames.h5", "manifest.json"):
            r = w.client.get(f"/datasets/ds-old/files/{name}", headers=w.as_("scientist"))
            assert r.status_code == 200, r.text
        assert r.json()["files"][0]["name"] == "frames.h5"
        archive = w.client.get("/datasets/ds-old/archive", headers=w.as_("scientist"))
        assert archive.status_code == 200
        got = w.client.get("/datasets/ds-old", headers=w.as_("scientist")).json()
        assert got["bucket"] is None
        assert w.client.get("/datasets/ds-old", headers=w.as_("globex")).status_code == 404
