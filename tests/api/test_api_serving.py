"""What the serving-speed changes must not change: the JSON written from
plain rows equals what the response schema writes, the reservation answer
equals the stored contact, the thread pool follows ``GS_API_THREADS``, and
the serving processes' collector settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import schemas
from api.app import create_app
from groundstation.models import Contact
from groundstation.settings import Settings

from .conftest import NOW, World
from .helpers import contact_body, first_free_pass

REPO = Path(__file__).resolve().parents[2]


def test_contacts_page_json_is_exactly_what_the_schema_writes(world: World) -> None:
    for skip in (0, 1, 2):
        body = contact_body(first_free_pass(world, skip=skip))
        assert (
            world.client.post("/contacts", json=body, headers=world.as_("acme")).status_code == 201
        )
    with world.session() as session:  # a vetted contact: every field has a value
        first = session.scalars(select(Contact).order_by(Contact.booked_start)).first()
        assert first is not None
        first.frames_ok, first.frames_expected, first.esn0_db = 420, 1000, 6.125
        first.verdict, first.verdict_source, first.verdict_at = "partial", "auto", NOW
        first.verdict_reason = "42 % of frames decoded (420 of 1000)"
        session.commit()
    r = world.client.get("/contacts", params={"limit": 2}, headers=world.as_("admin"))
    assert r.status_code == 200
    assert json.loads(r.content)["data"][0]["verdict"] == "partial"
    page = schemas.ContactsPublic.model_validate_json(r.content)
    assert len(page.data) == 2 and page.count == 3 and page.next_cursor
    # Same fields, same order, same number and time formats (UTC as Z).
    assert r.content == page.model_dump_json().encode()
    assert json.loads(r.content)["data"][0]["aos"].endswith("Z")


def test_reservation_answer_equals_the_contact_read_back(world: World) -> None:
    body = contact_body(first_free_pass(world))
    booked = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert booked.status_code == 201, booked.text
    stored = world.client.get(f"/contacts/{booked.json()['id']}", headers=world.as_("acme"))
    expected = {k: v for k, v in stored.json().items() if k != "history"}
    assert booked.json() == expected
    assert booked.json()["station_id"] == "svalbard" and booked.json()["norad_id"] == 33591


def test_sync_routes_run_on_as_many_threads_as_the_setting_says(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, api_threads=3))
    with TestClient(app) as client:
        assert client.portal is not None  # set while the client is open
        assert client.portal.call(_thread_tokens) == 3
    app.state.ctx.engine.dispose()


def _thread_tokens() -> float:
    return anyio.to_thread.current_default_thread_limiter().total_tokens


def test_zero_api_threads_is_refused_naming_the_value() -> None:
    with pytest.raises(ValueError, match="api_threads must be >= 1, got 0"):
        Settings(api_threads=0)


def test_serving_processes_freeze_the_start_up_heap_and_raise_the_gc_threshold() -> None:
    code = (
        "import gc; from api.app import tune_gc_for_serving; "
        "before = gc.get_freeze_count(); tune_gc_for_serving(); "
        "print(before, gc.get_freeze_count(), gc.get_threshold())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split(maxsplit=2)
    assert int(out[0]) == 0 and int(out[1]) > 10_000
    assert out[2].strip() == "(10000, 10, 10)"
