"""A satellite of the catalogue, booked and worked end to end (embedded
defaults: SQLite, local topic log, local object store): its contact runs the
simulated signal of the transmitter the mission profile names through the
receiver ``groundstation decode --satellite`` uses, and every frame sent on a
strong link arrives on the frame topic, in frames.h5 and in a ready dataset
that says it was simulated."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import h5py
import pytest

from groundstation.booking import reserve
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import DEMO_CLOCK_START
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.downlink import SIMULATED_NOTE
from groundstation.models import Contact
from groundstation.passes import availability
from groundstation.policy import BookingPolicy
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from ingest.consumer import LocalLogSource, follow_frames
from ingest.dataset import DatasetReader
from ingest.topics import TopicNames
from tests.support.catalogue import seed_catalogue_satellite

from .conftest import REPO, UNCHECKED_LAG_S, check_frames_h5, check_sigmf_validates, wait_for

PROFILE = "amateur-strong"
PROFILE_TOPIC = "catalogue-frames"  # the mission profile's own frames topic (kafka_topic)
SAMPLES = REPO / "sample_tles"
#: Eb/N0 per channel bit that every frame is sent above (the profile's link
#: budget; the sweeps lose no frame of these families from about 13 dB)
STRONG_EBN0_DB = 20.0


def _elements(norad_id: int) -> str:
    """The satellite's published element set (sample_tles/active.tle, 2023-07-04)."""
    lines = (SAMPLES / "active.tle").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(f"1 {norad_id}U"))
    return "\n".join(lines[k - 1 : k + 2]) + "\n"


@pytest.mark.parametrize(
    ("norad_id", "name", "modulation", "freq_hz", "transmitter", "crc_ok"),
    [
        (46276, "UPMSat 2", "fsk", 437.405e6, "1k2 FSK downlink", True),  # FSK 1200 AX.25
        (44854, "DUCHIFAT-3", "bpsk", 436.4e6, "9k6 BPSK downlink", True),  # BPSK 9600 G3RUH
    ],
    ids=["fsk-ax25", "bpsk-ax25-g3ruh"],
)
def test_a_catalogue_satellite_contact_delivers_every_frame_sent_in_a_simulated_dataset(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    norad_id: int,
    name: str,
    modulation: str,
    freq_hz: float,
    transmitter: str,
    crc_ok: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="groundstation.contacts")
    settings = Settings(data_dir=tmp_path / "var", downlink_max_lag_s=UNCHECKED_LAG_S)
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    now = DEMO_CLOCK_START
    with sessions() as session:
        seed_catalogue_satellite(
            session,
            stations_yaml=(SAMPLES / "stations.yaml").read_text(),
            norad_id=norad_id,
            name=name,
            modulation=modulation,
            freq_hz=freq_hz,
            elements=_elements(norad_id),
            now=now,
            profile_id=PROFILE,
            transmitter=transmitter,
            min_viable_duration_s=120.0,
            # the high part of a pass: a short contact
            min_elevation_deg=35.0,
            dataset_options={"record_iq": True, "record_iq_max_s": 5.0},
            kafka_topic=PROFILE_TOPIC,  # the profile's own frames topic
        )
        window = next(
            w
            for w in availability(
                session,
                norad_id=norad_id,
                profile_id=PROFILE,
                start=now,
                end=now + timedelta(hours=24),
                now=now,
            )
            if w.free and w.aos >= now + timedelta(minutes=5)
        )
        start = window.aos - timedelta(seconds=60 + 30 + 15)
        contact_id = reserve(
            session,
            norad_id=norad_id,
            antenna_id=window.antenna_id,
            profile_id=PROFILE,
            start=window.aos,
            end=window.los,
            tenant="demo",
            now=start,
            policy=BookingPolicy.from_settings(settings),
        ).id
    engine.dispose()

    runtime = open_runtime(settings, clock=SimulatedClock(start, speedup=60.0), keep_sent=True)
    try:
        runtime.start()

        def state() -> str:
            with runtime.session_factory() as session:
                return session.get(Contact, contact_id).state  # type: ignore[union-attr]

        wait_for(
            lambda: state() in ("COMPLETED", "FAILED"), timeout_s=300, what="the contact to end"
        )
        with runtime.session_factory() as session:
            contact = session.get(Contact, contact_id)
            assert contact is not None
            assert contact.state == "COMPLETED", contact.state_reason
    finally:
        runtime.close()

    # Every frame sent (all on a strong link) arrived once, in order, byte for byte.
    result = runtime.executor.results[contact_id]
    sent = [s.frame for s in result.sent]
    assert len(sent) == result.frames_expected > 50
    assert min(s.ebn0_db for s in result.sent) >= STRONG_EBN0_DB
    assert result.frames_ok == result.frames_published == len(sent)
    topics = TopicNames(settings.kafka_topic_prefix)
    frames = list(
        follow_frames(
            LocalLogSource(settings.data_dir / "topics", PROFILE_TOPIC),
            contact_id=contact_id,
            idle_timeout_s=0.5,
        )
    )
    shared = LocalLogSource(settings.data_dir / "topics", topics.frames)
    assert list(follow_frames(shared, contact_id=contact_id, idle_timeout_s=0.2)) == []
    assert [f.data for f in frames] == sent
    assert [f.meta.sequence for f in frames] == list(range(len(sent)))
    assert all(f.meta.crc_ok is crc_ok and f.meta.norad_id == norad_id for f in frames)
    times = [f.meta.frame_time for f in frames]
    assert times == sorted(times) and window.aos <= times[0] and times[-1] <= window.los

    # The dataset: ready, frames.h5 == topic, and it says the pass was simulated.
    (entry,) = runtime.catalog.find(contact_id=contact_id)
    assert entry.state == "ready"
    reader = DatasetReader.for_entry(runtime.store, entry)
    names = {f.name for f in reader.manifest.files}
    assert {"frames.h5", "iq.sigmf-data", "iq.sigmf-meta", "products/receiver.json"} <= names
    assert not any("image" in n for n in names)  # no imaging payload on this satellite
    assert {"products/quicklook/waterfall.png", "products/quicklook/esn0_frequency.png"} <= names
    h5_path = reader.download("frames.h5", tmp_path / "frames.h5")
    check_frames_h5(h5_path, frames)
    with h5py.File(h5_path, "r") as f:
        profile = json.loads(f.attrs["profile"])
    assert profile["simulated"] == SIMULATED_NOTE
    assert profile["framing"].startswith(f"catalogue: {name} / {transmitter}")
    receiver = json.loads(reader.read_bytes("products/receiver.json"))
    assert receiver["simulated"] == SIMULATED_NOTE and receiver["transmitter"] == transmitter
    assert receiver["frames_ok"] == len(sent)
    reader.download("iq.sigmf-data", tmp_path / "iq.sigmf-data")
    meta = check_sigmf_validates(reader.download("iq.sigmf-meta", tmp_path / "iq.sigmf-meta"))
    assert meta["global"]["groundstation:simulated"] == SIMULATED_NOTE
    assert meta["global"]["core:sample_rate"] == 48000.0

    # The contact's events say the pass was worked by the simulated front end.
    logged = {
        vars(r)["state"]: r
        for r in caplog.records
        if r.name == "groundstation.contacts" and vars(r)["contact_id"] == contact_id
    }
    assert vars(logged["COMPLETED"])["simulated"] is True
    assert vars(logged["COMPLETED"])["frames_ok"] == len(sent)
    assert vars(logged["PASS"])["simulated"] is True
