"""Delivery wiring: the publisher and the object store the settings select.

Kept in one place so the API, the contact executor and the CLI open the same
things the same way; nothing is opened at import time.
"""

from __future__ import annotations

from groundstation.settings import Settings
from groundstation.tenant_buckets import DatasetStores
from ingest.objectstore import LocalObjectStore, ObjectStore, S3ObjectStore
from ingest.publisher import Publisher, open_publisher


def open_frame_publisher(settings: Settings) -> Publisher:
    """Kafka (with its durable spool) when ``GS_KAFKA_BOOTSTRAP`` is set, else the
    local append-only topic log under ``data_dir/topics``."""
    return open_publisher(settings.kafka_config())


def open_object_store(settings: Settings) -> ObjectStore:
    """The dataset store: a local folder (default) or an S3 bucket."""
    if settings.object_store == "s3":
        return S3ObjectStore(settings.s3_config())
    return LocalObjectStore(
        settings.effective_object_store_dir(), file_mode=settings.data_dir_mode & 0o666
    )


def open_bucket_store(settings: Settings, bucket: str) -> ObjectStore:
    """A tenant bucket's store: the bucket on the S3 endpoint of the default
    store, or with the local store the folder ``<local_buckets_dir>/<bucket>``."""
    if settings.object_store == "s3":
        return S3ObjectStore(settings.bucket_s3_config(bucket))
    return LocalObjectStore(
        settings.effective_local_buckets_dir() / bucket, file_mode=settings.data_dir_mode & 0o666
    )


def open_dataset_stores(settings: Settings, default: ObjectStore | None = None) -> DatasetStores:
    """The default store (``default``, else ``open_object_store``) and the
    tenant buckets (``groundstation.tenant_buckets``)."""
    if settings.object_store == "s3":
        location = settings.s3_endpoint_url or "AWS S3"
    else:
        location = str(settings.effective_local_buckets_dir())
    return DatasetStores(
        default=default if default is not None else open_object_store(settings),
        open_bucket=lambda bucket: open_bucket_store(settings, bucket),
        configured=settings.tenant_buckets,
        location=location,
    )


def spool_depth_bytes(publisher: Publisher) -> int:
    """Bytes the Kafka publisher's durable spool holds that the broker has not
    acknowledged yet; 0 for the local topic log (every append is already in it)."""
    from ingest.kafka_publisher import KafkaPublisher

    if isinstance(publisher, KafkaPublisher):
        return publisher.spool.pending_bytes()
    return 0
