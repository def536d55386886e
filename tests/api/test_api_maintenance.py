"""Maintenance windows and antenna status over the API: admins create,
change and delete them; the contacts they hold become PROVIDER_FAILED with
the reason named (those already in PASS are left to finish)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from groundstation import event_log
from groundstation.models import Contact
from groundstation.states import ContactState
from groundstation.transitions import apply_transition

from .conftest import NOAA19, NOW, World
from .helpers import contact_body, first_free_pass

BASE = "/ground-stations/svalbard/antennas/sv-uhf"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _book(world: World, skip: int = 0) -> dict[str, Any]:
    p = first_free_pass(world, skip=skip)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _contact(world: World, contact_id: str) -> dict[str, Any]:
    return dict(world.client.get(f"/contacts/{contact_id}", headers=world.as_("acme")).json())


def _maintenance(world: World, start: datetime, end: datetime, reason: str = "feed swap") -> Any:
    return world.client.post(
        f"{BASE}/maintenance",
        json={"start": start.isoformat(), "end": end.isoformat(), "reason": reason},
        headers=world.as_("admin"),
    )


def test_maintenance_over_a_booked_contact_makes_it_provider_failed_naming_why(
    world: World,
) -> None:
    c = _book(world)
    aos = _at(c["aos"])
    with world.session() as session:
        start = event_log.head(session)
    r = _maintenance(world, aos + timedelta(seconds=30), aos + timedelta(minutes=30))
    assert r.status_code == 201, r.text
    assert (r.json()["contacts_failed"], r.json()["contacts_running"]) == ([c["id"]], [])
    after = _contact(world, c["id"])
    assert after["state"] == "PROVIDER_FAILED"
    assert "maintenance" in after["state_reason"] and "feed swap" in after["state_reason"]
    assert "key admin" in after["state_reason"]
    assert (after["history"][-1]["old_state"], after["history"][-1]["new_state"]) == (
        "SCHEDULED",
        "PROVIDER_FAILED",
    )
    logged = _events_after(world, start, lambda e: e.event.new_state == "PROVIDER_FAILED")
    assert [(e.event.contact_id, e.event.new_state) for e in logged] == [
        (c["id"], "PROVIDER_FAILED")
    ]
    assert (logged[0].norad_id, logged[0].station, logged[0].antenna) == (
        NOAA19,
        "svalbard",
        "sv-uhf",
    )
    listed = world.client.get(
        "/contacts", params={"state": "PROVIDER_FAILED"}, headers=world.as_("acme")
    )
    assert [x["id"] for x in listed.json()["data"]] == [c["id"]]


def test_maintenance_elsewhere_leaves_contacts_and_blocks_booking_with_its_reason(
    world: World,
) -> None:
    c = _book(world)
    p = first_free_pass(world)  # the next free pass
    r = _maintenance(world, _at(p["aos"]), _at(p["los"]), reason="radome repair")
    assert r.status_code == 201
    assert r.json()["contacts_failed"] == []
    assert _contact(world, c["id"])["state"] == "SCHEDULED"
    booked = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert booked.status_code == 409
    assert booked.json()["type"].endswith("/maintenance")
    assert "radome repair" in booked.json()["detail"]


def test_widening_a_window_over_a_contact_fails_it_and_deleting_frees_the_antenna(
    world: World,
) -> None:
    c = _book(world)
    aos = _at(c["aos"])
    r = _maintenance(world, aos - timedelta(hours=2), aos - timedelta(hours=1))
    window = r.json()
    assert window["contacts_failed"] == []
    r = world.client.patch(
        f"{BASE}/maintenance/{window['id']}",
        json={"end": aos.isoformat()},
        headers=world.as_("admin"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["contacts_failed"], _at(r.json()["end"])) == ([c["id"]], aos)
    assert r.json()["reason"] == "feed swap"
    r = world.client.delete(f"{BASE}/maintenance/{window['id']}", headers=world.as_("admin"))
    assert r.status_code == 204
    listed = world.client.get(f"{BASE}/maintenance", headers=world.as_("acme")).json()
    assert listed["count"] == 0
    assert _contact(world, c["id"])["state"] == "PROVIDER_FAILED"  # stays failed
    again = world.client.post(
        "/contacts",
        json={**contact_body({"aos": c["aos"], "los": c["los"]})},
        headers=world.as_("acme"),
    )
    assert again.status_code == 201, again.text


def test_a_contact_in_pass_is_left_running_and_reported(world: World) -> None:
    c = _book(world)
    with world.session() as session:
        contact = session.get(Contact, c["id"])
        assert contact is not None
        for state in (ContactState.PREPASS, ContactState.PASS):
            apply_transition(session, contact, state, at=NOW, reason="test")
        session.commit()
    aos = _at(c["aos"])
    r = _maintenance(world, aos, aos + timedelta(minutes=5))
    assert (r.json()["contacts_failed"], r.json()["contacts_running"]) == ([], [c["id"]])
    assert _contact(world, c["id"])["state"] == "PASS"


def test_only_admins_change_maintenance_and_antenna_status(world: World) -> None:
    start = NOW + timedelta(days=2)
    r = world.client.post(
        f"{BASE}/maintenance",
        json={"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
        headers=world.as_("acme"),
    )
    assert r.status_code == 403
    window = _maintenance(world, start, start + timedelta(hours=1)).json()
    for method, path, body in (
        ("PATCH", f"{BASE}/maintenance/{window['id']}", {"reason": "x"}),
        ("DELETE", f"{BASE}/maintenance/{window['id']}", None),
        ("PATCH", BASE, {"status": "offline"}),
    ):
        r = world.client.request(method, path, json=body, headers=world.as_("acme"))
        assert r.status_code == 403, (method, path)


def test_a_window_of_another_antenna_is_404_and_a_reversed_window_422(world: World) -> None:
    start = NOW + timedelta(days=2)
    window = _maintenance(world, start, start + timedelta(hours=1)).json()
    other = "/ground-stations/svalbard/antennas/sv-uhf-2"
    r = world.client.delete(f"{other}/maintenance/{window['id']}", headers=world.as_("admin"))
    assert r.status_code == 404
    r = world.client.patch(
        f"{BASE}/maintenance/{window['id']}",
        json={"end": (start - timedelta(hours=1)).isoformat()},
        headers=world.as_("admin"),
    )
    assert r.status_code == 422
    assert "is not before its end" in r.json()["detail"]


def test_an_antenna_taken_offline_fails_its_contacts_and_online_is_bookable_again(
    world: World,
) -> None:
    c = _book(world)
    other = _book(world)  # the next pass, also on sv-uhf
    r = world.client.patch(BASE, json={"status": "maintenance"}, headers=world.as_("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "maintenance"
    assert sorted(r.json()["contacts_failed"]) == sorted([c["id"], other["id"]])
    reason = _contact(world, c["id"])["state_reason"]
    assert "antenna sv-uhf set maintenance by key admin" in reason
    p = first_free_pass(world, antenna_id="sv-uhf-2")
    refused = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert refused.status_code == 409 and refused.json()["type"].endswith("/antenna-status")
    r = world.client.patch(BASE, json={"status": "online"}, headers=world.as_("admin"))
    assert (r.status_code, r.json()["contacts_failed"]) == (200, [])
    booked = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    assert booked.status_code == 201, booked.text


def test_an_unknown_status_is_422_naming_it(world: World) -> None:
    r = world.client.patch(BASE, json={"status": "broken"}, headers=world.as_("admin"))
    assert r.status_code == 422
    assert "broken" in r.json()["detail"]


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


def test_new_bands_fail_the_contacts_whose_downlink_they_no_longer_hold(world: World) -> None:
    c = _book(world)
    with world.session() as session:
        start = event_log.head(session)
    r = world.client.patch(BASE, json={"bands_hz": [[2.0e9, 2.1e9]]}, headers=world.as_("admin"))
    assert r.status_code == 200, r.text
    assert (r.json()["bands_hz"], r.json()["contacts_failed"]) == ([[2.0e9, 2.1e9]], [c["id"]])
    after = _contact(world, c["id"])
    assert after["state"] == "PROVIDER_FAILED"
    assert "antenna sv-uhf changed (bands_hz) by key admin" in after["state_reason"]
    assert "downlink 437.500 MHz is outside its bands" in after["state_reason"]
    logged = _events_after(world, start, lambda e: e.event.new_state == "PROVIDER_FAILED")
    assert [(e.event.contact_id, e.antenna) for e in logged] == [(c["id"], "sv-uhf")]
    listed = world.client.get(
        "/ground-stations/svalbard/antennas", headers=world.as_("acme")
    ).json()
    assert {a["id"]: a["bands_hz"] for a in listed["data"]}["sv-uhf"] == [[2.0e9, 2.1e9]]


def test_new_bands_and_slew_rates_that_still_fit_keep_the_contacts(world: World) -> None:
    c = _book(world)
    r = world.client.patch(
        BASE,
        json={"bands_hz": [[430e6, 440e6]], "max_az_slew_deg_s": 3.0, "max_el_slew_deg_s": 2.5},
        headers=world.as_("admin"),
    )
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["max_az_slew_deg_s"], answer["max_el_slew_deg_s"]) == (3.0, 2.5)
    assert (answer["status"], answer["contacts_failed"]) == ("online", [])
    assert _contact(world, c["id"])["state"] == "SCHEDULED"


def test_bands_is_refused_naming_bands_hz_and_an_empty_change_is_422(world: World) -> None:
    for path, body in (
        (BASE, {"bands": [[400e6, 450e6]]}),
        (
            "/ground-stations/svalbard/antennas",
            {"id": "sv-new", "bands": [[400e6, 450e6]]},
        ),
    ):
        method = "PATCH" if path == BASE else "POST"
        r = world.client.request(method, path, json=body, headers=world.as_("admin"))
        assert r.status_code == 422, r.text
        assert "'bands' is named 'bands_hz'" in r.json()["detail"]
    r = world.client.patch(BASE, json={}, headers=world.as_("admin"))
    assert r.status_code == 422
    assert "give at least one of bands_hz" in r.json()["detail"]
    r = world.client.patch(BASE, json={"bands_hz": [[450e6, 400e6]]}, headers=world.as_("admin"))
    assert r.status_code == 422
    assert "0 < low < high" in r.json()["detail"]


def test_windows_of_every_antenna_overlapping_a_span_are_listed_for_the_timeline(
    world: World,
) -> None:
    for antenna, hours, reason in (("sv-uhf", 2, "feed swap"), ("sv-s", 5, "radome")):
        r = world.client.post(
            f"/ground-stations/svalbard/antennas/{antenna}/maintenance",
            json={
                "start": (NOW + timedelta(hours=hours)).isoformat(),
                "end": (NOW + timedelta(hours=hours + 1)).isoformat(),
                "reason": reason,
            },
            headers=world.as_("admin"),
        )
        assert r.status_code == 201, r.text

    def listed(start_h: float, end_h: float, **params: str) -> list[tuple[str, str]]:
        r = world.client.get(
            "/maintenance-windows",
            params={
                "start": (NOW + timedelta(hours=start_h)).isoformat(),
                "end": (NOW + timedelta(hours=end_h)).isoformat(),
                **params,
            },
            headers=world.as_("acme"),
        )
        assert r.status_code == 200, r.text
        return [(m["antenna_id"], m["reason"]) for m in r.json()["data"]]

    assert listed(0, 24) == [("sv-uhf", "feed swap"), ("sv-s", "radome")]
    assert listed(2.5, 4) == [("sv-uhf", "feed swap")]  # overlapping, not only inside
    assert listed(3, 5) == []  # touching ends do not overlap
    assert listed(0, 24, station="svalbard") == listed(0, 24)
    assert listed(0, 24, station="elsewhere") == []
    reversed_span = world.client.get(
        "/maintenance-windows",
        params={"start": (NOW + timedelta(hours=2)).isoformat(), "end": NOW.isoformat()},
        headers=world.as_("acme"),
    )
    assert reversed_span.status_code == 422
    assert "is not after start" in reversed_span.json()["detail"]
