"""Resource events (issue 15): an ephemeris's and an antenna's status
changes reach the SSE stream in the one event history, in order with the
contact events, and resume with ``Last-Event-ID`` (SQLite and PostgreSQL);
the Kafka ``contact-events`` topic carries them with the same fields."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from groundstation import agents, apikeys, ephemerides, event_log
from groundstation.db import make_session_factory
from groundstation.models import ContactTransition, Ephemeris, Satellite
from ingest.topics import (
    CONTACT_EVENT_SCHEMA_ID,
    RESOURCE_EVENT_SCHEMA_ID,
    ContactEventMessage,
    ResourceEventMessage,
)

from .conftest import NOAA18, NOAA19, NOW, KafkaWorld, World
from .helpers import contact_body, first_free_pass, sse_events

KINDS = ("contact", "resource")  # the SSE events these tests read


def _ephemeris_id(world_engine: Any, norad_id: int) -> int:
    with make_session_factory(world_engine)() as s:
        found = s.scalar(select(Ephemeris.id).join(Satellite).where(Satellite.norad_id == norad_id))
        assert found is not None
        return int(found)


def _operate(client: TestClient | httpx.Client, world: World) -> str:
    """Book a contact on sv-uhf, take the antenna to maintenance (failing the
    contact), disable NOAA 19's ephemeris; the contact's id."""
    r = client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text
    contact_id = str(r.json()["id"])
    r = client.patch(
        "/ground-stations/svalbard/antennas/sv-uhf",
        json={"status": "maintenance"},
        headers=world.as_("admin"),
    )
    assert r.status_code == 200, r.text
    eph = _ephemeris_id(world.engine, NOAA19)
    r = client.patch(
        f"/satellites/{NOAA19}/ephemerides/{eph}",
        json={"enabled": False},
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    return contact_id


def _all_readable(sessions: Any) -> list[event_log.LoggedEvent]:
    """Every logged event, once the last one is readable: on PostgreSQL a row
    is read once every older transaction on the server has ended (other
    tests' transactions may delay it, ``event_log``)."""
    deadline = time.monotonic() + 60
    while True:
        with sessions() as session:
            last = session.scalar(select(func.max(ContactTransition.id)))
            logged = event_log.events_after(session, event_log.START, limit=100_000)
        if logged and logged[-1].id == last:
            return logged
        assert time.monotonic() < deadline, f"event {last} not readable within 60 s"
        time.sleep(0.05)


def _summary(name: str, data: dict[str, Any]) -> tuple[Any, ...]:
    if name == "contact":
        return ("contact", data["old_state"], data["new_state"])
    return (data["kind"], data["subject_id"], data["old_status"], data["new_status"])


def test_resource_events_reach_the_sse_stream_in_order_with_contact_events_and_resume(
    world: World, live_url: str
) -> None:
    _operate(world.client, world)
    noaa19, noaa18 = _ephemeris_id(world.engine, NOAA19), _ephemeris_id(world.engine, NOAA18)
    events = sse_events(live_url, world.as_("acme"), 6, kinds=KINDS)
    assert [_summary(n, d) for _, n, d in events] == [
        ("ephemeris", str(noaa18), "NONE", "ENABLED"),  # the seed's upload (file order)
        ("ephemeris", str(noaa19), "NONE", "ENABLED"),
        ("contact", "AVAILABLE", "SCHEDULED"),
        ("antenna", "sv-uhf", "online", "maintenance"),
        ("contact", "SCHEDULED", "PROVIDER_FAILED"),
        ("ephemeris", str(noaa19), "ENABLED", "DISABLED"),
    ]
    ids = [i for i, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    antenna = events[3][2]
    assert antenna["schema"] == RESOURCE_EVENT_SCHEMA_ID
    assert (antenna["station"], antenna["antenna"]) == ("svalbard", "sv-uhf")
    assert "maintenance" in antenna["reason"] and "key admin" in antenna["reason"]
    disabled = events[5][2]
    assert (disabled["norad_id"], disabled["in_force"]) == (NOAA19, False)
    assert events[0][2]["in_force"] is True
    # The data is the topic's message, field for field.
    for _, name, data in events:
        cls = ContactEventMessage if name == "contact" else ResourceEventMessage
        assert cls.decode(json.dumps(data).encode()).to_json() == data
    assert events[2][2]["schema"] == CONTACT_EVENT_SCHEMA_ID
    # Resuming after the booking gives the rest, across kinds, none twice.
    resumed = sse_events(live_url, world.as_("acme"), 3, last_event_id=ids[2], kinds=KINDS)
    assert resumed == events[3:]


def test_a_tenant_sees_station_events_and_its_own_ephemeris_events_only(
    world: World, live_url: str
) -> None:
    _operate(world.client, world)
    events = sse_events(live_url, world.as_("globex"), 2, kinds=KINDS)
    funcube = events[0][2]
    assert (funcube["kind"], funcube["norad_id"]) == ("ephemeris", 39444)
    assert _summary(*events[1][1:]) == ("antenna", "sv-uhf", "online", "maintenance")
    admin = sse_events(live_url, world.as_("admin"), 7, kinds=KINDS)
    norads = [int(d["norad_id"]) for _, _, d in admin if d.get("kind") == "ephemeris"]
    assert sorted(norads[:3]) == sorted([NOAA19, NOAA18, 39444]) and norads[3] == NOAA19


def test_resource_events_reach_the_kafka_contact_events_topic_with_the_sse_fields(
    kafka_world: KafkaWorld,
) -> None:
    world = kafka_world.world
    sessions = make_session_factory(world.engine)
    with sessions() as session:
        seeded = session.scalar(select(func.max(ContactTransition.id))) or 0
    _operate(world.client, world)
    logged = _all_readable(sessions)
    # What the SSE stream renders for the same rows.
    expected = [
        event_log.event_message(e.event, e.norad_id, e.station, e.antenna)[1].to_json()
        for e in logged
        if e.id > seeded
    ]
    got = [
        (rec.key, json.loads(rec.value)) for rec in kafka_world.contact_event_records(len(expected))
    ]
    # Kafka orders per key (partition), not across keys: the same messages.
    assert sorted(json.dumps(v) for _, v in got) == sorted(json.dumps(v) for v in expected)
    resource = [(k, v) for k, v in got if v["schema"] == RESOURCE_EVENT_SCHEMA_ID]
    resource.sort(key=lambda kv: kv[1]["kind"])
    assert [k for k, _ in resource] == [
        b"antenna:sv-uhf",
        f"ephemeris:{resource[1][1]['subject_id']}".encode(),
    ]
    for _, v in resource:
        assert ResourceEventMessage.decode(json.dumps(v).encode()).to_json() == v


def _heartbeat(world: World) -> None:
    r = world.client.post(
        "/ground-stations/svalbard/agent/heartbeat",
        json={"software_version": "test", "front_end": "simulated", "status": {}},
        headers=world.as_("station"),
    )
    assert r.status_code == 200, r.text


def test_a_station_agent_going_online_and_offline_is_announced_once_each(
    world: World, live_url: str
) -> None:
    with world.session() as s:
        _, world.keys["station"] = apikeys.create_key(
            s, name="svalbard agent", role="station", station_id="svalbard", now=NOW
        )
    _heartbeat(world)
    _heartbeat(world)  # still online: nothing new
    sessions = make_session_factory(world.engine)
    late = world.app.state.ctx.clock.now() + timedelta(seconds=120)
    # Silent for longer than GS_AGENT_OFFLINE_AFTER_S: offline, once.
    first = agents.announce_offline(sessions, now=late, offline_after_s=30.0)
    again = agents.announce_offline(sessions, now=late, offline_after_s=30.0)
    assert [(e.subject_id, e.new_status) for e in first] == [("svalbard", "offline")]
    assert again == []
    _heartbeat(world)  # back
    events = sse_events(live_url, world.as_("globex"), 4, kinds=KINDS)
    stations = [(d["subject_id"], d["old_status"], d["new_status"]) for _, _, d in events[1:]]
    assert stations == [
        ("svalbard", "offline", "online"),
        ("svalbard", "online", "offline"),
        ("svalbard", "offline", "online"),
    ]
    assert {d["kind"] for _, _, d in events[1:]} == {"station"}
    assert "no heartbeat since" in events[2][2]["reason"]


def test_an_ephemeris_expiring_is_announced_once(world: World, live_url: str) -> None:
    eph = _ephemeris_id(world.engine, NOAA19)
    now = world.app.state.ctx.clock.now()
    r = world.client.patch(
        f"/satellites/{NOAA19}/ephemerides/{eph}",
        json={"expires_at": (now + timedelta(seconds=60)).isoformat()},
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    sessions = make_session_factory(world.engine)
    assert ephemerides.announce_expired(sessions, now=now + timedelta(seconds=30)) == []
    fired = ephemerides.announce_expired(sessions, now=now + timedelta(seconds=120))
    assert [(e.subject_id, e.old_status, e.new_status) for e in fired] == [
        (str(eph), "ENABLED", "EXPIRED")
    ]
    assert ephemerides.announce_expired(sessions, now=now + timedelta(seconds=180)) == []
    events = sse_events(live_url, world.as_("acme"), 3, kinds=KINDS)
    expired = events[2][2]
    assert (expired["kind"], expired["subject_id"], expired["new_status"]) == (
        "ephemeris",
        str(eph),
        "EXPIRED",
    )
    assert (expired["norad_id"], expired["in_force"]) == (NOAA19, False)
    assert expired["reason"].startswith("expired at ")
