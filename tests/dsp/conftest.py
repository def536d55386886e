import os

import pytest


@pytest.fixture
def grsat() -> None:
    """gr-satellites is available (scripts/services/grsat.sh exported GS_GRSAT):
    skip locally when it is not, fail under CI=true."""
    if os.environ.get("GS_GRSAT") == "1":
        return
    message = "GS_GRSAT not set: scripts/services/grsat.sh start did not provide gr-satellites"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
