"""Datasets as a tenant sees them: the ready datasets of its satellites in
the catalogue (list and get), and the answer for one removed by retention.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from groundstation.clock import require_utc
from groundstation.errors import GoneError, NotFoundError
from groundstation.models import Satellite
from ingest.catalog import DatasetEntry, DatasetRow, FileEntry, dataset_page, dataset_query


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


def dataset_file(
    session: Session, *, dataset_id: str, name: str, tenants: Sequence[str] | None = None
) -> tuple[DatasetEntry, FileEntry]:
    """The dataset (as ``get_dataset_for``) and its file ``name``, read in a
    transaction ended here: the caller goes on to object-store I/O."""
    entry = get_dataset_for(session, dataset_id=dataset_id, tenants=tenants)
    session.rollback()
    file = next((f for f in entry.files if f.name == name), None)
    if file is None:
        raise NotFoundError(f"file in dataset {dataset_id!r}", name)
    return entry, file
