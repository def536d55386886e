"""hamlib's daemons from Debian (libhamlib-utils, scripts/services/hamlib.sh),
one per test on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.service_env import need_env, scratch_database
from tests.support.central import Central, open_central


@dataclass(frozen=True)
class Daemon:
    host: str
    port: int
    process: subprocess.Popen[bytes]


@pytest.fixture
def hamlib() -> None:
    """rotctld and rigctld are installed (scripts/services/hamlib.sh exported
    GS_HAMLIB=1): skip locally when they are not, fail under CI=true."""
    need_env("GS_HAMLIB", "hamlib")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_daemon(program: str, model: int) -> tuple[subprocess.Popen[bytes], Daemon]:
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [program, "-m", str(model), "-T", "127.0.0.1", "-t", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return proc, Daemon("127.0.0.1", port, proc)
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    pytest.fail(f"{program} -m {model} did not start listening on 127.0.0.1")


@pytest.fixture
def rotctld(hamlib: None) -> Iterator[Daemon]:
    """``rotctld -m 1``: hamlib's dummy rotator (it moves at 6 deg/s)."""
    proc, daemon = start_daemon("rotctld", 1)
    yield daemon
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def rigctld(hamlib: None) -> Iterator[Daemon]:
    """``rigctld -m 1``: hamlib's dummy radio."""
    proc, daemon = start_daemon("rigctld", 1)
    yield daemon
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def gnuradio() -> None:
    """Debian's GNU Radio is installed (scripts/services/grsat.sh installs it
    with gr-satellites and exported GS_GRSAT=1)."""
    need_env("GS_GRSAT", "grsat")


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
def soapy() -> None:
    """Debian's SoapySDR (python3-soapysdr) is installed (scripts/services/soapy.sh
    exported GS_SOAPY=1)."""
    need_env("GS_SOAPY", "soapy")


@pytest.fixture
def central(tmp_path: Path, postgres_base_url: str) -> Iterator[Central]:
    """``open_central``: one contact booked at a station; a station key for
    it and one for another station; the API served; the lifecycle not
    started yet. On PostgreSQL, as a central service with agents runs."""
    with scratch_database(postgres_base_url, "agent") as url:
        yield from open_central(tmp_path, url)


@pytest.fixture
def slow_central(tmp_path: Path, postgres_base_url: str) -> Iterator[Central]:
    """``central`` on a clock slow enough (x8) for the agent's receiver to
    keep up with the pass on a loaded machine."""
    with scratch_database(postgres_base_url, "agent") as url:
        yield from open_central(tmp_path, url, speedup=8.0)
