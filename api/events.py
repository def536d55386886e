"""Contact events fanned out to Server-Sent-Event subscribers, read from the
database so that every API process sees the changes made by any process
sharing it (other uvicorn workers, the lifecycle of ``groundstation serve``).

``ContactEventHub`` is still an ``EventSink``: booking routes (and a lifecycle
running in the same process, see ``attach_runtime``) publish into it; that
forwards the event to the sinks added with ``add_sink`` and wakes the poller
early, but subscribers get their events from the database only, once, with
the transition row id as the event id (``groundstation.event_log``).

One poller thread per hub (per process) reads the log after its cursor every
``poll_interval_s`` (sooner when woken, but at most every ``min_gap_s``) and
hands each event to every subscriber's asyncio queue; it starts with the
first subscriber, ends when the last one has gone, and ``close()`` (the app's
shutdown) stops it. Every ``progress_interval_s`` it also reads the live
figures of the contacts in PASS or POSTPASS (``progress.streamed_progress``)
and hands those that changed since its last read to every subscriber as a
``ProgressItem``: at most one per contact and interval, never replayed (they
are not history: no id). A client reconnecting with
``Last-Event-ID`` gets the events after that id from the database, up to the
poller's cursor, then the live ones: none twice, none missed -- unless
housekeeping pruned history after that id: then the subscriber is told so
(``pruned``) and gets what is left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from groundstation import event_log, progress
from groundstation.event_log import Position
from groundstation.events import ContactEvent, Event, EventSink, ResourceEvent
from groundstation.progress import ContactProgressView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NumberedEvent:
    """An event with its database id (``seq``), the contact's tenant (a
    resource event's: None for every tenant), and its satellite, station and
    antenna."""

    seq: int
    event: ContactEvent | ResourceEvent
    tenant: str | None
    norad_id: int | None = None
    station: str | None = None
    antenna: str | None = None


@dataclass(frozen=True)
class ProgressItem:
    """The live figures of a contact in PASS or POSTPASS, for its tenant."""

    tenant: str
    view: ContactProgressView


StreamItem = NumberedEvent | ProgressItem


class Subscriber:
    """One open event stream: its queue of events (the oldest dropped when
    full) and the history it missed, if pruned."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[StreamItem] = asyncio.Queue(maxsize=maxsize)
        # Set when history after the subscriber's Last-Event-ID was pruned.
        self.pruned: event_log.PrunedHistory | None = None

    def offer(self, item: StreamItem) -> None:
        if self.queue.full():  # a slow client loses the oldest, never blocks the poller
            self.queue.get_nowait()
        self.queue.put_nowait(item)


class _Poller:
    def __init__(self, cursor: Position) -> None:
        self.cursor = cursor
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        # Progress: when to read it next (monotonic s), and the figures last
        # sent per contact (a contact's figures are sent again only once changed).
        self.next_progress_s = 0.0
        self.progress_sent: dict[str, ContactProgressView] = {}


def _numbered(e: event_log.LoggedEvent) -> NumberedEvent:
    return NumberedEvent(e.id, e.event, e.tenant, e.norad_id, e.station, e.antenna)


class ContactEventHub:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        poll_interval_s: float = 0.5,
        min_gap_s: float = 0.05,
        batch: int = 1000,
        backlog: int = 1000,
        queue_size: int = 1000,
        progress_interval_s: float = 1.0,
    ) -> None:
        self._session_factory = session_factory
        self._poll_interval_s = poll_interval_s
        self._progress_interval_s = progress_interval_s
        self._min_gap_s = min(min_gap_s, poll_interval_s)
        self._batch = batch
        self._backlog = backlog
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._subscribers: set[Subscriber] = set()
        self._sinks: list[EventSink] = []
        self._poller: _Poller | None = None

    def add_sink(self, sink: EventSink) -> None:
        """Forward every event published here to ``sink`` too (e.g. a Kafka publisher)."""
        with self._lock:
            self._sinks.append(sink)

    def publish(self, event: Event) -> None:
        """An event committed by this process: forwarded to the sinks; the
        subscribers get it from the database at the next poll, started now."""
        with self._lock:
            sinks = list(self._sinks)
        self._wake.set()
        for sink in sinks:
            sink.publish(event)

    def wake(self) -> None:
        """Poll the database now (an event was committed by this process)."""
        self._wake.set()

    def subscribe(
        self, loop: asyncio.AbstractEventLoop, after_id: int | None = None
    ) -> tuple[Subscriber, Sequence[NumberedEvent]]:
        """A new subscriber fed on ``loop``, and the events after ``after_id``
        (the last ``backlog`` of them) that it will not receive live. Blocks on
        the database: call it from a worker thread."""
        sub = Subscriber(loop, self._queue_size)
        with self._lock:
            if self._poller is None:
                with self._session_factory() as session:
                    self._poller = _Poller(event_log.head(session))
                thread = threading.Thread(
                    target=self._run,
                    args=(self._poller,),
                    name="contact-events-poller",
                    daemon=True,
                )
                self._poller.thread = thread
                thread.start()
            self._subscribers.add(sub)
            until = self._poller.cursor
        if after_id is None:
            return sub, []
        try:
            with self._session_factory() as session:
                sub.pruned = event_log.pruned_since(session, event_id=after_id)
                start = event_log.position_of(session, event_id=after_id)
                backlog = event_log.events_after(
                    session, start, until=until, limit=self._backlog, latest=True
                )
        except BaseException:
            self.unsubscribe(sub)
            raise
        return sub, [_numbered(e) for e in backlog]

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)
        self._wake.set()

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    @property
    def polling(self) -> bool:
        """Whether a poller thread is running."""
        with self._lock:
            return self._poller is not None

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the poller (if running) and wait for its thread."""
        with self._lock:
            poller, self._poller = self._poller, None
        if poller is None:
            return
        poller.stop.set()
        self._wake.set()
        if poller.thread is not None and poller.thread is not threading.current_thread():
            poller.thread.join(timeout_s)

    def _run(self, poller: _Poller) -> None:
        failures = 0
        while not poller.stop.is_set():
            with self._lock:
                if self._poller is not poller:
                    return
                if not self._subscribers:
                    self._poller = None
                    return
                cursor = poller.cursor
            try:
                with self._session_factory() as session:
                    found = event_log.events_after(session, cursor, limit=self._batch)
                failures = 0
            except Exception:
                failures += 1
                log.exception("reading contact events after %s failed", cursor)
                poller.stop.wait(min(30.0, self._poll_interval_s * 2**failures))
                continue
            if found:
                self._dispatch(poller, found)
            self._progress(poller)
            if len(found) < self._batch:
                # Woken by publish() at most every min_gap_s: a burst of
                # bookings costs a few reads, not one each.
                poller.stop.wait(self._min_gap_s)
                self._wake.wait(max(0.0, self._poll_interval_s - self._min_gap_s))
                self._wake.clear()

    def _progress(self, poller: _Poller) -> None:
        """Every ``progress_interval_s``: the figures of the contacts in PASS
        or POSTPASS that changed since they were last sent, to every subscriber."""
        now_s = time.monotonic()
        if now_s < poller.next_progress_s:
            return
        poller.next_progress_s = now_s + self._progress_interval_s
        try:
            with self._session_factory() as session:
                found = progress.streamed_progress(session)
        except Exception:
            log.exception("reading the live figures of running contacts failed")
            return
        sent = poller.progress_sent
        items = [
            ProgressItem(p.tenant, p.view) for p in found if sent.get(p.view.contact_id) != p.view
        ]
        poller.progress_sent = {p.view.contact_id: p.view for p in found}
        if not items:
            return
        with self._lock:
            if self._poller is not poller:
                return
            subscribers = list(self._subscribers)
        self._send(subscribers, items)

    def _dispatch(self, poller: _Poller, found: Sequence[event_log.LoggedEvent]) -> None:
        items = [_numbered(e) for e in found]
        with self._lock:
            if self._poller is not poller:
                return
            # One lock: a subscriber joining now gets these either in its
            # backlog (up to the cursor) or live, never both.
            poller.cursor = found[-1].position
            subscribers = list(self._subscribers)
        self._send(subscribers, items)

    def _send(self, subscribers: Sequence[Subscriber], items: Sequence[StreamItem]) -> None:
        gone = []
        for sub in subscribers:
            for item in items:
                try:
                    sub.loop.call_soon_threadsafe(sub.offer, item)
                except RuntimeError:  # loop closed: the client is gone
                    gone.append(sub)
                    break
        for sub in gone:
            self.unsubscribe(sub)
