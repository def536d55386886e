"""Contact events fanned out to Server-Sent-Event subscribers.

``ContactEventHub`` is an ``EventSink``: booking routes (and a lifecycle
running in the same process, see ``create_app``) publish into it from any
thread; each SSE client holds an asyncio queue fed through its event loop.
Recent events are kept in a ring so a client reconnecting with
``Last-Event-ID`` gets what it missed.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from groundstation.events import ContactEvent, EventSink


@dataclass(frozen=True)
class NumberedEvent:
    seq: int
    event: ContactEvent


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[NumberedEvent] = asyncio.Queue(maxsize=maxsize)

    def offer(self, item: NumberedEvent) -> None:
        if self.queue.full():  # a slow client loses the oldest, never blocks publishers
            self.queue.get_nowait()
        self.queue.put_nowait(item)


class ContactEventHub:
    def __init__(self, *, history: int = 1000, queue_size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._recent: deque[NumberedEvent] = deque(maxlen=history)
        self._subscribers: set[_Subscriber] = set()
        self._sinks: list[EventSink] = []
        self._queue_size = queue_size

    def add_sink(self, sink: EventSink) -> None:
        """Forward every event to ``sink`` too (e.g. a Kafka publisher)."""
        with self._lock:
            self._sinks.append(sink)

    def publish(self, event: ContactEvent) -> None:
        with self._lock:
            self._seq += 1
            item = NumberedEvent(self._seq, event)
            self._recent.append(item)
            subscribers = list(self._subscribers)
            sinks = list(self._sinks)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, item)
            except RuntimeError:  # loop closed: the client is gone
                self.unsubscribe(sub)
        for sink in sinks:
            sink.publish(event)

    def subscribe(
        self, after_seq: int | None = None
    ) -> tuple[_Subscriber, Sequence[NumberedEvent]]:
        """A new subscriber and the retained events after ``after_seq``."""
        sub = _Subscriber(asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.add(sub)
            backlog = [e for e in self._recent if after_seq is not None and e.seq > after_seq]
        return sub, backlog

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)
