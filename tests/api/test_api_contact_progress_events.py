"""`event: progress` on GET /contacts/events (issue 16): the live figures of
a contact in PASS or POSTPASS, the body of GET /contacts/{id}/progress, at
most once a second per contact, only when they changed, to the contact's
tenant only; never for a contact in another state. On SQLite and PostgreSQL.

The figures are written as the executor writes them (``write_progress``);
the stream is read by a real HTTP client from the app served by uvicorn."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx

from groundstation.models import Contact
from groundstation.states import ContactState
from tests.support.progress import store_progress

from .conftest import NOW, World
from .helpers import contact_body, first_free_pass


class _Reader:
    """GET /contacts/events in a thread: every event as (type, data, id, monotonic s)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, dict[str, Any], str | None, float]] = []
        self.connected = threading.Event()
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)

    def _run(self, url: str, headers: dict[str, str]) -> None:
        timeout = httpx.Timeout(30.0, read=20.0)  # keep-alive every 15 s
        try:
            with (
                httpx.Client(base_url=url, timeout=timeout) as c,
                c.stream("GET", "/contacts/events", headers=headers) as r,
            ):
                assert r.status_code == 200
                kind, data, event_id = "message", "", None
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("id:"):
                        event_id = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data = line[5:]
                    elif line == "" and data:
                        self.events.append((kind, json.loads(data), event_id, time.monotonic()))
                        kind, data, event_id = "message", "", None
                    if self.stop.is_set():
                        return
        except httpx.TransportError:  # read timeout, or the server shut down
            return

    def progress(self) -> list[tuple[dict[str, Any], str | None, float]]:
        return [(d, i, t) for k, d, i, t in list(self.events) if k == "progress"]


@contextmanager
def _reading(url: str, headers: dict[str, str]) -> Iterator[_Reader]:
    reader = _Reader(url, headers)
    reader._thread.start()
    assert reader.connected.wait(30), "the event stream did not open"
    try:
        yield reader
    finally:
        reader.stop.set()
        reader._thread.join(10)


def _book(world: World, skip: int = 0) -> str:
    p = first_free_pass(world, skip=skip)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _set_state(world: World, contact_id: str, state: ContactState) -> None:
    with world.session() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        contact.state = state.value
        session.commit()


def _write(world: World, contact_id: str, frames: int, *, final: bool = False) -> None:
    with world.session() as session:
        store_progress(
            session,
            contact_id,
            frames_decoded=frames,
            frames_sent=frames + 1,
            updated_at=NOW + timedelta(seconds=frames),
            elapsed_s=float(frames),
            final=final,
        )


def test_a_running_contacts_figures_stream_at_most_once_a_second_to_its_tenant_only(
    world: World, live_url: str
) -> None:
    cid = _book(world)
    _set_state(world, cid, ContactState.PASS)
    _write(world, cid, 1)
    stop = threading.Event()

    def executor() -> None:  # writes every 0.1 s, ten times the stream's rate
        frames = 1
        while not stop.wait(0.1):
            frames += 1
            _write(world, cid, frames)

    writer = threading.Thread(target=executor, daemon=True)
    with (
        _reading(live_url, world.as_("acme")) as acme,
        _reading(live_url, world.as_("globex")) as globex,
    ):
        writer.start()
        started = time.monotonic()
        deadline = started + 60
        while len(acme.progress()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        writer.join(10)
        window_s = time.monotonic() - started
        got = acme.progress()
        other = globex.progress()
    assert len(got) >= 4, acme.events
    bodies = [d for d, _, _ in got]
    assert all(d["contact_id"] == cid for d in bodies)
    frames = [d["frames_decoded"] for d in bodies]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)  # changes only
    assert all(i is None for _, i, _ in got)  # not history: no id
    first = bodies[-1]
    assert (first["state"], first["status"], first["simulated"]) == ("PASS", "running", True)
    assert first["fraction"] == round(first["elapsed_s"] / 600.0, 4)
    assert (first["esn0_db"], first["doppler_hz"]) == (7.5, -1234.5)
    # The same JSON as GET /contacts/{id}/progress.
    assert set(first) == set(
        world.client.get(f"/contacts/{cid}/progress", headers=world.as_("acme")).json()
    )
    # At most once a second per contact (~30 writes were made meanwhile).
    times = [t for _, _, t in got]
    assert len(got) <= window_s / 1.0 + 1, (len(got), window_s)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) > 0.5, times
    assert other == []  # globex: another tenant's contact


def test_figures_stream_only_in_pass_and_postpass(world: World, live_url: str) -> None:
    scheduled = _book(world)
    completed = _book(world, skip=1)
    _set_state(world, completed, ContactState.COMPLETED)
    _write(world, scheduled, 5)
    _write(world, completed, 9, final=True)
    with _reading(live_url, world.as_("acme")) as reader:
        time.sleep(3.0)  # three progress reads of the hub
        assert reader.progress() == []
        _set_state(world, scheduled, ContactState.POSTPASS)
        deadline = time.monotonic() + 30
        while not reader.progress() and time.monotonic() < deadline:
            time.sleep(0.1)
        got = [d for d, _, _ in reader.progress()]
    assert [(d["contact_id"], d["state"], d["status"]) for d in got] == [
        (scheduled, "POSTPASS", "final")
    ]
    assert got[0]["frames_decoded"] == 5
