"""``groundstation serve`` as a real process runs the webhook delivery
worker: a hook registered over its API receives a booking, signed; a
delivery still failing when serve stops is retried by the next serve."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from groundstation.db import make_engine, make_session_factory, migrate
from tests.support.webhooks import Receiver
from tests.support.world import NOAA19, NOW, seed

from .conftest import api_up, free_port, wait_for

SECRET = "e2e-webhook-secret-0123456789"


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GS_") or k.startswith("GS_TEST")
    }
    env.pop("GS_TEST_PAUSE_AT", None)
    env.update(
        GS_DATA_DIR=str(tmp_path / "var"),
        GS_CLOCK="simulated",
        GS_CLOCK_START=NOW.isoformat(),
        GS_CLOCK_SPEEDUP="1",
        GS_WEBHOOK_ALLOW_PRIVATE="true",
        GS_WEBHOOK_BACKOFF_S="0.3",
        GS_WEBHOOK_POLL_S="0.2",
        GS_WEBHOOK_TIMEOUT_S="5",
    )
    with open(tmp_path / "serve.log", "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "groundstation.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def _deliveries(http: httpx.Client, hook_id: str, key: str) -> list[dict[str, object]]:
    r = http.get(f"/webhooks/{hook_id}/deliveries", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


def test_serve_delivers_webhooks_and_a_restarted_serve_retries_what_failed(
    tmp_path: Path,
) -> None:
    (tmp_path / "var").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'groundstation.db'}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        key = seed(session)["acme"]
    engine.dispose()
    auth = {"Authorization": f"Bearer {key}"}
    receiver = Receiver(SECRET, statuses=[500] * 1000).start()  # failing until told
    port = free_port()
    proc = _serve(tmp_path, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            wait_for(lambda: api_up(http), timeout_s=120, what="serve to answer")
            r = http.post("/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=auth)
            assert r.status_code == 201, r.text
            hook_id = r.json()["id"]
            passes = http.get(
                "/passes",
                params={
                    "satellite": NOAA19,
                    "start": NOW.isoformat(),
                    "end": (NOW + timedelta(hours=24)).isoformat(),
                    "min_elevation": 10,
                },
                headers=auth,
            ).json()["data"]
            p = next(p for p in passes if p["duration_s"] >= 300)
            r = http.post(
                "/contacts",
                json={
                    "norad_id": NOAA19,
                    "antenna_id": "sv-uhf",
                    "profile_id": "leo",
                    "start": p["aos"],
                    "end": p["los"],
                },
                headers=auth,
            )
            assert r.status_code == 201, r.text
            wait_for(lambda: len(receiver.received) >= 2, timeout_s=60, what="two failed attempts")
    finally:
        _stop(proc)
    attempts_before = len(receiver.received)
    receiver.statuses.clear()  # answers 200 from now on

    proc = _serve(tmp_path, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            wait_for(lambda: api_up(http), timeout_s=120, what="serve to answer again")
            wait_for(
                lambda: _deliveries(http, hook_id, key)[0]["state"] == "delivered",
                timeout_s=60,
                what="the delivery after the restart",
            )
            [d] = _deliveries(http, hook_id, key)
    finally:
        _stop(proc)
        receiver.stop()
    assert proc.returncode == 0
    assert d["event_type"] == "contact.booked"
    assert d["attempts"] == attempts_before + 1
    codes = [a["status_code"] for a in d["attempt_log"]]  # type: ignore[attr-defined]
    assert codes == [500] * attempts_before + [200]
    assert all(r.signature_ok for r in receiver.received)
    assert len({r.headers["X-Groundstation-Delivery"] for r in receiver.received}) == 1
