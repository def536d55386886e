"""Contact events: one small interface through which every state change and
window update is announced. The running service (``groundstation.runtime``)
fans them out to the events topic (``ingest.publisher.PublisherEventSink``),
the log (``logs.contact_log_sink``) and, under ``serve``, to a sink that
wakes the API's Server-Sent-Events poller (which reads the events back from
the contact history, ``event_log``)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ContactEvent:
    """``old_state == new_state`` for a window update or a verdict that kept
    the state. ``verdict`` (``good``, ``partial``, ``bad``, ``failed``) and
    ``verdict_source`` (``auto``, ``manual``) are set on the event that gave
    the contact its verdict (``groundstation.vetting``), else None."""

    contact_id: str
    old_state: str
    new_state: str
    at: datetime
    reason: str
    verdict: str | None = None
    verdict_source: str | None = None


@dataclass(frozen=True)
class ResourceEvent:
    """A resource's status changed (issue 15): ``kind`` ``ephemeris`` (its
    AWS status ENABLED / DISABLED / EXPIRED, and whether it is the one in
    force), ``station`` (its agent ``online`` / ``offline``) or ``antenna``
    (``online`` / ``offline`` / ``maintenance``); ``subject_id`` is the
    ephemeris, station or antenna id. ``tenant`` is who sees it (the
    satellite's tenant; None: every tenant). Recorded in the one event
    history (``resource_events.record``), published once committed."""

    kind: str
    subject_id: str
    old_status: str
    new_status: str
    at: datetime
    reason: str
    tenant: str | None = None
    norad_id: int | None = None
    station: str | None = None
    antenna: str | None = None
    in_force: bool | None = None


Event = ContactEvent | ResourceEvent
"""Anything an ``EventSink`` is given."""


class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...


class InMemoryEventSink:
    """Keeps every event in order; thread-safe (scheduler jobs run in a pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []

    def publish(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[ContactEvent]:
        """The contact events (``resource_events``: the resource events)."""
        with self._lock:
            return [e for e in self._events if isinstance(e, ContactEvent)]

    @property
    def resource_events(self) -> list[ResourceEvent]:
        with self._lock:
            return [e for e in self._events if isinstance(e, ResourceEvent)]

    def for_contact(self, contact_id: str) -> list[ContactEvent]:
        return [e for e in self.events if e.contact_id == contact_id]


class NullEventSink:
    """Drops events (for callers that do not listen)."""

    def publish(self, event: Event) -> None:
        return None


def publish_committed(events: EventSink | None, fired: Iterable[Event | None]) -> None:
    """Publish the events of a committed transaction, in order, to ``events``
    (nothing when it is None: the caller does not listen); ``None`` entries
    (a step that fired nothing) are skipped. Call it only after the commit,
    so no listener hears of a change that was rolled back."""
    if events is None:
        return
    for event in fired:
        if event is not None:
            events.publish(event)
