"""Datasets as a tenant sees them: the ready datasets of its satellites in
the catalogue (list and get), and the answer for one removed by retention;
a file of one (``manifest.json`` too), all its files for a whole-dataset
archive, the contact it was recorded in, and a page of its decoded frames
(``frames.h5``). The objects are read from the
bucket the catalogue records for each dataset (``DatasetStores.of``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from groundstation.clock import require_utc
from groundstation.errors import GoneError, NotFoundError
from groundstation.models import Contact, Satellite
from groundstation.tenant_buckets import DatasetStores
from ingest.catalog import DatasetEntry, DatasetRow, FileEntry, dataset_page, dataset_query
from ingest.dataset import FRAMES_H5, MANIFEST
from ingest.errors import DatasetError
from ingest.h5frames import FramesPage, read_frames_page
from ingest.objectstore import ObjectStore, get_verified

#: The receiver's summary of a pass, in every dataset the executor writes.
RECEIVER_SUMMARY = "products/receiver.json"


def _dataset_query(tenants: Sequence[str] | None, state: str = "ready", **filters: Any) -> Any:
    """``ingest.catalog.dataset_query`` restricted to the satellites of ``tenants``."""
    query = dataset_query(state=state, **filters)
    if tenants is not None:
        query = query.where(
            DatasetRow.norad_id.in_(
                select(Satellite.norad_id).where(Satellite.tenant.in_(list(tenants)))
            )
        )
    return query


def list_datasets(
    session: Session,
    *,
    tenants: Sequence[str] | None = None,
    norad_id: int | None = None,
    station: str | None = None,
    contact_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[DatasetEntry], int]:
    """Ready datasets of the tenants' satellites overlapping start..end."""
    query = _dataset_query(
        tenants,
        norad_id=norad_id,
        station=station,
        contact_id=contact_id,
        start=None if start is None else require_utc(start, "start"),
        end=None if end is None else require_utc(end, "end"),
    )
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(dataset_page(query, limit, offset))
    return [DatasetEntry.from_row(r) for r in rows], int(count)


def get_dataset_for(
    session: Session, *, dataset_id: str, tenants: Sequence[str] | None = None
) -> DatasetEntry:
    row = session.scalar(
        _dataset_query(tenants)
        .where(DatasetRow.id == dataset_id)
        .options(selectinload(DatasetRow.files))
    )
    if row is None:
        expired = session.scalar(
            _dataset_query(tenants, state="expired").where(DatasetRow.id == dataset_id)
        )
        if expired is not None:
            at = expired.expired_at.isoformat() if expired.expired_at else "?"
            raise GoneError(f"dataset {dataset_id!r} was removed at {at}: {expired.expired_reason}")
        raise NotFoundError("dataset", dataset_id)
    return DatasetEntry.from_row(row)


def manifest_entry(entry: DatasetEntry, store: ObjectStore) -> FileEntry:
    """``manifest.json`` of a ready dataset as a file (size from the store,
    SHA-256 from the catalogue); ``NotFoundError`` when it is not stored."""
    key = f"{entry.key_prefix.rstrip('/')}/{MANIFEST}"
    if not entry.manifest_sha256 or not store.exists(key):
        raise NotFoundError(f"file in dataset {entry.id!r}", MANIFEST)
    return FileEntry(MANIFEST, store.uri(key), store.size(key), entry.manifest_sha256)


def dataset_file(
    session: Session,
    *,
    dataset_id: str,
    name: str,
    tenants: Sequence[str] | None = None,
    stores: DatasetStores | None = None,
) -> tuple[DatasetEntry, FileEntry]:
    """The dataset (as ``get_dataset_for``) and its file ``name`` (with
    ``stores``: ``manifest.json`` too, from the dataset's bucket), read in a
    transaction ended here: the caller goes on to object-store I/O."""
    entry = get_dataset_for(session, dataset_id=dataset_id, tenants=tenants)
    session.rollback()
    if name == MANIFEST and stores is not None:
        return entry, manifest_entry(entry, stores.of(entry))
    file = next((f for f in entry.files if f.name == name), None)
    if file is None:
        raise NotFoundError(f"file in dataset {dataset_id!r}", name)
    return entry, file


def archive_members(
    session: Session,
    *,
    dataset_id: str,
    stores: DatasetStores,
    tenants: Sequence[str] | None = None,
) -> tuple[DatasetEntry, list[FileEntry]]:
    """The dataset and every file of it, ``manifest.json`` first (the order
    of a whole-dataset archive); the transaction is ended before store I/O."""
    entry = get_dataset_for(session, dataset_id=dataset_id, tenants=tenants)
    session.rollback()
    return entry, [manifest_entry(entry, stores.of(entry)), *entry.files]


@dataclass(frozen=True)
class DatasetContact:
    """The contact a dataset was recorded in, and the receiver's quality
    summary (``products/receiver.json``) when the dataset has one."""

    dataset: DatasetEntry
    contact: Contact
    quality: dict[str, Any] | None


def dataset_contact(
    session: Session,
    *,
    dataset_id: str,
    stores: DatasetStores,
    tenants: Sequence[str] | None = None,
) -> DatasetContact:
    """The contact of a dataset that ``tenants`` may read (whoever booked it):
    its geometry, state and failure reason, with the dataset's quality."""
    entry = get_dataset_for(session, dataset_id=dataset_id, tenants=tenants)
    contact = session.scalar(
        select(Contact)
        .where(Contact.id == entry.contact_id)
        .options(joinedload(Contact.satellite), joinedload(Contact.antenna))
    )
    if contact is None:
        raise NotFoundError(f"contact of dataset {dataset_id!r}", entry.contact_id)
    for loaded in (contact.satellite, contact.antenna, contact):
        session.expunge(loaded)  # kept loaded, detached: the transaction ends before store I/O
    session.rollback()
    quality = None
    receiver = next((f for f in entry.files if f.name == RECEIVER_SUMMARY), None)
    if receiver is not None:
        data = get_verified(
            stores.of(entry), f"{entry.key_prefix.rstrip('/')}/{receiver.name}", receiver.sha256
        )
        quality = json.loads(data)
    return DatasetContact(entry, contact, quality)


def dataset_frames(
    session: Session,
    *,
    dataset_id: str,
    stores: DatasetStores,
    offset: int,
    limit: int,
    head_bytes: int,
    tenants: Sequence[str] | None = None,
) -> FramesPage:
    """Frames ``offset`` .. ``offset + limit`` of the dataset's ``frames.h5``
    (``NotFoundError`` when it has none; ``DatasetError`` when it is not a
    frames file), read from its bucket and checked against its SHA-256; the
    transaction is ended before store I/O."""
    entry, file = dataset_file(session, dataset_id=dataset_id, name=FRAMES_H5, tenants=tenants)
    data = get_verified(
        stores.of(entry), f"{entry.key_prefix.rstrip('/')}/{file.name}", file.sha256
    )
    try:
        return read_frames_page(io.BytesIO(data), offset=offset, limit=limit, head_bytes=head_bytes)
    except DatasetError as exc:
        raise DatasetError(f"{FRAMES_H5} of dataset {dataset_id!r} cannot be read: {exc}") from exc
