"""Contact events carry the same fields on the SSE stream and on the Kafka
``contact-events`` topic (NORAD id, station, antenna), and bookings and
cancellations made over the API reach the topic too (issue 15)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.app import attach_runtime, create_app
from groundstation.db import make_session_factory
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from ingest.consumer import KafkaSource
from ingest.topics import CONTACT_EVENT_SCHEMA_ID, ContactEventMessage

from .conftest import NOAA19, World, seed
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
    settings: Settings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"ops{uuid.uuid4().hex[:10]}"
    s = settings.model_copy(
        update={"kafka_bootstrap": kafka_bootstrap, "kafka_topic_prefix": prefix}
    )
    runtime = open_runtime(s)
    app = create_app(s, clock=runtime.clock)
    try:
        attach_runtime(app, runtime)
        with make_session_factory(app.state.ctx.engine)() as session:
            keys = seed(session)
        with TestClient(app) as client:
            world = World(app, client, app.state.ctx.engine, keys)
            contact_id = _book_and_cancel(client, world.as_("acme"), first_free_pass(world))
    finally:
        runtime.close()  # flushes the spool to the broker
        app.state.ctx.engine.dispose()
    source = KafkaSource(kafka_bootstrap, f"{prefix}.contact-events")
    try:
        got = []
        for record in source.records(idle_timeout_s=15.0):
            got.append((record.key, ContactEventMessage.decode(record.value)))
            if len(got) >= 2:
                break
    finally:
        source.close()
    assert [(k, m.contact_id, m.old_state, m.new_state) for k, m in got] == [
        (contact_id.encode(), contact_id, "AVAILABLE", "SCHEDULED"),
        (contact_id.encode(), contact_id, "SCHEDULED", "CANCELLED"),
    ]
    for _, m in got:
        assert (m.norad_id, m.station, m.antenna) == (NOAA19, "svalbard", "sv-uhf")
