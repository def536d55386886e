"""Vetting over the API (issue 15): a contact's verdict and its source in
contact answers, PUT /contacts/{id}/verdict by an operator (who, when, why;
If-Match), GET /contacts?verdict=, and verdict events on the SSE stream and
the Kafka contact-events topic with the fields of every contact event."""

from __future__ import annotations

import json
from typing import Any

from groundstation.contact_datasets import accept_dataset
from groundstation.events import ContactEvent
from groundstation.models import Contact
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from groundstation.vetting import PassQuality
from ingest.topics import ContactEventMessage

from .conftest import NOAA19, NOW, KafkaWorld, World
from .helpers import contact_body, first_free_pass, sse_contact_events

S = ContactState


def _book(world: World, skip: int = 0) -> str:
    p = first_free_pass(world, skip=skip)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _complete(world: World, contact_id: str, quality: PassQuality | None) -> list[ContactEvent]:
    """Work the contact as the lifecycle and the executor do: PREPASS, PASS,
    POSTPASS, the dataset's commit keeping the measured quality, COMPLETED."""
    events = []
    with world.session() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        for state in (S.PREPASS, S.PASS, S.POSTPASS):
            events.append(apply_transition(session, contact, state, at=NOW, reason=state.value))
        session.commit()
        if quality is not None:
            accept_dataset(session, contact_id, quality=quality)
        events.append(apply_transition(session, contact, S.COMPLETED, at=NOW, reason="done"))
        session.commit()
    return events


def _put(world: World, contact_id: str, body: Any, who: str = "acme", **headers: str) -> Any:
    return world.client.put(
        f"/contacts/{contact_id}/verdict", json=body, headers={**world.as_(who), **headers}
    )


def test_a_contact_with_42_percent_of_its_frames_answers_partial_auto_with_its_figures(
    world: World,
) -> None:
    cid = _book(world)
    before = world.client.get(f"/contacts/{cid}", headers=world.as_("acme")).json()
    assert (before["verdict"], before["verdict_source"], before["frames_ok"]) == (None, None, None)
    _complete(world, cid, PassQuality(420, 1000, 6.5))
    out = world.client.get(f"/contacts/{cid}", headers=world.as_("acme")).json()
    assert (out["state"], out["verdict"], out["verdict_source"]) == ("COMPLETED", "partial", "auto")
    assert (out["frames_ok"], out["frames_expected"], out["esn0_db"]) == (420, 1000, 6.5)
    assert "42 % of frames decoded (420 of 1000)" in out["verdict_reason"]
    assert out["simulated"] is True  # simulated contacts stay labelled so
    assert out["history"][-1]["verdict"] == "partial"
    listed = world.client.get("/contacts", headers=world.as_("acme")).json()["data"]
    assert [(c["id"], c["verdict"], c["verdict_source"]) for c in listed] == [
        (cid, "partial", "auto")
    ]


def test_an_operator_sets_the_verdict_with_if_match_and_it_is_recorded(world: World) -> None:
    cid = _book(world)
    _complete(world, cid, PassQuality(990, 1000, 9.0))
    got = world.client.get(f"/contacts/{cid}", headers=world.as_("acme"))
    assert got.json()["verdict"] == "good"
    etag = got.headers["etag"]
    body = {"verdict": "bad", "reason": "image lost to interference"}
    r = _put(world, cid, body, **{"If-Match": etag})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["verdict"], out["verdict_source"], out["verdict_by"]) == (
        "bad",
        "manual",
        "key acme",
    )
    assert out["verdict_reason"] == "image lost to interference"
    assert out["verdict_at"] is not None
    assert r.headers["etag"] == f'"{out["version"]}"' != etag
    # The old ETag is stale now: a second operator's change is refused, nothing changed.
    stale = _put(world, cid, {"verdict": "good", "reason": "looks fine"}, **{"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["type"].endswith("version-mismatch")
    again = world.client.get(f"/contacts/{cid}", headers=world.as_("acme")).json()
    assert again["verdict"] == "bad"
    last = again["history"][-1]
    assert (last["old_state"], last["new_state"]) == ("COMPLETED", "COMPLETED")
    assert (last["verdict"], last["verdict_source"]) == ("bad", "manual")
    assert "key acme" in last["reason"] and "image lost to interference" in last["reason"]


def test_a_verdict_before_the_contact_ended_is_refused_naming_its_state(world: World) -> None:
    cid = _book(world)
    r = _put(world, cid, {"verdict": "good", "reason": "early"})
    assert r.status_code == 409
    assert r.json()["type"].endswith("verdict-refused") and "is SCHEDULED" in r.json()["detail"]


def test_bad_verdict_bodies_are_refused_naming_the_field(world: World) -> None:
    cid = _book(world)
    _complete(world, cid, None)
    cases = [
        ({"verdict": "excellent", "reason": "x"}, "verdict"),
        ({"verdict": "good"}, "reason"),
        ({"verdict": "good", "reason": ""}, "reason"),
        ({"verdict": "good", "reason": 5}, "reason"),
        ({"verdict": "good", "reason": "x", "by": "me"}, "by"),
    ]
    for body, field in cases:
        r = _put(world, cid, body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.text, (body, r.text)
    assert world.client.get(f"/contacts/{cid}", headers=world.as_("acme")).json()["verdict"] is None


def test_another_tenants_contact_answers_404_and_a_scientist_403(world: World) -> None:
    cid = _book(world)
    _complete(world, cid, None)
    assert _put(world, cid, {"verdict": "good", "reason": "x"}, who="globex").status_code == 404
    assert _put(world, cid, {"verdict": "good", "reason": "x"}, who="scientist").status_code == 403


def test_contacts_filter_by_verdict(world: World) -> None:
    good, partial, unvetted = _book(world), _book(world, skip=1), _book(world, skip=2)
    _complete(world, good, PassQuality(1000, 1000, 10.0))
    _complete(world, partial, PassQuality(300, 1000, 10.0))

    def ids(query: str) -> list[str]:
        r = world.client.get(f"/contacts?{query}", headers=world.as_("acme"))
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["data"]]

    assert ids("verdict=good") == [good]
    assert ids("verdict=partial&verdict=good") == [good, partial]
    assert ids("verdict=none") == [unvetted]
    r = world.client.get("/contacts?verdict=excellent", headers=world.as_("acme"))
    assert r.status_code == 422 and "verdict 'excellent'" in r.json()["detail"]


def test_verdict_events_reach_the_sse_stream_with_the_topics_fields(
    world: World, live_url: str
) -> None:
    cid = _book(world)
    _complete(world, cid, PassQuality(420, 1000, 6.5))
    assert _put(world, cid, {"verdict": "bad", "reason": "lost"}).status_code == 200
    events = sse_contact_events(live_url, world.as_("acme"), 6)
    assert [(e["new_state"], e.get("verdict"), e.get("verdict_source")) for e in events] == [
        ("SCHEDULED", None, None),
        ("PREPASS", None, None),
        ("PASS", None, None),
        ("POSTPASS", None, None),
        ("COMPLETED", "partial", "auto"),
        ("COMPLETED", "bad", "manual"),
    ]
    for e in events:
        assert (e["contact_id"], e["norad_id"], e["station"], e["antenna"]) == (
            cid,
            NOAA19,
            "svalbard",
            "sv-uhf",
        )
        assert ContactEventMessage.decode(json.dumps(e).encode()).to_json() == e


def test_verdict_events_reach_the_kafka_contact_events_topic(kafka_world: KafkaWorld) -> None:
    world = kafka_world.world
    cid = _book(world)
    # The lifecycle publishes its changes to the runtime's sinks.
    for event in _complete(world, cid, PassQuality(420, 1000, 6.5)):
        kafka_world.runtime.events.publish(event)
    r = _put(world, cid, {"verdict": "bad", "reason": "lost"})
    assert r.status_code == 200, r.text
    got = [ContactEventMessage.decode(rec.value) for rec in kafka_world.contact_event_records(6)]
    verdicts = [(m.new_state, m.verdict, m.verdict_source) for m in got if m.verdict]
    assert verdicts == [("COMPLETED", "partial", "auto"), ("COMPLETED", "bad", "manual")]
    for m in got:
        assert (m.contact_id, m.norad_id, m.station, m.antenna) == (
            cid,
            NOAA19,
            "svalbard",
            "sv-uhf",
        )
