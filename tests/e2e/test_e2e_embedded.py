"""Two contacts at once on different antennas, embedded defaults (SQLite,
local topic log, local object store), booked through the service layer and
run by the lifecycle in compressed time: one completes with its dataset, the
other's link cannot close, so it fails with the reason and leaves nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundstation import event_log
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.events import ResourceEvent
from groundstation.models import Contact
from groundstation.policy import BookingPolicy
from groundstation.profile_settings import VettingSettings
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from groundstation.vetting import PassQuality, judge
from ingest import topiclog
from ingest.consumer import LocalLogSource, follow_frames
from ingest.dataset import DatasetReader
from ingest.topics import (
    ContactEventMessage,
    DatasetReadyMessage,
    ResourceEventMessage,
    TopicNames,
    decode_contact_topic,
)

from .conftest import (
    DEAD_PROFILE,
    DEMO_PROFILE,
    UNCHECKED_LAG_S,
    check_frames_h5,
    check_image,
    check_sigmf_validates,
    check_topic_frames,
    clock_start_for,
    next_contacts,
    seed,
    wait_for,
)


def test_concurrent_contacts_complete_or_fail_independently_with_datasets_and_topics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="groundstation.contacts")
    settings = Settings(data_dir=tmp_path / "var", downlink_max_lag_s=UNCHECKED_LAG_S)
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        names = seed(session)
        good, dead = next_contacts(session, names, 2)
    assert good.antenna_id != dead.antenna_id
    start = clock_start_for([good, dead])
    ids = {}
    with sessions() as session:
        for choice, profile in ((good, DEMO_PROFILE), (dead, DEAD_PROFILE)):
            contact = reserve_choice(
                session,
                choice,
                now=start,
                profile_id=profile,
                policy=BookingPolicy.from_settings(settings),
            )
            ids[profile] = contact.id
    engine.dispose()

    runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=60.0), keep_sent=True)
    try:
        runtime.start()

        def states() -> dict[str, str]:
            with runtime.session_factory() as session:
                return {k: session.get(Contact, v).state for k, v in ids.items()}  # type: ignore[union-attr]

        wait_for(
            lambda: all(s in ("COMPLETED", "FAILED") for s in states().values()),
            timeout_s=120,
            what="both contacts to end",
        )
        with runtime.session_factory() as session:
            ok_contact = session.get(Contact, ids[DEMO_PROFILE])
            dead_contact = session.get(Contact, ids[DEAD_PROFILE])
            assert ok_contact is not None and dead_contact is not None
            assert ok_contact.state == "COMPLETED", ok_contact.state_reason
            assert dead_contact.state == "FAILED"
            assert "no frame decoded" in dead_contact.state_reason
            # Vetting: the quality the executor measured, judged by the profile.
            vetted = (ok_contact.verdict, ok_contact.verdict_source, ok_contact.verdict_reason)
            measured = (ok_contact.frames_ok, ok_contact.frames_expected, ok_contact.esn0_db)
            assert (dead_contact.verdict, dead_contact.verdict_source) == ("failed", "auto")
    finally:
        runtime.close()

    cid = ids[DEMO_PROFILE]
    result = runtime.executor.results[cid]
    print("vetting:", vetted, measured)
    assert measured[:2] == (result.frames_ok, result.frames_expected)
    assert measured[2] == pytest.approx(result.esn0_db, abs=1e-3)
    expected = judge(PassQuality(result.frames_ok, *measured[1:]), VettingSettings())
    assert vetted == (expected[0].value, "auto", expected[1])

    # One log line per contact event: the failure at WARNING with its reason,
    # the completion with its frames; passes and clock were simulated.
    logged = {
        (vars(r)["contact_id"], vars(r)["state"]): r
        for r in caplog.records
        if r.name == "groundstation.contacts"
    }
    failed = logged[(ids[DEAD_PROFILE], "FAILED")]
    assert failed.levelname == "WARNING"
    assert "no frame decoded" in vars(failed)["reason"]
    assert vars(failed)["simulated"] is True and vars(failed)["simulated_clock"] is True
    completed = logged[(cid, "COMPLETED")]
    assert completed.levelname == "INFO"
    assert vars(completed)["frames_ok"] == result.frames_ok
    assert vars(completed)["simulated"] is True
    assert {state for c, state in logged if c == cid} == {"PASS", "POSTPASS", "COMPLETED"}
    topics = TopicNames(settings.kafka_topic_prefix)
    log_dir = settings.data_dir / "topics"
    frames = list(
        follow_frames(LocalLogSource(log_dir, topics.frames), contact_id=cid, idle_timeout_s=0.5)
    )
    report = check_topic_frames(frames, result)
    # frames near AOS and LOS are below the threshold and may be lost (by design)
    assert report.received > 0.75 * result.frames_expected

    # The dataset: catalogued, every file matching the manifest, frames.h5 == topic.
    (entry,) = runtime.catalog.find(contact_id=cid)
    reader = DatasetReader.for_entry(runtime.store, entry)
    file_names = {f.name for f in reader.manifest.files}
    assert {"frames.h5", "iq.sigmf-data", "iq.sigmf-meta", "products/image.png"} <= file_names
    # the georeferenced products (issue 18): the CF swath and the map
    assert {"products/map.png", "products/map.tif"} <= file_names
    assert any(n.startswith("products/") and n.endswith(".nc") for n in file_names)
    check_frames_h5(reader.download("frames.h5", tmp_path / "frames.h5"), frames)
    received = check_image(frames, result)
    png = np.asarray(Image.open(reader.download("products/image.png", tmp_path / "image.png")))
    assert png.shape == result.scene.shape  # type: ignore[union-attr]
    assert not png[~received[:, 0], :, 1].any()  # green = visible band; lost rows are gaps
    reader.download("iq.sigmf-data", tmp_path / "iq.sigmf-data")
    meta = check_sigmf_validates(reader.download("iq.sigmf-meta", tmp_path / "iq.sigmf-meta"))
    assert meta["global"]["core:sample_rate"] == 38400.0
    assert len(meta["annotations"]) > 10
    # Quick-looks: waterfall, Es/N0 and frequency, constellation near TCA, with thumbnails.
    for look in ("waterfall", "esn0_frequency", "constellation"):
        for name in (f"{look}.png", f"{look}_thumb.png"):
            path = reader.download(f"products/quicklook/{name}", tmp_path / name)
            assert Image.open(path).format == "PNG"

    # The failed contact left no dataset and no staging files.
    assert runtime.catalog.find(contact_id=ids[DEAD_PROFILE]) == []
    assert [e.error for e in runtime.catalog.find(state="failed")] != []
    assert not any(k for k in runtime.store.list_keys("") if ids[DEAD_PROFILE] in k)
    assert not any(settings.dataset_staging_dir().iterdir())

    # Notices: the dataset-ready one, and every transition of both contacts.
    notices = [
        DatasetReadyMessage.decode(_value(line))
        for line in topiclog.iter_lines(log_dir, topics.datasets)
    ]
    assert [n.contact_id for n in notices] == [cid]
    on_topic = [
        decode_contact_topic(_value(line))
        for line in topiclog.iter_lines(log_dir, topics.contact_events)
    ]
    events = [e for e in on_topic if isinstance(e, ContactEventMessage)]
    assert [(e.new_state, e.verdict) for e in events if e.contact_id == cid] == [
        ("PREPASS", None),
        ("PASS", None),
        ("POSTPASS", None),
        ("COMPLETED", vetted[0]),
    ]
    # The dataset-ready event: once, between POSTPASS and COMPLETED, naming
    # the dataset, its satellite and station, labelled simulated.
    mine = [
        e
        for e in on_topic
        if (isinstance(e, ContactEventMessage) and e.contact_id == cid)
        or (isinstance(e, ResourceEventMessage) and e.kind == "dataset")
    ]
    ready = [e for e in mine if isinstance(e, ResourceEventMessage)]
    assert [(e.subject_id, e.new_status) for e in ready] == [(notices[0].dataset_id, "ready")]
    assert mine.index(ready[0]) == 3  # after PREPASS, PASS, POSTPASS
    assert ready[0].norad_id == good.norad_id and ready[0].antenna == good.antenna_id
    assert "simulated" in ready[0].reason
    with sessions() as session:
        history = [
            (row.event.subject_id, row.tenant)
            for row in event_log.events_after(session, event_log.START)
            if isinstance(row.event, ResourceEvent) and row.event.kind == "dataset"
        ]
    assert history == [(notices[0].dataset_id, "demo")]
    assert [e.verdict for e in events if e.contact_id == ids[DEAD_PROFILE]][-1] == "failed"
    assert events[0].station is not None


def _value(line: dict[str, object]) -> bytes:
    import base64

    return base64.b64decode(str(line["value_b64"]))
