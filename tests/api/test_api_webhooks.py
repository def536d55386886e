"""Outbound webhooks (issue 15): endpoints registered over the API receive
every contact event of their tenant, signed (checked with the snippet of
api/README.md), retried with exponential backoff, logged, kept across a
restart; another tenant sees none of them; bad input is refused naming it.

The receiver is a real HTTP server on a loopback port (``http.server`` in a
thread). Deliveries are driven by ``WebhookWorker.run_once`` with a test
wall clock (so backoff is checked to the second, on any load), and once by
the worker's own thread with the real clock."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from api.app import create_app
from groundstation import event_log
from groundstation.db import make_session_factory
from groundstation.models import ContactTransition, WebhookRelay
from groundstation.settings import Settings
from groundstation.webhooks import (
    EVENT_TYPES,
    RELAY,
    DeliveryConfig,
    WebhookWorker,
    event_type,
    post_json,
    relay,
)
from tests.support.webhooks import Receiver, readme_verify

from .conftest import NOAA19, NOW, World
from .helpers import contact_body, first_free_pass, sse_contact_events

SECRET = "s3cret-for-the-tests-0123456789"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET).start()
    yield r
    r.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The API tests' settings, with endpoints on loopback allowed."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=1.0,
        webhook_allow_private=True,
    )


class WallClock:
    """A test wall clock: starts at the real now (signatures stay within the
    receiver's tolerance), moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


CONFIG = DeliveryConfig(
    timeout_s=2.0, max_attempts=4, backoff_s=10.0, backoff_max_s=25.0, allow_private=True
)


def _relay_everything(engine: Engine, clock: WallClock) -> None:
    """Relay until every contact event committed so far is relayed. On
    PostgreSQL an event is read once every older transaction on the server
    has ended (``event_log``): other tests' transactions may delay it."""
    factory = make_session_factory(engine)
    deadline = time.monotonic() + 60
    while True:
        relay(factory, now=clock())
        with factory() as session:
            last = session.scalar(select(func.max(ContactTransition.id))) or 0
            cursor = session.get(WebhookRelay, RELAY)
            if cursor is not None and cursor.event_id >= last:
                return
        assert time.monotonic() < deadline, f"event {last} not relayed within 60 s"
        time.sleep(0.05)


def _worker(world: World, clock: WallClock, config: DeliveryConfig = CONFIG) -> WebhookWorker:
    """A worker driven by the test (`_settle`), without its own thread, once
    the events committed so far are relayed."""
    _relay_everything(world.engine, clock)
    return WebhookWorker(make_session_factory(world.engine), config, wall_now=clock)


def _settle(worker: WebhookWorker, rounds: int = 1) -> None:
    """Run ``rounds`` rounds, each waiting for the POSTs it started."""
    for _ in range(rounds):
        worker.run_once()
        deadline = time.monotonic() + 30
        while worker._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not worker._in_flight, "a delivery did not finish within 30 s"


def _register(world: World, who: str = "acme", **body: Any) -> dict[str, Any]:
    r = world.client.post("/webhooks", json=body, headers=world.as_(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _deliveries(world: World, hook_id: str, who: str = "acme") -> list[dict[str, Any]]:
    r = world.client.get(f"/webhooks/{hook_id}/deliveries", headers=world.as_(who))
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def _book(world: World, skip: int = 0) -> str:
    r = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world, skip=skip)), headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _cancel(world: World, contact_id: str) -> None:
    r = world.client.post(f"/contacts/{contact_id}/cancel", headers=world.as_("acme"))
    assert r.status_code == 200, r.text


# ------------------------------------------------------------ delivery


def test_each_contact_event_is_posted_signed_with_the_fields_of_the_sse_stream(
    world: World, receiver: Receiver, live_url: str
) -> None:
    hook = _register(world, url=receiver.url, secret=SECRET, description="ops")
    assert hook["secret"] == SECRET and hook["event_types"] == []
    contact_id = _book(world)
    _cancel(world, contact_id)
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()

    assert [r.signature_ok for r in receiver.received] == [True, True]
    receiver.received.sort(key=lambda r: json.loads(r.body)["id"])  # sent concurrently
    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["contact.booked", "contact.cancelled"]
    assert {b["tenant"] for b in bodies} == {"acme"}
    sse = sse_contact_events(live_url, world.as_("acme"), 2)
    assert [b["data"] for b in bodies] == sse
    first = receiver.received[0].headers
    assert first["X-Groundstation-Event"] == "contact.booked"
    assert first["X-Groundstation-Attempt"] == "1"
    assert int(first["X-Groundstation-Event-Id"]) == bodies[0]["id"]
    log = _deliveries(world, hook["id"])
    assert [(d["event_type"], d["state"], d["attempts"]) for d in log] == [
        ("contact.cancelled", "delivered", 1),
        ("contact.booked", "delivered", 1),
    ]
    assert log[1]["id"] == first["X-Groundstation-Delivery"]
    assert log[1]["attempt_log"][0]["status_code"] == 200
    assert log[1]["payload"] == bodies[0]


def test_a_tampered_body_or_another_secret_fails_the_documented_check() -> None:
    from groundstation.webhooks import signature

    verify = readme_verify()
    body = b'{"id":1}'
    header = signature(SECRET, body, int(time.time()))
    assert verify(SECRET, header, body)
    assert not verify(SECRET, header, b'{"id":2}')
    assert not verify("another-secret-of-16+", header, body)
    assert not verify(SECRET, signature(SECRET, body, int(time.time()) - 3600), body)
    assert not verify(SECRET, "garbage", body)


def test_only_the_event_types_asked_for_are_delivered(world: World, receiver: Receiver) -> None:
    hook = _register(world, url=receiver.url, secret=SECRET, event_types=["contact.cancelled"])
    _cancel(world, _book(world))
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()
    assert [b["type"] for b in receiver.bodies()] == ["contact.cancelled"]
    assert [d["event_type"] for d in _deliveries(world, hook["id"])] == ["contact.cancelled"]


def test_events_before_an_endpoint_was_registered_are_not_sent_to_it(
    world: World, receiver: Receiver
) -> None:
    _book(world)
    hook = _register(world, url=receiver.url, secret=SECRET)
    later = _book(world, skip=1)
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()
    assert [b["data"]["contact_id"] for b in receiver.bodies()] == [later]
    assert len(_deliveries(world, hook["id"])) == 1


def test_a_failing_receiver_is_retried_with_exponential_backoff_until_it_answers(
    world: World, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    hook = _register(world, url=receiver.url, secret=SECRET)
    _book(world)
    clock = WallClock()
    worker = _worker(world, clock)
    try:
        _settle(worker)  # attempt 1: 500
        [d] = _deliveries(world, hook["id"])
        assert (d["state"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
        assert "HTTP 500" in d["last_error"]
        due = datetime.fromisoformat(d["next_attempt_at"])
        assert due == clock.now + timedelta(seconds=10)  # backoff_s
        clock.advance(9.5)
        _settle(worker)
        assert len(receiver.received) == 1  # not due yet
        clock.advance(0.5)
        _settle(worker)  # attempt 2: 503, then twice the wait
        [d] = _deliveries(world, hook["id"])
        assert (d["attempts"], d["last_status_code"]) == (2, 503)
        assert datetime.fromisoformat(d["next_attempt_at"]) == clock.now + timedelta(seconds=20)
        clock.advance(19)
        _settle(worker)
        assert len(receiver.received) == 2
        clock.advance(1)
        _settle(worker)  # attempt 3: 200
    finally:
        worker.stop()
    [d] = _deliveries(world, hook["id"])
    assert (d["state"], d["attempts"], d["last_status_code"], d["last_error"]) == (
        "delivered",
        3,
        200,
        "",
    )
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 503, 200]
    assert [r.headers["X-Groundstation-Attempt"] for r in receiver.received] == ["1", "2", "3"]
    assert len({r.headers["X-Groundstation-Delivery"] for r in receiver.received}) == 1
    assert all(r.signature_ok for r in receiver.received)


def test_a_delivery_that_never_succeeds_ends_failed_after_the_last_attempt(
    world: World, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 10
    hook = _register(world, url=receiver.url, secret=SECRET)
    _book(world)
    clock = WallClock()
    worker = _worker(world, clock)
    try:
        for _ in range(6):
            _settle(worker)
            clock.advance(CONFIG.backoff_max_s)
    finally:
        worker.stop()
    [d] = _deliveries(world, hook["id"])
    assert (d["state"], d["attempts"], d["next_attempt_at"]) == ("failed", 4, None)
    assert len(receiver.received) == CONFIG.max_attempts
    waits = [
        datetime.fromisoformat(b["at"]) - datetime.fromisoformat(a["at"])
        for a, b in zip(d["attempt_log"], d["attempt_log"][1:], strict=False)
    ]
    assert waits == [timedelta(seconds=25)] * 3  # each round advanced by the capped backoff
    r = world.client.get(
        f"/webhooks/{hook['id']}/deliveries", params={"state": "failed"}, headers=world.as_("acme")
    )
    assert r.json()["count"] == 1


def test_no_answer_within_the_timeout_is_a_failed_attempt_and_does_not_hold_the_worker(
    world: World, receiver: Receiver
) -> None:
    receiver.delay_s = 3.0
    hook = _register(world, url=receiver.url, secret=SECRET)
    _book(world)
    worker = _worker(
        world, WallClock(), DeliveryConfig(timeout_s=0.5, backoff_s=10, allow_private=True)
    )
    # The POST is held until run_once has returned: had run_once waited for
    # it, the hold would end unreleased (False), however loaded the machine.
    released = threading.Event()
    held: list[bool] = []

    def held_post(*args: Any, **kwargs: Any) -> Any:
        held.append(released.wait(30))
        return post_json(*args, **kwargs)

    worker._post = held_post
    try:
        assert worker.run_once() == 1
        released.set()
        _settle(worker, rounds=1)
    finally:
        released.set()
        worker.stop()
    assert held == [True]  # started, not waited for
    [d] = _deliveries(world, hook["id"])
    assert (d["state"], d["attempts"], d["last_status_code"]) == ("pending", 1, None)
    assert "no answer within 0.5 s" in d["last_error"]


def test_a_refused_connection_and_a_redirect_are_failed_attempts(
    world: World, receiver: Receiver
) -> None:
    closed = Receiver(SECRET).start()
    closed.stop()  # nothing listens on its port any more
    gone = _register(world, url=closed.url, secret=SECRET)
    receiver.statuses = [307]
    moved = _register(world, url=receiver.url, secret=SECRET)
    _book(world)
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()
    [d] = _deliveries(world, gone["id"])
    assert d["last_status_code"] is None and "Connection refused" in d["last_error"]
    [d] = _deliveries(world, moved["id"])
    assert d["state"] == "pending" and d["last_status_code"] == 307


def test_deliveries_survive_a_restart_and_events_made_while_no_worker_ran_are_sent(
    world: World, settings: Settings
) -> None:
    down = Receiver(SECRET).start()
    port = int(down.url.split(":")[2].split("/")[0])
    down.stop()
    hook = _register(world, url=down.url, secret=SECRET)
    first = _book(world)
    clock = WallClock()
    worker = _worker(world, clock)
    try:
        _settle(worker)  # the receiver is down: attempt 1 fails
    finally:
        worker.stop()
    [d] = _deliveries(world, hook["id"])
    assert (d["state"], d["attempts"]) == ("pending", 1)
    second = _book(world, skip=1)  # while no worker runs
    world.engine.dispose()

    # A new process: its own app, engine and worker; only the database is shared.
    app = create_app(settings)
    up = Receiver(SECRET).start(port=port)
    _relay_everything(app.state.ctx.engine, clock)
    worker = WebhookWorker(make_session_factory(app.state.ctx.engine), CONFIG, wall_now=clock)
    try:
        clock.advance(CONFIG.backoff_s)
        _settle(worker)
    finally:
        worker.stop()
        up.stop()
        app.state.ctx.engine.dispose()
    assert sorted(b["data"]["contact_id"] for b in up.bodies()) == sorted([first, second])
    assert all(r.signature_ok for r in up.received)
    log = _deliveries(world, hook["id"])
    assert sorted((d["state"], d["attempts"]) for d in log) == [("delivered", 1), ("delivered", 2)]


def test_the_worker_thread_delivers_on_its_own_with_the_real_clock(
    world: World, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    hook = _register(world, url=receiver.url, secret=SECRET)
    worker = WebhookWorker(
        make_session_factory(world.engine),
        DeliveryConfig(timeout_s=5, backoff_s=0.2, poll_s=0.1, allow_private=True),
    ).start()
    try:
        _book(world)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(receiver.received) == 2
    [d] = _deliveries(world, hook["id"])
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 200]


def test_two_workers_on_one_database_send_each_delivery_once(
    world: World, receiver: Receiver
) -> None:
    hook = _register(world, url=receiver.url, secret=SECRET)
    for skip in range(3):
        _cancel(world, _book(world, skip=skip))  # 6 events
    clock = WallClock()
    first, second = _worker(world, clock), _worker(world, clock)
    rounds = [threading.Thread(target=_settle, args=(w,)) for w in (first, second)]
    for t in rounds:
        t.start()
    for t in rounds:
        t.join(60)
    _settle(first)
    _settle(second)
    first.stop()
    second.stop()
    sent = [r.headers["X-Groundstation-Delivery"] for r in receiver.received]
    assert len(sent) == 6 and len(set(sent)) == 6
    log = _deliveries(world, hook["id"])
    assert [(d["state"], d["attempts"]) for d in log] == [("delivered", 1)] * 6


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("webhook_max_attempts", 0),
        ("webhook_concurrency", 101),
        ("webhook_timeout_s", 0),
        ("webhook_backoff_s", -1),
        ("webhook_backoff_max_s", 100_000.0),
        ("webhook_poll_s", 0),
    ],
)
def test_a_bad_webhook_setting_is_refused_naming_it(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{name} must be .*got {value}"):
        Settings(**{name: value})  # type: ignore[arg-type]


# ------------------------------------------------------------ tenants


def test_a_tenant_sees_and_receives_only_its_own_hooks_and_deliveries(
    world: World, receiver: Receiver
) -> None:
    other = Receiver(SECRET).start()
    try:
        mine = _register(world, url=receiver.url, secret=SECRET)
        theirs = _register(world, "globex", url=other.url, secret=SECRET)
        _book(world)  # an acme contact
        worker = _worker(world, WallClock())
        try:
            _settle(worker)
        finally:
            worker.stop()
        assert len(receiver.received) == 1 and other.received == []
    finally:
        other.stop()
    g = world.as_("globex")
    listed = world.client.get("/webhooks", headers=g).json()
    assert [h["id"] for h in listed["data"]] == [theirs["id"]]
    for method, path in (
        ("GET", f"/webhooks/{mine['id']}"),
        ("GET", f"/webhooks/{mine['id']}/deliveries"),
        ("DELETE", f"/webhooks/{mine['id']}"),
    ):
        r = world.client.request(method, path, headers=g)
        assert r.status_code == 404, (method, path, r.text)
        assert SECRET not in r.text and receiver.url not in r.text
    assert _deliveries(world, theirs["id"], "globex") == []
    assert len(_deliveries(world, mine["id"])) == 1  # not deleted by globex
    admin = world.client.get("/webhooks", headers=world.as_("admin")).json()
    assert {h["tenant"] for h in admin["data"]} == {"acme", "globex"}
    r = world.client.get(f"/webhooks/{mine['id']}", headers=world.as_("acme"))
    assert r.status_code == 200 and "secret" not in r.json()


def test_deleting_a_hook_removes_its_log_and_stops_its_deliveries(
    world: World, receiver: Receiver
) -> None:
    hook = _register(world, url=receiver.url, secret=SECRET)
    _book(world)
    r = world.client.delete(f"/webhooks/{hook['id']}", headers=world.as_("acme"))
    assert r.status_code == 204
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()
    assert receiver.received == []
    r = world.client.get(f"/webhooks/{hook['id']}/deliveries", headers=world.as_("acme"))
    assert r.status_code == 404


def test_scientists_may_not_use_webhooks_and_admins_name_the_tenant(world: World) -> None:
    body = {"url": "https://hooks.example.org/x"}
    r = world.client.post("/webhooks", json=body, headers=world.as_("scientist"))
    assert r.status_code == 403
    r = world.client.get("/webhooks", headers=world.as_("scientist"))
    assert r.status_code == 403
    r = world.client.post("/webhooks", json=body, headers=world.as_("admin"))
    assert r.status_code == 422 and "tenant" in r.json()["detail"]
    r = world.client.post(
        "/webhooks", json={**body, "tenant": "globex"}, headers=world.as_("admin")
    )
    assert r.status_code == 201 and r.json()["tenant"] == "globex"
    assert r.json()["secret"].startswith("whsec_") and len(r.json()["secret"]) > 40
    r = world.client.post("/webhooks", json={**body, "tenant": "globex"}, headers=world.as_("acme"))
    assert r.status_code == 403 and "'globex'" in r.json()["detail"]


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"url": "ftp://hooks.example.org/x"}, "'ftp'"),
        ({"url": "https:///x"}, "has no host"),
        ({"url": "not a url"}, "'not a url'"),
        ({"url": "https://user:pw@hooks.example.org/x"}, "user or password"),
        ({"url": "https://hooks.example.org:99999/x"}, "does not parse"),
        ({"url": 12345}, "url"),
        ({"url": "https://hooks.example.org/x", "event_types": ["contact.exploded"]}, "exploded"),
        ({"url": "https://hooks.example.org/x", "secret": "short"}, "secret"),
        ({"url": "https://hooks.example.org/x", "secret": "a" * 15 + " b"}, "spaces"),
        ({"url": "https://hooks.example.org/x", "evnt_types": []}, "evnt_types"),
        ({"url": "https://hooks.example.org/x", "description": 7}, "description"),
        ({"url": "https://hooks.example.org/" + "x" * 2100}, "url"),
    ],
)
def test_a_bad_registration_is_refused_naming_the_value(
    world: World, body: dict[str, Any], named: str
) -> None:
    r = world.client.post("/webhooks", json=body, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert named in r.text
    assert world.client.get("/webhooks", headers=world.as_("acme")).json()["count"] == 0


def test_endpoints_on_private_addresses_are_refused_unless_allowed(
    world: World, settings: Settings
) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with TestClient(create_app(strict, migrate=False)) as client:
        for url in (
            "http://127.0.0.1:8000/x",
            "http://localhost/x",
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/x",
        ):
            r = client.post("/webhooks", json={"url": url}, headers=world.as_("acme"))
            assert r.status_code == 422, url
            assert repr(url) in r.json()["detail"]
        r = client.post(
            "/webhooks", json={"url": "https://hooks.example.org/x"}, headers=world.as_("acme")
        )
        assert r.status_code == 201


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery(world: World) -> None:
    outcome = post_json("http://localhost:9/x", b"{}", {}, timeout_s=1, allow_private=False)
    assert outcome.status_code is None and "resolves to" in outcome.error


def test_unknown_webhook_ids_answer_404_naming_them(world: World) -> None:
    r = world.client.get("/webhooks/nope", headers=world.as_("acme"))
    assert r.status_code == 404 and "'nope'" in r.json()["detail"]
    r = world.client.get(
        "/webhooks/nope/deliveries", params={"state": "lost"}, headers=world.as_("acme")
    )
    assert r.status_code == 422 and "lost" in r.text


# ------------------------------------------------------------ types


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("AVAILABLE", "SCHEDULED", "contact.booked"),
        ("SCHEDULED", "SCHEDULED", "contact.updated"),
        ("SCHEDULED", "CANCELLED", "contact.cancelled"),
        ("CANCELLING", "CANCELLED", "contact.cancelled"),
        ("POSTPASS", "COMPLETED", "contact.completed"),
        ("PASS", "FAILED", "contact.failed"),
        ("SCHEDULED", "PROVIDER_FAILED", "contact.failed"),
        ("SCHEDULED", "PREPASS", "contact.state_changed"),
        ("PASS", "CANCELLING", "contact.state_changed"),
    ],
)
def test_each_change_has_its_event_type(old: str, new: str, kind: str) -> None:
    assert event_type(old, new) == kind
    assert kind in EVENT_TYPES


def test_ephemeris_and_station_status_events_are_posted_with_the_fields_of_the_sse_stream(
    world: World, receiver: Receiver
) -> None:
    acme = _register(world, url=receiver.url, secret=SECRET)
    r = world.client.patch(
        "/ground-stations/svalbard/antennas/sv-uhf-2",
        json={"status": "offline"},
        headers=world.as_("admin"),
    )
    assert r.status_code == 200, r.text
    r = world.client.get(f"/satellites/{NOAA19}/ephemerides", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    ephemeris_id = r.json()["data"][0]["id"]
    r = world.client.patch(
        f"/satellites/{NOAA19}/ephemerides/{ephemeris_id}",
        json={"enabled": False},
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    worker = _worker(world, WallClock())
    try:
        _settle(worker)
    finally:
        worker.stop()

    assert all(r.signature_ok for r in receiver.received)
    receiver.received.sort(key=lambda r: json.loads(r.body)["id"])
    bodies = receiver.bodies()
    assert [b["type"] for b in bodies] == ["station.status", "ephemeris.status"]
    assert {b["tenant"] for b in bodies} == {"acme"}
    station, ephemeris = (b["data"] for b in bodies)
    assert (station["kind"], station["subject_id"], station["new_status"]) == (
        "antenna",
        "sv-uhf-2",
        "offline",
    )
    assert (ephemeris["norad_id"], ephemeris["new_status"], ephemeris["in_force"]) == (
        NOAA19,
        "DISABLED",
        False,
    )
    # The SSE stream's data for the same event ids.
    with world.session() as s:
        logged = event_log.events_after(s, event_log.START, limit=100_000)
    by_id = {e.id: e for e in logged}
    for b in bodies:
        e = by_id[b["id"]]
        _, message = event_log.event_message(e.event, e.norad_id, e.station, e.antenna)
        assert b["data"] == message.to_json()
    assert [d["event_type"] for d in _deliveries(world, acme["id"])] == [
        "ephemeris.status",
        "station.status",
    ]
