"""``groundstation demo --serve``: after its passes the demo keeps the
service up, so a new user can open the console on the demo's contacts."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from groundstation.apikeys import KEY_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_serve_leaves_the_console_up_on_the_demos_contacts(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    # x10: the pass keeps up with the service clock on a loaded machine
    argv = [sys.executable, "-m", "groundstation.cli", "demo", "--contacts", "1", "--serve"]
    argv += ["--speedup", "10"]
    argv += ["--port", str(port), "--data-dir", str(tmp_path / "demo")]
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 480
        for line in proc.stdout:
            seen.append(line)
            if line.strip().startswith(KEY_PREFIX) or time.monotonic() > deadline:
                break
        out = "".join(seen)
        key = seen[-1].strip()
        assert key.startswith(KEY_PREFIX), out
        assert f"The web console of this demo: http://127.0.0.1:{port}/" in out
        assert "The service clock is simulated" in out
        completed = re.search(r"(\d) of 1 contacts completed", out)
        assert completed, out
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as client:
            page = client.get("/")
            assert page.status_code == 200 and "groundstation console" in page.text
            session = client.get("/console/session").json()
            assert (session["role"], session["clock"]) == ("admin", "simulated")
            contacts = client.get("/contacts").json()["data"]
            # the demo's contact, as the demo reported it
            (contact,) = contacts
            assert contact["simulated"] is True
            if completed.group(1) == "1":
                assert contact["state"] == "COMPLETED"
                (dataset,) = client.get("/datasets").json()["data"]
                assert dataset["contact_id"] == contact["id"]
            else:
                assert contact["state"] == "FAILED"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
