"""Tenant buckets: where a tenant's datasets go, and the store of every bucket.

A tenant's bucket is the one an admin set over the API (``tenant_buckets``
table), else the one ``GS_TENANT_BUCKETS`` names, else none: its datasets go
to the default store. A bucket is set only after its name passed S3's naming
rules (``ingest.objectstore.check_bucket_name``) and the service wrote,
read back and deleted a probe object there (``DatasetStores.check_writable``);
buckets from the settings are checked so when the service starts.

Tenant buckets live on the default store's S3 endpoint with its credentials
(no ``GS_S3_PREFIX``: the bucket is the tenant's); with the local store a
bucket is the folder ``<GS_LOCAL_BUCKETS_DIR>/<bucket>``.

The catalogue records the bucket of every dataset (``ingest_datasets.bucket``,
null for the default store and for every dataset stored before), and reads
(downloads, manifests, archives, retention) go to that recorded bucket: a
tenant whose bucket changes keeps its older datasets where they are.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from groundstation.errors import NotFoundError, TenantBucketError
from groundstation.models import ApiKey, Satellite, TenantBucket
from ingest.catalog import DatasetEntry
from ingest.errors import IngestError
from ingest.objectstore import ObjectStore, check_bucket_name

#: Where a probe object goes when a bucket is checked (deleted at once).
PROBE_PREFIX = ".groundstation-write-check"


@dataclass(frozen=True)
class BucketSetting:
    """A tenant's dataset bucket (None: the default store) and where that
    comes from: ``api`` (set by an admin), ``settings`` (``GS_TENANT_BUCKETS``)
    or ``default``."""

    tenant: str
    bucket: str | None
    source: Literal["api", "settings", "default"]
    updated_at: datetime | None = None


class DatasetStores:
    """The default store and one store per tenant bucket (opened on first use)."""

    def __init__(
        self,
        *,
        default: ObjectStore,
        open_bucket: Callable[[str], ObjectStore],
        configured: Mapping[str, str] | None = None,
        location: str = "",
    ) -> None:
        self.default = default
        self._open_bucket = open_bucket
        #: ``GS_TENANT_BUCKETS``: tenant -> bucket.
        self.configured = dict(configured or {})
        #: Where buckets are (an S3 endpoint, a folder), for messages.
        self.location = location
        self._stores: dict[str, ObjectStore] = {}
        self._lock = threading.Lock()

    def store(self, bucket: str | None) -> ObjectStore:
        """The store of ``bucket`` (None: the default store)."""
        if bucket is None:
            return self.default
        with self._lock:
            found = self._stores.get(bucket)
            if found is None:
                found = self._stores[bucket] = self._open_bucket(check_bucket_name(bucket))
            return found

    def of(self, entry: DatasetEntry) -> ObjectStore:
        """The store holding the catalogued dataset ``entry`` (its recorded bucket)."""
        return self.store(entry.bucket)

    def setting(self, session: Session, tenant: str) -> BucketSetting:
        """The tenant's bucket as the API set it, else as the settings do."""
        row = session.get(TenantBucket, tenant)
        if row is not None:
            return BucketSetting(tenant, row.bucket, "api", row.updated_at)
        if tenant in self.configured:
            return BucketSetting(tenant, self.configured[tenant], "settings")
        return BucketSetting(tenant, None, "default")

    def bucket_for(self, session: Session, tenant: str) -> str | None:
        """Where ``tenant``'s next dataset goes (None: the default store)."""
        return self.setting(session, tenant).bucket

    def check_writable(self, bucket: str) -> None:
        """Write, read back and delete a probe object in ``bucket``; else
        ``TenantBucketError`` saying why (a bad name, no such bucket, access
        denied, the endpoint unreachable)."""
        try:
            check_bucket_name(bucket)
        except IngestError as exc:
            raise TenantBucketError(str(exc)) from None
        key = f"{PROBE_PREFIX}/{uuid.uuid4().hex}"
        probe = b"groundstation write check\n"
        try:
            store = self.store(bucket)
            store.put_bytes(key, probe)
            if store.get_bytes(key) != probe:
                raise IngestError("the probe object read back differs from what was written")
            store.delete(key)
        except Exception as exc:
            raise TenantBucketError(
                f"bucket {bucket!r}{self._at()}: the service cannot write to it: {_why(exc)}"
            ) from exc

    def check_configured(self) -> None:
        """Every bucket of ``GS_TENANT_BUCKETS`` is writable (at start)."""
        for tenant, bucket in sorted(self.configured.items()):
            try:
                self.check_writable(bucket)
            except TenantBucketError as exc:
                raise TenantBucketError(f"GS_TENANT_BUCKETS, tenant {tenant!r}: {exc}") from exc

    def _at(self) -> str:
        return f" at {self.location}" if self.location else ""


def no_tenant_buckets(bucket: str) -> ObjectStore:
    """The ``open_bucket`` of a ``DatasetStores`` that has the default store only."""
    raise TenantBucketError(f"bucket {bucket!r}: this process opens the default dataset store only")


def _why(exc: Exception) -> str:
    """An S3 client error as its code and message; anything else as itself."""
    response = getattr(exc, "response", None)  # botocore's ClientError
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    code = error.get("Code")
    if code == "NoSuchBucket":
        return "no such bucket (create it first, then set it again)"
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return f"access denied to the service's credentials ({code}: {error.get('Message', '')})"
    if code:
        return f"{code}: {error.get('Message', '')}"
    return f"{type(exc).__name__}: {exc}"


def require_known_tenant(session: Session, tenant: str) -> None:
    """``NotFoundError`` unless a satellite belongs to ``tenant`` or an API
    key acts for it (so a misspelt tenant gets no bucket)."""
    known = session.scalar(
        select(exists().where(Satellite.tenant == tenant) | exists().where(ApiKey.tenant == tenant))
    )
    if not known:
        raise NotFoundError("tenant", tenant)


def tenant_bucket(session: Session, stores: DatasetStores, *, tenant: str) -> BucketSetting:
    """The known tenant's bucket setting (``DatasetStores.setting``)."""
    require_known_tenant(session, tenant)
    return stores.setting(session, tenant)


def set_tenant_bucket(
    session: Session, stores: DatasetStores, *, tenant: str, bucket: str, now: datetime
) -> BucketSetting:
    """Make ``bucket`` ``tenant``'s dataset bucket, after checking the
    service can write to it (``TenantBucketError`` otherwise, nothing
    changed). Datasets already stored stay where they are."""
    require_known_tenant(session, tenant)
    session.rollback()  # no transaction (SQLite: the write lock) held over the bucket's I/O
    stores.check_writable(bucket)
    row = session.get(TenantBucket, tenant)
    if row is None:
        row = TenantBucket(tenant=tenant, bucket=bucket, updated_at=now)
        session.add(row)
    else:
        row.bucket = bucket
        row.updated_at = now
    session.commit()
    return BucketSetting(tenant, bucket, "api", now)


def clear_tenant_bucket(session: Session, stores: DatasetStores, *, tenant: str) -> BucketSetting:
    """Forget the bucket an admin set for ``tenant``: its next datasets go
    where the settings say (or the default store). Nothing stored moves."""
    require_known_tenant(session, tenant)
    row = session.get(TenantBucket, tenant)
    if row is not None:
        session.delete(row)
        session.commit()
    return stores.setting(session, tenant)
