"""Contact events carry the same fields on the SSE stream and on the Kafka
``contact-events`` topic (NORAD id, station, antenna), and bookings and
cancellations made over the API reach the topic too (issue 15)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ingest.topics import CONTACT_EVENT_SCHEMA_ID, ContactEventMessage

from .conftest import NOAA19, KafkaWorld, World
from .helpers import contact_body, first_free_pass, sse_contact_events


def _book_and_cancel(client: TestClient | httpx.Client, world_as: dict[str, str], p: Any) -> str:
    r = client.post("/contacts", json=contact_body(p), headers=world_as)
    assert r.status_code == 201, r.text
    contact_id = str(r.json()["id"])
    r = client.post(f"/contacts/{contact_id}/cancel", headers=world_as)
    assert r.status_code == 200, r.text
    return contact_id


def test_sse_contact_events_carry_norad_id_station_and_antenna_as_the_topic_does(
    world: World, live_url: str
) -> None:
    contact_id = _book_and_cancel(world.client, world.as_("acme"), first_free_pass(world))
    events = sse_contact_events(live_url, world.as_("acme"), 2)
    assert [(e["contact_id"], e["old_state"], e["new_state"]) for e in events] == [
        (contact_id, "AVAILABLE", "SCHEDULED"),
        (contact_id, "SCHEDULED", "CANCELLED"),
    ]
    for e in events:
        assert (e["norad_id"], e["station"], e["antenna"]) == (NOAA19, "svalbard", "sv-uhf")
        assert e["schema"] == CONTACT_EVENT_SCHEMA_ID
        # The data is the topic's message: it decodes as one, field for field.
        message = ContactEventMessage.decode(json.dumps(e).encode())
        assert message.to_json() == e


def test_bookings_and_cancellations_over_the_api_reach_the_contact_events_topic(
    kafka_world: KafkaWorld,
) -> None:
    world = kafka_world.world
    contact_id = _book_and_cancel(world.client, world.as_("acme"), first_free_pass(world))
    got = [
        (rec.key, ContactEventMessage.decode(rec.value))
        for rec in kafka_world.contact_event_records(2)
    ]
    assert [(k, m.contact_id, m.old_state, m.new_state) for k, m in got] == [
        (contact_id.encode(), contact_id, "AVAILABLE", "SCHEDULED"),
        (contact_id.encode(), contact_id, "SCHEDULED", "CANCELLED"),
    ]
    for _, m in got:
        assert (m.norad_id, m.station, m.antenna) == (NOAA19, "svalbard", "sv-uhf")
