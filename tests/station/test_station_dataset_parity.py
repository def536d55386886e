"""A contact worked by a station agent leaves the same dataset as one worked
in-process (issue 13): the same files, and in ``frames.h5`` the same
datasets and attributes, for the same simulated pass run both ways.

The agent's side runs as in production minus the HTTP hop: ``PassRunner``
works the pass into its spool, the spooled frames and report go through
what the API's handlers call (``decode_frame``, ``store_frames``,
``store_report``) and ``AgentExecutor`` builds the dataset."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from groundstation import agents
from groundstation.agent_executor import AgentExecutor
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import reserve_choice
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.delivery import open_frame_publisher, open_object_store
from groundstation.downlink import DownlinkExecutor
from groundstation.executor import ContactRun
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.policy import BookingPolicy
from groundstation.settings import Settings
from groundstation.station.agent import PassRunner, source_note
from groundstation.station.spool import Spool
from ingest.catalog import CatalogService
from ingest.dataset import DatasetReader
from ingest.objectstore import ObjectStore
from ingest.publisher import Publisher
from tests.e2e.conftest import UNCHECKED_LAG_S, next_contacts, seed

#: Service seconds per wall second: the pass goes as fast as the DSP can
#: (and its lag behind the clock does not stop it).
SPEEDUP = 1e5
NO_LAG_LIMIT_S = 1e12


@dataclass
class Side:
    """One service: its database (a copy of the same booking), store and catalogue."""

    settings: Settings
    sessions: sessionmaker[Session]
    catalog: CatalogService
    store: ObjectStore
    publisher: Publisher
    contact_id: str

    def run(self) -> ContactRun:
        with self.sessions() as s:
            contact = s.get(Contact, self.contact_id)
            assert contact is not None
            contact.state = "PASS"  # the dataset is accepted in PASS
            s.commit()
            return contact_run(contact)

    def agent_document(self, run: ContactRun) -> dict[str, Any]:
        with self.sessions() as s:
            (doc,) = (
                d
                for d in agents.station_runs(
                    s, station_id=run.station_id, now=run.aos, horizon_s=3600.0
                )
                if d["run"]["contact_id"] == run.contact_id
            )
            return doc

    def manifest(self, tmp: Path) -> dict[str, Any]:
        """File names; frames.h5's groups and datasets with their attribute
        names (and a table's column names), its profile's keys; and the
        per-frame table's columns."""
        (entry,) = self.catalog.find(contact_id=self.contact_id)
        reader = DatasetReader.for_entry(self.store, entry)
        names = sorted(f.name for f in reader.manifest.files)
        h5: dict[str, Any] = {}

        def visit(name: str, obj: Any) -> None:
            fields = sorted(obj.dtype.names or ()) if isinstance(obj, h5py.Dataset) else []
            h5[name] = {"attrs": sorted(obj.attrs), "fields": fields}

        with h5py.File(reader.download("frames.h5", tmp / "frames.h5")) as f:
            h5["/"] = sorted(f.attrs)
            f.visititems(visit)
            h5["profile"] = sorted(json.loads(f.attrs["profile"]))
            table = f["table/frames"][()]
        return {"files": names, "frames.h5": h5, "table": table}


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """The same contact booked in two SQLite databases (one copied from the other)."""
    first = tmp_path / "a.db"
    engine = make_engine(f"sqlite:///{first}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        names = seed(session)
        (choice,) = next_contacts(session, names, 1)
        contact_id = reserve_choice(
            session, choice, now=choice.aos - timedelta(hours=1), policy=BookingPolicy()
        ).id
    engine.dispose()
    shutil.copy(first, tmp_path / "b.db")
    made: list[Side] = []
    try:
        for name in ("a", "b"):
            settings = Settings(
                database_url=f"sqlite:///{tmp_path / name}.db",
                data_dir=tmp_path / f"var-{name}",
                downlink_max_lag_s=UNCHECKED_LAG_S,
            )
            engine = make_engine(settings.effective_database_url())
            catalog = CatalogService(engine)
            catalog.create_schema()
            made.append(
                Side(
                    settings,
                    make_session_factory(engine),
                    catalog,
                    open_object_store(settings),
                    open_frame_publisher(settings),
                    contact_id,
                )
            )
        yield made[0], made[1]
    finally:
        for side in made:
            side.publisher.close()


def _clock(run: ContactRun) -> SimulatedClock:
    return SimulatedClock(run.aos - timedelta(seconds=1), speedup=SPEEDUP)


def _in_process(side: Side) -> None:
    run = side.run()
    clock = _clock(run)
    DownlinkExecutor(
        session_factory=side.sessions,
        clock=clock,
        publisher=side.publisher,
        store=side.store,
        catalog=side.catalog,
        staging_root=side.settings.dataset_staging_dir(),
        max_lag_s=NO_LAG_LIMIT_S,
    ).execute(run)


def _by_agent(side: Side, tmp_path: Path, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pass worked by ``PassRunner`` (simulated front end); what it
    spooled and reported (its summary updated with ``summary``) stored as
    the API stores it; the dataset built by ``AgentExecutor``. Returns the
    agent's report."""
    run = side.run()
    clock = _clock(run)
    spool = Spool(tmp_path / "spool")
    outcome = PassRunner(
        clock=clock,
        spool=spool,
        front_end="simulated",
        software_version="test",
        stop=threading.Event(),
    ).run(side.agent_document(run))
    assert outcome.ok, outcome.reason
    frames = [agents.decode_frame(f) for f in spool.frames(run.contact_id)]
    report = outcome.report()
    report["summary"].update(summary or {})
    with side.sessions() as s:
        agents.store_frames(
            s, station_id=run.station_id, contact_id=run.contact_id, frames=frames, now=run.los
        )
        agents.store_report(
            s, station_id=run.station_id, contact_id=run.contact_id, now=run.los, **report
        )
    AgentExecutor(
        session_factory=side.sessions,
        clock=clock,
        publisher=side.publisher,
        store=side.store,
        catalog=side.catalog,
        staging_root=side.settings.dataset_staging_dir(),
        offline_after_s=600.0,
        report_timeout_s=600.0,
    ).execute(run)
    return report


def test_an_agent_contact_has_the_same_dataset_files_and_fields_as_an_in_process_one(
    sides: tuple[Side, Side], tmp_path: Path
) -> None:
    local, remote = sides
    _in_process(local)
    report = _by_agent(remote, tmp_path)
    (tmp_path / "l").mkdir()
    (tmp_path / "r").mkdir()
    expected = local.manifest(tmp_path / "l")
    got = remote.manifest(tmp_path / "r")
    # The in-process dataset has what the agent's must have too.
    assert "products/quicklook/waterfall.png" in expected["files"]
    assert "track" in expected["frames.h5"]
    # All but the raw IQ (SigMF): uploading over HTTP, the agent records it
    # (the demo profile records IQ) but keeps it at the station, and the
    # dataset says where (publishing at the edge puts it in the dataset,
    # tests/station/test_station_agent_iq.py).
    raw_iq = ["iq.sigmf-data", "iq.sigmf-meta"]
    assert set(raw_iq) <= set(expected["files"])
    assert [f for f in expected["files"] if f not in raw_iq] == got["files"]
    kept = report["summary"]["raw_iq"]
    assert kept["files"] == raw_iq and not kept["in_dataset"]
    assert kept["note"] == (
        f"raw IQ kept at the station at {tmp_path / 'spool' / remote.contact_id} until "
        "GS_AGENT_SPOOL_RETENTION_H after the report is delivered, then removed"
    )
    (entry,) = remote.catalog.find(contact_id=remote.contact_id)
    receiver = json.loads(
        DatasetReader.for_entry(remote.store, entry).read_bytes("products/receiver.json")
    )
    assert receiver["station_agent"]["raw_iq"] == kept
    assert got["frames.h5"] == expected["frames.h5"]
    # The same seed, the same simulated pass: the agent's per-frame columns
    # hold what the in-process ones do, not fill values.
    table, want = got["table"], expected["table"]
    assert table.shape == want.shape and table.shape[0] == report["frames_total"]
    assert np.array_equal(table["frame_ok"], want["frame_ok"])
    assert np.array_equal(np.isnan(table["esn0_db"]), np.isnan(want["esn0_db"]))
    assert np.allclose(table["doppler_hz"], want["doppler_hz"], atol=1.0)
    assert np.allclose(table["esn0_predicted_db"], want["esn0_predicted_db"], atol=0.01)
    assert np.ptp(table["doppler_hz"]) > 100.0
    # The report with the pass outputs fits in one request to the API.
    assert len(json.dumps(report)) < 1 << 20


def test_an_agent_with_a_replay_front_end_reports_its_pass_as_simulated(
    sides: tuple[Side, Side], tmp_path: Path
) -> None:
    """A replay is a recording, not live sky: the agent's report says so as
    "simulated" (it said "" before), and the dataset carries that note."""
    side = sides[0]
    run = side.run()
    replay = f"replay:{tmp_path / 'by701.wav'}"
    outcome = PassRunner(
        clock=_clock(run),
        spool=Spool(tmp_path / "spool-replay"),
        front_end=replay,
        software_version="test",
        stop=threading.Event(),
    ).run(side.agent_document(run))
    assert not outcome.ok  # no such recording: the pass fails, its summary is made
    note = outcome.summary["simulated"]
    assert note == source_note(replay) and "replay of the recording" in note
    # What a replaying agent reports reaches the dataset as its "simulated" note.
    report = _by_agent(sides[1], tmp_path, {"simulated": note, "front_end": note})
    assert report["ok"]
    (entry,) = sides[1].catalog.find(contact_id=sides[1].contact_id)
    reader = DatasetReader.for_entry(sides[1].store, entry)
    with h5py.File(reader.download("frames.h5", tmp_path / "replayed.h5")) as f:
        assert f.attrs["simulated"] == 1
        assert f.attrs["simulated_note"] == note
        assert json.loads(f.attrs["profile"])["simulated"] == note
    assert json.loads(reader.read_bytes("products/receiver.json"))["simulated"] == note
