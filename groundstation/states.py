"""Contact states and the legal transitions between them (after AWS Ground Station)."""

from __future__ import annotations

from enum import StrEnum

from groundstation.errors import IllegalTransitionError


class ContactState(StrEnum):
    AVAILABLE = "AVAILABLE"
    SCHEDULED = "SCHEDULED"
    PREPASS = "PREPASS"
    PASS = "PASS"
    POSTPASS = "POSTPASS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    FAILED_TO_SCHEDULE = "FAILED_TO_SCHEDULE"
    # The provider's failure (AWS Ground Station's name): the antenna or
    # station could not work the contact (maintenance, antenna offline).
    PROVIDER_FAILED = "PROVIDER_FAILED"
    # A stop was asked during PASS: the pass is ending and what was received
    # is being kept (AWS Ground Station's CANCELLING); then CANCELLED.
    CANCELLING = "CANCELLING"


S = ContactState

LEGAL_TRANSITIONS: dict[ContactState, frozenset[ContactState]] = {
    S.AVAILABLE: frozenset({S.SCHEDULED, S.FAILED_TO_SCHEDULE}),
    S.SCHEDULED: frozenset(
        {S.PREPASS, S.CANCELLED, S.FAILED_TO_SCHEDULE, S.FAILED, S.PROVIDER_FAILED}
    ),
    S.PREPASS: frozenset({S.PASS, S.FAILED, S.PROVIDER_FAILED, S.CANCELLED}),
    S.PASS: frozenset({S.POSTPASS, S.FAILED, S.PROVIDER_FAILED, S.CANCELLING}),
    S.POSTPASS: frozenset({S.COMPLETED, S.FAILED, S.PROVIDER_FAILED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED_TO_SCHEDULE: frozenset(),
    S.PROVIDER_FAILED: frozenset(),
    S.CANCELLING: frozenset({S.CANCELLED, S.FAILED, S.PROVIDER_FAILED}),
}

# States whose booked window holds the antenna.
ACTIVE_STATES: tuple[ContactState, ...] = (S.SCHEDULED, S.PREPASS, S.PASS, S.POSTPASS, S.CANCELLING)
TERMINAL_STATES: tuple[ContactState, ...] = tuple(
    s for s, nxt in LEGAL_TRANSITIONS.items() if not nxt
)
# The same as stored strings (``Contact.state``), for queries and comparisons.
ACTIVE_STATE_VALUES: tuple[str, ...] = tuple(s.value for s in ACTIVE_STATES)
TERMINAL_STATE_VALUES: tuple[str, ...] = tuple(s.value for s in TERMINAL_STATES)


def check_transition(contact_id: str, old: ContactState | str, new: ContactState | str) -> None:
    """Raise ``IllegalTransitionError`` naming both states unless old -> new is legal."""
    old_s, new_s = ContactState(old), ContactState(new)
    if new_s not in LEGAL_TRANSITIONS[old_s]:
        raise IllegalTransitionError(contact_id, old_s.value, new_s.value)
