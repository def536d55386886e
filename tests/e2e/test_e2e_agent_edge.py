"""A station agent publishing at the edge, as its own OS process, against a
``serve`` process on PostgreSQL, Kafka and S3 (moto) (issue 13): the contact
COMPLETED, its frames on the Kafka frame topic once each in order, sent by
the agent; its dataset uploaded by the agent, catalogued by the centre and
downloadable through the API with intact checksums; the central service
stored no frame of it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
from sqlalchemy import func, select

from groundstation import agents, apikeys
from groundstation.db import make_engine, make_session_factory
from groundstation.models import AgentFrame, AgentReport, Antenna, Contact
from groundstation.settings import Settings
from ingest.consumer import KafkaSource, follow_frames
from ingest.topics import TopicNames
from tests.service_env import scratch_database
from tests.support.delivery import as_env, kafka_s3, unique_name

from .conftest import (
    agent_process,
    book_one_contact,
    central_for_agents,
    stop_processes,
    wait_for,
    wait_for_api,
)

SPEEDUP = 20.0


def test_an_agent_process_publishing_at_the_edge_completes_its_contact_without_uploads(
    tmp_path: Path, postgres_base_url: str, kafka_bootstrap: str, s3_endpoint: str
) -> None:
    name = unique_name("edge")
    # The same settings at the centre and at the station.
    delivery = as_env(kafka_s3(kafka_bootstrap, s3_endpoint, name))
    with scratch_database(postgres_base_url, "edge") as url:
        cid, start = book_one_contact(Settings(database_url=url, data_dir=tmp_path / "var"))
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            contact = session.get(Contact, cid)
            assert contact is not None
            antenna = session.get(Antenna, contact.antenna_id)
            assert antenna is not None
            station_id = antenna.station_id
            _, station_key = apikeys.create_key(
                session, name="agent", role="station", station_id=station_id, now=start
            )
            _, reader_key = apikeys.create_key(
                session, name="ops", role="operator", tenant="demo", now=start
            )
            # Registered before serve starts: the pass is the agent's however
            # slowly its process comes up.
            agents.record_heartbeat(
                session,
                station_id=station_id,
                software_version="test",
                front_end="simulated",
                status={},
                now=start,
            )
        serve, base = central_for_agents(
            tmp_path,
            clock_start=start,
            speedup=SPEEDUP,
            offline_after_s=1200,
            report_timeout_s=7200,
            database_url=url,
            env=delivery,
        )
        procs = [serve]
        log = tmp_path / "agent.log"

        def state() -> str:
            with sessions() as session:
                row = session.get(Contact, cid)
                assert row is not None
                return row.state

        try:
            wait_for_api(base, timeout_s=90)
            procs.append(
                agent_process(
                    tmp_path,
                    station_id,
                    station_key,
                    base,
                    log,
                    speedup=SPEEDUP,
                    extra_env=delivery,
                )
            )
            wait_for(lambda: state() in ("COMPLETED", "FAILED"), timeout_s=600, what="contact end")
            with sessions() as session:
                row = session.get(Contact, cid)
                assert row is not None
                assert row.state == "COMPLETED", (
                    row.state_reason,
                    (tmp_path / "serve.log").read_text()[-2000:],
                    log.read_text()[-2000:],
                )
                report = session.get(AgentReport, cid)
                assert report is not None
                stored = session.scalar(
                    select(func.count()).select_from(AgentFrame).where(AgentFrame.contact_id == cid)
                )
            assert "frames to Kafka, datasets to S3 from here" in log.read_text()
            edge = report.summary["edge"]
            assert stored == 0  # no frame reached the central service
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {reader_key}"}, timeout=30
            ) as http:
                listed = http.get("/datasets", params={"contact": cid}).json()
                assert listed["count"] == 1, listed
                dataset = listed["data"][0]
                for f in dataset["files"]:
                    got = http.get(f"/datasets/{dataset['id']}/files/{f['name']}")
                    assert got.status_code == 200, (f["name"], got.text[:200])
                    assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
        finally:
            stop_processes(procs)  # the agent closes its publisher: the spool drains
        engine.dispose()
    source = KafkaSource(kafka_bootstrap, TopicNames(name).frames)
    try:
        frames = list(follow_frames(source, contact_id=cid, deduplicate=False, idle_timeout_s=5.0))
    finally:
        source.close()
    assert [f.meta.sequence for f in frames] == list(range(1, edge["frames_published"] + 1))
    assert edge["frames_published"] == report.frames_total > 0
    assert {f.meta.station for f in frames} == {station_id}
    assert [f.offset for f in frames] == sorted(f.offset for f in frames)
