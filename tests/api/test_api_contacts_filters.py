"""``GET /contacts`` filters by antenna and profile (issue 15), as it does by
satellite and station: an unknown value matches nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from groundstation import contacts, inventory

from .conftest import NOAA19, World
from .helpers import first_free_pass


def _book(world: World, p: dict[str, Any], antenna_id: str, profile_id: str) -> str:
    body = {
        "norad_id": NOAA19,
        "antenna_id": antenna_id,
        "profile_id": profile_id,
        "start": p["aos"],
        "end": p["los"],
    }
    r = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _ids(world: World, who: str = "acme", **params: Any) -> set[str]:
    r = world.client.get("/contacts", params=params, headers=world.as_(who))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["count"] == len(page["data"])
    return {c["id"] for c in page["data"]}


def test_contacts_are_filtered_by_antenna_and_by_profile(world: World) -> None:
    with world.session() as session:
        inventory.add_profile(session, profile_id="acme-wide", owner_tenant="acme")
    first, second = first_free_pass(world), first_free_pass(world, skip=1)
    a = _book(world, first, "sv-uhf", "leo")
    b = _book(world, first, "sv-uhf-2", "acme-wide")
    c = _book(world, second, "sv-uhf", "acme-wide")
    assert _ids(world) == {a, b, c}
    assert _ids(world, antenna="sv-uhf") == {a, c}
    assert _ids(world, antenna="sv-uhf-2") == {b}
    assert _ids(world, profile="acme-wide") == {b, c}
    assert _ids(world, profile="leo", antenna="sv-uhf") == {a}
    assert _ids(world, profile="leo", antenna="sv-uhf-2") == set()
    assert _ids(world, who="admin", profile="acme-wide", station="svalbard") == {b, c}
    assert _ids(world, who="globex", profile="acme-wide") == set()


def test_profile_and_antenna_filters_page_with_the_cursor(world: World) -> None:
    first, second = first_free_pass(world), first_free_pass(world, skip=1)
    ids = {_book(world, p, "sv-uhf", "leo") for p in (first, second)}
    _book(world, first, "sv-uhf-2", "leo")
    r = world.client.get(
        "/contacts", params={"antenna": "sv-uhf", "limit": 1}, headers=world.as_("acme")
    )
    page = r.json()
    assert page["count"] == 2 and len(page["data"]) == 1
    r = world.client.get(
        "/contacts",
        params={"antenna": "sv-uhf", "limit": 1, "cursor": page["next_cursor"]},
        headers=world.as_("acme"),
    )
    rest = r.json()
    assert rest["next_cursor"] is None
    assert {page["data"][0]["id"], rest["data"][0]["id"]} == ids


def test_unknown_antenna_or_profile_is_an_empty_page_and_bad_values_are_422(
    world: World,
) -> None:
    _book(world, first_free_pass(world), "sv-uhf", "leo")
    assert _ids(world, antenna="no-such-antenna") == set()
    assert _ids(world, profile="no-such-profile") == set()
    for name in ("antenna", "profile"):
        for bad in ("", "x" * 81):
            r = world.client.get("/contacts", params={name: bad}, headers=world.as_("acme"))
            assert r.status_code == 422, (name, bad, r.text)
            assert f"query.{name}" in r.json()["detail"]


def test_the_count_comes_with_every_page_and_with_a_page_past_the_last_contact(
    world: World,
) -> None:
    # The count rides on the page's rows (one statement); a page without rows
    # counts on its own.
    first, second = first_free_pass(world), first_free_pass(world, skip=1)
    _book(world, first, "sv-uhf", "leo")
    _book(world, second, "sv-uhf", "leo")
    _book(world, first, "sv-uhf-2", "leo")

    def page(**params: Any) -> dict[str, Any]:
        r = world.client.get("/contacts", params=params, headers=world.as_("acme"))
        assert r.status_code == 200, r.text
        return dict(r.json())

    one = page(antenna="sv-uhf", limit=1)
    two = page(antenna="sv-uhf", limit=1, cursor=one["next_cursor"])
    assert (one["count"], two["count"]) == (2, 2) and two["next_cursor"] is None
    last = two["data"][0]
    past = contacts.encode_cursor(datetime.fromisoformat(last["booked_start"]), last["id"])
    assert page(antenna="sv-uhf", cursor=past) == {"data": [], "count": 2, "next_cursor": None}
    assert page(antenna="nowhere") == {"data": [], "count": 0, "next_cursor": None}


def test_an_unknown_query_parameter_is_refused_on_every_request_naming_those_taken(
    world: World,
) -> None:
    # The names an operation takes are worked out once per route and remembered.
    taken = "antenna, cursor, end, limit, profile, satellite, start, state, station, verdict"
    for params in ({"satelite": NOAA19}, {"limit": 5}, {"stat": "SCHEDULED", "limit": 5}):
        r = world.client.get("/contacts", params=params, headers=world.as_("acme"))
        if "limit" in params and len(params) == 1:
            assert r.status_code == 200, r.text
            continue
        bad = next(iter(params))
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == (
            f"query.{bad}: unknown query parameter {bad!r}; this operation takes {taken}"
        )
    r = world.client.get("/passes", params={"limit": 5}, headers=world.as_("acme"))
    assert r.status_code == 422 and "takes" in r.json()["detail"]
    assert "limit" not in r.json()["detail"].split("takes")[1]
