"""Every role x resource pair that must be refused, and tenant isolation (404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.auth import KeyCache, Principal
from groundstation import apikeys
from groundstation.version import package_version

from .conftest import FUNCUBE, NOAA19, NOW, World
from .helpers import add_dataset, contact_body, first_free_pass

PROFILE = {"id": "p2"}
STATION = {"id": "gs2", "name": "Two", "lat_deg": 10.0, "lon_deg": 20.0}
ANTENNA = {"id": "gs2-1", "bands_hz": [[400e6, 450e6]]}
MAINT = {
    "start": (NOW + timedelta(days=1)).isoformat(),
    "end": (NOW + timedelta(days=2)).isoformat(),
}
SAT = {"norad_id": 90001, "name": "NEW", "downlink_freq_hz": 437e6}
PLAN = {
    "profile_id": "leo",
    "requests": [
        {
            "norad_id": NOAA19,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=6)).isoformat(),
        }
    ],
}

# (method, path, json body or text) that a role may not use at all: 403.
ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("POST", "/ground-stations", STATION),
    ("POST", "/ground-stations/svalbard/antennas", ANTENNA),
    ("POST", "/ground-stations/svalbard/antennas/sv-uhf/maintenance", MAINT),
]
OPERATOR_OR_ADMIN: list[tuple[str, str, Any]] = [
    ("GET", "/contacts", None),
    (
        "POST",
        "/contacts",
        {
            "norad_id": NOAA19,
            "antenna_id": "sv-uhf",
            "profile_id": "leo",
            "start": NOW.isoformat(),
            "end": NOW.isoformat(),
        },
    ),
    ("GET", "/contacts/{contact}", None),
    ("POST", "/contacts/{contact}/cancel", None),
    ("GET", "/contacts/{contact}/track", None),
    ("GET", "/contacts/events", None),
    ("GET", f"/passes?satellite={NOAA19}", None),
    ("POST", "/plans", PLAN),
    ("POST", "/plans/00000000-0000-0000-0000-000000000000/commit", None),
    ("GET", "/mission-profiles", None),
    ("GET", "/mission-profiles/leo", None),
    ("POST", "/mission-profiles", PROFILE),
    ("PUT", "/mission-profiles/leo", {}),
    ("POST", "/satellites", SAT),
    ("GET", f"/satellites/{NOAA19}/ephemerides", None),
    ("GET", f"/satellites/{NOAA19}/ephemerides/in-force", None),
    ("POST", f"/satellites/{NOAA19}/ephemerides", "x"),
    ("GET", "/usage", None),
]
EVERY_PROTECTED = (
    ADMIN_ONLY
    + OPERATOR_OR_ADMIN
    + [
        ("GET", "/ground-stations", None),
        ("GET", "/ground-stations/svalbard", None),
        ("GET", "/satellites", None),
        ("GET", f"/satellites/{NOAA19}", None),
        ("GET", "/datasets", None),
        ("GET", "/datasets/ds-acme", None),
        ("GET", "/datasets/ds-acme/files/frames.h5", None),
    ]
)
REFUSED = [("acme", *case) for case in ADMIN_ONLY] + [
    ("scientist", *case) for case in ADMIN_ONLY + OPERATOR_OR_ADMIN
]


def _call(world: World, who: str | None, method: str, path: str, body: Any, contact: str) -> Any:
    headers = world.as_(who) if who else {}
    path = path.replace("{contact}", contact)
    if isinstance(body, str):
        return world.client.request(
            method, path, content=body, headers={**headers, "Content-Type": "text/plain"}
        )
    return world.client.request(method, path, json=body, headers=headers)


@pytest.fixture
def booked(world: World) -> str:
    r = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    )
    assert r.status_code == 201
    return str(r.json()["id"])


@pytest.mark.parametrize(("who", "method", "path", "body"), REFUSED, ids=lambda v: str(v)[:40])
def test_role_may_not_use_the_resource(
    world: World, booked: str, who: str, method: str, path: str, body: Any
) -> None:
    r = _call(world, who, method, path, body, booked)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert who in r.json()["detail"]


def test_every_protected_operation_needs_a_key_and_refuses_unknown_or_revoked_ones(
    world: World, booked: str
) -> None:
    with world.session() as s:
        row = apikeys.authenticate(s, key=world.keys["acme"])
        assert row is not None
        apikeys.revoke_key(s, key_id=row[0], now=NOW)
    lapse_key_cache(world)
    for method, path, body in EVERY_PROTECTED:
        assert _call(world, None, method, path, body, booked).status_code == 401, path
        world.keys["bogus"] = "gs_not-a-key"
        assert _call(world, "bogus", method, path, body, booked).status_code == 401, path
        assert _call(world, "acme", method, path, body, booked).status_code == 401, path


def lapse_key_cache(world: World) -> None:
    """Let the process's key cache (GS_API_KEY_CACHE_S) run out."""
    cache = world.app.state.ctx.key_cache
    started = cache.monotonic_s()
    cache.monotonic_s = lambda: started + cache.ttl_s


def test_a_revoked_key_works_until_the_key_cache_lapses_then_is_refused(world: World) -> None:
    cache = world.app.state.ctx.key_cache
    assert cache.ttl_s == 5.0  # the default
    assert world.client.get("/contacts", headers=world.as_("acme")).status_code == 200
    with world.session() as s:
        row = apikeys.authenticate(s, key=world.keys["acme"])
        assert row is not None
        apikeys.revoke_key(s, key_id=row[0], now=NOW)
    assert world.client.get("/contacts", headers=world.as_("acme")).status_code == 200
    lapse_key_cache(world)
    r = world.client.get("/contacts", headers=world.as_("acme"))
    assert r.status_code == 401, r.text
    assert "unknown or revoked" in r.json()["detail"]


def test_unknown_keys_are_not_remembered(world: World) -> None:
    cache = world.app.state.ctx.key_cache
    before = len(cache)
    for i in range(20):
        auth = {"Authorization": f"Bearer gs_unknown-{i}"}
        assert world.client.get("/contacts", headers=auth).status_code == 401
    assert len(cache) == before


def test_key_cache_holds_at_most_its_size_dropping_expired_then_oldest_keys() -> None:
    clock = [0.0]
    cache = KeyCache(5.0, max_entries=3, monotonic_s=lambda: clock[0])
    who = [Principal(f"k{i}", f"key {i}", "admin", "", ()) for i in range(5)]
    cache.put("a", who[0])
    clock[0] = 4.0
    cache.put("b", who[1])
    cache.put("c", who[2])
    clock[0] = 6.0  # a has expired
    cache.put("d", who[3])
    assert (len(cache), cache.get("a"), cache.get("b")) == (3, None, who[1])
    cache.put("e", who[4])  # none expired: the oldest (b) goes
    assert [cache.get(k) for k in "bcde"] == [None, who[2], who[3], who[4]]
    clock[0] = 9.0  # c (put at 4) has expired, e (put at 6) not yet
    assert (cache.get("c"), cache.get("e")) == (None, who[4])


def test_key_cache_of_zero_seconds_remembers_nothing() -> None:
    cache = KeyCache(0.0)
    cache.put("a", Principal("k", "key", "admin", "", ()))
    assert (len(cache), cache.get("a")) == (0, None)


def test_health_needs_no_key(world: World) -> None:
    # /metrics is closed unless opted in: test_api_metrics_access.
    assert world.client.get("/healthz").json() == {"status": "ok", "version": package_version()}


def test_health_reads_the_version_once_not_per_request(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing the distribution's METADATA costs ~0.5 ms: per request it was
    # most of /healthz's CPU, the floor bench/api.py measures /contacts against.
    import groundstation.version

    reads: list[str] = []
    real = groundstation.version.version

    def counting(name: str) -> str:
        reads.append(name)
        return real(name)

    monkeypatch.setattr(groundstation.version, "version", counting)
    getattr(package_version, "cache_clear", lambda: None)()
    answers = [world.client.get("/healthz").json()["version"] for _ in range(3)]
    assert answers == [real("groundstation")] * 3
    assert len(reads) <= 1


def test_another_tenants_contact_answers_404_never_its_data(world: World, booked: str) -> None:
    for method, path in (
        ("GET", f"/contacts/{booked}"),
        ("POST", f"/contacts/{booked}/cancel"),
        ("GET", f"/contacts/{booked}/track"),
    ):
        r = world.client.request(method, path, headers=world.as_("globex"))
        assert r.status_code == 404, path
        assert "acme" not in r.text
    page = world.client.get("/contacts", headers=world.as_("globex")).json()
    assert page["count"] == 0 and page["data"] == []
    # The contact is still there for its own tenant and for the admin.
    assert (
        world.client.get(f"/contacts/{booked}", headers=world.as_("acme")).json()["state"]
        == "SCHEDULED"
    )
    assert world.client.get(f"/contacts/{booked}", headers=world.as_("admin")).status_code == 200


def test_another_tenants_satellite_answers_404_for_every_use(world: World) -> None:
    p = first_free_pass(world)
    cases = [
        ("GET", f"/satellites/{NOAA19}", None),
        ("GET", f"/satellites/{NOAA19}/ephemerides", None),
        ("GET", f"/satellites/{NOAA19}/ephemerides/in-force", None),
        ("GET", f"/passes?satellite={NOAA19}", None),
        ("POST", "/contacts", contact_body(p)),
        ("POST", "/plans", PLAN),
    ]
    for method, path, body in cases:
        r = world.client.request(method, path, json=body, headers=world.as_("globex"))
        assert r.status_code == 404, (path, r.text)
    r = world.client.post(
        f"/satellites/{NOAA19}/ephemerides",
        content="x",
        headers={**world.as_("globex"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 404
    listed = world.client.get("/satellites", headers=world.as_("globex")).json()
    assert [s["norad_id"] for s in listed["data"]] == [FUNCUBE]


def test_scientist_reads_only_the_datasets_of_granted_tenants(world: World) -> None:
    store = world.app.state.ctx.object_store()
    add_dataset(
        world.engine, store, dataset_id="ds-acme", norad_id=NOAA19, files={"frames.h5": b"a" * 10}
    )
    add_dataset(
        world.engine,
        store,
        dataset_id="ds-globex",
        norad_id=FUNCUBE,
        files={"frames.h5": b"g" * 10},
        contact_id="c-2",
    )
    listed = world.client.get("/datasets", headers=world.as_("scientist")).json()
    assert [d["id"] for d in listed["data"]] == ["ds-acme"] and listed["count"] == 1
    for path in ("/datasets/ds-globex", "/datasets/ds-globex/files/frames.h5"):
        assert world.client.get(path, headers=world.as_("scientist")).status_code == 404
        assert world.client.get(path, headers=world.as_("acme")).status_code == 404
        assert world.client.get(path, headers=world.as_("globex-scientist")).status_code == 200
    assert (
        world.client.get(
            "/datasets/ds-acme/files/frames.h5", headers=world.as_("scientist")
        ).content
        == b"a" * 10
    )
    assert world.client.get("/datasets", headers=world.as_("admin")).json()["count"] == 2


def test_operator_registers_satellites_only_for_its_own_tenant(world: World) -> None:
    r = world.client.post(
        "/satellites", json={**SAT, "tenant": "acme"}, headers=world.as_("globex")
    )
    assert r.status_code == 403
    r = world.client.post("/satellites", json=SAT, headers=world.as_("globex"))
    assert r.status_code == 201 and r.json()["tenant"] == "globex"
    r = world.client.post(
        "/satellites", json={**SAT, "norad_id": 90002}, headers=world.as_("admin")
    )
    assert r.status_code == 422 and "tenant" in r.json()["detail"]
