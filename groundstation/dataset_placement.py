"""Where a contact's dataset goes: its tenant's bucket (or the default
store) and the key prefix its mission profile's template gives. One place,
used by the in-process downlink executor and the station-agent executor."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from groundstation.errors import TenantBucketError
from groundstation.executor import ContactExecutionError, ContactRun
from groundstation.tenant_buckets import DatasetStores
from ingest.dataset import DatasetInfo, render_key_template
from ingest.errors import DatasetError, IngestError
from ingest.objectstore import ObjectStore


def key_prefix_for(run: ContactRun) -> str:
    """The profile's key template rendered for the contact ("" : the default layout)."""
    template = run.dataset_options.key_template
    if template is None:
        return ""
    try:
        return render_key_template(
            template,
            norad_id=run.norad_id,
            start=run.aos,
            contact_id=run.contact_id,
            station=run.station_id,
            antenna=run.antenna_id,
            profile_id=run.profile_id,
        )
    except DatasetError as exc:
        raise ContactExecutionError(f"mission profile {run.profile_id!r}: {exc}") from exc


def place_dataset(
    run: ContactRun, stores: DatasetStores, session_factory: sessionmaker[Session]
) -> tuple[DatasetInfo, ObjectStore]:
    """The dataset of ``run`` (its prefix and its tenant's bucket, as of now)
    and the store it is written to."""
    with session_factory() as session:
        bucket = stores.bucket_for(session, run.tenant) if run.tenant else None
        session.rollback()
    info = dataset_info(run, bucket)
    try:
        store = stores.store(bucket)
    except (IngestError, TenantBucketError) as exc:
        raise ContactExecutionError(f"tenant {run.tenant!r}'s bucket {bucket!r}: {exc}") from exc
    return info, store


def dataset_info(run: ContactRun, bucket: str | None = None) -> DatasetInfo:
    """The dataset of ``run`` (``ds-<contact id>``) in ``bucket`` (None: the
    default store) under the profile's key prefix; what a station agent
    publishing at the edge writes too (``groundstation.station.edge``)."""
    return DatasetInfo(
        dataset_id=f"ds-{run.contact_id}",
        contact_id=run.contact_id,
        norad_id=run.norad_id,
        satellite=run.satellite_name,
        station=run.station_id,
        antenna=run.antenna_id,
        start=run.aos,
        end=run.los,
        prefix=key_prefix_for(run),
        bucket=bucket,
    )
