"""Service settings: one pydantic-settings ``Settings``, environment prefix ``GS_``.

Loaded once at the edge (CLI, app factory) with ``Settings()`` and passed in;
nothing here reads the environment at import time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of the ground-station service.

    Every field can be set from the environment as ``GS_<FIELD>``, e.g.
    ``GS_DATABASE_URL=postgresql+psycopg://user:pw@host/db``.
    """

    model_config = SettingsConfigDict(env_prefix="GS_", extra="ignore")

    # Where the embedded database and other local state live.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means the embedded SQLite file under data_dir.
    database_url: str = ""

    # Service clock: "real" follows the wall clock; "simulated" starts at
    # clock_start and runs clock_speedup times faster than the wall clock.
    clock: Literal["real", "simulated"] = "real"
    clock_start: datetime | None = None
    clock_speedup: float = 1.0

    # Booking rules.
    max_ephemeris_age_days: float = 7.0
    # How far a requested window may lie outside the predicted AOS/LOS.
    window_tolerance_s: float = 60.0

    # Lifecycle scheduler.
    scheduler_instance_id: str = ""
    scheduler_heartbeat_s: float = 10.0
    # How late (service seconds) a transition may run and still count as on
    # time; a later AOS means the pass was missed.
    scheduler_grace_s: float = 60.0

    @field_validator("clock_start")
    @classmethod
    def _clock_start_is_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("clock_speedup")
    @classmethod
    def _speedup_positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"clock_speedup must be > 0, got {value}")
        return value

    def effective_database_url(self) -> str:
        """The configured URL, or ``sqlite:///<data_dir>/groundstation.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'groundstation.db').as_posix()}"
