"""One dataset per contact: staged locally, checksummed, uploaded, then made visible.

Key layout in the object store: ``<norad_id>/<yyyy>/<mm>/<dd>/<contact_id>/``
(the store adds its own prefix) holding ``frames.h5``, ``iq.sigmf-data`` and
``iq.sigmf-meta`` (when the profile records IQ), ``products/...`` and
``manifest.json`` (every other file with its size and SHA-256).

Visibility rule: a `DatasetWriter` registers the dataset as ``writing`` in the
catalogue, writes every file into a local staging directory, checksums them
into ``manifest.json``, uploads the files, uploads the manifest *last*, checks
the stored sizes, and only then marks the catalogue row ``ready`` (and
publishes a dataset-ready notice). Readers find datasets through the
catalogue's ready rows and read through the manifest, so a writer that dies
anywhere on the way leaves nothing visible. `recover` runs at start-up: a
staged dataset whose manifest was written is uploaded again and completed
(resumed); anything else is deleted from the store and its row marked
``failed`` (cleaned).

A ``PublishGuard`` (given to ``commit`` and ``recover``) runs inside the
catalogue transaction that would mark the row ``ready``, with the dataset's
contact id, dataset id and the time it becomes ready; raising ``PublishRefusedError`` there keeps the
dataset from being published: ``commit`` raises it (the caller aborts the
writer), ``recover`` cleans the dataset up. It may return an event it
recorded in that transaction (the dataset is ready); once committed, that
event goes to the publisher's events topic after the dataset-ready notice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from ingest.catalog import CatalogService, DatasetEntry, FileEntry
from ingest.errors import DatasetError, IngestError, ObjectNotFoundError, PublishRefusedError
from ingest.h5frames import ContactAttrs, FramesH5Writer, write_image_h5
from ingest.objectstore import ObjectStore, get_file_verified, get_verified, sha256_file
from ingest.publisher import Publisher, ResourceEventLike, resource_event_message
from ingest.sigmf import SigMFWriter
from ingest.topics import DatasetFileInfo, DatasetReadyMessage, utc_iso

MANIFEST = "manifest.json"
#: The decoded frames of a dataset (``ingest.h5frames``).
FRAMES_H5 = "frames.h5"
MANIFEST_SCHEMA_ID = "groundstation.dataset-manifest/1"
_STAGING_INFO = ".staging.json"

#: Called with (catalogue session, contact id) inside the transaction that
#: makes a dataset ready; raises ``PublishRefusedError`` to refuse.
PublishGuard = Callable[[Session, str, str, datetime], ResourceEventLike | None]

#: The store of a bucket: a tenant's own by name, the default one for None
#: (what the catalogue's ``bucket`` column says of each dataset).
StoreFor = Callable[[str | None], ObjectStore]


#: The placeholders a dataset key template may use (``render_key_template``).
KEY_PLACEHOLDERS = (
    "satellite_id",
    "norad_id",
    "station",
    "antenna",
    "profile_id",
    "contact_id",
    "year",
    "month",
    "day",
    "hour",
)
#: The key layout when a profile sets no template (``dataset_key_prefix``).
DEFAULT_KEY_TEMPLATE = "{satellite_id}/{year}/{month}/{day}/{contact_id}"


def check_key_template(template: str) -> str:
    """``template`` if it is a usable dataset key template: placeholders
    from ``KEY_PLACEHOLDERS`` only (no format specs), ``{contact_id}`` among
    them (so two contacts never share a prefix), plain relative path
    segments; else ``DatasetError`` naming what is wrong."""
    where = f"key template {template!r}"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DatasetError(f"{where} is not a valid template: {exc}") from None
    fields = [(name, spec, conv) for _, name, spec, conv in parsed if name is not None]
    unknown = sorted({name for name, _, _ in fields if name not in KEY_PLACEHOLDERS})
    if unknown:
        raise DatasetError(
            f"{where} uses unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"known: {', '.join('{' + k + '}' for k in KEY_PLACEHOLDERS)}"
        )
    if any(spec or conv for _, spec, conv in fields):
        raise DatasetError(f"{where}: placeholders take no format spec or conversion")
    if "contact_id" not in {name for name, _, _ in fields}:
        raise DatasetError(f"{where} must contain {{contact_id}} (one prefix per contact)")
    literal = "".join(text for text, *_ in parsed)
    segments = template.split("/")
    if template.startswith("/") or any(seg in ("", ".", "..") for seg in segments):
        raise DatasetError(f"{where} must be relative path segments, none empty, '.' or '..'")
    if any(c in literal for c in "\\\0"):
        raise DatasetError(f"{where} holds a backslash or NUL")
    return template


def render_key_template(
    template: str,
    *,
    norad_id: int,
    start: datetime,
    contact_id: str,
    station: str = "",
    antenna: str = "",
    profile_id: str = "",
) -> str:
    """The key prefix ``template`` (checked by ``check_key_template``) gives
    one contact's dataset; values with a ``/`` are refused."""
    check_key_template(template)
    if start.tzinfo is None:
        raise DatasetError(f"start {start!r} is naive; pass a UTC datetime")
    t = start.astimezone(UTC)
    values = {
        "satellite_id": str(norad_id),
        "norad_id": str(norad_id),
        "station": station,
        "antenna": antenna,
        "profile_id": profile_id,
        "contact_id": contact_id,
        "year": f"{t:%Y}",
        "month": f"{t:%m}",
        "day": f"{t:%d}",
        "hour": f"{t:%H}",
    }
    for name, value in values.items():
        if f"{{{name}}}" in template and (not value or "/" in value or value in (".", "..")):
            raise DatasetError(
                f"{name} {value!r} cannot be used in an object key (key template {template!r})"
            )
    return template.format(**values)


def dataset_key_prefix(norad_id: int, start: datetime, contact_id: str) -> str:
    """``25544/2026/11/27/<contact_id>``: where one contact's dataset lives."""
    if start.tzinfo is None:
        raise DatasetError(f"start {start!r} is naive; pass a UTC datetime")
    t = start.astimezone(UTC)
    if not contact_id or "/" in contact_id or contact_id in (".", ".."):
        raise DatasetError(f"contact id {contact_id!r} cannot be used in an object key")
    return f"{norad_id}/{t:%Y}/{t:%m}/{t:%d}/{contact_id}"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    dataset_id: str
    contact_id: str
    norad_id: int
    satellite: str
    station: str
    antenna: str
    start: datetime
    end: datetime
    #: Where the dataset goes in the store (a profile's key template
    #: rendered); "" for the default layout (``dataset_key_prefix``).
    prefix: str = ""
    #: The tenant bucket the dataset goes to (recorded in the catalogue);
    #: None: the default store. The writer's store is that bucket's.
    bucket: str | None = None

    @property
    def key_prefix(self) -> str:
        return self.prefix or dataset_key_prefix(self.norad_id, self.start, self.contact_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "contact_id": self.contact_id,
            "norad_id": self.norad_id,
            "satellite": self.satellite,
            "station": self.station,
            "antenna": self.antenna,
            "start": utc_iso(self.start),
            "end": utc_iso(self.end),
        }


@dataclass(frozen=True, slots=True)
class ManifestFile:
    name: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    info: dict[str, Any]
    files: tuple[ManifestFile, ...]
    created: str = ""

    def encode(self) -> bytes:
        return json.dumps(
            {
                "schema": MANIFEST_SCHEMA_ID,
                **self.info,
                "created": self.created,
                "files": [
                    {"name": f.name, "size_bytes": f.size_bytes, "sha256": f.sha256}
                    for f in self.files
                ],
            },
            indent=2,
            sort_keys=True,
        ).encode()

    @classmethod
    def decode(cls, data: bytes, *, where: str) -> Manifest:
        try:
            d = json.loads(data)
            if d.get("schema") != MANIFEST_SCHEMA_ID:
                raise DatasetError(
                    f"{where}: schema {d.get('schema')!r}, expected {MANIFEST_SCHEMA_ID!r}"
                )
            files = tuple(
                ManifestFile(str(f["name"]), int(f["size_bytes"]), str(f["sha256"]))
                for f in d["files"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{where} is not a valid manifest: {exc}") from exc
        info = {k: v for k, v in d.items() if k not in ("schema", "files", "created")}
        return cls(info=info, files=files, created=str(d.get("created", "")))

    def file(self, name: str) -> ManifestFile:
        for f in self.files:
            if f.name == name:
                return f
        raise DatasetError(
            f"{name!r} is not in the manifest (files: {[f.name for f in self.files]})"
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProductFolder:
    """The ``products/`` folder of a staged dataset (``DatasetWriter.products``):
    every file written there goes in the manifest at commit. Only a path, so
    it can be handed to a worker process that writes the products there."""

    staging: Path

    def add_product_bytes(self, name: str, data: bytes) -> None:
        self.product_path(name).write_bytes(data)

    def add_image_products(self, image: np.ndarray, *, name: str = "image") -> None:
        """A reconstructed image as ``products/<name>.png`` and ``products/<name>.h5``."""
        from PIL import Image

        arr = np.asarray(image, dtype=np.uint8)
        Image.fromarray(arr).save(self.product_path(f"{name}.png"), format="PNG")
        write_image_h5(self.product_path(f"{name}.h5"), arr)

    def product_folder(self, name: str) -> Path:
        """The staged folder ``products/<name>/`` (made); its files go in the manifest."""
        folder = self.product_path(name)
        folder.mkdir(exist_ok=True)
        return folder

    def product_path(self, name: str) -> Path:
        """Where to write the product file ``products/<name>`` (staged; in the manifest)."""
        if not name or "/" in name or name.startswith("."):
            raise DatasetError(f"product name {name!r} must be a plain file name")
        d = self.staging / "products"
        d.mkdir(exist_ok=True)
        return d / name


@dataclass
class DatasetWriter:
    """Builds one dataset; see the module docstring for the visibility rule."""

    info: DatasetInfo
    store: ObjectStore
    #: None: a dataset catalogued elsewhere (a station agent's, written with
    #: ``upload`` and catalogued by the central service, ``catalogue_uploaded``).
    catalog: CatalogService | None
    staging_root: Path
    publisher: Publisher | None = None
    clock: Callable[[], datetime] = _utcnow
    #: Test hook: called with the name of each commit stage reached
    #: ("manifest-written": staged and checksummed, nothing uploaded yet).
    stage_hook: Callable[[str], None] | None = None
    _h5: FramesH5Writer | None = field(default=None, init=False)
    _sigmf: SigMFWriter | None = field(default=None, init=False)
    _begun: bool = field(default=False, init=False)

    @property
    def staging(self) -> Path:
        return Path(self.staging_root) / self.info.dataset_id

    def begin(self) -> DatasetWriter:
        if self.catalog is not None:
            _catalogue_writing(self.catalog, self.info, self.store, self.clock())
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        (self.staging / _STAGING_INFO).write_text(json.dumps(self.info.to_json()))
        self._begun = True
        return self

    def frames_h5(
        self, *, frame_length: int, attrs: ContactAttrs, variable_length: bool = False
    ) -> FramesH5Writer:
        self._need_begun()
        self._h5 = FramesH5Writer(
            self.staging / FRAMES_H5,
            frame_length=frame_length,
            attrs=attrs,
            variable_length=variable_length,
        )
        return self._h5

    def sigmf(self, **kwargs: Any) -> SigMFWriter:
        """A `SigMFWriter` for ``iq.sigmf-data``/``iq.sigmf-meta`` (kwargs as SigMFWriter)."""
        self._need_begun()
        self._sigmf = SigMFWriter(self.staging / "iq", **kwargs)
        return self._sigmf

    def products(self) -> ProductFolder:
        """The staged ``products/`` folder (a worker process may write there too)."""
        self._need_begun()
        return ProductFolder(self.staging)

    def add_product_bytes(self, name: str, data: bytes) -> None:
        self.products().add_product_bytes(name, data)

    def add_image_products(self, image: np.ndarray, *, name: str = "image") -> None:
        """A reconstructed image as ``products/<name>.png`` and ``products/<name>.h5``."""
        self.products().add_image_products(image, name=name)

    def product_folder(self, name: str) -> Path:
        """The staged folder ``products/<name>/`` (made); its files go in the manifest."""
        return self.products().product_folder(name)

    def product_path(self, name: str) -> Path:
        """Where to write the product file ``products/<name>`` (staged; in the manifest)."""
        return self.products().product_path(name)

    def _need_begun(self) -> None:
        if not self._begun:
            raise DatasetError(f"dataset {self.info.dataset_id!r}: call begin() first")

    def commit(self, *, guard: PublishGuard | None = None) -> DatasetEntry:
        """Checksum, upload (manifest last), verify, then make the dataset
        visible, if ``guard`` lets it (see the module docstring)."""
        if self.catalog is None:
            raise DatasetError(
                f"dataset {self.info.dataset_id!r} has no catalogue here: use upload()"
            )
        self._stage_manifest()
        entry = _upload_and_publish(
            self.staging, self.info, self.store, self.catalog, self.publisher, self.clock, guard
        )
        shutil.rmtree(self.staging, ignore_errors=True)
        return entry

    def upload(self) -> UploadedDataset:
        """Checksum and upload (manifest last, stored sizes checked) without
        cataloguing: a station agent's dataset, which the central service
        catalogues from its manifest (``catalogue_uploaded``) without
        touching its bytes. Uploading again (a retry) puts the same objects."""
        self._stage_manifest()
        manifest_bytes, _entries = _upload(self.staging, self.info, self.store)
        shutil.rmtree(self.staging, ignore_errors=True)
        return UploadedDataset(
            key_prefix=self.info.key_prefix,
            manifest_uri=self.store.uri(f"{self.info.key_prefix}/{MANIFEST}"),
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        )

    def _stage_manifest(self) -> None:
        self._need_begun()
        if self._h5 is not None:
            self._h5.close()
        if self._sigmf is not None:
            self._sigmf.close()
        write_manifest(self.staging, self.info, created=utc_iso(self.clock()))
        if self.stage_hook is not None:
            self.stage_hook("manifest-written")

    def abort(self, reason: str) -> None:
        """Give up: delete what was uploaded and mark the row failed."""
        for w in (self._h5, self._sigmf):
            if w is not None:
                w.close()
        self.store.delete_prefix(self.info.key_prefix + "/")
        if self.catalog is not None:
            self.catalog.mark_failed(self.info.dataset_id, reason=reason)
        shutil.rmtree(self.staging, ignore_errors=True)


def _catalogue_writing(
    catalog: CatalogService, info: DatasetInfo, store: ObjectStore, now: datetime
) -> None:
    """Record ``info`` in the catalogue as being written (not visible yet)."""
    catalog.begin(
        dataset_id=info.dataset_id,
        contact_id=info.contact_id,
        norad_id=info.norad_id,
        satellite=info.satellite,
        station=info.station,
        antenna=info.antenna,
        start_time=info.start,
        end_time=info.end,
        store_uri=store.uri(info.key_prefix),
        key_prefix=info.key_prefix,
        now=now,
        bucket=info.bucket,
    )


def _staged_files(staging: Path) -> list[str]:
    names = []
    for dirpath, _dirs, files in os.walk(staging):
        for n in files:
            rel = Path(dirpath, n).relative_to(staging).as_posix()
            if rel in (MANIFEST, _STAGING_INFO) or n.endswith(".part"):
                continue
            names.append(rel)
    return sorted(names)


def write_manifest(staging: Path, info: DatasetInfo, *, created: str) -> Manifest:
    """Checksum every staged file into ``manifest.json`` (written atomically)."""
    files = tuple(
        ManifestFile(name, (staging / name).stat().st_size, sha256_file(staging / name))
        for name in _staged_files(staging)
    )
    if not files:
        raise DatasetError(f"dataset {info.dataset_id!r} has no files to publish")
    manifest = Manifest(info=info.to_json(), files=files, created=created)
    tmp = staging / (MANIFEST + ".part")
    tmp.write_bytes(manifest.encode())
    os.replace(tmp, staging / MANIFEST)
    return manifest


@dataclass(frozen=True, slots=True)
class UploadedDataset:
    """Where ``DatasetWriter.upload`` put a dataset, and its manifest's SHA-256."""

    key_prefix: str
    manifest_uri: str
    manifest_sha256: str


def _upload_and_publish(
    staging: Path,
    info: DatasetInfo,
    store: ObjectStore,
    catalog: CatalogService,
    publisher: Publisher | None,
    clock: Callable[[], datetime],
    guard: PublishGuard | None = None,
) -> DatasetEntry:
    manifest_bytes, entries = _upload(staging, info, store)
    return _publish(info, store, catalog, publisher, clock, guard, manifest_bytes, entries)


def _upload(staging: Path, info: DatasetInfo, store: ObjectStore) -> tuple[bytes, list[FileEntry]]:
    """Upload the staged files, the manifest last, and check the stored sizes."""
    manifest_bytes = (staging / MANIFEST).read_bytes()
    manifest = Manifest.decode(manifest_bytes, where=str(staging / MANIFEST))
    prefix = info.key_prefix
    for f in manifest.files:
        local = staging / f.name
        if sha256_file(local) != f.sha256:
            raise DatasetError(
                f"staged file {local} changed after it was checksummed; not publishing"
            )
        store.put_file(f"{prefix}/{f.name}", local)
    store.put_bytes(f"{prefix}/{MANIFEST}", manifest_bytes)
    _check_stored_sizes(store, prefix, manifest)
    entries = [
        FileEntry(f.name, store.uri(f"{prefix}/{f.name}"), f.size_bytes, f.sha256)
        for f in manifest.files
    ]
    return manifest_bytes, entries


def _check_stored_sizes(store: ObjectStore, prefix: str, manifest: Manifest) -> None:
    for f in manifest.files:
        try:
            stored = store.size(f"{prefix}/{f.name}")
        except ObjectNotFoundError:
            raise DatasetError(
                f"{store.uri(prefix + '/' + f.name)} is listed in the manifest but not stored"
            ) from None
        if stored != f.size_bytes:
            raise DatasetError(
                f"{store.uri(prefix + '/' + f.name)} holds {stored} bytes, expected {f.size_bytes}"
            )


def _publish(
    info: DatasetInfo,
    store: ObjectStore,
    catalog: CatalogService,
    publisher: Publisher | None,
    clock: Callable[[], datetime],
    guard: PublishGuard | None,
    manifest_bytes: bytes,
    entries: list[FileEntry],
) -> DatasetEntry:
    """Make the uploaded dataset ready in the catalogue (if ``guard`` lets
    it) and announce it."""
    prefix = info.key_prefix
    announced: list[ResourceEventLike] = []
    ready_at = clock()
    entry = catalog.mark_ready(
        info.dataset_id,
        files=entries,
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        now=ready_at,
        guard=None if guard is None else _keeping(announced, guard, info, ready_at),
    )
    if publisher is not None:
        publisher.publish_dataset_ready(
            DatasetReadyMessage(
                dataset_id=info.dataset_id,
                contact_id=info.contact_id,
                norad_id=info.norad_id,
                station=info.station,
                start=info.start,
                end=info.end,
                manifest_uri=store.uri(f"{prefix}/{MANIFEST}"),
                files=tuple(
                    DatasetFileInfo(e.name, e.uri, e.size_bytes, e.sha256) for e in entries
                ),
            )
        )
        for event in announced:
            publisher.publish_contact_event(resource_event_message(event))
    return entry


def _keeping(
    announced: list[ResourceEventLike], guard: PublishGuard, info: DatasetInfo, now: datetime
) -> Callable[[Session], None]:
    """``guard`` for ``CatalogService.mark_ready``, keeping the event it returns."""

    def run(session: Session) -> None:
        event = guard(session, info.contact_id, info.dataset_id, now)
        if event is not None:
            announced.append(event)

    return run


def catalogue_uploaded(
    *,
    info: DatasetInfo,
    store: ObjectStore,
    catalog: CatalogService,
    manifest_sha256: str,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = _utcnow,
    guard: PublishGuard | None = None,
) -> DatasetEntry:
    """Catalogue a dataset someone else uploaded to ``store`` under
    ``info.key_prefix`` (a station agent's, ``DatasetWriter.upload``) without
    reading or writing its files: its manifest must be there with SHA-256
    ``manifest_sha256``, name this dataset and contact, list every file with
    its size and SHA-256, and every listed file must be stored at that size.
    Then it is made ready (if ``guard`` lets it) and announced, as a dataset
    written here. Called again (a retry), a ready dataset is returned as it
    is; ``DatasetError`` names what does not check out."""
    try:
        existing: DatasetEntry | None = catalog.get(info.dataset_id, include_unready=True)
    except DatasetError:
        existing = None
    if existing is not None and existing.state == "ready":
        return existing
    if existing is not None and existing.state != "writing":
        raise DatasetError(f"dataset {info.dataset_id!r} is {existing.state!r} in the catalogue")
    prefix = info.key_prefix
    manifest_bytes, manifest = _uploaded_manifest(store, info, manifest_sha256)
    _check_stored_sizes(store, prefix, manifest)
    if existing is None:
        _catalogue_writing(catalog, info, store, clock())
    entries = [
        FileEntry(f.name, store.uri(f"{prefix}/{f.name}"), f.size_bytes, f.sha256)
        for f in manifest.files
    ]
    return _publish(info, store, catalog, publisher, clock, guard, manifest_bytes, entries)


def _uploaded_manifest(
    store: ObjectStore, info: DatasetInfo, manifest_sha256: str
) -> tuple[bytes, Manifest]:
    """The manifest an uploader left at ``info``'s prefix, checked (see
    ``catalogue_uploaded``)."""
    prefix = info.key_prefix
    where = store.uri(f"{prefix}/{MANIFEST}")
    try:
        manifest_bytes = store.get_bytes(f"{prefix}/{MANIFEST}")
    except ObjectNotFoundError:
        raise DatasetError(f"no manifest at {where}: the dataset was not uploaded there") from None
    got = hashlib.sha256(manifest_bytes).hexdigest()
    if got != manifest_sha256:
        raise DatasetError(f"{where} has SHA-256 {got}, the uploader reported {manifest_sha256}")
    manifest = Manifest.decode(manifest_bytes, where=where)
    for name in ("dataset_id", "contact_id"):
        if manifest.info.get(name) != getattr(info, name):
            raise DatasetError(
                f"{where} names {name} {manifest.info.get(name)!r}, "
                f"expected {getattr(info, name)!r}"
            )
    for f in manifest.files:
        if f.name.startswith("/") or ".." in f.name.split("/") or f.name == MANIFEST:
            raise DatasetError(f"{where} lists {f.name!r}, not a file of the dataset")
        if len(f.sha256) != 64 or any(c not in "0123456789abcdef" for c in f.sha256):
            raise DatasetError(f"{where} lists {f.name!r} with SHA-256 {f.sha256!r}")
    if not manifest.files:
        raise DatasetError(f"{where} lists no files")
    return manifest_bytes, manifest


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    resumed: tuple[str, ...]
    cleaned: tuple[str, ...]


def recover(
    *,
    store: ObjectStore,
    catalog: CatalogService,
    staging_root: Path,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] = _utcnow,
    guard: PublishGuard | None = None,
    store_for: StoreFor | None = None,
) -> RecoveryReport:
    """Start-up clean-up of datasets a crashed writer left in state ``writing``.

    Run it before any writer starts. A dataset whose staging directory holds a
    manifest is uploaded again and made visible (resumed) if ``guard`` lets
    it; any other one has its objects deleted and its row marked ``failed``
    (cleaned). A dataset catalogued in a tenant bucket is worked in
    ``store_for(bucket)``; ``store`` is the default store.
    """
    resumed: list[str] = []
    cleaned: list[str] = []
    writing = catalog.in_state("writing")
    for entry in writing:
        staging = Path(staging_root) / entry.id
        info = DatasetInfo(
            dataset_id=entry.id,
            contact_id=entry.contact_id,
            norad_id=entry.norad_id,
            satellite=entry.satellite,
            station=entry.station,
            antenna=entry.antenna,
            start=entry.start_time,
            end=entry.end_time,
            prefix=entry.key_prefix,
            bucket=entry.bucket,
        )
        if entry.bucket is not None and store_for is None:
            raise DatasetError(
                f"dataset {entry.id!r} is in bucket {entry.bucket!r}: recover needs store_for"
            )
        in_store = store if entry.bucket is None or store_for is None else store_for(entry.bucket)
        reason = (
            "the writer stopped before the dataset was complete; "
            "partial objects were deleted at start-up"
        )
        if (staging / MANIFEST).is_file():
            try:
                _upload_and_publish(staging, info, in_store, catalog, publisher, clock, guard)
                shutil.rmtree(staging, ignore_errors=True)
                resumed.append(entry.id)
                continue
            except PublishRefusedError as exc:
                reason = f"not published at start-up: {exc}; its objects were deleted"
            except IngestError:
                pass  # a staged file no longer matches its manifest: clean instead
        in_store.delete_prefix(entry.key_prefix + "/")
        catalog.mark_failed(entry.id, reason=reason)
        shutil.rmtree(staging, ignore_errors=True)
        cleaned.append(entry.id)
    known = {e.id for e in writing}
    if Path(staging_root).is_dir():
        for d in Path(staging_root).iterdir():
            if d.is_dir() and d.name not in known:
                shutil.rmtree(d, ignore_errors=True)  # staging without a catalogue row
    return RecoveryReport(tuple(resumed), tuple(cleaned))


class DatasetReader:
    """Reads a visible dataset through its manifest, verifying every byte."""

    def __init__(self, store: ObjectStore, key_prefix: str) -> None:
        self.store = store
        self.key_prefix = key_prefix.rstrip("/")
        try:
            data = store.get_bytes(f"{self.key_prefix}/{MANIFEST}")
        except ObjectNotFoundError:
            raise DatasetError(
                f"no complete dataset at {store.uri(self.key_prefix)}: manifest.json is missing "
                "(the dataset is still being written, or its writer failed)"
            ) from None
        self.manifest = Manifest.decode(data, where=store.uri(f"{self.key_prefix}/{MANIFEST}"))

    @classmethod
    def for_entry(cls, store: ObjectStore, entry: DatasetEntry) -> DatasetReader:
        if entry.state != "ready":
            raise DatasetError(f"dataset {entry.id!r} is {entry.state!r}, not ready")
        return cls(store, entry.key_prefix)

    def read_bytes(self, name: str) -> bytes:
        """A file's bytes; `ingest.errors.CorruptObjectError` if they fail the manifest's SHA-256."""
        f = self.manifest.file(name)
        return get_verified(self.store, f"{self.key_prefix}/{name}", f.sha256)

    def download(self, name: str, dest: Path) -> Path:
        """Download a file to ``dest`` after verifying its SHA-256."""
        f = self.manifest.file(name)
        get_file_verified(self.store, f"{self.key_prefix}/{name}", dest, f.sha256)
        return dest
