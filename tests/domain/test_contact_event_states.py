"""ingest may not import groundstation, so the contact-event contract names the
states itself (ingest.topics.ContactEventState): they must be ContactState's."""

from __future__ import annotations

from groundstation.states import ContactState
from ingest.topics import ContactEventState


def test_the_contact_event_states_are_the_contact_states_in_order() -> None:
    assert [s.value for s in ContactEventState] == [s.value for s in ContactState]
