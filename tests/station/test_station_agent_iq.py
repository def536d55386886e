"""A station agent records the pass's raw IQ as SigMF when the mission
profile's ``dataset_options.record_iq`` is set (issue 13), as an in-process
pass does (``groundstation.downlink.IqRecording``: the whole pass, or
``record_iq_max_s`` seconds centred on TCA, one annotation per frame):

- into its spool, where it stays with the HTTP upload path (the report and
  so ``receiver.json`` say where);
- publishing at the edge, into the uploaded dataset, listed in its manifest
  with size and SHA-256.

SQLite for the booking, the local object store (and moto S3 under CI, via
``GS_TEST_S3_ENDPOINT``); the pass runs as fast as the DSP can."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundstation import agents
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.downlink import SIMULATED_NOTE
from groundstation.executor import ContactRun
from groundstation.policy import BookingPolicy
from groundstation.station.agent import RAW_IQ, PassOutcome, PassRunner
from groundstation.station.edge import EdgePublishing
from groundstation.station.spool import Spool
from ingest.dataset import DatasetReader
from ingest.objectstore import LocalObjectStore, ObjectStore, S3Config, S3ObjectStore
from ingest.publisher import LocalLogPublisher
from ingest.topics import TopicNames
from tests.by70_1 import recording
from tests.e2e.conftest import check_sigmf_validates, next_contacts, seed
from tests.station.test_station_agent_replay import _by70_1_document

SPEEDUP = 1e5  # service seconds per wall second: as fast as the DSP can
RECORD_IQ_MAX_S = 20.0


def _document(tmp: Path) -> dict[str, Any]:
    """The agent's contact document of the next demo pass (SQLite)."""
    engine = make_engine(f"sqlite:///{tmp / 'central.db'}")
    migrate(engine)
    try:
        with make_session_factory(engine)() as session:
            names = seed(session)
            (choice,) = next_contacts(session, names, 1)
            contact_id = reserve_choice(
                session, choice, now=choice.aos - timedelta(hours=1), policy=BookingPolicy()
            ).id
            (doc,) = (
                d
                for d in agents.station_runs(
                    session, station_id=choice.station_id, now=choice.aos, horizon_s=3600.0
                )
                if d["run"]["contact_id"] == contact_id
            )
            return doc
    finally:
        engine.dispose()


@dataclass
class Worked:
    """A pass worked by ``PassRunner`` into ``spool``."""

    doc: dict[str, Any]
    run: ContactRun
    spool: Spool
    outcome: PassOutcome


def _work(tmp: Path, dataset_options: dict[str, Any]) -> Worked:
    doc = _document(tmp)
    doc["run"]["dataset_options"].update(dataset_options)
    run = agents.run_from_document(doc["run"])
    spool = Spool(tmp / "spool")
    outcome = PassRunner(
        clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=SPEEDUP),
        spool=spool,
        front_end="simulated",
        software_version="test",
        stop=threading.Event(),
    ).run(doc)
    assert outcome.ok, outcome.reason
    return Worked(doc, run, spool, outcome)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Worked:
    """A pass worked with ``record_iq`` on, ``record_iq_max_s`` 20 s."""
    return _work(
        tmp_path_factory.mktemp("recorded"),
        {"record_iq": True, "record_iq_max_s": RECORD_IQ_MAX_S},
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_pass_runner_recording_iq_writes_a_sigmf_pair_of_the_window_around_tca(
    recorded: Worked,
) -> None:
    run, spool = recorded.run, recorded.spool
    files = spool.iq_files(run.contact_id)
    assert [f.name for f in files] == ["iq.sigmf-data", "iq.sigmf-meta"]
    data, meta_path = files
    meta = check_sigmf_validates(meta_path)  # the sigmf package's validation, SHA-512 too
    g = meta["global"]
    fs_hz = float(g["core:sample_rate"])
    assert g["core:datatype"] == "cf32_le"
    # The window rule: record_iq_max_s seconds centred on TCA (the demo
    # pass is long enough that the window is not clipped).
    half = int(RECORD_IQ_MAX_S * fs_hz / 2)
    start = int((run.tca - run.aos).total_seconds() * fs_hz) - half
    assert start > 0
    assert data.stat().st_size == 2 * half * 8  # complex64 samples
    assert hashlib.sha512(data.read_bytes()).hexdigest() == g["core:sha512"]
    (capture,) = meta["captures"]
    assert capture["core:frequency"] == run.downlink_freq_hz
    captured = datetime.fromisoformat(capture["core:datetime"].replace("Z", "+00:00"))
    assert abs((captured - (run.aos + timedelta(seconds=start / fs_hz))).total_seconds()) < 1e-3
    # Labelled as in-process: simulated, with the contact's identity.
    assert g["groundstation:simulated"] == SIMULATED_NOTE
    assert g["core:description"].startswith("SIMULATED: ")
    assert g["groundstation:contact_id"] == run.contact_id
    assert g["groundstation:norad_id"] == run.norad_id
    # One annotation per spooled frame starting in the window, its sequence
    # number the spooled one; inside the recording.
    annotations = meta["annotations"]
    assert annotations
    sequences = {int(f["sequence"]) for f in spool.frames(run.contact_id)}
    assert {a["groundstation:sequence"] for a in annotations} <= sequences
    assert all(
        a["core:sample_start"] >= 0 and a["core:sample_start"] + a["core:sample_count"] <= 2 * half
        for a in annotations
    )
    assert any(a["groundstation:frame_ok"] for a in annotations)
    # The report says where the IQ is: kept at the station (HTTP uploads).
    raw = recorded.outcome.summary[RAW_IQ]
    assert raw["recorded"] and not raw["in_dataset"]
    assert raw["samples"] == 2 * half and raw["pass_sample_start"] == start
    assert raw["note"] == (
        f"raw IQ kept at the station at {data.parent} until GS_AGENT_SPOOL_RETENTION_H "
        "after the report is delivered, then removed"
    )


def test_without_record_iq_max_s_the_agent_records_the_whole_pass(tmp_path: Path) -> None:
    worked = _work(tmp_path, {"record_iq": True, "record_iq_max_s": None})
    data, meta_path = worked.spool.iq_files(worked.run.contact_id)
    meta = json.loads(meta_path.read_text())
    fs_hz = float(meta["global"]["core:sample_rate"])
    recorded = data.stat().st_size // 8
    # The whole pass: every frame's samples, as in-process (not the few
    # samples of the transmit filter's tail after the last frame).
    received = worked.outcome.summary["samples"]
    print(f"whole pass: {recorded} of {received} samples at {fs_hz:g} Hz")
    assert 0 <= received - recorded < 0.01 * fs_hz
    pass_s = (worked.run.los - worked.run.aos).total_seconds()
    assert abs(recorded / fs_hz - pass_s) < 2.0
    (capture,) = meta["captures"]
    captured = datetime.fromisoformat(capture["core:datetime"].replace("Z", "+00:00"))
    assert captured == worked.run.aos
    raw = worked.outcome.summary[RAW_IQ]
    assert raw["samples"] == recorded and raw["pass_sample_start"] == 0


def test_without_record_iq_the_agent_records_no_iq(tmp_path: Path) -> None:
    worked = _work(tmp_path, {"record_iq": False})
    assert worked.spool.iq_files(worked.run.contact_id) == []
    assert not list((tmp_path / "spool" / worked.run.contact_id).glob("iq.*"))
    assert RAW_IQ not in worked.outcome.summary


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"gs-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return S3ObjectStore(
        S3Config(
            bucket=bucket,
            prefix="datasets",
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
        )
    )


@pytest.fixture
def edge_spool(recorded: Worked, tmp_path: Path) -> Iterator[Spool]:
    """A copy of the recorded pass's spool (each store publishes it afresh)."""
    shutil.copytree(recorded.spool.root, tmp_path / "spool")
    yield Spool(tmp_path / "spool")


def test_an_edge_dataset_lists_the_sigmf_recording_in_its_manifest(
    recorded: Worked, edge_spool: Spool, store: ObjectStore, tmp_path: Path
) -> None:
    run = recorded.run
    publisher = LocalLogPublisher(tmp_path / "topics", TopicNames("gs"))
    edge = EdgePublishing(
        publisher=publisher,
        store=store,
        staging_root=tmp_path / "staging",
        clock=lambda: run.los,
    )
    try:
        edge.publish_frames(run.contact_id, edge_spool)
        report = edge.report(run.contact_id, edge_spool, recorded.outcome.report())
    finally:
        publisher.close()
    assert report is not None and report["ok"], report
    dataset = report["summary"]["edge"]["dataset"]
    reader = DatasetReader(store, dataset["key_prefix"])
    # The in-process layout: iq.sigmf-data / iq.sigmf-meta at the top, each
    # listed with the size and SHA-256 of what the station recorded.
    for path in edge_spool.iq_files(run.contact_id):
        listed = reader.manifest.file(path.name)
        assert listed.size_bytes == path.stat().st_size
        assert listed.sha256 == _sha256(path)
        assert reader.read_bytes(path.name) == path.read_bytes()  # verified read
    (tmp_path / "down").mkdir()
    for name in ("iq.sigmf-data", "iq.sigmf-meta"):
        reader.download(name, tmp_path / "down" / name)
    meta = check_sigmf_validates(tmp_path / "down" / "iq.sigmf-meta")
    assert meta["global"]["groundstation:contact_id"] == run.contact_id
    samples = np.fromfile(tmp_path / "down" / "iq.sigmf-data", dtype=np.complex64)
    assert samples.size == recorded.outcome.summary[RAW_IQ]["samples"] > 0
    # The report and receiver.json say the IQ is in the dataset.
    raw = report["summary"][RAW_IQ]
    assert (
        raw["in_dataset"] and raw["note"] == "raw IQ in the dataset: iq.sigmf-data, iq.sigmf-meta"
    )
    receiver = json.loads(reader.read_bytes("products/receiver.json"))
    assert receiver["station_agent"][RAW_IQ] == raw
    # A report sent again (its answer lost) says so too; nothing uploaded again.
    again = edge.report(run.contact_id, edge_spool, recorded.outcome.report())
    assert again is not None and again["summary"][RAW_IQ] == raw
    assert again["summary"]["edge"]["dataset"] == dataset


def test_an_agent_replaying_receiver_audio_says_it_recorded_no_iq(tmp_path: Path) -> None:
    """Receiver audio is not IQ: with ``record_iq`` set, nothing is
    recorded and the report says why (rather than a SigMF of audio)."""
    doc = _by70_1_document(tmp_path)
    doc["run"]["dataset_options"].update({"record_iq": True, "record_iq_max_s": None})
    run = agents.run_from_document(doc["run"])
    spool = Spool(tmp_path / "spool")
    outcome = PassRunner(
        clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=20.0),
        spool=spool,
        front_end=f"replay:{recording()}",
        software_version="test",
        stop=threading.Event(),
    ).run(doc)
    assert outcome.ok, outcome.reason
    assert spool.iq_files(run.contact_id) == []
    assert not list((tmp_path / "spool" / run.contact_id).glob("iq.*"))
    assert outcome.summary[RAW_IQ] == {
        "recorded": False,
        "note": "raw IQ not recorded: the front end replays receiver audio, not IQ",
    }


def test_below_the_disk_watermark_a_pass_decodes_but_records_no_iq_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The spool's file system below GS_DISK_REFUSE_FREE (free space
    injected): the pass still runs and decodes, no SigMF is written, the
    report's raw_iq says why (the central service's watermark helper) and a
    WARNING is logged."""
    import functools
    from types import SimpleNamespace

    from groundstation.housekeeping import check_raw_iq_space
    from groundstation.settings import Settings

    gib = 1024**3
    seen: list[Path] = []

    def usage(path: Path) -> SimpleNamespace:
        seen.append(path)
        return SimpleNamespace(total=100 * gib, used=98 * gib, free=2 * gib)  # 2 % free

    settings = Settings(data_dir=tmp_path / "data", disk_refuse_free="5%")
    doc = _document(tmp_path)
    doc["run"]["dataset_options"].update({"record_iq": True, "record_iq_max_s": RECORD_IQ_MAX_S})
    run = agents.run_from_document(doc["run"])
    spool = Spool(tmp_path / "spool")
    with caplog.at_level("WARNING", logger="groundstation.station.agent"):
        outcome = PassRunner(
            clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=SPEEDUP),
            spool=spool,
            front_end="simulated",
            software_version="test",
            stop=threading.Event(),
            iq_space=functools.partial(check_raw_iq_space, settings, usage=usage),
        ).run(doc)
    assert outcome.ok, outcome.reason
    assert outcome.frames_ok > 0  # decoded all the same
    assert spool.frames(run.contact_id)
    assert spool.iq_files(run.contact_id) == []
    assert not list((tmp_path / "spool" / run.contact_id).glob("iq.*"))
    assert seen and all(tmp_path in p.parents or p == tmp_path for p in seen)
    where = seen[0]
    why = f"raw IQ not recorded: 2.00 GiB free on {where}, below GS_DISK_REFUSE_FREE=5% (5.00 GiB)"
    assert outcome.summary[RAW_IQ] == {"recorded": False, "note": why}
    assert outcome.report()["summary"][RAW_IQ]["note"] == why
    assert any(
        r.levelname == "WARNING" and why in r.getMessage() and run.contact_id in r.getMessage()
        for r in caplog.records
    )


def test_above_the_disk_watermark_the_iq_is_recorded(tmp_path: Path) -> None:
    """The same check with room on the disk lets the recording happen."""
    from types import SimpleNamespace

    from groundstation.housekeeping import check_raw_iq_space
    from groundstation.settings import Settings

    gib = 1024**3
    settings = Settings(data_dir=tmp_path / "data", disk_refuse_free="5%")
    room = SimpleNamespace(total=100 * gib, used=50 * gib, free=50 * gib)
    assert check_raw_iq_space(settings, tmp_path / "spool", usage=lambda _p: room) is None
