"""Through real HTTP (uvicorn on loopback): racing reservations and the SSE stream."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from .conftest import World
from .helpers import contact_body, first_free_pass


def test_many_clients_reserving_overlapping_windows_get_one_201_and_409s_naming_it(
    world: World, live_url: str
) -> None:
    p = first_free_pass(world)
    n = 24
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    # Every client asks for the same pass, some shifted by a few seconds, so
    # the windows overlap without being identical.
    bodies = []
    for i in range(n):
        body = contact_body(p)
        shift = timedelta(seconds=5 * (i % 3))
        body["start"] = (datetime.fromisoformat(p["aos"]) + shift).isoformat()
        bodies.append(body)

    def client(i: int) -> None:
        with httpx.Client(base_url=live_url, timeout=60) as c:
            barrier.wait()
            results[i] = c.post("/contacts", json=bodies[i], headers=world.as_("acme"))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * (n - 1), [
        r.text for r in results if r.status_code not in (201, 409)
    ]
    winner = next(r.json() for r in results if r.status_code == 201)
    for r in results:
        if r.status_code == 409:
            assert r.json()["conflicting_contact"]["id"] == winner["id"]
    page = world.client.get(
        "/contacts", params={"state": "SCHEDULED"}, headers=world.as_("admin")
    ).json()
    assert page["count"] == 1


def _read_events(
    url: str,
    headers: dict[str, str],
    want: int,
    out: list[dict[str, Any]],
    ready: threading.Event,
    idle_timeout_s: float = 30.0,
) -> float:
    """Collect `want` contact events, or stop after `idle_timeout_s` without
    any byte; returns when it stopped (time.monotonic())."""
    try:
        with (
            httpx.Client(base_url=url, timeout=idle_timeout_s) as c,
            c.stream("GET", "/contacts/events", headers=headers) as r,
        ):
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = ""
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "contact":
                    out.append(json.loads(line[5:]))
                    if len(out) >= want:
                        break
    except httpx.ReadTimeout:
        pass
    return time.monotonic()


def test_contact_events_stream_to_sse_clients_of_the_tenant_only(
    world: World, live_url: str
) -> None:
    acme: list[dict[str, Any]] = []
    globex: list[dict[str, Any]] = []
    ready_a, ready_g = threading.Event(), threading.Event()
    globex_stopped: list[float] = []
    # Predicted before the streams open: globex's idle timeout runs from its
    # ": connected" and must outlast the booking and the cancellation alone
    # (it ran out during a 24 h prediction on a loaded machine).
    body = contact_body(first_free_pass(world))
    ta = threading.Thread(target=_read_events, args=(live_url, world.as_("acme"), 2, acme, ready_a))
    tg = threading.Thread(
        target=lambda: globex_stopped.append(
            _read_events(live_url, world.as_("globex"), 1, globex, ready_g, idle_timeout_s=10.0)
        )
    )
    ta.start()
    tg.start()
    assert ready_a.wait(10) and ready_g.wait(10)
    with httpx.Client(base_url=live_url, timeout=30) as c:
        r = c.post("/contacts", json=body, headers=world.as_("acme"))
        assert r.status_code == 201
        contact_id = r.json()["id"]
        assert (
            c.post(f"/contacts/{contact_id}/cancel", headers=world.as_("acme")).status_code == 200
        )
    cancelled_at = time.monotonic()
    ta.join(timeout=60)
    tg.join(timeout=60)
    assert [(e["contact_id"], e["old_state"], e["new_state"]) for e in acme] == [
        (contact_id, "AVAILABLE", "SCHEDULED"),
        (contact_id, "SCHEDULED", "CANCELLED"),
    ]
    # The other tenant's stream was open all along and received nothing.
    assert globex == [] and globex_stopped[0] > cancelled_at
