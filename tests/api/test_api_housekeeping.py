"""What housekeeping changes at the API: /readyz and the disk watermarks, the
event stream over pruned history, datasets removed by retention."""

from __future__ import annotations

import json
import threading
from collections import namedtuple
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from groundstation import event_log
from groundstation.db import make_session_factory
from groundstation.settings import Settings
from ingest.catalog import CatalogService

from .conftest import NOW, World
from .helpers import contact_body, dataset_world, first_free_pass

GIB = 1024**3
Usage = namedtuple("Usage", "total used free")


def usage(free_gib: float, total_gib: float = 100.0) -> Any:
    return lambda path: Usage(
        int(total_gib * GIB), int((total_gib - free_gib) * GIB), int(free_gib * GIB)
    )


def test_readyz_reports_free_disk_space_and_is_503_below_the_refuse_watermark(
    world: World,
) -> None:
    ctx = world.app.state.ctx
    ctx.disk_usage = usage(40)
    r = world.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["disk"].startswith("ok (40.00 GiB (40.0 %) free of 100.00 GiB")

    ctx.disk_usage = usage(8)  # below the 10 % warning: still ready, and says so
    r = world.client.get("/readyz")
    assert r.status_code == 200, r.text
    disk = r.json()["checks"]["disk"]
    assert disk.startswith("ok, but low: 8.00 GiB (8.0 %) free")
    assert "below GS_DISK_WARN_FREE=10%" in disk

    ctx.disk_usage = usage(3)  # below the 5 % refuse watermark
    r = world.client.get("/readyz")
    assert r.status_code == 503, r.text
    assert r.json()["status"] == "not ready"
    disk = r.json()["checks"]["disk"]
    assert disk.startswith("full: 3.00 GiB (3.0 %) free of 100.00 GiB")
    assert "GS_DISK_REFUSE_FREE=5% (5.00 GiB): new recordings are refused" in disk


def _stream(url: str, headers: dict[str, str], want: int, out: list[tuple[str, str, str]]) -> None:
    """Collect ``want`` SSE events as (event, id, data)."""
    with (
        httpx.Client(base_url=url, timeout=10) as c,
        c.stream("GET", "/contacts/events", headers=headers) as r,
    ):
        assert r.status_code == 200
        event, event_id = "", ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("id:"):
                event_id = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                out.append((event, event_id, line[5:].strip()))
                event, event_id = "", ""
                if len(out) >= want:
                    return


@pytest.fixture
def booked_then_pruned(world: World) -> Iterator[tuple[int, int, str]]:
    """Contact A booked and cancelled, contact B booked; then A's history pruned.
    Yields (A's first event id, the pruned-through id, B's id)."""
    p = first_free_pass(world)
    a = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme")).json()
    assert world.client.post(f"/contacts/{a['id']}/cancel", headers=world.as_("acme")).is_success
    b = world.client.post(
        "/contacts", json=contact_body(first_free_pass(world)), headers=world.as_("acme")
    ).json()
    sessions = make_session_factory(world.engine)
    with sessions() as s:
        history = event_log.events_after(s, event_log.START)
    first_a = min(e.id for e in history if getattr(e.event, "contact_id", None) == a["id"])
    result = event_log.prune(
        sessions, ended_before=NOW + timedelta(days=30), now=NOW + timedelta(days=30)
    )
    # A's two rows and the resource events (the seed's ephemeris uploads),
    # all older than the cut-off; B's booking is kept.
    resources = sum(1 for e in history if getattr(e.event, "contact_id", None) is None)
    assert resources >= 1 and result.rows == 2 + resources
    yield first_a, result.through_id, b["id"]


def test_a_client_resuming_before_pruned_history_is_told_then_gets_what_is_left(
    world: World, live_url: str, booked_then_pruned: tuple[int, int, str]
) -> None:
    first_a, through, b_id = booked_then_pruned
    got: list[tuple[str, str, str]] = []
    headers = {**world.as_("acme"), "Last-Event-ID": str(first_a)}
    reader = threading.Thread(target=_stream, args=(live_url, headers, 2, got))
    reader.start()
    reader.join(15)
    assert len(got) == 2, got
    (kind, event_id, data), (next_kind, _, next_data) = got
    assert (kind, event_id) == ("history-pruned", "")  # no id: the client's cursor stays
    notice = json.loads(data)
    assert notice["last_event_id"] == first_a
    assert notice["pruned_through_id"] == through
    assert f"up to event id {through} was pruned" in notice["detail"]
    assert next_kind == "contact"
    assert json.loads(next_data)["contact_id"] == b_id


def test_a_client_resuming_after_the_pruned_history_is_told_nothing(
    world: World, live_url: str, booked_then_pruned: tuple[int, int, str]
) -> None:
    _, through, b_id = booked_then_pruned
    got: list[tuple[str, str, str]] = []
    headers = {**world.as_("acme"), "Last-Event-ID": str(through)}
    reader = threading.Thread(target=_stream, args=(live_url, headers, 1, got))
    reader.start()
    reader.join(15)
    [(kind, _, data)] = got
    assert kind == "contact" and json.loads(data)["contact_id"] == b_id


@pytest.fixture
def store_world(settings: Settings) -> Iterator[World]:
    with dataset_world(settings) as world:
        yield world


def test_a_dataset_removed_by_retention_is_not_listed_and_answers_410_with_why(
    store_world: World,
) -> None:
    w = store_world
    h = w.as_("scientist")
    assert w.client.get("/datasets", headers=h).json()["count"] == 1
    reason = "retention: pass ended 2023-07-04, kept 30 days (GS_DATASET_RETENTION_DAYS)"
    assert CatalogService(w.engine).expire("ds-1", now=NOW, reason=reason) is not None
    assert w.client.get("/datasets", headers=h).json()["count"] == 0
    r = w.client.get("/datasets/ds-1", headers=h)
    assert r.status_code == 410
    assert r.headers["content-type"].startswith("application/problem+json")
    assert reason in r.json()["detail"]
    assert "2023-07-04T18:00:00+00:00" in r.json()["detail"]
    assert w.client.get("/datasets/ds-1/files/frames.h5", headers=h).status_code == 410
    # Another tenant's key still learns nothing about it.
    assert w.client.get("/datasets/ds-1", headers=w.as_("globex-scientist")).status_code == 404
