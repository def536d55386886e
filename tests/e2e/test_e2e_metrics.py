"""GET /metrics of the API wired to the running pipeline as ``serve`` wires it
(``api.app.attach_runtime``): a contact worked by the downlink executor, with
embedded defaults (SQLite, local topic log, local object store), shows up in
the frames-decoded and frames-published counters while the pass runs and
matches the executor's own result at the end; the spool depth gauge reads the
Kafka publisher's spool (0 for the local log)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import attach_runtime, create_app
from api.metrics import Metrics
from groundstation.clock import SimulatedClock
from groundstation.delivery import spool_depth_bytes
from groundstation.models import Contact
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from ingest.config import KafkaConfig
from ingest.kafka_publisher import KafkaPublisher
from ingest.topics import FrameMeta
from tests.prometheus_page import value

from .conftest import UNCHECKED_LAG_S, book_one_contact, wait_for


def test_metrics_count_the_frames_of_a_contact_worked_by_the_executor(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", metrics_public=True, downlink_max_lag_s=UNCHECKED_LAG_S
    )
    contact_id, start = book_one_contact(settings)

    runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=90.0))
    try:
        app = create_app(settings, clock=runtime.clock)
        attach_runtime(app, runtime)
        with TestClient(app) as client:
            before = client.get("/metrics").text
            assert value(before, "groundstation_frames_decoded_total") == 0
            assert value(before, "groundstation_frames_published_total") == 0
            runtime.start()

            def state() -> str:
                with runtime.session_factory() as session:
                    contact = session.get(Contact, contact_id)
                    assert contact is not None
                    return contact.state

            def decoded_so_far() -> float:
                page = client.get("/metrics").text
                return value(page, "groundstation_frames_decoded_total")

            wait_for(lambda: decoded_so_far() > 0, timeout_s=120, what="a decoded frame")
            assert state() == "PASS"  # counted as the pass runs, not only at its end
            wait_for(lambda: state() in ("COMPLETED", "FAILED"), timeout_s=120, what="the contact")
            assert state() == "COMPLETED"
            page = client.get("/metrics").text
    finally:
        runtime.close()

    result = runtime.executor.results[contact_id]
    assert result.frames_ok > 100
    assert value(page, "groundstation_frames_decoded_total") == result.frames_ok
    assert value(page, "groundstation_frames_published_total") == result.frames_published
    assert result.frames_published >= result.frames_ok
    assert value(page, "groundstation_spool_depth_bytes") == 0  # local topic log: no spool
    assert value(page, "groundstation_contacts", state="COMPLETED") == 1


def test_spool_depth_gauge_reads_the_bytes_the_broker_has_not_acknowledged(
    tmp_path: Path,
) -> None:
    # No drainer is started, so nothing reaches a broker: every record stays spooled.
    publisher = KafkaPublisher(KafkaConfig("127.0.0.1:9", spool_dir=tmp_path / "spool"))
    publisher.spool.open()
    try:
        assert spool_depth_bytes(publisher) == 0
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for seq in range(3):
            meta = FrameMeta("c-1", 25544, "lisbon", "dish-1", at, 1, seq, 0, True, seq)
            publisher.publish_frame(bytes(892), meta)
        depth = spool_depth_bytes(publisher)
        assert depth == publisher.spool.pending_bytes()
        assert depth > 3 * 892

        metrics = Metrics()
        metrics.gauge_source(
            "groundstation_spool_depth_bytes", lambda: spool_depth_bytes(publisher)
        )
        assert value(metrics.render({}), "groundstation_spool_depth_bytes") == depth
        publisher.publish_frame(bytes(892), meta)
        assert value(metrics.render({}), "groundstation_spool_depth_bytes") > depth
    finally:
        publisher.spool.close()


def test_a_failing_gauge_source_keeps_the_last_value_and_metrics_still_render() -> None:
    metrics = Metrics()
    readings = iter([5.0])
    metrics.gauge_source("groundstation_spool_depth_bytes", lambda: next(readings))
    assert value(metrics.render({}), "groundstation_spool_depth_bytes") == 5
    assert value(metrics.render({}), "groundstation_spool_depth_bytes") == 5  # StopIteration


def test_metrics_count_frames_into_the_two_counters() -> None:
    metrics = Metrics()
    metrics.count_frames(decoded=7, published=9)
    metrics.count_frames(decoded=1, published=1)
    page = metrics.render({})
    assert value(page, "groundstation_frames_decoded_total") == 8
    assert value(page, "groundstation_frames_published_total") == 10
