"""The dataset catalogue: one row per dataset, one per file, in the service database.

SQLAlchemy 2.x models on their own declarative `Base` (``ingest`` may not
import ``groundstation``; the service's Alembic migrations include
``Base.metadata``). `CatalogService` takes an `Engine` and offers the queries
the API needs. A dataset is *visible* only in state ``ready``: rows in state
``writing`` belong to a writer in progress (or one that crashed, which
`ingest.dataset.recover` cleans up), ``failed`` rows record why a dataset was
abandoned, ``expired`` ones when and why retention removed them (their file
rows stay until the objects are gone: `CatalogService.expire`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    selectinload,
)

from ingest.errors import DatasetError

STATES = ("writing", "ready", "failed", "expired")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise DatasetError(f"datetime {value!r} is naive; the catalogue stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class DatasetRow(Base):
    __tablename__ = "ingest_datasets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[str] = mapped_column(String(64), index=True)
    norad_id: Mapped[int] = mapped_column(Integer, index=True)
    satellite: Mapped[str] = mapped_column(String(128))
    station: Mapped[str] = mapped_column(String(128), index=True)
    antenna: Mapped[str] = mapped_column(String(128))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    end_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    store_uri: Mapped[str] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(Text)
    # The tenant bucket the dataset was written to; null: the default store
    # (every dataset catalogued before tenant buckets existed).
    bucket: Mapped[str | None] = mapped_column(String(63), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    total_size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When and why retention removed the dataset (state ``expired``).
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expired_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    files: Mapped[list[DatasetFileRow]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetFileRow.name"
    )


class DatasetFileRow(Base):
    __tablename__ = "ingest_dataset_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("ingest_datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    uri: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[DatasetRow] = relationship(back_populates="files")


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    uri: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class DatasetEntry:
    """A catalogue row as plain data (what the API turns into ``DatasetPublic``)."""

    id: str
    contact_id: str
    norad_id: int
    satellite: str
    station: str
    antenna: str
    start_time: datetime
    end_time: datetime
    store_uri: str
    key_prefix: str
    state: str
    total_size_bytes: int
    manifest_sha256: str | None
    error: str | None
    created_at: datetime
    ready_at: datetime | None
    files: tuple[FileEntry, ...]
    expired_at: datetime | None = None
    expired_reason: str | None = None
    #: The tenant bucket holding the dataset; None: the default store.
    bucket: str | None = None

    @classmethod
    def from_row(cls, row: DatasetRow) -> DatasetEntry:
        return cls(
            id=row.id,
            contact_id=row.contact_id,
            norad_id=row.norad_id,
            satellite=row.satellite,
            station=row.station,
            antenna=row.antenna,
            start_time=row.start_time,
            end_time=row.end_time,
            store_uri=row.store_uri,
            key_prefix=row.key_prefix,
            state=row.state,
            total_size_bytes=row.total_size_bytes,
            manifest_sha256=row.manifest_sha256,
            error=row.error,
            created_at=row.created_at,
            ready_at=row.ready_at,
            files=tuple(FileEntry(f.name, f.uri, f.size_bytes, f.sha256) for f in row.files),
            expired_at=row.expired_at,
            expired_reason=row.expired_reason,
            bucket=row.bucket,
        )


def dataset_query(
    *,
    state: str = "ready",
    norad_id: int | None = None,
    station: str | None = None,
    contact_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Any:
    """The ``select`` of the datasets in ``state`` matching every given
    filter; ``start``/``end`` select the ones overlapping that range."""
    if state not in STATES:
        raise DatasetError(f"state {state!r} is not one of {STATES}")
    q: Any = select(DatasetRow).where(DatasetRow.state == state)
    if norad_id is not None:
        q = q.where(DatasetRow.norad_id == norad_id)
    if station is not None:
        q = q.where(DatasetRow.station == station)
    if contact_id is not None:
        q = q.where(DatasetRow.contact_id == contact_id)
    if start is not None:
        q = q.where(DatasetRow.end_time >= start)
    if end is not None:
        q = q.where(DatasetRow.start_time <= end)
    return q


def dataset_page(query: Any, limit: int, offset: int) -> Any:
    """``query`` in catalogue order (start time, id), one page, files loaded."""
    return (
        query.options(selectinload(DatasetRow.files))
        .order_by(DatasetRow.start_time, DatasetRow.id)
        .limit(limit)
        .offset(offset)
    )


class CatalogService:
    """Catalogue operations on an `Engine` (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the catalogue tables when missing (tests, embedded mode)."""
        Base.metadata.create_all(self.engine)

    def begin(
        self,
        *,
        dataset_id: str,
        contact_id: str,
        norad_id: int,
        satellite: str,
        station: str,
        antenna: str,
        start_time: datetime,
        end_time: datetime,
        store_uri: str,
        key_prefix: str,
        now: datetime,
        bucket: str | None = None,
    ) -> None:
        """Record a dataset being written (state ``writing``: not visible yet)
        in ``bucket`` (a tenant's own; None: the default store)."""
        with Session(self.engine) as s, s.begin():
            if s.get(DatasetRow, dataset_id) is not None:
                raise DatasetError(f"dataset {dataset_id!r} is already in the catalogue")
            s.add(
                DatasetRow(
                    id=dataset_id,
                    contact_id=contact_id,
                    norad_id=norad_id,
                    satellite=satellite,
                    station=station,
                    antenna=antenna,
                    start_time=start_time,
                    end_time=end_time,
                    store_uri=store_uri,
                    key_prefix=key_prefix,
                    bucket=bucket,
                    state="writing",
                    total_size_bytes=0,
                    created_at=now,
                )
            )

    def mark_ready(
        self,
        dataset_id: str,
        *,
        files: Sequence[FileEntry],
        manifest_sha256: str,
        now: datetime,
        guard: Callable[[Session], object] | None = None,
    ) -> DatasetEntry:
        """All files are stored and checksummed: record them and make the dataset
        visible. ``guard`` runs first inside the same transaction and may
        refuse by raising (the row then stays as it was); what it returns is
        not used."""
        with Session(self.engine) as s, s.begin():
            if guard is not None:
                guard(s)
            row = self._row(s, dataset_id)
            if row.state != "writing":
                raise DatasetError(
                    f"dataset {dataset_id!r} is {row.state!r}; only a 'writing' one can become ready"
                )
            row.files = [
                DatasetFileRow(name=f.name, uri=f.uri, size_bytes=f.size_bytes, sha256=f.sha256)
                for f in files
            ]
            row.total_size_bytes = sum(f.size_bytes for f in files)
            row.manifest_sha256 = manifest_sha256
            row.state = "ready"
            row.ready_at = now
            s.flush()
            return DatasetEntry.from_row(row)

    def mark_failed(self, dataset_id: str, *, reason: str) -> None:
        with Session(self.engine) as s, s.begin():
            row = self._row(s, dataset_id)
            row.state = "failed"
            row.error = reason
            row.files = []

    def expire(self, dataset_id: str, *, now: datetime, reason: str) -> DatasetEntry | None:
        """Retention: a ``ready`` dataset becomes ``expired`` (invisible) with the
        time and reason; None if it is not ready (being written, already gone).
        Its file rows stay until `forget_files`, after its objects are removed."""
        with Session(self.engine) as s, s.begin():
            row = s.scalar(
                select(DatasetRow)
                .where(DatasetRow.id == dataset_id, DatasetRow.state == "ready")
                .with_for_update()
            )
            if row is None:
                return None
            row.state = "expired"
            row.expired_at = now
            row.expired_reason = reason
            s.flush()
            return DatasetEntry.from_row(row)

    def forget_files(self, dataset_id: str) -> None:
        """The objects of an expired dataset are removed: drop its file rows."""
        with Session(self.engine) as s, s.begin():
            row = self._row(s, dataset_id)
            if row.state != "expired":
                raise DatasetError(f"dataset {dataset_id!r} is {row.state!r}, not expired")
            row.files = []

    def expired_with_files(self, *, limit: int = 1000) -> list[DatasetEntry]:
        """Expired datasets whose objects may still exist (removal interrupted)."""
        q = (
            select(DatasetRow)
            .where(DatasetRow.state == "expired", DatasetRow.files.any())
            .options(selectinload(DatasetRow.files))
            .order_by(DatasetRow.expired_at, DatasetRow.id)
            .limit(limit)
        )
        with Session(self.engine) as s:
            return [DatasetEntry.from_row(r) for r in s.scalars(q)]

    def get(self, dataset_id: str, *, include_unready: bool = False) -> DatasetEntry:
        with Session(self.engine) as s:
            row = self._row(s, dataset_id)
            if row.state != "ready" and not include_unready:
                raise DatasetError(f"dataset {dataset_id!r} is {row.state!r}, not ready")
            return DatasetEntry.from_row(row)

    def find(
        self,
        *,
        norad_id: int | None = None,
        station: str | None = None,
        contact_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        state: str = "ready",
        limit: int = 1000,
        offset: int = 0,
    ) -> list[DatasetEntry]:
        """Datasets matching every given filter; ``start``/``end`` select overlapping ones."""
        q = dataset_query(
            state=state,
            norad_id=norad_id,
            station=station,
            contact_id=contact_id,
            start=start,
            end=end,
        )
        with Session(self.engine) as s:
            return [DatasetEntry.from_row(r) for r in s.scalars(dataset_page(q, limit, offset))]

    def in_state(self, state: str) -> list[DatasetEntry]:
        return self.find(state=state, limit=1_000_000)

    def delete(self, dataset_id: str) -> None:
        with Session(self.engine) as s, s.begin():
            s.delete(self._row(s, dataset_id))

    @staticmethod
    def _row(s: Session, dataset_id: str) -> DatasetRow:
        row = s.get(DatasetRow, dataset_id)
        if row is None:
            raise DatasetError(f"no dataset {dataset_id!r} in the catalogue")
        return row
