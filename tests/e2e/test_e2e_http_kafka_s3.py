"""The production path: a contact booked through the HTTP API runs in
compressed time against the real Kafka broker and S3 server, and the broker
is stopped during the pass and started again.

Checks: COMPLETED; every frame sent above the decoding threshold is on the
Kafka topic, in order, once the broker is back; GET /datasets lists the
dataset and its files download with the catalogued SHA-256; frames.h5 holds
the topic's frames; the image rebuilt from Kafka equals the transmitted one
where packets arrived.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

from api.app import create_app
from groundstation import apikeys
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.models import Contact
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from ingest.consumer import KafkaSource, follow_frames
from ingest.topics import TopicNames
from tests.service_env import BrokerControl
from tests.support.delivery import kafka_s3, unique_name

from .conftest import (
    DEMO_PROFILE,
    UNCHECKED_LAG_S,
    check_frames_h5,
    check_image,
    check_topic_frames,
    next_contacts,
    seed,
    wait_for,
)

SPEEDUP = 40.0


def test_contact_booked_over_http_delivers_to_kafka_and_s3_through_a_broker_outage(
    tmp_path: Path, kafka_bootstrap: str, s3_endpoint: str, broker: BrokerControl
) -> None:
    prefix = unique_name("e2e")
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        names = seed(session)
        (choice,) = next_contacts(session, names, 1)
        start = choice.aos - timedelta(minutes=8)
        _, key = apikeys.create_key(session, name="ops", role="operator", tenant="demo", now=start)
    engine.dispose()
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        clock="simulated",
        clock_start=start,
        clock_speedup=SPEEDUP,
        downlink_max_lag_s=UNCHECKED_LAG_S,
        **kafka_s3(kafka_bootstrap, s3_endpoint, prefix),
    )
    runtime = open_runtime(settings, keep_sent=True)
    app = create_app(settings, clock=runtime.clock)
    runtime.events.add(app.state.ctx.events)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        runtime.start()
        wait_for(lambda: server.started, timeout_s=20, what="uvicorn")
        port = server.servers[0].sockets[0].getsockname()[1]
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        r = http.post(
            "/contacts",
            json={
                "norad_id": choice.norad_id,
                "antenna_id": choice.antenna_id,
                "profile_id": DEMO_PROFILE,
                "start": choice.aos.isoformat(),
                "end": choice.los.isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()["id"]

        def state() -> str:
            with runtime.session_factory() as session:
                row = session.get(Contact, cid)
                assert row is not None
                return row.state

        # Stop the broker a quarter into the pass, start it again a bit later.
        wait_for(
            lambda: (
                (p := runtime.executor.progress.get(cid)) is not None
                and p.elapsed_s > 0.25 * p.duration_s
            ),
            timeout_s=60,
            what="the pass to be a quarter through",
        )
        broker.stop()
        frames_at_stop = runtime.executor.progress[cid].frames_ok
        time.sleep(2.0)
        broker.start()
        assert runtime.executor.progress[cid].frames_ok > frames_at_stop  # never waited
        wait_for(lambda: state() in ("COMPLETED", "FAILED"), timeout_s=120, what="contact end")
        assert state() == "COMPLETED", http.get(f"/contacts/{cid}").text

        listed = http.get("/datasets", params={"contact": cid})
        assert listed.status_code == 200, listed.text
        assert listed.json()["count"] == 1
        dataset = listed.json()["data"][0]
        downloaded = {}
        for f in dataset["files"]:
            got = http.get(f"/datasets/{dataset['id']}/files/{f['name']}")
            assert got.status_code == 200, (f["name"], got.text[:200])
            assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
            assert len(got.content) == f["size_bytes"]
            downloaded[f["name"]] = got.content
        assert "products/image.png" in downloaded
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        runtime.close()  # flushes the spool to the broker

    result = runtime.executor.results[cid]
    source = KafkaSource(kafka_bootstrap, TopicNames(prefix).frames)
    try:
        frames = list(follow_frames(source, contact_id=cid, idle_timeout_s=5.0))
    finally:
        source.close()
    frames.sort(key=lambda f: (f.partition, f.offset))
    check_topic_frames(frames, result)
    (tmp_path / "frames.h5").write_bytes(downloaded["frames.h5"])
    check_frames_h5(tmp_path / "frames.h5", frames)
    check_image(frames, result)
