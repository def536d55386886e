"""PATCH /contacts/{id} (AWS UpdateContact): change the profile or trim the
window of a SCHEDULED contact, every booking rule checked again, versions
and If-Match against lost updates."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from groundstation import event_log, inventory, maintenance
from groundstation.models import Contact
from groundstation.states import ContactState
from groundstation.transitions import apply_transition

from .conftest import NOAA19, NOW, World
from .helpers import contact_body, first_free_pass


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.isoformat()


def _book(world: World, skip: int = 0, antenna_id: str = "sv-uhf") -> dict[str, Any]:
    p = first_free_pass(world, antenna_id=antenna_id, skip=skip)
    r = world.client.post(
        "/contacts", json=contact_body(p, antenna_id=antenna_id), headers=world.as_("acme")
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _patch(world: World, contact_id: str, body: dict[str, Any], **headers: str) -> Any:
    return world.client.patch(
        f"/contacts/{contact_id}", json=body, headers={**world.as_("acme"), **headers}
    )


def _add_profile(world: World, profile_id: str, **settings: Any) -> None:
    with world.session() as session:
        inventory.add_profile(session, profile_id=profile_id, **settings)


def test_a_booked_contact_is_at_version_1_and_get_sends_it_as_etag(world: World) -> None:
    c = _book(world)
    assert c["version"] == 1
    r = world.client.get(f"/contacts/{c['id']}", headers=world.as_("acme"))
    assert r.headers["etag"] == '"1"'
    listed = world.client.get("/contacts", headers=world.as_("acme")).json()["data"]
    assert [x["version"] for x in listed] == [1]


def test_trimming_the_window_moves_aos_los_and_the_booked_window(world: World) -> None:
    c = _book(world)
    aos, los = _at(c["aos"]), _at(c["los"])
    new_aos, new_los = aos + timedelta(seconds=60), los - timedelta(seconds=45)
    r = _patch(
        world, c["id"], {"start": _iso(new_aos), "end": _iso(new_los)}, **{"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (_at(out["aos"]), _at(out["los"])) == (new_aos, new_los)
    assert new_aos <= _at(out["tca"]) <= new_los
    # profile leo: 120 s pre-pass, 60 s post-pass; antenna: 60 s setup and teardown
    assert _at(out["booked_start"]) == new_aos - timedelta(seconds=120)
    assert _at(out["booked_end"]) == new_los + timedelta(seconds=60)
    assert _at(out["blocked_start"]) == new_aos - timedelta(seconds=180)
    assert (out["state"], out["version"], r.headers["etag"]) == ("SCHEDULED", 2, '"2"')
    history = world.client.get(f"/contacts/{c['id']}", headers=world.as_("acme")).json()["history"]
    last = history[-1]
    assert (last["old_state"], last["new_state"]) == ("SCHEDULED", "SCHEDULED")
    assert "updated by key acme" in last["reason"] and "leo" in last["reason"]


def test_changing_the_profile_applies_its_pre_and_post_pass(world: World) -> None:
    _add_profile(world, "leo-quick", prepass_s=30, postpass_s=10, min_viable_duration_s=60)
    c = _book(world)
    r = _patch(world, c["id"], {"profile_id": "leo-quick"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["profile_id"] == "leo-quick"
    assert (out["aos"], out["los"]) == (c["aos"], c["los"])
    assert _at(out["booked_start"]) == _at(c["aos"]) - timedelta(seconds=30)
    assert _at(out["booked_end"]) == _at(c["los"]) + timedelta(seconds=10)
    got = world.client.get("/contacts", params={"profile": "leo-quick"}, headers=world.as_("acme"))
    assert [x["id"] for x in got.json()["data"]] == [c["id"]]


def test_a_profile_with_a_higher_minimum_elevation_shortens_the_window(world: World) -> None:
    skip = next(s for s in range(8) if first_free_pass(world, skip=s)["max_elevation_deg"] > 30)
    c = _book(world, skip=skip)
    _add_profile(world, "leo-high", min_elevation_deg=c["max_elevation_deg"] / 2)
    r = _patch(world, c["id"], {"profile_id": "leo-high"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert _at(c["aos"]) < _at(out["aos"]) < _at(out["tca"]) < _at(out["los"]) < _at(c["los"])


def test_a_window_beyond_the_contacts_is_refused_as_trim_only(world: World) -> None:
    c = _book(world)
    earlier = _at(c["aos"]) - timedelta(seconds=30)
    r = _patch(world, c["id"], {"start": _iso(earlier)})
    assert r.status_code == 422
    problem = r.json()
    assert problem["type"].endswith("/trim-only")
    assert earlier.strftime("%H:%M:%S") in problem["detail"]
    after = world.client.get(f"/contacts/{c['id']}", headers=world.as_("acme")).json()
    assert (after["aos"], after["version"]) == (c["aos"], 1)


def test_a_window_shorter_than_the_profile_minimum_is_refused(world: World) -> None:
    c = _book(world)
    aos = _at(c["aos"])
    r = _patch(world, c["id"], {"end": _iso(aos + timedelta(seconds=90))})
    assert r.status_code == 422
    assert r.json()["type"].endswith("/min-duration")
    assert "minimum viable 120 s" in r.json()["detail"]


def test_a_stale_if_match_is_412_and_changes_nothing(world: World) -> None:
    c = _book(world)
    aos = _at(c["aos"])
    first = _patch(
        world, c["id"], {"start": _iso(aos + timedelta(seconds=10))}, **{"If-Match": '"1"'}
    )
    assert first.status_code == 200
    r = _patch(world, c["id"], {"start": _iso(aos + timedelta(seconds=20))}, **{"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.json()["type"].endswith("/version-mismatch")
    assert "version 2" in r.json()["detail"] and "version 1" in r.json()["detail"]
    after = world.client.get(f"/contacts/{c['id']}", headers=world.as_("acme")).json()
    assert (_at(after["aos"]), after["version"]) == (aos + timedelta(seconds=10), 2)


def test_if_match_that_is_not_a_version_is_422_naming_it(world: World) -> None:
    c = _book(world)
    r = _patch(world, c["id"], {"profile_id": "leo"}, **{"If-Match": '"abc"'})
    assert r.status_code == 422
    assert "'\"abc\"'" in r.json()["detail"]


def test_a_longer_pre_pass_over_another_booking_is_409_naming_that_booking(world: World) -> None:
    first = _book(world, skip=0)
    second = _book(world, skip=0)  # the next free pass on the antenna
    assert second["aos"] > first["los"]
    # A pre-pass reaching back over the first contact, starting 5 min from now.
    prepass_s = (_at(second["aos"]) - NOW).total_seconds() - 300
    _add_profile(world, "leo-long", prepass_s=prepass_s)
    r = _patch(world, second["id"], {"profile_id": "leo-long"})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["type"].endswith("/no-overlap")
    assert problem["conflicting_contact"]["id"] == first["id"]
    after = world.client.get(f"/contacts/{second['id']}", headers=world.as_("acme")).json()
    assert (after["profile_id"], after["version"]) == ("leo", 1)


def test_a_longer_pre_pass_over_maintenance_is_409_naming_it(world: World) -> None:
    c = _book(world, skip=2)  # hours ahead: a 30 min pre-pass has not started
    _add_profile(world, "leo-long", prepass_s=1800)
    aos = _at(c["aos"])
    with world.session() as session:
        maintenance.add_window(
            session,
            antenna_id="sv-uhf",
            start=aos - timedelta(seconds=1500),
            end=aos - timedelta(seconds=1200),
            reason="feed swap",
            now=NOW,
        )
    r = _patch(world, c["id"], {"profile_id": "leo-long"})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/maintenance")
    assert "feed swap" in r.json()["detail"]


def test_a_cancelled_contact_cannot_be_changed(world: World) -> None:
    c = _book(world)
    assert (
        world.client.post(f"/contacts/{c['id']}/cancel", headers=world.as_("acme")).status_code
        == 200
    )
    r = _patch(world, c["id"], {"profile_id": "leo"})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/update-refused")
    assert "CANCELLED" in r.json()["detail"]


def test_another_tenants_contact_is_not_found_and_an_unknown_profile_is_404(world: World) -> None:
    c = _book(world)
    r = world.client.patch(
        f"/contacts/{c['id']}", json={"profile_id": "leo"}, headers=world.as_("globex")
    )
    assert r.status_code == 404
    r = _patch(world, c["id"], {"profile_id": "no-such-profile"})
    assert r.status_code == 404
    assert "no-such-profile" in r.json()["detail"]


def test_an_unknown_field_is_refused_naming_it(world: World) -> None:
    c = _book(world)
    r = _patch(world, c["id"], {"antenna_id": "sv-uhf-2"})
    assert r.status_code == 422
    assert "antenna_id" in r.json()["detail"]


def test_the_update_reaches_the_event_history_with_the_contract_fields(world: World) -> None:
    c = _book(world)
    with world.session() as session:
        start = event_log.head(session)
    assert _patch(world, c["id"], {"profile_id": "leo"}).status_code == 200
    logged = _events_after(world, start, lambda e: e.event.old_state == e.event.new_state)
    assert [(e.event.old_state, e.event.new_state) for e in logged] == [("SCHEDULED", "SCHEDULED")]
    assert (logged[0].norad_id, logged[0].station, logged[0].antenna) == (
        NOAA19,
        "svalbard",
        "sv-uhf",
    )


# ---------------------------------------------------------------- stop


def _enter(world: World, contact_id: str, *states: ContactState) -> None:
    with world.session() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        for state in states:
            apply_transition(session, contact, state, at=NOW, reason="test")
        session.commit()


def test_stop_in_prepass_cancels_with_the_reason_and_key(world: World) -> None:
    c = _book(world)
    _enter(world, c["id"], ContactState.PREPASS)
    r = world.client.post(
        f"/contacts/{c['id']}/stop", json={"reason": "rain fade"}, headers=world.as_("acme")
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["state_reason"]) == (
        "CANCELLED",
        "stopped: rain fade (key acme)",
    )


def test_stop_in_pass_is_cancelling_until_the_scheduler_stops_the_pass(world: World) -> None:
    c = _book(world)
    _enter(world, c["id"], ContactState.PREPASS, ContactState.PASS)
    r = world.client.post(f"/contacts/{c['id']}/stop", headers=world.as_("acme"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "CANCELLING"
    listed = world.client.get(
        "/contacts", params={"state": "CANCELLING"}, headers=world.as_("acme")
    )
    assert [x["id"] for x in listed.json()["data"]] == [c["id"]]
    # A CANCELLING contact still holds its antenna: no booking over it.
    p = {"aos": c["aos"], "los": c["los"]}
    again = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert again.status_code == 409, again.text
    assert again.json()["conflicting_contact"]["state"] == "CANCELLING"


def test_stop_of_a_scheduled_contact_is_409_pointing_to_cancel(world: World) -> None:
    c = _book(world)
    r = world.client.post(f"/contacts/{c['id']}/stop", headers=world.as_("acme"))
    assert r.status_code == 409
    assert "SCHEDULED" in r.json()["detail"] and "/cancel" in r.json()["detail"]
    r = world.client.post(f"/contacts/{c['id']}/stop", headers=world.as_("globex"))
    assert r.status_code == 404


def _events_after(
    world: World, start: event_log.Position, wanted: Callable[[Any], bool]
) -> list[Any]:
    """The ``wanted`` events after ``start``, waiting until one is readable:
    on PostgreSQL an event is read once no older transaction is open on the
    server (``event_log``), and other clients of the shared server may hold
    one (so earlier events may show up after ``start`` too)."""
    deadline = time.monotonic() + 60.0
    while True:
        with world.session() as session:
            logged = [e for e in event_log.events_after(session, start) if wanted(e)]
        if logged or time.monotonic() > deadline:
            return logged
        time.sleep(0.2)
