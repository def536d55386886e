"""ingest may not import groundstation, so the contact-event contract names the
states itself (ingest.topics.ContactEventState): they must be ContactState's."""

from __future__ import annotations

from groundstation.states import ContactState
from ingest.topics import ContactEventState


def test_the_contact_event_states_are_the_contact_states_in_order() -> None:
    assert [s.value for s in ContactEventState] == [s.value for s in ContactState]


def test_the_contact_event_verdicts_are_the_vetting_verdicts_in_order() -> None:
    from groundstation.vetting import Verdict, VerdictSource
    from ingest.topics import ContactVerdict
    from ingest.topics import VerdictSource as EventVerdictSource

    assert [v.value for v in ContactVerdict] == [v.value for v in Verdict]
    assert [v.value for v in EventVerdictSource] == [v.value for v in VerdictSource]
