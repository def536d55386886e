"""Contact state and dataset state agree: the rules, in one place.

A contact's dataset lives in the dataset catalogue (``ingest_datasets``, the
same database as the contacts). The rules:

- the dataset becomes ``ready`` (visible, announced) only inside the
  catalogue transaction that also holds the contact's row and finds the
  contact still in PASS or POSTPASS (``accept_dataset``, the guard passed to
  ``DatasetWriter.commit`` and ``ingest.dataset.recover``); a contact failed
  meanwhile gets no ready dataset: the writer deletes what it uploaded and
  the catalogue row ends ``failed``;
- the lifecycle moves a contact to COMPLETED only when its dataset is
  ``ready`` (``dataset_state``, read under the contact row's claim);
- a FAILED (or cancelled) contact's data is removed, never kept as a partial
  dataset: its catalogue row, if any, is ``failed`` with the reason.

``audit`` checks these invariants over a whole database, object store and
staging directory (tests, the soak bench).
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from groundstation.events import ResourceEvent
from groundstation.models import Contact
from groundstation.resource_events import dataset_event
from groundstation.states import ContactState
from groundstation.vetting import PassQuality, record_quality
from ingest.catalog import DatasetRow
from ingest.dataset import PublishGuard
from ingest.errors import PublishRefusedError
from ingest.objectstore import ObjectStore

S = ContactState
#: Contact states in which a dataset may be written and made ready (a pass
#: being stopped keeps what it received).
DATASET_STATES = (S.PASS.value, S.POSTPASS.value, S.CANCELLING.value)


def accept_dataset(
    session: Session,
    contact_id: str,
    dataset_id: str | None = None,
    now: datetime | None = None,
    *,
    quality: PassQuality | None = None,
) -> ResourceEvent | None:
    """Inside the transaction that makes ``contact_id``'s dataset ready:
    lock the contact's row (waiting for it) and refuse unless the contact is
    still in PASS or POSTPASS (``PublishRefusedError`` naming its state);
    keep the pass ``quality`` the executor measured on the contact (its
    verdict is judged from it when it completes, ``groundstation.vetting``);
    record the dataset-ready event of ``dataset_id`` (ready at ``now``) in
    the event history and return it (the writer publishes it once
    committed)."""
    contact = session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if contact is None:
        raise PublishRefusedError(f"contact {contact_id} is not in the database")
    if contact.state not in DATASET_STATES:
        raise PublishRefusedError(
            f"contact {contact_id} is {contact.state} ({contact.state_reason}); "
            "its dataset is not published"
        )
    if quality is not None:
        record_quality(contact, quality)
    if dataset_id is None or now is None:
        return None
    return dataset_event(session, contact, dataset_id, at=now)


def accept_dataset_with(quality: PassQuality) -> PublishGuard:
    """``accept_dataset`` as a guard that also keeps ``quality`` on the contact."""
    return functools.partial(accept_dataset, quality=quality)


def dataset_state(session: Session, contact_id: str) -> tuple[str, str] | None:
    """(state, error) of the contact's newest catalogue row, or None."""
    row = session.execute(
        select(DatasetRow.state, DatasetRow.error)
        .where(DatasetRow.contact_id == contact_id)
        .order_by(DatasetRow.created_at.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1] or "")


def audit(
    session: Session,
    *,
    store: ObjectStore | None = None,
    staging_root: Path | None = None,
    quiescent: bool = True,
    archive_prefix: str = "",
) -> list[str]:
    """Every disagreement between contact state and dataset state, as
    sentences (empty when all agree). ``quiescent``: no executor is running
    (no ``writing`` row, nothing staged, no object outside a ready dataset).
    A COMPLETED contact's dataset may have been ``expired`` by retention
    (``groundstation.housekeeping``): its objects are gone, or moved under
    ``archive_prefix``, or still being removed (the next run finishes that)."""
    contacts = {c.id: c for c in session.scalars(select(Contact))}
    rows = list(session.scalars(select(DatasetRow)))
    by_contact: dict[str, list[DatasetRow]] = {}
    for row in rows:
        by_contact.setdefault(row.contact_id, []).append(row)
    problems = [
        problem
        for cid, contact in contacts.items()
        for problem in _contact_problems(
            contact, [r.state for r in by_contact.get(cid, [])], quiescent=quiescent
        )
    ]
    problems += [
        f"dataset {row.id} ({row.state}) has no contact"
        for row in rows
        if row.contact_id not in contacts
    ]
    if store is not None:
        problems += _stray_objects(store, rows, quiescent=quiescent, archive_prefix=archive_prefix)
    if staging_root is not None and quiescent and Path(staging_root).is_dir():
        problems += [f"staging left behind: {p}" for p in sorted(Path(staging_root).iterdir())]
    return problems


def _contact_problems(contact: Contact, states: list[str], *, quiescent: bool) -> list[str]:
    """How one contact and the states of its datasets disagree."""
    cid = contact.id
    problems = []
    ready = states.count("ready") + states.count("expired")
    if contact.state == S.COMPLETED and ready != 1:
        problems.append(f"contact {cid} is COMPLETED with datasets {states or 'none'}")
    # A pass stopped during PASS is CANCELLED with the partial dataset it kept.
    if contact.state not in (S.COMPLETED, S.CANCELLED, *DATASET_STATES) and "ready" in states:
        problems.append(
            f"contact {cid} is {contact.state} ({contact.state_reason}) but its dataset is ready"
        )
    if contact.state == S.FAILED and not contact.state_reason:
        problems.append(f"contact {cid} is FAILED without a reason")
    if "writing" in states and (quiescent or contact.state not in DATASET_STATES):
        problems.append(f"contact {cid} is {contact.state} with a dataset being written")
    return problems


def _stray_objects(
    store: ObjectStore, rows: list[DatasetRow], *, quiescent: bool, archive_prefix: str
) -> list[str]:
    """Objects of the (default) store outside every ready (or expired, or
    archived) dataset of that store; while not quiescent, those of a dataset
    being written too. Datasets in tenant buckets are not in this store."""
    rows = [r for r in rows if r.bucket is None]
    visible = tuple(r.key_prefix + "/" for r in rows if r.state in ("ready", "expired"))
    writing = tuple(r.key_prefix + "/" for r in rows if r.state == "writing")
    archived = (archive_prefix.strip("/") + "/",) if archive_prefix.strip("/") else ()
    return [
        f"object {key} belongs to no ready dataset"
        for key in store.list_keys("")
        if not (key.startswith(visible + archived) or (not quiescent and key.startswith(writing)))
    ]
