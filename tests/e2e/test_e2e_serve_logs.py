"""``groundstation serve`` as a real process: JSON log lines only (uvicorn's
included), its housekeeping thread running on its interval, /readyz with
the disk watermark."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_logs_json_lines_and_runs_housekeeping_on_its_interval(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    topics = data_dir / "topics" / "groundstation.frames"
    topics.mkdir(parents=True)
    # An old closed segment (records of 2020) and the active one: the first goes.
    old: dict[str, object] = {
        "offset": 0,
        "timestamp_ms": 1_600_000_000_000,
        "key_b64": None,
        "headers": [],
    }
    (topics / f"{0:020d}.jsonl").write_text(json.dumps({**old, "value_b64": ""}) + "\n")
    (topics / f"{1:020d}.jsonl").write_text("")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GS_") or k.startswith("GS_TEST")
    }
    env.update(
        GS_DATA_DIR=str(data_dir),
        GS_LOG_FORMAT="json",
        GS_LOG_LEVEL="INFO",
        GS_HOUSEKEEPING_INTERVAL_S="0.3",
        GS_DISK_WARN_FREE="100%",  # always "low": every run warns
    )
    port = _free_port()
    err = tmp_path / "serve.err"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "groundstation.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None, err.read_text()
        assert ready.status_code == 200
        assert ready.json()["checks"]["disk"].startswith("ok, but low:")
        time.sleep(1.0)  # a few housekeeping runs
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    lines = [json.loads(line) for line in err.read_text().splitlines()]  # every line is JSON
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    loggers = {line["logger"] for line in lines}
    assert "uvicorn.error" in loggers  # uvicorn's own lines go through the same format
    assert not any(str(name).startswith("apscheduler") for name in loggers)
    disk = [line for line in lines if line["logger"] == "groundstation.housekeeping"]
    assert len([d for d in disk if d["level"] == "WARNING"]) >= 2
    assert "below GS_DISK_WARN_FREE=100%" in str(disk[0]["message"])
    removed = [line for line in disk if line["message"] == "housekeeping run"]
    assert removed[0]["topic_segments_deleted"] == 1
    assert not (topics / f"{0:020d}.jsonl").exists()
    assert (topics / f"{1:020d}.jsonl").exists()
    assert proc.returncode == 0
