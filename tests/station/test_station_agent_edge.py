"""A station agent publishing at the edge (issue 13): its frames to Kafka
through ingest's durable spool, its dataset to S3 (moto), only the report to
the central service, which catalogues the dataset without its bytes. On
PostgreSQL, the real broker of GS_TEST_KAFKA_BOOTSTRAP (never stopped here:
Kafka "down" is a publisher pointed at a closed port) and moto S3."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from groundstation import apikeys
from groundstation.agents import EDGE
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.progress import read_progress
from groundstation.station.agent import CentralClient, StationAgent
from groundstation.station.edge import EdgePublishing
from groundstation.station.spool import Spool
from ingest.consumer import KafkaSource, follow_frames
from ingest.kafka_publisher import KafkaPublisher
from ingest.objectstore import ObjectStore, S3ObjectStore
from ingest.topics import FrameMeta, TopicNames
from tests.e2e.conftest import wait_for
from tests.service_env import scratch_database
from tests.support.central import Central, open_central
from tests.support.delivery import kafka_s3, unique_name


class Requests:
    """What the central API received: (method, path, body bytes) of each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def hook(self, app: FastAPI) -> None:
        @app.middleware("http")
        async def count(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            body = await request.body()
            self.seen.append((request.method, request.url.path, len(body)))
            return await call_next(request)


class UnreachableAtFirst:
    """An object store whose first ``failures`` uploads fail as an
    unreachable endpoint does."""

    def __init__(self, store: ObjectStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.failed = 0

    def put_file(self, key: str, path: Path) -> int:
        if self.failed < self.failures:
            self.failed += 1
            raise ConnectionError(f"object store unreachable (test): {key}")
        return self.store.put_file(key, path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class Flaky(httpx.BaseTransport):
    """The agent's way to the central API, cut while ``down`` is set."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.down = threading.Event()
        self.refused: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down.is_set():
            self.refused.append(request.url.path)
            raise httpx.ConnectError("central service unreachable (test)", request=request)
        return self.inner.handle_request(request)


@pytest.fixture
def requests_seen() -> Requests:
    return Requests()


@pytest.fixture
def edge_central(
    tmp_path: Path,
    postgres_base_url: str,
    kafka_bootstrap: str,
    s3_endpoint: str,
    requests_seen: Requests,
) -> Iterator[Central]:
    """``central`` on Kafka and S3 (its own topic prefix and bucket), the
    requests to its API counted."""
    with scratch_database(postgres_base_url, "edge") as url:
        yield from open_central(
            tmp_path,
            url,
            speedup=30.0,
            app_hook=requests_seen.hook,
            **kafka_s3(kafka_bootstrap, s3_endpoint, unique_name("edge")),
            # service seconds: 20 wall minutes at x30, longer than the outage
            # below however slow a loaded machine works the pass
            agent_offline_after_s=36_000.0,
            agent_report_timeout_s=72_000.0,
        )


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed


def test_agent_publishing_at_the_edge_sends_no_frame_to_the_central_service(
    edge_central: Central, tmp_path: Path, requests_seen: Requests
) -> None:
    central = edge_central
    settings = central.settings
    # The agent's Kafka is unreachable during the pass: its frames wait in the spool.
    kafka = replace(
        settings.kafka_config(),
        bootstrap_servers=_closed_port(),
        spool_dir=tmp_path / "agent-kafka-spool",
        spool_fsync=True,
    )
    # ... and so is its object store at first: the dataset is uploaded later.
    store = UnreachableAtFirst(S3ObjectStore(settings.s3_config()), failures=2)
    edge = EdgePublishing(
        publisher=KafkaPublisher(kafka).start(),
        store=cast(ObjectStore, store),
        staging_root=tmp_path / "agent-staging",
        clock=central.runtime.clock.now,
    )
    link = Flaky()
    agent = StationAgent(
        client=CentralClient(
            central.url, key=central.key, station_id=central.station_id, transport=link
        ),
        clock=central.runtime.clock,
        spool=Spool(tmp_path / "spool"),
        front_end="simulated",
        software_version="test",
        heartbeat_s=0.5,
        poll_s=0.5,
        edge=edge,
    )
    agent.heartbeat()
    central.runtime.start()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    cid = central.contact_id
    try:
        # The pass ends at the station while the central API is unreachable.
        wait_for(lambda: agent.spool.started(cid), timeout_s=120, what="the pass to start")
        link.down.set()
        wait_for(lambda: cid in agent.outcomes, timeout_s=240, what="the pass to end")
        outcome = agent.outcomes[cid]
        assert outcome.ok, outcome.reason
        # Reports are retried (and fail) while the central API is away.
        wait_for(
            lambda: sum(p.endswith("/report") for p in link.refused) >= 2,
            timeout_s=60,
            what="two report attempts while the central API is unreachable",
        )
        assert central.state(cid)[0] not in ("COMPLETED", "FAILED"), central.state(cid)
        # Every frame is in the Kafka publisher's spool, none delivered yet.
        assert agent.spool.acked(cid) == outcome.frames_total
        assert edge.publisher.flush(timeout_s=1.0) is False
        link.down.clear()
        central.wait_for_end(timeout_s=120)
    finally:
        agent.stop()
        thread.join(timeout=60)
        edge.publisher.close(timeout_s=1.0)
    state, reason = central.state(cid)
    assert state == "COMPLETED", reason
    assert store.failed == 2  # the uploads that failed were tried again
    with central.runtime.session_factory() as session:
        final = read_progress(session, contact_id=cid)
    assert final is not None and final.final and final.frames_decoded == outcome.frames_ok

    # Kafka back: a publisher on the same spool and the real broker delivers them.
    back = KafkaPublisher(replace(kafka, bootstrap_servers=settings.kafka_bootstrap)).start()
    try:
        assert back.flush(timeout_s=60.0)
    finally:
        back.close()
    spooled = agent.spool.frames(cid)
    assert len(spooled) == outcome.frames_total > 0
    source = KafkaSource(settings.kafka_bootstrap, TopicNames(settings.kafka_topic_prefix).frames)
    try:
        frames = list(follow_frames(source, contact_id=cid, deduplicate=False, idle_timeout_s=5.0))
    finally:
        source.close()
    # Once each, in order (one key: one partition), with their headers.
    assert [(f.partition, f.offset) for f in frames] == sorted(
        (f.partition, f.offset) for f in frames
    )
    assert [f.meta.sequence for f in frames] == list(range(1, outcome.frames_total + 1))
    assert [f.data for f in frames] == [base64.b64decode(f["data"]) for f in spooled]
    assert {f.meta.station for f in frames} == {central.station_id}
    assert {f.key for f in frames} == {str(frames[0].meta.norad_id).encode()}
    assert [f.meta.frame_counter for f in frames] == [
        int(f["meta"]["frame-counter"]) for f in spooled
    ]

    # The central API never received a frame: no upload, and all the agent
    # sent it is a fraction of the frames' bytes.
    agent_calls = [r for r in requests_seen.seen if "/agent" in r[1]]
    assert not [r for r in agent_calls if r[1].endswith("/frames")]
    frame_bytes = sum(len(f.data) for f in frames)
    assert sum(r[2] for r in agent_calls) < frame_bytes / 4, (agent_calls[-3:], frame_bytes)

    # The dataset: catalogued once, downloadable with intact checksums.
    with central.runtime.session_factory() as session:
        _, key = apikeys.create_key(
            session, name="ops", role="operator", tenant="demo", now=central.start
        )
    with httpx.Client(
        base_url=central.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        listed = http.get("/datasets", params={"contact": cid}).json()
        assert listed["count"] == 1, listed
        dataset = listed["data"][0]
        names = {f["name"] for f in dataset["files"]}
        assert {"frames.h5", "products/receiver.json"} <= names
        assert "products/quicklook/waterfall.png" in names
        for f in dataset["files"]:
            got = http.get(f"/datasets/{dataset['id']}/files/{f['name']}")
            assert got.status_code == 200, (f["name"], got.text[:200])
            assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
            assert len(got.content) == f["size_bytes"]
    # Catalogued where the agent uploaded it.
    uploaded = agent.spool.edge_dataset(cid)
    (entry,) = central.runtime.catalog.find(contact_id=cid)
    assert uploaded is not None and entry.key_prefix == uploaded["key_prefix"]

    # The report sent again (a lost answer): one dataset, no frame published again.
    report = agent.spool.report(cid)
    assert report is not None
    sendable = edge.report(cid, agent.spool, report)
    assert sendable is not None
    again = agent.client.report(cid, sendable)
    assert again["ok"] is True
    assert len(central.runtime.catalog.find(contact_id=cid)) == 1
    assert edge.publish_frames(cid, agent.spool) == 0


def _edge_report(prefix: str) -> dict[str, Any]:
    dataset = {"key_prefix": prefix, "manifest_sha256": "0" * 64}
    return {
        "ok": True,
        "frames_total": 3,
        "summary": {EDGE: {"frames_published": 3, "frames_ok": 3, "dataset": dataset}},
    }


def test_a_station_key_cannot_report_an_edge_dataset_outside_its_contacts_prefix(
    slow_central: Central,
) -> None:
    central = slow_central  # lag-tolerant on a loaded machine

    def report(key: str, station_id: str, body: dict[str, Any]) -> httpx.Response:
        path = f"/ground-stations/{station_id}/agent/contacts/{central.contact_id}/report"
        return httpx.post(central.url + path, json=body, headers={"Authorization": f"Bearer {key}"})

    with central.runtime.session_factory() as session:
        contact = session.get(Contact, central.contact_id)
        assert contact is not None
        run = contact_run(contact)
        day = f"{run.aos:%Y/%m/%d}"
        norad = run.norad_id
    own = f"{norad}/{day}/{central.contact_id}"
    # Another contact's prefix, or somewhere else in the bucket: refused, named.
    for wrong in (f"{norad}/{day}/someone-else", "other-station/loot"):
        answer = report(central.key, central.station_id, _edge_report(wrong))
        assert answer.status_code == 422, answer.text
        assert wrong in answer.text and own in answer.text
        assert "its own contacts' datasets" in answer.text
    # Another station's key: this station's contact is not found at all.
    answer = report(central.other_key, central.other_station_id, _edge_report(own))
    assert answer.status_code == 404, answer.text
    answer = report(central.other_key, central.station_id, _edge_report(own))
    assert answer.status_code == 404, answer.text
    # A malformed edge part is refused with the field named.
    bad = _edge_report(own)
    bad["summary"][EDGE]["frames_ok"] = 9
    answer = report(central.key, central.station_id, bad)
    assert answer.status_code == 422 and "frames_ok" in answer.text, answer.text
    # Its own contact's prefix is taken (stored; nothing refused).
    answer = report(central.key, central.station_id, _edge_report(own))
    assert answer.status_code == 200, answer.text


def _agent_cli(tmp_path: Path, run_for_s: float, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GS_")}
    full.update(
        GS_DATA_DIR=str(tmp_path / "agent"),
        GS_AGENT_STATION_ID="lisbon",
        GS_AGENT_CENTRAL_URL="http://127.0.0.1:9",
        GS_AGENT_KEY="k",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "groundstation.cli", "agent", "--run-for-s", str(run_for_s)],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_agent_publishes_at_the_edge_when_given_kafka_and_s3_as_serve_takes_them(
    tmp_path: Path, kafka_bootstrap: str, s3_endpoint: str
) -> None:
    s3 = {
        "GS_OBJECT_STORE": "s3",
        "GS_S3_BUCKET": f"edge{uuid.uuid4().hex[:10]}",
        "GS_S3_ENDPOINT_URL": s3_endpoint,
        "GS_S3_REGION": "us-east-1",
    }
    both = _agent_cli(tmp_path, 2.0, GS_KAFKA_BOOTSTRAP=kafka_bootstrap, **s3)
    assert both.returncode == 0, both.stderr[-2000:]
    assert "frames to Kafka, datasets to S3 from here" in both.stdout
    assert (tmp_path / "agent" / "agent-spool" / "kafka-spool").is_dir()
    # Neither: today's HTTP uploads.
    neither = _agent_cli(tmp_path, 0.5)
    assert neither.returncode == 0 and "frames over HTTP" in neither.stdout
    # Only one of them: refused, naming the one missing.
    only_kafka = _agent_cli(tmp_path, 0.5, GS_KAFKA_BOOTSTRAP=kafka_bootstrap)
    assert only_kafka.returncode != 0
    assert "GS_KAFKA_BOOTSTRAP is set but GS_OBJECT_STORE=s3" in only_kafka.stderr
    only_s3 = _agent_cli(tmp_path, 0.5, **s3)
    assert only_s3.returncode != 0
    assert "GS_OBJECT_STORE=s3 is set but GS_KAFKA_BOOTSTRAP is not" in only_s3.stderr


def test_frames_reported_published_at_the_edge_are_not_published_again_by_the_centre(
    slow_central: Central,
) -> None:
    """Frames uploaded over HTTP (an agent that switched to publishing at
    the edge mid-way) and a report saying the agent published them: the
    centre publishes none, and fails the contact naming where the dataset
    it was told of is missing."""
    central = slow_central  # lag-tolerant on a loaded machine
    client = CentralClient(central.url, key=central.key, station_id=central.station_id)
    client.heartbeat(software_version="test", front_end="simulated", status={})
    with central.runtime.session_factory() as session:
        contact = session.get(Contact, central.contact_id)
        assert contact is not None
        run = contact_run(contact)
    frames = []
    for seq in (1, 2, 3):
        meta = FrameMeta(
            contact_id=central.contact_id,
            norad_id=run.norad_id,
            station=central.station_id,
            antenna=run.antenna_id,
            frame_time=run.aos,
            virtual_channel=0,
            frame_counter=seq,
            rs_corrections=0,
            crc_ok=True,
            sequence=seq,
        )
        frames.append(
            {
                "sequence": seq,
                "frame_time": run.aos.isoformat(),
                "data": base64.b64encode(bytes([seq]) * 8).decode(),
                "meta": {n: v.decode() for n, v in meta.headers() if n != meta.SCHEMA_FIELD},
            }
        )
    assert client.upload_frames(central.contact_id, frames)["new"] == 3
    own = f"{run.norad_id}/{run.aos:%Y/%m/%d}/{central.contact_id}"
    client.report(central.contact_id, _edge_report(own))
    central.runtime.start()
    state, reason = central.wait_for_end(timeout_s=120)
    assert state == "FAILED"
    assert "no manifest at" in reason and own in reason, reason
    published = central.topic_frames()
    assert published == []
    client.close()
