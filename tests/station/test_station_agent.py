"""The station agent against the real central service (issue 13): the API
served by uvicorn on a loopback port, the lifecycle of ``serve``
(``open_runtime``) on PostgreSQL with the local topic log and object store,
the agent in this process on the same compressed clock."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path

import h5py
import httpx
import pytest

from groundstation import apikeys
from groundstation.executor import ContactExecutionError
from groundstation.models import Contact
from groundstation.progress import PassProgress, read_progress
from groundstation.station.agent import (
    CentralClient,
    CentralUnavailableError,
    StationAgent,
)
from groundstation.station.spool import Spool
from ingest.dataset import DatasetReader
from ingest.topics import FrameMeta, TopicNames
from tests.e2e.conftest import (
    wait_for,
)
from tests.support.central import Central


def _agent(
    central: Central, tmp_path: Path, front_end: str = "simulated", **kwargs: object
) -> StationAgent:
    client = CentralClient(central.url, key=central.key, station_id=central.station_id)
    return StationAgent(
        client=client,
        clock=central.runtime.clock,
        spool=Spool(tmp_path / "spool"),
        front_end=front_end,
        software_version="test",
        heartbeat_s=0.5,
        poll_s=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


def test_agent_works_its_pass_and_the_central_service_publishes_and_stores_it(
    central: Central, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="groundstation.contacts")
    agent = _agent(central, tmp_path)
    agent.heartbeat()  # registers: the station's contacts go to the agent
    central.runtime.start()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    seen: list[PassProgress] = []

    def ended() -> bool:
        with central.runtime.session_factory() as session:
            progress = read_progress(session, contact_id=central.contact_id)
        if progress is not None and not progress.final:
            seen.append(progress)
        return central.state(central.contact_id)[0] in ("COMPLETED", "FAILED")

    try:
        wait_for(ended, timeout_s=180, what="the contact to end")
    finally:
        agent.stop()
        thread.join(timeout=30)
    state, reason = central.state(central.contact_id)
    assert state == "COMPLETED", reason
    # Its live figures, stored by the central service as the frames came in.
    decoded = [p.frames_decoded for p in seen]
    assert len(set(decoded)) >= 2 and decoded == sorted(decoded), decoded
    assert all(p.doppler_hz is not None for p in seen if 0 < p.elapsed_s < p.duration_s)
    with central.runtime.session_factory() as session:
        final = read_progress(session, contact_id=central.contact_id)
    assert final is not None and final.final
    assert final.simulated is True  # the agent's front end is simulated
    assert final.executed_by == f"station agent of {central.station_id}"
    # Worked by the agent, not in-process.
    assert central.contact_id not in central.runtime.executor.results
    outcome = agent.outcomes[central.contact_id]
    assert outcome.ok and outcome.frames_ok > 0
    assert final.frames_decoded == outcome.frames_ok
    assert "simulated" in outcome.summary["front_end"]
    # Every frame the agent decoded is on the frame topic, once, in order.
    frames = central.topic_frames()
    assert [f.meta.sequence for f in frames] == list(range(1, outcome.frames_total + 1))
    spooled = agent.spool.frames(central.contact_id)
    assert [f.data for f in frames] == [base64.b64decode(f["data"]) for f in spooled]
    assert {f.meta.station for f in frames} == {central.station_id}
    # The dataset: catalogued, frames.h5 holds them, and it says it was simulated.
    (entry,) = central.runtime.catalog.find(contact_id=central.contact_id)
    reader = DatasetReader.for_entry(central.runtime.store, entry)
    with h5py.File(reader.download("frames.h5", tmp_path / "frames.h5")) as h5:
        assert h5["frames"].shape[0] == outcome.frames_total
        profile = json.loads(h5.attrs["profile"])
    assert "simulated" in profile["simulated"]
    assert profile["executed_by"] == f"station agent of {central.station_id}"
    # The central log's lines on the pass say it was simulated.
    lines = [
        r
        for r in caplog.records
        if r.name == "groundstation.contacts"
        and getattr(r, "contact_id", None) == central.contact_id
        and getattr(r, "state", None) in ("PASS", "COMPLETED")
    ]
    assert {getattr(r, "state", None) for r in lines} == {"PASS", "COMPLETED"}
    assert all(getattr(r, "simulated", False) is True for r in lines)
    summary = json.loads(reader.read_bytes("products/receiver.json"))["station_agent"]
    assert summary["frame_length"] > 0
    assert "pass_outputs" not in summary  # the quick-looks' data went into the products
    assert "products/quicklook/waterfall.png" in {f.name for f in reader.manifest.files}
    # Sent again (a lost answer), nothing is stored twice.
    again = agent.client.upload_frames(central.contact_id, spooled[:5])
    assert again["new"] == 0 and again["stored"] == outcome.frames_total


def test_a_silent_agent_fails_its_contact_with_station_offline_since(
    central: Central, tmp_path: Path
) -> None:
    agent = _agent(central, tmp_path)
    agent.heartbeat()  # registered once, then silent
    central.runtime.start()
    state, reason = central.wait_for_end(timeout_s=120)
    assert state == "FAILED"
    assert f"station {central.station_id} offline since " in reason


def test_agent_buffers_during_a_central_outage_and_uploads_afterwards(
    central: Central, tmp_path: Path
) -> None:
    agent = _agent(central, tmp_path)
    spool = agent.spool
    meta = FrameMeta(
        contact_id=central.contact_id,
        norad_id=1,
        station=central.station_id,
        antenna="a",
        frame_time=central.start,
        virtual_channel=0,
        frame_counter=0,
        rs_corrections=0,
        crc_ok=True,
        sequence=1,
    )
    frame = {
        "sequence": 1,
        "frame_time": central.start.isoformat(),
        "data": base64.b64encode(b"\x01\x02").decode(),
        "meta": {n: v.decode() for n, v in meta.headers() if n != meta.SCHEMA_FIELD},
    }
    spool.add_frames(central.contact_id, [frame])
    spool.put_report(central.contact_id, {"ok": False, "reason": "test", "frames_total": 1})
    down = StationAgent(
        client=CentralClient(
            "http://127.0.0.1:9", key=central.key, station_id=central.station_id, timeout_s=1
        ),
        clock=central.runtime.clock,
        spool=spool,
        front_end="simulated",
        software_version="test",
    )
    assert down.flush() == 0  # unreachable: kept
    assert spool.pending() == [central.contact_id] and spool.acked(central.contact_id) == 0
    with pytest.raises(CentralUnavailableError):
        down.heartbeat()
    assert agent.flush() == 1
    assert spool.pending() == []
    # The report is stored once; a second one is answered with the first.
    second = agent.client.report(central.contact_id, {"ok": True, "frames_total": 9})
    assert second["ok"] is False and second["reason"] == "test"


def test_a_station_key_reads_and_reports_only_for_its_own_station(central: Central) -> None:
    def call(method: str, path: str, key: str, body: object = None) -> httpx.Response:
        return httpx.request(
            method,
            central.url + path,
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )

    mine = f"/ground-stations/{central.station_id}/agent"
    assert call("GET", mine + "/contacts", central.key).status_code == 200
    # Another station's key: its contacts, frames and reports are not found here.
    assert call("GET", mine + "/contacts", central.other_key).status_code == 404
    report = {"ok": True, "frames_total": 0}
    path = f"{mine}/contacts/{central.contact_id}/report"
    assert call("POST", path, central.other_key, report).status_code == 404
    # This key, naming another station: not found either.
    theirs = f"/ground-stations/{central.other_station_id}/agent"
    assert call("GET", theirs + "/contacts", central.key).status_code == 404
    heartbeat = {"software_version": "x"}
    assert call("POST", theirs + "/heartbeat", central.key, heartbeat).status_code == 404
    # A frame whose metadata does not validate is refused at upload, named.
    bad = {
        "frames": [
            {
                "sequence": 1,
                "frame_time": central.start.isoformat(),
                "data": base64.b64encode(b"x").decode(),
                "meta": {"vc": "not-a-number"},
            }
        ]
    }
    refused = call("POST", f"{mine}/contacts/{central.contact_id}/frames", central.key, bad)
    assert refused.status_code == 422 and "frame 1 metadata does not validate" in refused.text
    # Nothing else: bookings, contacts, datasets answer 403 to a station key.
    for path in ("/contacts", "/datasets", "/satellites"):
        assert call("GET", path, central.key).status_code == 403, path


def test_frames_uploaded_just_before_the_report_all_reach_the_topic(
    central: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent uploads its last frames, then its report. When both land
    between the executor's read of the frames and its read of the report
    (PostgreSQL: each statement its own snapshot), the pass must still
    publish every frame before it ends (it published the dataset's frames
    but dropped the last batch from the topic)."""
    import groundstation.agent_executor as agent_executor
    from groundstation import agents
    from groundstation.lifecycle import contact_run
    from groundstation.states import ContactState
    from groundstation.transitions import apply_transition

    published: list[int] = []

    class Recording:
        topics = TopicNames("gs")

        def publish_frame(self, frame: bytes, meta: FrameMeta, topic: str | None = None) -> None:
            published.append(meta.sequence)

        def publish_contact_event(self, event: object) -> None: ...

        def publish_dataset_ready(self, notice: object) -> None: ...

        def flush(self, timeout_s: float = 30.0) -> bool:
            return True

        def close(self, timeout_s: float = 10.0) -> None: ...

    rt = central.runtime
    with rt.session_factory() as s:
        contact = s.get(Contact, central.contact_id)
        assert contact is not None
        run = contact_run(contact)
        for state in (ContactState.PREPASS, ContactState.PASS):  # the pass is being worked
            apply_transition(s, contact, state, at=central.start, reason="test")
        agents.record_heartbeat(
            s,
            station_id=central.station_id,
            now=rt.clock.now(),
            software_version="test",
            front_end="simulated",
            status={},
        )
        s.commit()

    def upload(sequences: range, s: object) -> None:
        frames = [
            agents.UploadedFrame(
                n,
                central.start,
                bytes([n % 256]) * 16,
                {
                    k: v.decode()
                    for k, v in FrameMeta(
                        contact_id=central.contact_id,
                        norad_id=run.norad_id,
                        station=central.station_id,
                        antenna=run.antenna_id,
                        frame_time=central.start,
                        virtual_channel=0,
                        frame_counter=n % 256,
                        rs_corrections=0,
                        crc_ok=True,
                        sequence=n,
                    ).headers()
                    if k != FrameMeta.SCHEMA_FIELD
                },
            )
            for n in sequences
        ]
        agents.store_frames(
            s,  # type: ignore[arg-type]
            station_id=central.station_id,
            contact_id=central.contact_id,
            frames=frames,
            now=rt.clock.now(),
        )

    with rt.session_factory() as s:
        upload(range(1, 41), s)
    real = agent_executor.frames_after
    late = {"done": False}

    def frames_after_then_the_agent_finishes(*args: object, **kwargs: object) -> object:
        rows = real(*args, **kwargs)  # type: ignore[arg-type]
        if not late["done"]:  # the last batch and the report land right after this read
            late["done"] = True
            with rt.session_factory() as s:
                upload(range(41, 81), s)
                agents.store_report(
                    s,
                    station_id=central.station_id,
                    contact_id=central.contact_id,
                    ok=True,
                    reason="",
                    frames_total=80,
                    summary={"front_end": "simulated"},
                    now=rt.clock.now(),
                )
        return rows

    monkeypatch.setattr(agent_executor, "frames_after", frames_after_then_the_agent_finishes)
    executor = agent_executor.AgentExecutor(
        session_factory=rt.session_factory,
        clock=rt.clock,
        publisher=Recording(),
        store=rt.store,
        catalog=rt.catalog,
        staging_root=central.settings.data_dir / "staging-test",
        offline_after_s=1e9,
        report_timeout_s=1e9,
        poll_s=0.05,
    )
    # Its made-up frames and report make no dataset; every frame is published first.
    with pytest.raises(ContactExecutionError, match="no valid pass outputs"):
        executor.execute(run)
    assert published == list(range(1, 81))


def _operator_key(central: Central) -> str:
    with central.runtime.session_factory() as s:
        _, key = apikeys.create_key(
            s, name="operator", role="operator", tenant="demo", now=central.start
        )
        s.commit()
    return key


def _stop_over_the_api(central: Central, reason: str) -> httpx.Response:
    return httpx.post(
        f"{central.url}/contacts/{central.contact_id}/stop",
        json={"reason": reason},
        headers={"Authorization": f"Bearer {_operator_key(central)}"},
    )


def _contact_los(central: Central) -> datetime:
    with central.runtime.session_factory() as s:
        c = s.get(Contact, central.contact_id)
        assert c is not None
        return c.los


def test_a_contact_stopped_over_the_api_ends_the_agents_pass_and_keeps_its_frames(
    slow_central: Central, tmp_path: Path
) -> None:
    """POST /contacts/{id}/stop during an agent's pass: the agent reads the
    stop with its schedule, ends the pass, reports what it received, and the
    contact is CANCELLED with the reason and that partial dataset (before,
    the agent ran on to LOS and the contact stayed CANCELLING until then)."""
    central = slow_central
    agent = _agent(central, tmp_path)
    agent.heartbeat()
    central.runtime.start()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: (
                sum(
                    bool((f.get("quality") or {}).get("ok"))
                    for f in agent.spool.frames(central.contact_id)
                )
                >= 10
            ),
            timeout_s=180,
            what="the agent to decode ten frames",
        )
        stopped = _stop_over_the_api(central, "operator ends the test pass")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["state"] == "CANCELLING"
        central.wait_for_end(
            timeout_s=120,
            ends=("CANCELLED", "COMPLETED", "FAILED"),
            what="the stopped contact to end",
        )
    finally:
        agent.stop()
        thread.join(timeout=30)
    state, reason = central.state(central.contact_id)
    assert state == "CANCELLED", reason
    assert "operator ends the test pass" in reason
    assert "the partial dataset received is kept" in reason
    outcome = agent.outcomes[central.contact_id]
    assert outcome.ok and outcome.frames_ok >= 10
    assert "operator ends the test pass" in outcome.summary["stopped"]
    # Ended at the stop, well before LOS.
    stopped_at = datetime.fromisoformat(outcome.summary["stopped_at"])
    assert stopped_at < _contact_los(central) - timedelta(minutes=2)
    # What was received: on the topic once each in order, and the dataset.
    frames = central.topic_frames()
    assert [f.meta.sequence for f in frames] == list(range(1, outcome.frames_total + 1))
    (entry,) = central.runtime.catalog.find(contact_id=central.contact_id)
    assert entry.state == "ready"
    reader = DatasetReader.for_entry(central.runtime.store, entry)
    with h5py.File(reader.download("frames.h5", tmp_path / "frames.h5")) as h5:
        assert h5["frames"].shape[0] == outcome.frames_total


def test_a_contact_stopped_before_the_agent_decoded_a_frame_is_cancelled_without_dataset(
    central: Central, tmp_path: Path
) -> None:
    """An agent whose live IQ source never answers, stopped over the API in
    PASS: the pass ends at once (not at LOS), reported stopped, and the
    contact is CANCELLED (not FAILED), no dataset kept."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    agent = _agent(central, tmp_path, front_end=f"tcp:127.0.0.1:{port}")
    agent.heartbeat()
    central.runtime.start()
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: central.state(central.contact_id)[0] == "PASS",
            timeout_s=120,
            what="the contact to enter PASS",
        )
        stopped = _stop_over_the_api(central, "antenna needed elsewhere")
        assert stopped.status_code == 200, stopped.text
        central.wait_for_end(
            timeout_s=120,
            ends=("CANCELLED", "COMPLETED", "FAILED"),
            what="the stopped contact to end",
        )
        ended = central.runtime.clock.now()
    finally:
        agent.stop()
        thread.join(timeout=30)
    state, reason = central.state(central.contact_id)
    assert state == "CANCELLED", reason
    assert "antenna needed elsewhere" in reason and "no dataset was kept" in reason
    assert ended < _contact_los(central) - timedelta(minutes=2)
    outcome = agent.outcomes[central.contact_id]
    assert not outcome.ok and outcome.frames_ok == 0
    assert "antenna needed elsewhere" in outcome.summary["stopped"]
    assert central.runtime.catalog.find(contact_id=central.contact_id) == []
