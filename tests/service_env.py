"""The integration services the tests use (started by scripts/test.sh through
scripts/services/*.sh): a missing service means skip when run locally and
FAIL under CI=true, where the integration tests must run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KAFKA_SCRIPT = REPO / "scripts" / "services" / "kafka.sh"


def need_env(var: str, service: str) -> str:
    """The value of ``var`` exported by ``scripts/services/<service>.sh start``."""
    value = os.environ.get(var, "")
    if not value:
        msg = f"{var} is not set: start {service} with scripts/services/{service}.sh start"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: integration tests must not skip)")
        pytest.skip(msg)
    return value


class BrokerControl:
    """Stops and starts the test broker, keeping its data and port."""

    def _run(self, verb: str) -> None:
        subprocess.run(["bash", str(KAFKA_SCRIPT), verb], check=True, timeout=180)

    def stop(self) -> None:
        self._run("broker-stop")

    def start(self) -> None:
        self._run("broker-start")
