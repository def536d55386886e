"""GET /contacts/{id}/progress: the live figures of a pass (frames decoded,
Es/N0, Doppler, elapsed and remaining time) stored by the executor while the
pass runs, read back by the API from the database; final after LOS. On SQLite
and PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from api.app import attach_runtime, create_app
from groundstation.clock import SimulatedClock
from groundstation.downlink import LinkModel
from groundstation.models import Contact
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from groundstation.states import ContactState
from tests.support.progress import store_progress

from .conftest import NOW, World
from .helpers import contact_body, first_free_pass

#: The pass keeps the service clock's pace only on an idle machine: let it lag.
UNCHECKED_LAG_S = 3600.0


def _book_short(world: World, *, seconds: float) -> dict[str, Any]:
    """A contact of ``seconds`` around the TCA of NOAA 19's first free pass."""
    p = first_free_pass(world)
    tca = datetime.fromisoformat(p["tca"])
    half = timedelta(seconds=seconds / 2)
    body = {**contact_body(p), "start": (tca - half).isoformat(), "end": (tca + half).isoformat()}
    r = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_progress_advances_during_the_pass_and_is_final_after_los(
    world: World, settings: Settings
) -> None:
    contact = _book_short(world, seconds=150)
    cid = contact["id"]
    start = datetime.fromisoformat(contact["booked_start"]) - timedelta(seconds=5)
    s = settings.model_copy(update={"downlink_max_lag_s": UNCHECKED_LAG_S})
    # 10 dB more EIRP than the VHF default: the link closes all along a UHF pass.
    link = LinkModel(eirp_dbw=1.5)
    runtime = open_runtime(s, clock=SimulatedClock(start, speedup=20.0), link=link)
    app = create_app(s, clock=runtime.clock)
    seen: list[dict[str, Any]] = []
    try:
        attach_runtime(app, runtime)
        with TestClient(app) as client:
            first = client.get(f"/contacts/{cid}/progress", headers=world.as_("acme"))
            assert first.status_code == 200, first.text
            assert first.json()["status"] == "not_started"
            assert first.json()["frames_decoded"] is None
            runtime.start()
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                r = client.get(f"/contacts/{cid}/progress", headers=world.as_("acme"))
                assert r.status_code == 200, r.text
                seen.append(r.json())
                if r.json()["state"] in ("COMPLETED", "FAILED"):
                    break
                time.sleep(0.2)
            detail = client.get(f"/contacts/{cid}", headers=world.as_("acme")).json()
            other = client.get(f"/contacts/{cid}/progress", headers=world.as_("globex"))
    finally:
        runtime.close()
        app.state.ctx.engine.dispose()

    assert detail["state"] == "COMPLETED", detail["state_reason"]
    running = [p for p in seen if p["status"] == "running"]
    decoded = [p["frames_decoded"] for p in running]
    assert len(set(decoded)) >= 2, seen  # the figures moved while the pass ran
    assert decoded == sorted(decoded)
    elapsed = [p["elapsed_s"] for p in running]
    assert elapsed == sorted(elapsed) and elapsed[0] < elapsed[-1]
    for p in running:
        assert p["state"] == "PASS"
        assert p["simulated"] is True
        assert p["duration_s"] == 150.0
        assert abs(p["elapsed_s"] + p["remaining_s"] - p["duration_s"]) < 0.01
        assert p["doppler_hz"] is not None and abs(p["doppler_hz"]) < 15e3  # UHF LEO
    assert any(p["esn0_db"] is not None for p in running)
    last = seen[-1]
    assert last["status"] == "final"
    assert last["remaining_s"] < 1.0  # the last frame ends within a frame of LOS
    assert last["frames_decoded"] == detail["frames_ok"] > decoded[-1] > 0
    assert last["esn0_db"] == round(detail["esn0_db"], 3)
    assert other.status_code == 404  # another tenant's contact


def test_figures_left_by_a_stopped_pass_are_final_once_the_contact_left_pass(
    world: World,
) -> None:
    p = first_free_pass(world)
    r = world.client.post("/contacts", json=contact_body(p), headers=world.as_("acme"))
    cid = r.json()["id"]
    with world.session() as session:
        store_progress(
            session,
            cid,
            frames_decoded=17,
            frames_sent=20,
            updated_at=NOW,
            elapsed_s=40.0,
            esn0_db=None,
        )
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.state = ContactState.PASS.value
        session.commit()
    got = world.client.get(f"/contacts/{cid}/progress", headers=world.as_("acme")).json()
    assert (got["status"], got["frames_decoded"], got["remaining_s"]) == ("running", 17, 560.0)
    assert (got["esn0_db"], got["doppler_hz"], got["frames_sent"]) == (None, -1234.5, 20)
    with world.session() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.state = ContactState.FAILED.value
        session.commit()
    got = world.client.get(f"/contacts/{cid}/progress", headers=world.as_("acme")).json()
    assert (got["status"], got["state"], got["frames_decoded"]) == ("final", "FAILED", 17)


def test_progress_of_an_unknown_contact_is_404_naming_it(world: World) -> None:
    r = world.client.get("/contacts/no-such-contact/progress", headers=world.as_("acme"))
    assert r.status_code == 404
    assert "no-such-contact" in r.json()["detail"]
