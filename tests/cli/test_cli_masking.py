"""The database password never shows: not in any command's output, not in
``demo``'s or ``db upgrade``'s line naming the database, not in ``serve``'s
log, not in ``/readyz`` (healthy or not), not in errors.

The URL carries a password of its own (the test server, started by
scripts/services/postgres.sh, trusts local connections whatever the password,
so any password opens it) in a scratch database per test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from groundstation.cli import main
from groundstation.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = f"Pw-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def secret_url(postgres_base_url: str) -> Iterator[str]:
    """A scratch PostgreSQL database, as a URL with ``PASSWORD`` in it."""
    base = make_url(postgres_base_url)
    name = f"{base.database}_mask_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name, password=PASSWORD).render_as_string(hide_password=False)
    probe = make_engine(url)
    with probe.connect() as conn:  # the server must accept any password (trust)
        assert conn.execute(text("SELECT 1")).scalar() == 1
    probe.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    env.update(
        GS_DATA_DIR=str(tmp_path / "data"),
        GS_DATABASE_URL=url,
        GS_CLOCK="simulated",
        GS_CLOCK_START="2023-07-04T18:00:00Z",
    )
    return env


def test_no_command_shows_the_database_password(
    secret_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in _env(tmp_path, secret_url).items():
        if key.startswith("GS_"):
            monkeypatch.setenv(key, value)
    requests = tmp_path / "requests.yaml"
    requests.write_text("- {id: n19, norad_id: 33591, wanted_passes: 1}\n")
    window = ["--start", "2023-07-04T18:00:00Z", "--end", "2023-07-05T06:00:00Z"]
    commands = [
        ["db", "upgrade"],
        ["stations", "import", str(ROOT / "sample_tles" / "stations.yaml"),
         "--antennas-per-station", "1"],
        ["stations", "list"],
        ["antennas", "list"],
        ["satellites", "add", "--norad-id", "33591", "--name", "NOAA 19", "--tenant", "acme",
         "--downlink-freq-hz", "137.1e6"],
        ["satellites", "list"],
        ["profiles", "add", "--id", "leo", "--min-viable-duration-s", "120"],
        ["ephemeris", "upload", str(ROOT / "tests" / "data" / "domain" / "sample.tle")],
        ["ephemeris", "list", "--norad-id", "33591"],
        ["availability", "--norad-id", "33591", "--profile", "leo", *window],
        ["plan", str(requests), "--profile", "leo", "--book", *window],
        ["contacts", "list", "--json"],
        ["keys", "create", "--name", "k", "--role", "admin"],
        ["keys", "list"],
        ["cancel", "no-such-contact"],
        ["serve-scheduler", "--run-for-s", "0.2"],
    ]  # fmt: skip
    for argv in commands:
        code = main(argv)
        out = capsys.readouterr()
        assert code in (0, 2), (argv, out.err)
        assert PASSWORD not in out.out + out.err, argv
        if argv == ["db", "upgrade"]:
            assert ":***@" in out.out
        if argv == ["plan", str(requests), "--profile", "leo", "--book", *window]:
            assert "booked 1" in out.out  # the commands really ran on that database


def test_demo_names_its_database_without_the_password(secret_url: str, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundstation.cli", "demo", "--contacts", "1"],
        cwd=ROOT,
        env=_env(tmp_path, secret_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Loaded ") or time.monotonic() > deadline:
                break
    finally:
        proc.kill()
        proc.wait(timeout=30)
    loaded = [line for line in seen if line.startswith("Loaded ")]
    assert loaded, "".join(seen)
    assert ":***@" in loaded[0]
    assert PASSWORD not in "".join(seen)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_log_and_readyz_never_show_the_password(
    secret_url: str, postgres_base_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "groundstation.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=_env(tmp_path, secret_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, log.read_text()
            try:
                ready = http.get("/readyz")
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert PASSWORD not in ready.text
        # The database goes away: /readyz says so, without the password.
        admin = make_engine(postgres_base_url, isolation_level="AUTOCOMMIT")
        name = make_url(secret_url).database
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        down = http.get("/readyz")
        assert down.status_code == 503, down.text
        assert down.json()["checks"]["database"].startswith("unreachable")
        assert PASSWORD not in down.text
        time.sleep(2.0)  # the scheduler's heartbeat fails and logs it
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    text_of_log = log.read_text(errors="replace")
    assert "Uvicorn running" in text_of_log or "Application startup complete" in text_of_log
    assert PASSWORD not in text_of_log


def test_mask_url_and_redact_hide_passwords_wherever_they_appear() -> None:
    from groundstation.db import mask_url, redact

    assert mask_url("postgresql+psycopg://u:s3cr%40t@h:5432/db") == (
        "postgresql+psycopg://u:***@h:5432/db"
    )
    assert mask_url("postgresql+psycopg://u:Secret99@h:notaport/db") == (
        "postgresql+psycopg://u:***@h:notaport/db"
    )
    assert mask_url("sqlite:////var/gs/groundstation.db") == "sqlite:////var/gs/groundstation.db"
    text = "Could not parse SQLAlchemy URL from string 'postgresql://u:Secret99@h:x/db'"
    assert redact(text) == "Could not parse SQLAlchemy URL from string 'postgresql://u:***@h:x/db'"
    assert redact("host=h password=Secret99 user=u") == "host=h password=*** user=u"
    assert redact("driver said s3cr@t", url="postgresql://u:s3cr%40t@h/db") == "driver said ***"


def test_the_serve_log_filter_masks_messages_arguments_and_tracebacks() -> None:
    import io
    import logging

    from groundstation.db import RedactingFilter

    url = "postgresql+psycopg://u:Secret99@db.example:5432/gs"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(url))
    logger = logging.getLogger("test.redacting")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting to %s", url)
        try:
            raise RuntimeError(f"cannot reach {url}")
        except RuntimeError:
            logger.exception("start-up failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "Secret99" not in out
    assert "connecting to postgresql+psycopg://u:***@db.example:5432/gs" in out
    assert "RuntimeError: cannot reach postgresql+psycopg://u:***@" in out
