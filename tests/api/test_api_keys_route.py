"""API keys over the API (the console's keys page): admins list, create and
revoke; every other role is refused."""

from __future__ import annotations

import pytest

from .conftest import World


def test_an_admin_creates_a_key_that_works_once_shown_and_is_refused_once_revoked(
    world: World,
) -> None:
    c = world.client
    body = {"name": "night shift", "role": "operator", "tenant": "acme"}
    r = c.post("/api-keys", json=body, headers=world.as_("admin"))
    assert r.status_code == 201, r.text
    created = r.json()
    key, key_id = created["key"], created["id"]
    assert (created["role"], created["tenant"], created["revoked_at"]) == ("operator", "acme", None)
    new = {"Authorization": f"Bearer {key}"}
    assert c.get("/console/session", headers=new).json()["name"] == "night shift"
    listed = c.get("/api-keys", headers=world.as_("admin")).json()
    assert key_id in [k["id"] for k in listed["data"]]
    assert all("key" not in k for k in listed["data"])  # the key is answered once only
    r = c.post(f"/api-keys/{key_id}/revoke", headers=world.as_("admin"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    # refused at once, although this process had the key cached
    assert c.get("/console/session", headers=new).status_code == 401
    live = [k["id"] for k in c.get("/api-keys", headers=world.as_("admin")).json()["data"]]
    assert key_id not in live
    every = c.get("/api-keys", params={"include_revoked": "true"}, headers=world.as_("admin"))
    assert key_id in [k["id"] for k in every.json()["data"]]


@pytest.mark.parametrize("who", ["acme", "scientist"])
def test_only_admins_see_or_manage_keys(world: World, who: str) -> None:
    c = world.client
    assert c.get("/api-keys", headers=world.as_(who)).status_code == 403
    body = {"name": "x", "role": "admin"}
    assert c.post("/api-keys", json=body, headers=world.as_(who)).status_code == 403
    admin_id = c.get("/api-keys", headers=world.as_("admin")).json()["data"][0]["id"]
    assert c.post(f"/api-keys/{admin_id}/revoke", headers=world.as_(who)).status_code == 403


def test_a_key_without_what_its_role_needs_is_refused_naming_it(world: World) -> None:
    c, admin = world.client, world.as_("admin")
    r = c.post("/api-keys", json={"name": "o", "role": "operator"}, headers=admin)
    assert r.status_code == 422 and "needs a tenant" in r.text
    r = c.post("/api-keys", json={"name": "s", "role": "scientist"}, headers=admin)
    assert r.status_code == 422 and "granted tenant" in r.text
    r = c.post("/api-keys", json={"name": "s", "role": "root"}, headers=admin)
    assert r.status_code == 422 and "root" in r.text
    assert c.post("/api-keys/no-such-key/revoke", headers=admin).status_code == 404
