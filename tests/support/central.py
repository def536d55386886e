"""The central service of station agents in the test process (issue 13):
the API served by uvicorn on a loopback port, the lifecycle of ``serve``
(``open_runtime``) with one contact booked, on the compressed clock that
an agent in the same process shares. Used by tests/station's agent tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from api.app import create_app
from groundstation import apikeys
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Antenna, Contact
from groundstation.policy import BookingPolicy
from groundstation.runtime import Runtime, open_runtime
from groundstation.settings import Settings
from ingest.consumer import LocalLogSource, ReceivedFrame, follow_frames
from ingest.topics import TopicNames
from tests.e2e.conftest import (
    UNCHECKED_LAG_S,
    clock_start_for,
    next_contacts,
    seed,
    wait_for,
)
from tests.support.world import serve

#: The central clock's speed-up unless a test asks for another.
SPEEDUP = 60.0


@dataclass
class Central:
    settings: Settings
    runtime: Runtime
    url: str
    contact_id: str
    station_id: str
    key: str
    other_key: str
    other_station_id: str
    start: datetime

    def state(self, contact_id: str) -> tuple[str, str]:
        with self.runtime.session_factory() as s:
            c = s.get(Contact, contact_id)
            assert c is not None
            return c.state, c.state_reason

    def topic_frames(self) -> list[ReceivedFrame]:
        """The booked contact's frames on the service's local frame topic."""
        topics = TopicNames(self.settings.kafka_topic_prefix)
        source = LocalLogSource(self.settings.data_dir / "topics", topics.frames)
        return list(follow_frames(source, contact_id=self.contact_id, idle_timeout_s=0.5))

    def wait_for_end(
        self,
        *,
        timeout_s: float,
        contact_id: str = "",
        ends: tuple[str, ...] = ("COMPLETED", "FAILED"),
        what: str = "the contact to end",
    ) -> tuple[str, str]:
        """Until ``contact_id`` (default: the booked one) is in one of
        ``ends``; its state and reason then."""
        cid = contact_id or self.contact_id
        wait_for(lambda: self.state(cid)[0] in ends, timeout_s=timeout_s, what=what)
        return self.state(cid)


def open_central(
    tmp_path: Path,
    database_url: str,
    speedup: float = SPEEDUP,
    app_hook: Callable[[FastAPI], None] | None = None,
    **settings_overrides: Any,
) -> Iterator[Central]:
    """The central service of a station agent in this process, on
    ``database_url``: one contact booked at a station, a station key for it
    and one for another station, the API served, the lifecycle not started
    yet. ``settings_overrides``: more settings (Kafka, S3);
    ``app_hook``: called with the API app before it is served."""
    options: dict[str, Any] = {
        "agent_offline_after_s": 600.0,  # service seconds: 10 wall s at x60
        "agent_report_timeout_s": 1800.0,
        **settings_overrides,
    }
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        downlink_max_lag_s=UNCHECKED_LAG_S,
        **options,
    )
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        (choice,) = next_contacts(session, names, 1)
        start = clock_start_for([choice])
        contact = reserve_choice(
            session, choice, now=start, policy=BookingPolicy.from_settings(settings)
        )
        antenna = session.get(Antenna, choice.antenna_id)
        assert antenna is not None
        station_id = antenna.station_id
        other = next(
            a.station_id for a in session.query(Antenna).all() if a.station_id != station_id
        )
        _, key = apikeys.create_key(
            session, name="agent", role="station", station_id=station_id, now=start
        )
        _, other_key = apikeys.create_key(
            session, name="other", role="station", station_id=other, now=start
        )
        contact_id = contact.id
    engine.dispose()
    # Ten seconds of wall time to open and serve before the pre-pass.
    clock = SimulatedClock(start - timedelta(seconds=10 * speedup), speedup=speedup)
    runtime = open_runtime(settings, clock=clock)
    app = create_app(settings, clock=clock)
    if app_hook is not None:
        app_hook(app)
    try:
        with serve(app) as url:
            yield Central(
                settings, runtime, url, contact_id, station_id, key, other_key, other, start
            )
    finally:
        runtime.close()
        app.state.ctx.engine.dispose()
