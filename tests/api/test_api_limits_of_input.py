"""Idempotency keys bound to their request, and time inputs outside the
supported range: 422 naming the value, never 500."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from .conftest import NOAA19, NOW, World
from .helpers import contact_body, first_free_pass

# ---------------------------------------------------------------- Idempotency-Key


def test_an_idempotency_key_reused_with_another_body_is_422_naming_the_key(
    world: World,
) -> None:
    h = {**world.as_("acme"), "Idempotency-Key": "order-7"}
    p1, p2 = first_free_pass(world), first_free_pass(world, skip=1)
    first = world.client.post("/contacts", json=contact_body(p1), headers=h)
    assert first.status_code == 201, first.text
    again = world.client.post("/contacts", json=contact_body(p1), headers=h)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    for body in (contact_body(p2), contact_body(p1, antenna_id="sv-uhf-2")):
        r = world.client.post("/contacts", json=body, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["type"].endswith("/idempotency-key-reused")
        assert "'order-7'" in r.json()["detail"] and first.json()["id"] in r.json()["detail"]
    assert world.client.get("/contacts", headers=world.as_("acme")).json()["count"] == 1
    # The same instants written another way are the same request.
    aos = datetime.fromisoformat(p1["aos"]).astimezone().isoformat()
    r = world.client.post("/contacts", json={**contact_body(p1), "start": aos}, headers=h)
    assert r.status_code == 200 and r.json()["id"] == first.json()["id"]


def test_an_admin_booking_for_a_tenant_uses_that_tenants_keys(world: World) -> None:
    p = first_free_pass(world)
    a = world.client.post(
        "/contacts", json=contact_body(p), headers={**world.as_("acme"), "Idempotency-Key": "k"}
    )
    assert a.status_code == 201
    # admin books for the satellite's tenant (acme): the same key, another window
    b = world.client.post(
        "/contacts",
        json=contact_body(first_free_pass(world, skip=1)),
        headers={**world.as_("admin"), "Idempotency-Key": "k"},
    )
    assert b.status_code == 422  # acme's key k names another request


# ---------------------------------------------------------------- extreme dates

_FAR = ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"]


def _cursor(when: str) -> str:
    return base64.urlsafe_b64encode(f"{when}|x".encode()).decode().rstrip("=")


def _calls(value: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, request kwargs) of every time input of the API, set to ``value``."""
    window = {"start": NOW.isoformat(), "end": "2023-07-05T18:00:00Z"}
    contact = {"norad_id": NOAA19, "antenna_id": "sv-uhf", "profile_id": "leo", **window}
    plan: dict[str, Any] = {"profile_id": "leo", "requests": [{"norad_id": NOAA19, **window}]}
    maint = "/ground-stations/svalbard/antennas/sv-uhf/maintenance"
    return [
        ("POST", "/contacts", {"json": {**contact, "start": value}}),
        ("POST", "/contacts", {"json": {**contact, "end": value}}),
        ("GET", "/passes", {"params": {"satellite": NOAA19, "start": value}}),
        ("GET", "/passes", {"params": {"satellite": NOAA19, "end": value}}),
        ("GET", "/contacts", {"params": {"start": value}}),
        ("GET", "/contacts", {"params": {"end": value}}),
        ("GET", "/datasets", {"params": {"start": value}}),
        ("GET", "/datasets", {"params": {"end": value}}),
        ("POST", maint, {"json": {**window, "start": value}}),
        ("POST", maint, {"json": {**window, "end": value}}),
        ("POST", "/plans", {"json": {**plan, "requests": [{**plan["requests"][0], "start": value}]}}),
        ("POST", "/plans", {"json": {**plan, "requests": [{**plan["requests"][0], "end": value}]}}),
    ]  # fmt: skip


@pytest.mark.parametrize("value", _FAR)
def test_every_time_input_outside_the_supported_range_is_422_naming_the_value(
    world: World, value: str
) -> None:
    for method, path, kwargs in _calls(value):
        r = world.client.request(method, path, headers=world.as_("admin"), **kwargs)
        assert r.status_code == 422, f"{method} {path} {kwargs}: {r.status_code} {r.text}"
        assert value[:10] in r.json()["detail"], f"{method} {path}: {r.json()['detail']}"
        assert "1970" in r.json()["detail"] and "2100" in r.json()["detail"]


@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1969-12", "2100-01"])
def test_usage_of_a_month_outside_the_supported_range_is_422_naming_it(
    world: World, month: str
) -> None:
    r = world.client.get("/usage", params={"month": month}, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert month in r.json()["detail"]


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1900-01-01T00:00:00+00:00"]
)
def test_a_crafted_cursor_with_an_extreme_date_is_422_not_500(world: World, when: str) -> None:
    r = world.client.get("/contacts", params={"cursor": _cursor(when)}, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    assert "cursor" in r.json()["detail"]


def test_the_edges_of_the_supported_range_are_answered(world: World) -> None:
    h = world.as_("acme")
    for params in (
        {"start": "1970-01-01T00:00:00Z", "end": "2099-12-31T23:59:59Z"},
        {"start": "2099-12-31T00:00:00Z"},
    ):
        assert world.client.get("/contacts", params=params, headers=h).status_code == 200
        assert world.client.get("/datasets", params=params, headers=h).status_code == 200
    assert world.client.get("/usage", params={"month": "2099-12"}, headers=h).status_code == 200
    r = world.client.get(
        "/passes", params={"satellite": NOAA19, "start": "2099-12-30T00:00:00Z"}, headers=h
    )
    assert r.status_code in (200, 422), r.text  # far from the elements' epoch: may be refused
