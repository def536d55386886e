"""Object stores and datasets on both backends: a local folder and the moto S3 server."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h5py
import numpy as np
import pytest
from sqlalchemy import create_engine

from ingest.catalog import CatalogService
from ingest.config import S3Config
from ingest.dataset import (
    DatasetInfo,
    DatasetReader,
    DatasetWriter,
    catalogue_uploaded,
    recover,
)
from ingest.errors import (
    CorruptObjectError,
    DatasetError,
    IngestError,
    ObjectNotFoundError,
    PublishRefusedError,
)
from ingest.h5frames import ContactAttrs
from ingest.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore, get_verified

T0 = datetime(2026, 11, 27, 1, 0, 0, tzinfo=UTC)
FRAME_LEN = 223


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3ObjectStore(
        S3Config(
            bucket=bucket,
            prefix="datasets",
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
            multipart_threshold_bytes=5 * 1024 * 1024,
            multipart_chunk_bytes=5 * 1024 * 1024,
        )
    )


@pytest.fixture
def catalog(tmp_path: Path) -> CatalogService:
    c = CatalogService(create_engine(f"sqlite:///{tmp_path / 'catalog.db'}"))
    c.create_schema()
    return c


def test_objects_round_trip_and_list_under_their_prefix(store: ObjectStore, tmp_path: Path) -> None:
    assert store.put_bytes("a/b/one.bin", b"one") == 3
    src = tmp_path / "two.bin"
    src.write_bytes(b"two" * 1000)
    assert store.put_file("a/c/two.bin", src) == 3000
    assert store.get_bytes("a/b/one.bin") == b"one"
    store.get_file("a/c/two.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == b"two" * 1000
    assert store.list_keys("a/") == ["a/b/one.bin", "a/c/two.bin"]
    assert store.size("a/c/two.bin") == 3000
    assert store.delete_prefix("a/b/") == 1
    assert store.list_keys("a/") == ["a/c/two.bin"]


def test_a_large_object_goes_up_in_parts_and_comes_back_identical(
    store: ObjectStore, tmp_path: Path
) -> None:
    data = np.random.default_rng(1).integers(0, 256, 11 * 1024 * 1024, dtype=np.uint8).tobytes()
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    store.put_file("big/big.bin", src)
    if isinstance(store, S3ObjectStore):
        head = store.client.head_object(Bucket=store.bucket, Key=store._k("big/big.bin"))
        assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts
    assert hashlib.sha256(store.get_bytes("big/big.bin")).digest() == hashlib.sha256(data).digest()


def test_a_missing_object_raises_not_found_naming_its_uri(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError, match="nope.bin"):
        store.get_bytes("x/nope.bin")
    assert not store.exists("x/nope.bin")


def test_a_key_that_escapes_the_store_is_refused(store: ObjectStore) -> None:
    with pytest.raises(IngestError, match="'../etc/passwd'"):
        store.put_bytes("../etc/passwd", b"x")


def test_a_corrupted_object_is_refused_with_both_checksums(store: ObjectStore) -> None:
    store.put_bytes("k/f.bin", b"good bytes")
    good = hashlib.sha256(b"good bytes").hexdigest()
    assert get_verified(store, "k/f.bin", good) == b"good bytes"
    store.put_bytes("k/f.bin", b"good bytez")  # bit rot / tampering
    with pytest.raises(CorruptObjectError, match=good):
        get_verified(store, "k/f.bin", good)


def info(contact: str = "c-1", norad: int = 25544, start: datetime = T0) -> DatasetInfo:
    return DatasetInfo(
        dataset_id=f"ds-{uuid.uuid4().hex[:10]}",
        contact_id=contact,
        norad_id=norad,
        satellite="ISS (ZARYA)",
        station="lisbon",
        antenna="dish-1",
        start=start,
        end=start + timedelta(minutes=10),
    )


def write_dataset(writer: DatasetWriter, n_frames: int = 3000) -> np.ndarray:
    rng = np.random.default_rng(7)
    frames = rng.integers(0, 256, (n_frames, FRAME_LEN), dtype=np.uint8)
    h5 = writer.frames_h5(
        frame_length=FRAME_LEN,
        attrs=ContactAttrs(
            satellite="ISS (ZARYA)",
            norad_id=25544,
            station="lisbon",
            antenna="dish-1",
            contact_id=writer.info.contact_id,
            aos=T0,
            los=T0 + timedelta(minutes=10),
            tle="1 25544U ...\n2 25544 ...",
            profile={"modulation": "bpsk", "coding": "rs+conv"},
            software_version="0.1.0",
        ),
    )
    for start in range(0, n_frames, 1000):  # frames arrive in batches during the pass
        sl = slice(start, min(start + 1000, n_frames))
        n = sl.stop - sl.start
        seq = np.arange(sl.start, sl.stop)
        h5.append(
            frames[sl],
            sequence=seq,
            time_unix_s=T0.timestamp() + seq * 0.01,
            virtual_channel=seq % 3,
            frame_counter=seq % 256,
            rs_corrections=np.where(seq % 100 == 0, -1, seq % 4),
            crc_ok=np.where(seq % 50 == 0, 0, 1),
        )
        assert h5.n_frames == sl.stop and n > 0
    t = T0.timestamp() + np.arange(60) * 10.0
    h5.write_track(
        time_unix_s=t,
        azimuth_deg=np.linspace(10, 200, 60),
        elevation_deg=np.sin(np.linspace(0, np.pi, 60)) * 80,
        range_km=np.linspace(2000, 600, 60),
        range_rate_km_s=np.linspace(-7, 7, 60),
    )
    iq = writer.sigmf(sample_rate_hz=1e6, center_freq_hz=437.8e6, capture_start=T0)
    for i in range(4):
        iq.write((np.arange(50_000) * (1 + 1j) * (i + 1)).astype(np.complex64))
        iq.annotate(i * 50_000, 1000, f"frame {i}")
    writer.add_image_products(rng.integers(0, 256, (32, 48), dtype=np.uint8))
    return frames


def test_a_dataset_is_stored_with_a_manifest_matching_every_file(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    writer = DatasetWriter(info(), store, catalog, tmp_path / "staging").begin()
    frames = write_dataset(writer)
    entry = writer.commit()
    assert entry.state == "ready"
    prefix = "25544/2026/11/27/c-1"
    assert entry.key_prefix == prefix
    names = {f.name for f in entry.files}
    assert names == {
        "frames.h5",
        "iq.sigmf-data",
        "iq.sigmf-meta",
        "products/image.png",
        "products/image.h5",
    }
    manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
    for f in manifest["files"]:
        data = store.get_bytes(f"{prefix}/{f['name']}")
        assert len(data) == f["size_bytes"]
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
    reader = DatasetReader.for_entry(store, entry)
    local = reader.download("frames.h5", tmp_path / "frames.h5")
    with h5py.File(local) as h:
        assert np.array_equal(h["frames"][:], frames)
        assert h["table/frames"]["frame_counter"][5] == 5
        assert h.attrs["norad_id"] == 25544
        assert h.attrs["n_crc_bad"] == 60
        assert h.attrs["n_uncorrectable"] == 30
        assert json.loads(h.attrs["profile"])["modulation"] == "bpsk"
        assert h["track/elevation_deg"].shape == (60,)
        assert h["frames"].compression == "gzip"
    meta = json.loads(reader.read_bytes("iq.sigmf-meta"))
    assert meta["global"]["core:sample_rate"] == 1e6
    assert meta["captures"][0]["core:frequency"] == 437.8e6
    assert len(meta["annotations"]) == 4
    iq = np.frombuffer(reader.read_bytes("iq.sigmf-data"), dtype="<c8")
    assert iq.shape == (200_000,)
    assert iq[50_001] == np.complex64(2 + 2j)


def test_frames_h5_opens_in_xarray_with_named_dimensions(
    catalog: CatalogService, tmp_path: Path
) -> None:
    import xarray as xr

    store = LocalObjectStore(tmp_path / "objects")
    writer = DatasetWriter(info(), store, catalog, tmp_path / "staging").begin()
    frames = write_dataset(writer, n_frames=500)
    entry = writer.commit()
    path = DatasetReader.for_entry(store, entry).download("frames.h5", tmp_path / "f.h5")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["frames"].dims == ("frame", "byte")
        assert np.array_equal(ds["frames"].values, frames)
        assert ds["crc_ok"].sizes["frame"] == 500
        assert ds.attrs["station"] == "lisbon"
    with xr.open_dataset(path, engine="h5netcdf", group="track") as track:
        assert track["range_km"].dims == ("time",)
        assert float(track["range_km"][0]) == 2000.0


def test_a_corrupted_dataset_file_is_refused_on_read(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    writer = DatasetWriter(info(), store, catalog, tmp_path / "staging").begin()
    write_dataset(writer, n_frames=200)
    entry = writer.commit()
    key = f"{entry.key_prefix}/iq.sigmf-data"
    data = bytearray(store.get_bytes(key))
    data[1000] ^= 0x01  # one flipped bit
    store.put_bytes(key, bytes(data))
    reader = DatasetReader.for_entry(store, entry)
    with pytest.raises(CorruptObjectError, match="iq.sigmf-data"):
        reader.read_bytes("iq.sigmf-data")
    with pytest.raises(CorruptObjectError):
        reader.download("iq.sigmf-data", tmp_path / "iq.bin")
    assert not (tmp_path / "iq.bin").exists()
    assert reader.read_bytes("products/image.png").startswith(b"\x89PNG")


class CrashingStore:
    """Wraps a store and 'crashes' (raises) on the n-th upload."""

    def __init__(self, inner: ObjectStore, crash_on_put: int) -> None:
        self.inner = inner
        self.crash_on_put = crash_on_put
        self.puts = 0

    def __getattr__(self, name: str) -> Callable[..., object]:
        return getattr(self.inner, name)

    def _count(self) -> None:
        self.puts += 1
        if self.puts == self.crash_on_put:
            raise KeyboardInterrupt("simulated crash while uploading")

    def put_file(self, key: str, path: Path) -> int:
        self._count()
        return self.inner.put_file(key, path)

    def put_bytes(self, key: str, data: bytes) -> int:
        self._count()
        return self.inner.put_bytes(key, data)

    # The rest of ObjectStore, passed through (spelled out, so it is one).
    def get_bytes(self, key: str) -> bytes:
        return self.inner.get_bytes(key)

    def get_file(self, key: str, dest: Path) -> int:
        return self.inner.get_file(key, dest)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def size(self, key: str) -> int:
        return self.inner.size(key)

    def list_keys(self, prefix: str = "") -> list[str]:
        return self.inner.list_keys(prefix)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)

    def uri(self, key: str) -> str:
        return self.inner.uri(key)


@pytest.mark.parametrize("crash_on_put", [2, 6])  # mid-files / the manifest itself
def test_a_crash_mid_upload_leaves_nothing_visible_and_start_up_completes_it(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path, crash_on_put: int
) -> None:
    staging = tmp_path / "staging"
    crashing = CrashingStore(store, crash_on_put)
    ds = info()
    writer = DatasetWriter(ds, crashing, catalog, staging).begin()
    write_dataset(writer, n_frames=200)
    with pytest.raises(KeyboardInterrupt):
        writer.commit()
    assert store.list_keys(ds.key_prefix + "/")  # some objects did get uploaded ...
    assert catalog.find(norad_id=25544) == []  # ... but no dataset is visible
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        DatasetReader(store, ds.key_prefix)
    # Start-up: the staged files were complete and checksummed, so the upload resumes.
    report = recover(store=store, catalog=catalog, staging_root=staging)
    assert report.resumed == (ds.dataset_id,)
    [entry] = catalog.find(norad_id=25544)
    reader = DatasetReader.for_entry(store, entry)
    assert all(reader.read_bytes(f.name) is not None for f in entry.files)
    assert not (staging / ds.dataset_id).exists()


def test_a_crash_while_writing_files_is_cleaned_at_start_up(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    ds = info()
    writer = DatasetWriter(ds, store, catalog, staging).begin()
    write_dataset(writer, n_frames=200)
    store.put_bytes(f"{ds.key_prefix}/frames.h5", b"half")  # a partial earlier attempt
    # the process dies here: no manifest was ever written
    assert catalog.find(contact_id="c-1") == []
    report = recover(store=store, catalog=catalog, staging_root=staging)
    assert report.cleaned == (ds.dataset_id,)
    assert store.list_keys(ds.key_prefix + "/") == []
    assert catalog.get(ds.dataset_id, include_unready=True).state == "failed"
    assert not (staging / ds.dataset_id).exists()


def _refuse(session: object, contact_id: str, dataset_id: str = "", now: object = None) -> None:
    raise PublishRefusedError(f"contact {contact_id} is FAILED")


def test_a_refused_commit_makes_nothing_visible_and_announces_nothing(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    from ingest.publisher import LocalLogPublisher
    from ingest.topics import TopicNames

    pub = LocalLogPublisher(tmp_path / "log", TopicNames("gs"))
    ds = info()
    writer = DatasetWriter(ds, store, catalog, tmp_path / "staging", publisher=pub).begin()
    write_dataset(writer, n_frames=100)
    seen: list[str] = []

    def guard(session: object, contact_id: str, dataset_id: str, now: datetime) -> None:
        seen.append(contact_id)
        _refuse(session, contact_id, dataset_id, now)

    with pytest.raises(PublishRefusedError, match="c-1 is FAILED"):
        writer.commit(guard=guard)
    pub.close()
    assert seen == ["c-1"]  # asked inside the transaction, with the contact id
    assert catalog.find(contact_id="c-1") == []
    assert catalog.get(ds.dataset_id, include_unready=True).state == "writing"
    assert (
        not (tmp_path / "log" / "gs.datasets.jsonl").exists()
        or not (tmp_path / "log" / "gs.datasets.jsonl").read_text()
    )
    writer.abort("contact failed")  # what the executor does next
    assert store.list_keys(ds.key_prefix + "/") == []
    assert catalog.get(ds.dataset_id, include_unready=True).state == "failed"


def test_start_up_cleans_a_staged_dataset_whose_publication_is_refused(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    ds = info()
    writer = DatasetWriter(ds, store, catalog, staging).begin()
    write_dataset(writer, n_frames=100)
    with pytest.raises(PublishRefusedError):
        writer.commit(guard=_refuse)  # manifest written, then the process "dies"
    assert (staging / ds.dataset_id / "manifest.json").is_file()
    report = recover(store=store, catalog=catalog, staging_root=staging, guard=_refuse)
    assert report.cleaned == (ds.dataset_id,) and report.resumed == ()
    assert store.list_keys(ds.key_prefix + "/") == []
    entry = catalog.get(ds.dataset_id, include_unready=True)
    assert entry.state == "failed"
    assert "c-1 is FAILED" in (entry.error or "")
    assert not (staging / ds.dataset_id).exists()


def test_a_dataset_ready_notice_is_published_after_the_dataset_became_visible(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    import jsonschema

    from ingest.consumer import LocalLogSource
    from ingest.publisher import LocalLogPublisher
    from ingest.topics import DatasetReadyMessage, TopicNames, load_schema

    pub = LocalLogPublisher(tmp_path / "log", TopicNames("gs"))
    ds = info()
    writer = DatasetWriter(ds, store, catalog, tmp_path / "staging", publisher=pub).begin()
    write_dataset(writer, n_frames=100)
    entry = writer.commit()
    pub.close()
    [rec] = LocalLogSource(tmp_path / "log", "gs.datasets").records(idle_timeout_s=0.1)
    jsonschema.validate(json.loads(rec.value), load_schema("dataset-ready"))
    notice = DatasetReadyMessage.decode(rec.value)
    assert notice.dataset_id == ds.dataset_id
    assert notice.manifest_uri == store.uri(f"{entry.key_prefix}/manifest.json")
    assert {(f.name, f.sha256, f.size_bytes) for f in notice.files} == {
        (f.name, f.sha256, f.size_bytes) for f in entry.files
    }
    assert notice.total_size_bytes == entry.total_size_bytes


def test_the_sigmf_writer_streams_samples_to_disk_as_they_arrive(tmp_path: Path) -> None:
    from ingest.sigmf import SigMFWriter

    w = SigMFWriter(tmp_path / "iq", sample_rate_hz=2e6, center_freq_hz=145.8e6, capture_start=T0)
    chunk = (np.arange(100_000) % 7 - 3j).astype(np.complex64)
    for i in range(1, 4):
        w.write(chunk)
        assert w.data_path.stat().st_size == i * chunk.nbytes  # on disk, not held in memory
    w.annotate(123, 456, "frame 0", "vc 1")
    assert not w.meta_path.exists()  # the metadata is written when the pass ends
    w.close()
    meta = json.loads(w.meta_path.read_text())
    data = w.data_path.read_bytes()
    assert meta["global"]["core:sha512"] == hashlib.sha512(data).hexdigest()
    assert meta["global"]["core:datatype"] == "cf32_le"
    assert meta["captures"][0]["core:datetime"] == "2026-11-27T01:00:00.000000Z"
    assert meta["annotations"] == [
        {
            "core:sample_start": 123,
            "core:sample_count": 456,
            "core:label": "frame 0",
            "core:comment": "vc 1",
        }
    ]
    assert np.array_equal(np.frombuffer(data, "<c8")[100_000:200_000], chunk)


def test_frames_appended_in_uneven_batches_are_stored_in_order(tmp_path: Path) -> None:
    from ingest.h5frames import FramesH5Writer

    attrs = ContactAttrs("S", 1, "st", "an", "c", T0, T0 + timedelta(minutes=1))
    w = FramesH5Writer(tmp_path / "f.h5", frame_length=16, attrs=attrs, chunk_frames=100)
    frames = (np.arange(2500 * 16) % 251).astype(np.uint8).reshape(2500, 16)
    start = 0
    for n in (1, 7, 150, 333, 99, 1, 1500, 409):
        seq = np.arange(start, start + n)
        w.append(
            frames[seq],
            sequence=seq,
            time_unix_s=seq * 0.5,
            virtual_channel=seq % 2,
            frame_counter=seq % 256,
            rs_corrections=np.zeros(n),
            crc_ok=np.ones(n),
        )
        start += n
    assert w.n_frames == 2500
    w.close()
    with h5py.File(tmp_path / "f.h5") as h:
        assert np.array_equal(h["frames"][:], frames)
        assert np.array_equal(h["frame"][:], np.arange(2500))
        assert np.array_equal(h["table/frames"]["time_unix_s"], np.arange(2500) * 0.5)
        assert h.attrs["n_frames"] == 2500


def test_frames_can_be_appended_with_their_published_metadata(tmp_path: Path) -> None:
    from ingest.h5frames import FramesH5Writer
    from ingest.topics import FrameMeta

    attrs = ContactAttrs("S", 1, "st", "an", "c", T0, T0 + timedelta(minutes=1))
    w = FramesH5Writer(tmp_path / "f.h5", frame_length=4, attrs=attrs)
    metas = [
        FrameMeta("c", 1, "st", "an", T0 + timedelta(seconds=i), 2, 10 + i, i - 1, ok, i)
        for i, ok in enumerate([True, False, None])
    ]
    w.append_frames([b"abcd", b"efgh", b"ijkl"], metas)
    with pytest.raises(DatasetError, match="frame 0 is 3 bytes, expected 4"):
        w.append_frames([b"xyz"], metas[:1])
    w.close()
    with h5py.File(tmp_path / "f.h5") as h:
        assert h["frames"][1].tobytes() == b"efgh"
        assert list(h["crc_ok"][:]) == [1, 0, -1]
        assert list(h["rs_corrections"][:]) == [-1, 0, 1]
        assert h["time_unix_s"][2] == T0.timestamp() + 2
        assert h.attrs["n_uncorrectable"] == 1


def test_local_objects_are_readable_by_other_local_users(tmp_path: Path) -> None:
    import stat

    from ingest.objectstore import LocalObjectStore

    store = LocalObjectStore(tmp_path / "store")
    store.put_bytes("a/b/c.bin", b"payload")
    mode = stat.S_IMODE((tmp_path / "store" / "a" / "b" / "c.bin").stat().st_mode)
    assert mode == 0o644


# ------------------------------------------------------------------ uploaded elsewhere


def _uploaded(
    store: ObjectStore, tmp_path: Path, contact: str = "c-edge"
) -> tuple[DatasetInfo, str]:
    """A dataset uploaded without a catalogue (as a station agent does);
    its info and the manifest's SHA-256."""
    writer = DatasetWriter(
        info=info(contact), store=store, catalog=None, staging_root=tmp_path / "edge-staging"
    )
    writer.begin()
    writer.add_product_bytes("receiver.json", b'{"frames": 3}')
    writer.add_product_bytes("image.png", b"\x89PNG" + bytes(range(200)))
    uploaded = writer.upload()
    assert uploaded.key_prefix == writer.info.key_prefix
    assert not writer.staging.exists()
    return writer.info, uploaded.manifest_sha256


def test_a_dataset_uploaded_elsewhere_is_catalogued_from_its_manifest_once(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    ds_info, sha = _uploaded(store, tmp_path)
    assert catalog.find(contact_id="c-edge", state="writing") == []  # nothing catalogued yet
    puts: list[str] = []
    original = store.put_bytes

    def counting_put(key: str, data: bytes) -> int:
        puts.append(key)
        return original(key, data)

    store.put_bytes = counting_put  # type: ignore[method-assign]
    entry = catalogue_uploaded(info=ds_info, store=store, catalog=catalog, manifest_sha256=sha)
    assert entry.state == "ready" and puts == []  # nothing written to the store
    assert {f.name for f in entry.files} == {"products/receiver.json", "products/image.png"}
    reader = DatasetReader.for_entry(store, entry)
    assert reader.read_bytes("products/receiver.json") == b'{"frames": 3}'
    # Called again (a retried report): the same dataset, not a second one.
    again = catalogue_uploaded(info=ds_info, store=store, catalog=catalog, manifest_sha256=sha)
    assert again.id == entry.id and len(catalog.find(contact_id="c-edge")) == 1


def test_a_dataset_uploaded_elsewhere_that_does_not_check_out_is_refused_by_name(
    store: ObjectStore, catalog: CatalogService, tmp_path: Path
) -> None:
    ds_info, sha = _uploaded(store, tmp_path)
    with pytest.raises(DatasetError, match="the uploader reported " + "0" * 64):
        catalogue_uploaded(info=ds_info, store=store, catalog=catalog, manifest_sha256="0" * 64)
    # Another contact's dataset: no manifest where this one's should be.
    other = info("c-other")
    with pytest.raises(DatasetError, match="no manifest at .*c-other"):
        catalogue_uploaded(info=other, store=store, catalog=catalog, manifest_sha256=sha)
    # A listed file missing from the store.
    store.delete(f"{ds_info.key_prefix}/products/image.png")
    with pytest.raises(DatasetError, match="image.png is listed in the manifest but not stored"):
        catalogue_uploaded(info=ds_info, store=store, catalog=catalog, manifest_sha256=sha)
    assert catalog.find(contact_id="c-edge") == []  # nothing made visible
