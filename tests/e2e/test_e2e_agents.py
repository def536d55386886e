"""Three station agents as their own OS processes against one ``serve``
process on PostgreSQL (issue 13): three concurrent contacts on three
stations, each worked by its station's agent (simulated front end), every
one COMPLETED, its frames on the frame topic once each, its dataset
catalogued; the central service does no per-sample work."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from groundstation import apikeys
from groundstation.commands.demo import DEMO_CLOCK_START, Choice, free_windows, reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import AgentReport, Contact
from ingest.catalog import CatalogService
from ingest.consumer import LocalLogSource, follow_frames
from ingest.topics import TopicNames
from tests.service_env import scratch_database

from .conftest import (
    agent_process,
    central_for_agents,
    seed,
    stop_processes,
    wait_for,
    wait_for_api,
)

SPEEDUP = 10.0


def test_three_agents_work_concurrent_contacts_on_three_stations(
    tmp_path: Path, postgres_base_url: str
) -> None:
    with scratch_database(postgres_base_url, "agents") as url:
        engine = make_engine(url)
        migrate(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            names = seed(session)
            windows = free_windows(
                session, names, now=DEMO_CLOCK_START, hours=12.0, min_elevation_deg=30.0
            )
            chosen: dict[str, Choice] = {}
            first = None
            for w in windows:
                if w.station_id in chosen:
                    continue
                if first is not None and (w.aos - first).total_seconds() > 900:
                    continue
                first = first or w.aos
                chosen[w.station_id] = w
                if len(chosen) == 3:
                    break
            assert len(chosen) == 3, f"no three concurrent passes on distinct stations: {chosen}"
            start = min(w.aos for w in chosen.values()) - timedelta(minutes=5)
            ids, keys = [], {}
            for station_id, w in chosen.items():
                ids.append(reserve_choice(session, w, now=start).id)
                _, keys[station_id] = apikeys.create_key(
                    session,
                    name=f"agent-{station_id}",
                    role="station",
                    station_id=station_id,
                    now=start,
                )
        serve, base = central_for_agents(
            tmp_path,
            clock_start=start,
            speedup=SPEEDUP,
            offline_after_s=600,
            report_timeout_s=7200,
            database_url=url,
        )
        agents = []
        try:
            wait_for_api(base, timeout_s=60)
            agents = [
                agent_process(tmp_path, s, k, base, tmp_path / f"agent-{s}.log", speedup=SPEEDUP)
                for s, k in keys.items()
            ]

            def states() -> list[str]:
                with sessions() as session:
                    return [session.get(Contact, c).state for c in ids]  # type: ignore[union-attr]

            wait_for(
                lambda: all(s in ("COMPLETED", "FAILED") for s in states()),
                timeout_s=900,
                what="the three contacts to end",
            )
        finally:
            stop_processes([*agents, serve])
        with sessions() as session:
            for cid in ids:
                row = session.get(Contact, cid)
                assert row is not None
                assert row.state == "COMPLETED", (
                    row.state_reason,
                    (tmp_path / "serve.log").read_text()[-3000:],
                )
            reports = {
                r.contact_id: r
                for r in session.scalars(select(AgentReport).where(AgentReport.contact_id.in_(ids)))
            }
        assert set(reports) == set(ids) and all(r.ok for r in reports.values())
        topics = TopicNames("groundstation")
        for cid in ids:
            frames = list(
                follow_frames(
                    LocalLogSource(tmp_path / "var" / "topics", topics.frames),
                    contact_id=cid,
                    idle_timeout_s=0.5,
                )
            )
            assert [f.meta.sequence for f in frames] == list(
                range(1, reports[cid].frames_total + 1)
            )
            assert "simulated" in reports[cid].summary["front_end"]
            # Vetting: what the station measured, kept with the dataset and judged.
            with sessions() as session:
                row = session.get(Contact, cid)
                assert row is not None
                assert row.frames_ok == sum(f.meta.decoded_ok for f in frames) > 0
                assert row.frames_expected == reports[cid].frames_total
                assert row.esn0_db == pytest.approx(reports[cid].summary["esn0_db"], abs=1e-3)
                assert (row.verdict, row.verdict_source) in {("good", "auto"), ("partial", "auto")}
            (entry,) = CatalogService(engine).find(contact_id=cid)
            assert entry.state == "ready"
        engine.dispose()
