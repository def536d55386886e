import pytest

from tests.service_env import need_env


@pytest.fixture
def grsat() -> None:
    """gr-satellites is available (scripts/services/grsat.sh exported GS_GRSAT=1):
    skip locally when it is not, fail under CI=true."""
    need_env("GS_GRSAT", "grsat")
