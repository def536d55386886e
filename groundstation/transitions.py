"""Applying a contact state change: check legality, record history, build the event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from groundstation.events import ContactEvent
from groundstation.models import Contact, ContactTransition
from groundstation.states import ContactState, check_transition
from groundstation.vetting import VerdictSource, auto_verdict, stamp


def apply_transition(
    session: Session,
    contact: Contact,
    new_state: ContactState,
    *,
    at: datetime,
    reason: str,
    instance_id: str = "",
) -> ContactEvent:
    """Move ``contact`` to ``new_state`` inside the caller's transaction and
    return the event to publish once the transaction has committed. An end
    that is vetted (COMPLETED with a measured quality, FAILED,
    PROVIDER_FAILED) gives the contact its automatic verdict on the same
    row and event (``groundstation.vetting``)."""
    row, event = transition_row(contact, new_state, at=at, reason=reason, instance_id=instance_id)
    session.add(ContactTransition(contact=contact, **row))
    return event


def transition_row(
    contact: Contact,
    new_state: ContactState,
    *,
    at: datetime,
    reason: str,
    instance_id: str = "",
) -> tuple[dict[str, Any], ContactEvent]:
    """``apply_transition`` without a session: ``contact`` moved to
    ``new_state`` (its verdict given when the end is vetted), the columns of
    its history row (``ContactTransition``, but ``contact_id`` and the
    database's ``tx_id``) for the caller to insert, and the event."""
    old_state = contact.state
    check_transition(contact.id, old_state, new_state)
    contact.state = new_state.value
    contact.state_reason = reason
    contact.updated_at = at
    contact.version = (contact.version or 0) + 1
    verdict, source = None, None
    judged = auto_verdict(contact, new_state.value)
    if judged is not None:
        verdict, source = judged[0].value, VerdictSource.AUTO.value
        stamp(contact, judged[0], VerdictSource.AUTO, at=at, reason=judged[1], by="")
    row: dict[str, Any] = {
        "old_state": old_state,
        "new_state": new_state.value,
        "at": at,
        "reason": reason,
        "instance_id": instance_id,
        "verdict": verdict,
        "verdict_source": source,
    }
    event = ContactEvent(contact.id, old_state, new_state.value, at, reason, verdict, source)
    return row, event


def record_window_update(
    session: Session, contact: Contact, *, at: datetime, reason: str, instance_id: str = ""
) -> ContactEvent:
    """Record in ``contact``'s history that its window changed and its state
    did not (a row with ``old_state == new_state``), inside the caller's
    transaction; return the event to publish once it has committed."""
    contact.state_reason = reason
    contact.updated_at = at
    contact.version = (contact.version or 0) + 1
    session.add(
        ContactTransition(
            contact=contact,
            old_state=contact.state,
            new_state=contact.state,
            at=at,
            reason=reason,
            instance_id=instance_id,
        )
    )
    return ContactEvent(contact.id, contact.state, contact.state, at, reason)


def enter_pass(session: Session, contact: Contact, *, at: datetime, reason: str) -> None:
    """Move a SCHEDULED contact through PREPASS into PASS and commit, for
    tools that run an executor directly, without the lifecycle (benches):
    the dataset of a contact not in PASS or POSTPASS is not published."""
    for state in (ContactState.PREPASS, ContactState.PASS):
        apply_transition(session, contact, state, at=at, reason=reason)
    session.commit()
