"""Several API processes on one database: two apps made by ``create_app`` on
the same database hold no state in common but the database, as two uvicorn
workers (or ``serve`` and an extra worker) do."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from groundstation.models import Contact, ContactTransition, PlanProposal
from groundstation.settings import Settings

from .conftest import NOAA19, NOW, TLE, World, serve
from .helpers import contact_body, first_free_pass, plan_body, uvicorn_workers


@pytest.fixture
def other_app(world: World, settings: Settings) -> Iterator[FastAPI]:
    """A second app on the database of ``world`` (another process's worth of state)."""
    app = create_app(settings, migrate=False)
    yield app
    app.state.ctx.engine.dispose()


@pytest.fixture
def other(other_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(other_app) as client:
        yield client


@pytest.fixture
def other_url(other_app: FastAPI) -> Iterator[str]:
    """The second app served by uvicorn on a loopback port."""
    with serve(other_app) as url:
        yield url


def _propose(world: World, who: str = "acme") -> dict[str, Any]:
    r = world.client.post("/plans", json=plan_body(hours=8, max_passes=2), headers=world.as_(who))
    assert r.status_code == 201, r.text
    plan: dict[str, Any] = r.json()
    assert len(plan["proposed"]) >= 2
    return plan


def test_plan_proposed_through_one_app_is_committed_through_another(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert r.json()["plan_id"] == plan["id"]
    got = sorted((c["antenna_id"], c["norad_id"]) for c in r.json()["booked"])
    want = sorted((p["antenna_id"], p["norad_id"]) for p in plan["proposed"])
    assert got == want
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "committed"
        assert sorted(row.committed_contact_ids or []) == sorted(
            c["id"] for c in r.json()["booked"]
        )
        tenants = set(s.scalars(select(Contact.tenant)))
    assert tenants == {"acme"}
    # Committing again, through either app, is refused and books nothing more.
    for client in (world.client, other):
        again = client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
        assert again.status_code == 409 and "committed already" in again.json()["detail"]
    page = other.get("/contacts", params={"state": "SCHEDULED"}, headers=world.as_("acme"))
    assert page.json()["count"] == len(plan["proposed"])


def test_plan_of_one_tenant_is_not_found_for_another_through_any_app(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    for who in ("globex", "admin"):
        r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_(who))
        assert r.status_code == 404 and plan["id"] in r.json()["detail"]
    assert other.get("/contacts", headers=world.as_("admin")).json()["count"] == 0


def test_expired_plan_is_not_found_and_books_nothing(world: World, other: TestClient) -> None:
    plan = _propose(world)
    with world.session() as s:
        s.execute(
            update(PlanProposal)
            .where(PlanProposal.id == plan["id"])
            .values(created_at=datetime.now(UTC) - timedelta(hours=1, minutes=1))
        )
        s.commit()
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 404
    assert other.get("/contacts", headers=world.as_("acme")).json()["count"] == 0
    # The next proposal, through the other app, drops the expired one.
    r = other.post("/plans", json=plan_body(hours=8, max_passes=2), headers=world.as_("acme"))
    assert r.status_code == 201
    with world.session() as s:
        assert s.get(PlanProposal, plan["id"]) is None
        assert s.get(PlanProposal, r.json()["id"]) is not None


def test_refused_commit_leaves_the_plan_committable_again(world: World, other: TestClient) -> None:
    plan = _propose(world)
    last = plan["proposed"][-1]
    # Another booking takes the last window (through the other app).
    r = other.post(
        "/contacts",
        json={
            "norad_id": last["norad_id"],
            "antenna_id": last["antenna_id"],
            "profile_id": "leo",
            "start": last["aos"],
            "end": last["los"],
        },
        headers=world.as_("admin"),
    )
    assert r.status_code == 201, r.text
    blocker = r.json()["id"]
    r = other.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 409 and "nothing was booked" in r.json()["detail"]
    with world.session() as s:
        row = s.get(PlanProposal, plan["id"])
        assert row is not None and row.state == "proposed" and row.committed_contact_ids is None
    assert (
        world.client.post(f"/contacts/{blocker}/cancel", headers=world.as_("admin")).status_code
        == 200
    )
    r = world.client.post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert len(r.json()["booked"]) == len(plan["proposed"])


def test_concurrent_commits_of_one_plan_through_two_apps_book_it_once(
    world: World, other: TestClient
) -> None:
    plan = _propose(world)
    # Two per app: one key may run GS_MAX_EXPENSIVE_PER_KEY (2) commits at
    # once per process; a third would be refused with 429 before racing.
    clients = [world.client, other] * 2
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)

    def commit(i: int) -> None:
        barrier.wait()
        results[i] = clients[i].post(f"/plans/{plan['id']}/commit", headers=world.as_("acme"))

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * (len(clients) - 1), [r.text for r in results]
    for r in results:
        if r.status_code == 409:
            assert plan["id"] in r.json()["detail"]
    with world.session() as s:
        contacts = list(s.scalars(select(Contact)))
    assert len(contacts) == len(plan["proposed"])
    assert all(c.state == "SCHEDULED" for c in contacts)


# ---------------------------------------------------------------- events


class Stream:
    """An SSE client in a thread: collects (id, data) of `contact` events."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        want: int,
        idle_timeout_s: float = 20.0,
    ) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.ready = threading.Event()
        self.stopped_at = 0.0
        self._args = (url, headers, want, idle_timeout_s)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "the stream did not connect"

    def _run(self) -> None:
        url, headers, want, idle_timeout_s = self._args
        try:
            with (
                httpx.Client(base_url=url, timeout=idle_timeout_s) as c,
                c.stream("GET", "/contacts/events", headers=headers) as r,
            ):
                assert r.status_code == 200
                event, event_id = "", -1
                for line in r.iter_lines():
                    if line.startswith(": connected"):
                        self.ready.set()
                    elif line.startswith("id:"):
                        event_id = int(line[3:])
                    elif line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event == "contact":
                        self.events.append((event_id, json.loads(line[5:])))
                        if len(self.events) >= want:
                            break
        except httpx.ReadTimeout:
            pass
        finally:
            self.stopped_at = time.monotonic()
            self.ready.set()

    def join(self, timeout_s: float = 30.0) -> list[tuple[int, dict[str, Any]]]:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the stream is still open"
        return self.events


def _history_ids(world: World, contact_id: str) -> list[int]:
    with world.session() as s:
        return list(
            s.scalars(
                select(ContactTransition.id)
                .where(ContactTransition.contact_id == contact_id)
                .order_by(ContactTransition.id)
            )
        )


def _book_and_cancel(world: World, url: str) -> str:
    with httpx.Client(base_url=url, timeout=30) as c:
        r = c.post(
            "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
        )
        assert r.status_code == 201, r.text
        contact_id: str = r.json()["id"]
        r = c.post(f"/contacts/{contact_id}/cancel", headers=world.as_("acme"))
        assert r.status_code == 200, r.text
    return contact_id


def test_booking_and_cancel_through_one_app_stream_to_sse_clients_of_another_with_db_ids(
    world: World, live_url: str, other_url: str
) -> None:
    earlier = _book_and_cancel(world, live_url)  # ids a per-process counter would reuse
    # After the seed's ephemeris events (resource events share the history ids).
    earlier_ids = _history_ids(world, earlier)
    assert len(earlier_ids) == 2 and earlier_ids[1] == earlier_ids[0] + 1
    acme = Stream(other_url, world.as_("acme"), want=2)
    admin = Stream(other_url, world.as_("admin"), want=2)
    globex = Stream(other_url, world.as_("globex"), want=1, idle_timeout_s=4.0)
    contact_id = _book_and_cancel(world, live_url)
    cancelled_at = time.monotonic()
    ids = _history_ids(world, contact_id)
    assert len(ids) == 2 and ids[0] > earlier_ids[1]
    want = [
        (ids[0], (contact_id, "AVAILABLE", "SCHEDULED")),
        (ids[1], (contact_id, "SCHEDULED", "CANCELLED")),
    ]
    for stream in (acme, admin):
        got = [(i, (e["contact_id"], e["old_state"], e["new_state"])) for i, e in stream.join()]
        assert got == want
    # The other tenant's stream stayed open past the cancel and got nothing.
    assert globex.join() == [] and globex.stopped_at > cancelled_at


def test_last_event_id_on_another_app_resumes_after_that_event_only(
    world: World, live_url: str, other_url: str
) -> None:
    first = _book_and_cancel(world, live_url)
    ids = _history_ids(world, first)
    # Resume after the booking of the first contact: its cancel, then what comes live.
    resumed = Stream(other_url, {**world.as_("acme"), "Last-Event-ID": str(ids[0])}, want=3)
    second = _book_and_cancel(world, live_url)
    later = _history_ids(world, second)
    got = [(i, e["contact_id"], e["new_state"]) for i, e in resumed.join()]
    assert got == [
        (ids[1], first, "CANCELLED"),
        (later[0], second, "SCHEDULED"),
        (later[1], second, "CANCELLED"),
    ]
    # Resuming after the last event there is (or any larger id) gives nothing
    # old; a new event still comes.
    latest = Stream(other_url, {**world.as_("acme"), "Last-Event-ID": str(later[1])}, want=1)
    beyond = Stream(other_url, {**world.as_("acme"), "Last-Event-ID": "9" * 20}, want=1)
    third = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    ).json()["id"]
    for stream in (latest, beyond):
        [(event_id, event)] = stream.join()
        assert event["contact_id"] == third and event_id == _history_ids(world, third)[0]


def test_a_change_committed_without_any_app_reaches_the_stream(
    world: World, other_url: str
) -> None:
    """A lifecycle (or CLI) in another process publishes to no hub of this one."""
    from groundstation import booking

    acme = Stream(other_url, world.as_("acme"), want=1)
    p = first_free_pass(world)
    with world.session() as s:
        contact = booking.reserve(
            s,
            norad_id=NOAA19,
            antenna_id="sv-uhf",
            profile_id="leo",
            start=datetime.fromisoformat(p["aos"]),
            end=datetime.fromisoformat(p["los"]),
            tenant="acme",
            now=NOW,
        )
    [(event_id, event)] = acme.join()
    assert (event["contact_id"], event["new_state"]) == (contact.id, "SCHEDULED")
    assert event_id == _history_ids(world, contact.id)[0]


def _shifted(text: str, norad_id: int, mean_anomaly_shift_deg: float) -> str:
    """The sample element set of ``norad_id`` with its mean anomaly moved."""
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(f"2 {norad_id}"))
    line2 = lines[k]
    mean_anomaly = (float(line2[43:51]) + mean_anomaly_shift_deg) % 360.0
    line2 = f"{line2[:43]}{mean_anomaly:8.4f}{line2[51:68]}"
    total = sum(int(ch) if ch.isdigit() else (1 if ch == "-" else 0) for ch in line2)
    return f"{lines[k - 2]}\n{lines[k - 1]}\n{line2}{total % 10}\n"


def test_window_moved_by_a_new_ephemeris_is_in_the_history_and_on_the_stream(
    world: World, live_url: str, other_url: str
) -> None:
    booked = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    ).json()
    acme = Stream(other_url, world.as_("acme"), want=1)
    r = httpx.post(
        f"{live_url}/satellites/{NOAA19}/ephemerides?priority=1",
        content=_shifted(TLE.read_text(), NOAA19, 2.0),
        headers={**world.as_("acme"), "Content-Type": "text/plain"},
        timeout=30,
    )
    assert r.status_code == 201 and len(r.json()["accepted"]) == 1, r.text
    [(event_id, event)] = acme.join()
    assert (event["contact_id"], event["old_state"], event["new_state"]) == (
        booked["id"],
        "SCHEDULED",
        "SCHEDULED",
    )
    assert "window moved" in event["reason"]
    history = world.client.get(f"/contacts/{booked['id']}", headers=world.as_("acme")).json()
    assert [(h["old_state"], h["new_state"]) for h in history["history"]] == [
        ("AVAILABLE", "SCHEDULED"),
        ("SCHEDULED", "SCHEDULED"),
    ]
    assert event_id == _history_ids(world, booked["id"])[1]


def test_event_poller_runs_only_while_someone_listens_and_stops_at_shutdown(
    world: World, settings: Settings
) -> None:
    app = create_app(settings, migrate=False)
    hub = app.state.ctx.events
    with TestClient(app):
        assert not hub.polling
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        stream = Stream(url, world.as_("acme"), want=1)
        assert hub.polling and hub.subscriber_count == 1
        world.client.post(
            "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
        )
        assert len(stream.join()) == 1
        deadline = time.monotonic() + 10
        while hub.polling or hub.subscriber_count:
            assert time.monotonic() < deadline, "the poller outlived its last subscriber"
            time.sleep(0.05)
        server.should_exit = True
        thread.join(timeout=10)
        # A subscriber that never went away (e.g. a response never started)
        # keeps the poller running until the app shuts down.
        loop = asyncio.new_event_loop()
        hub.subscribe(loop)
        assert hub.polling
    loop.close()
    app.state.ctx.engine.dispose()
    assert not hub.polling
    assert not [t for t in threading.enumerate() if t.name == "contact-events-poller"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_event_log_on_postgres_waits_for_an_older_open_transaction_and_skips_nothing(
    world: World,
) -> None:
    """A transaction that took its row id first but commits last: reading by
    id alone would pass its row for good; the log holds younger rows until
    it ends, then yields both in commit-safe order."""
    from groundstation import event_log

    contact_id = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    ).json()["id"]
    with world.session() as s:
        start = event_log.head(s)

    def row(reason: str) -> ContactTransition:
        return ContactTransition(
            contact_id=contact_id,
            old_state="SCHEDULED",
            new_state="SCHEDULED",
            at=NOW,
            reason=reason,
        )

    older, younger, reader = world.session(), world.session(), world.session()
    try:
        first = row("older transaction")
        older.add(first)
        older.flush()  # takes its id and transaction id, not committed yet
        second = row("younger transaction")
        younger.add(second)
        younger.commit()
        assert second.id > first.id
        assert event_log.events_after(reader, start) == []
        older.commit()
        # (Write transactions of other databases on the server hold it too.)
        deadline = time.monotonic() + 20
        while not (got := event_log.events_after(reader, start)):
            assert time.monotonic() < deadline, "rows of committed transactions never came"
            time.sleep(0.1)
        assert [(e.id, e.event.reason, e.tenant) for e in got] == [
            (first.id, "older transaction", "acme"),
            (second.id, "younger transaction", "acme"),
        ]
        assert event_log.position_of(reader, event_id=second.id) == got[1].position
        assert event_log.events_after(reader, got[0].position) == got[1:]
        assert event_log.head(reader) == got[1].position
        # Transaction ids grow past 32 bits on a long-lived server.
        assert event_log.events_after(reader, (2**40, 0)) == []
    finally:
        for s in (older, younger, reader):
            s.close()


@pytest.fixture
def workers_url(world: World, settings: Settings) -> Iterator[str]:
    """The API as deployed: ``uvicorn --factory api.app:app_from_env --workers 2``."""
    with uvicorn_workers(settings) as run:
        yield run.url


def test_two_uvicorn_workers_share_plans_and_contact_events(world: World, workers_url: str) -> None:
    """Each request on a new connection lands on either worker."""
    stream = Stream(workers_url, world.as_("acme"), want=8)
    booked = []
    for skip in range(4):
        p = first_free_pass(world, skip=skip)
        r = httpx.post(
            f"{workers_url}/contacts", json=contact_body(p), headers=world.as_("acme"), timeout=30
        )
        assert r.status_code == 201, r.text
        booked.append(r.json()["id"])
    for contact_id in booked:
        r = httpx.post(
            f"{workers_url}/contacts/{contact_id}/cancel", headers=world.as_("acme"), timeout=30
        )
        assert r.status_code == 200, r.text
    got = [(e["contact_id"], e["new_state"]) for _, e in stream.join()]
    assert sorted(got) == sorted(
        [(c, "SCHEDULED") for c in booked] + [(c, "CANCELLED") for c in booked]
    )
    for _ in range(3):
        r = httpx.post(
            f"{workers_url}/plans",
            json=plan_body(hours=8, max_passes=2, antenna_ids=["sv-uhf-2"]),
            headers=world.as_("acme"),
            timeout=60,
        )
        assert r.status_code == 201, r.text
        plan = r.json()
        r = httpx.post(
            f"{workers_url}/plans/{plan['id']}/commit", headers=world.as_("acme"), timeout=60
        )
        assert r.status_code == 200, r.text
        r = httpx.post(
            f"{workers_url}/plans/{plan['id']}/commit", headers=world.as_("acme"), timeout=60
        )
        assert r.status_code == 409, r.text
