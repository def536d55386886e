"""The station agent's IQ sources (GS_AGENT_FRONT_END, issue 13): besides
the simulated downlink and recordings, live IQ streamed over TCP by SDR
software at the station (tested with GNU Radio from Debian streaming into
the agent), rtl_tcp and SoapySDR devices; specs are checked and a bad one
is refused naming it."""

from __future__ import annotations

import subprocess
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundstation import agents
from groundstation.agents import run_from_document
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import book_slices
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.downlink import LinkModel, ccsds_pass
from groundstation.models import Antenna
from groundstation.station.agent import (
    PassRunner,
    front_end_label,
    parse_front_end,
    source_note,
    station_from_document,
)
from groundstation.station.spool import Spool
from tests.e2e.conftest import DEMO_PROFILE, next_contacts, seed

PRODUCER = Path(__file__).with_name("gr_file_producer.py")


@pytest.mark.parametrize(
    ("spec", "kind", "detail"),
    [
        ("simulated", "simulated", None),
        ("replay:/data/pass.sigmf-meta", "replay", Path("/data/pass.sigmf-meta")),
        ("tcp:127.0.0.1:5555", "tcp", ("127.0.0.1", 5555, "cf32")),
        ("tcp:sdr.local:7000:cs16", "tcp", ("sdr.local", 7000, "cs16")),
        ("rtltcp:10.0.0.2:1234", "rtltcp", ("10.0.0.2", 1234, "cf32")),
        ("soapy:driver=null,type=null", "soapy", "driver=null,type=null"),
    ],
)
def test_front_end_specs_parse(spec: str, kind: str, detail: Any) -> None:
    fe = parse_front_end(spec)
    assert fe.kind == kind
    if kind == "replay":
        assert fe.path == detail
    elif kind in ("tcp", "rtltcp"):
        assert (fe.host, fe.port, fe.sample_format) == detail
    elif kind == "soapy":
        assert fe.device == detail
    # Only live sources are called live; the others say how their IQ came about.
    assert fe.live == (kind in ("tcp", "rtltcp", "soapy"))
    assert (source_note(spec) == "") == fe.live
    assert front_end_label(spec).startswith("live IQ") == fe.live


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("sdr", "is not a known front end"),
        ("replay:", "names no recording"),
        ("soapy:", "names no SoapySDR device"),
        ("tcp:127.0.0.1", "is not <host>:<port>"),
        ("tcp::5555", "is not <host>:<port>"),
        ("tcp:127.0.0.1:port", "has port 'port', not a number"),
        ("tcp:127.0.0.1:70000", "has port 70000, not 1..65535"),
        ("tcp:127.0.0.1:5555:u8", "has sample format 'u8'"),
        ("rtltcp:127.0.0.1:1234:cs16", "is not <host>:<port>"),
    ],
)
def test_a_bad_front_end_is_refused_naming_it(spec: str, why: str) -> None:
    with pytest.raises(ValueError) as exc:
        parse_front_end(spec)
    assert f"front end {spec!r} {why}" in str(exc.value)
    assert "GS_AGENT_FRONT_END" in str(exc.value)


def _pass_document(tmp_path: Path) -> dict[str, Any]:
    """The agent's document of a 2-minute slice (around the middle) of the
    next demo pass."""
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    migrate(engine)
    try:
        with make_session_factory(engine)() as session:
            (choice,) = next_contacts(session, seed(session), 1)
            middle = choice.aos + (choice.los - choice.aos) / 2
            (contact_id,) = book_slices(
                session,
                [choice],
                peak=middle,
                before_s=60.0,
                after_s=60.0,
                profile_id=DEMO_PROFILE,
                now=choice.aos - timedelta(hours=1),
            )
            antenna = session.get(Antenna, choice.antenna_id)
            assert antenna is not None
            (doc,) = (
                d
                for d in agents.station_runs(
                    session, station_id=antenna.station_id, now=middle, horizon_s=3600.0
                )
                if d["run"]["contact_id"] == contact_id
            )
            return doc
    finally:
        engine.dispose()


def _runner(front_end: str, spool: Path, clock: SimulatedClock) -> PassRunner:
    return PassRunner(
        clock=clock,
        spool=Spool(spool),
        front_end=front_end,
        software_version="test",
        stop=threading.Event(),
    )


def test_an_agent_decodes_its_pass_from_iq_that_gnu_radio_streams_over_tcp(
    gnuradio: None, free_port: int, tmp_path: Path
) -> None:
    doc = _pass_document(tmp_path)
    run = run_from_document(doc["run"])
    # The reference: the same pass through the agent's simulated front end.
    reference = _runner(
        "simulated", tmp_path / "spool-sim", SimulatedClock(run.aos, speedup=1e5)
    ).run(doc)
    assert reference.ok and reference.frames_ok > 50, reference.reason

    # The same IQ (the simulated channel is seeded per contact) in a cf32
    # file, after 2 s of noise at the stream's rate (what the producer sends
    # before the agent connects is dropped).
    _, downlink, _ = ccsds_pass(run, station_from_document(doc["station"]), LinkModel(), 4)
    rate_hz = 10 * downlink.fs_hz
    path = tmp_path / "pass.cf32"
    rng = np.random.default_rng(7)
    with path.open("wb") as f:
        first = True
        for samples in downlink.chunks(int(downlink.fs_hz)):
            if first:
                sigma = float(np.std(samples)) / np.sqrt(2)
                n = int(2 * rate_hz)
                noise = rng.normal(0, sigma, n) + 1j * rng.normal(0, sigma, n)
                noise.astype(np.complex64).tofile(f)
                first = False
            samples.astype(np.complex64).tofile(f)

    # The agent waits for AOS, finds nothing listening yet and tries again;
    # GNU Radio starts serving the file; the agent reads it to its end.
    runner = _runner(
        f"tcp:127.0.0.1:{free_port}:cf32", tmp_path / "spool-tcp", SimulatedClock(run.aos)
    )
    outcome: list[Any] = []
    agent = threading.Thread(target=lambda: outcome.append(runner.run(doc)))
    agent.start()
    producer = subprocess.Popen(
        ["/usr/bin/python3", str(PRODUCER), str(free_port), str(rate_hz), str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        agent.join(timeout=120)
        assert not agent.is_alive(), "the agent did not finish the pass"
        producer.wait(timeout=30)
    finally:
        runner.stop.set()
        producer.kill()
        producer.wait(timeout=10)
    (got,) = outcome
    assert got.ok, got.reason
    # Every frame the simulated front end decoded comes over the stream too.
    assert got.frames_ok >= reference.frames_ok - 1, (got.frames_ok, reference.frames_ok)
    assert got.summary["simulated"] == ""  # live IQ as far as the agent knows
    assert got.summary["front_end"] == (
        f"live IQ (cf32) streamed over TCP from 127.0.0.1:{free_port}"
    )
    assert got.summary["samples"] >= downlink.total_samples


def test_a_tcp_front_end_that_never_answers_fails_the_pass_at_los_naming_it(
    free_port: int, tmp_path: Path
) -> None:
    doc = _pass_document(tmp_path)
    run = run_from_document(doc["run"])
    # 120 service s of pass in 2 wall s: the agent tries to connect until LOS.
    got = _runner(
        f"tcp:127.0.0.1:{free_port}", tmp_path / "spool", SimulatedClock(run.aos, speedup=60.0)
    ).run(doc)
    assert not got.ok
    assert f"front end 'tcp:127.0.0.1:{free_port}'" in got.reason
    assert f"cannot connect to IQ stream (cf32) at 127.0.0.1:{free_port}" in got.reason


def test_an_agent_on_a_soapysdr_device_opens_it_at_aos_and_fails_the_pass_naming_its_fault(
    soapy: None, tmp_path: Path
) -> None:
    """Debian's SoapySDR ``null`` device opens, tunes and sets up its stream
    but streams nothing: the pass fails with the device's own error."""
    doc = _pass_document(tmp_path)
    run = run_from_document(doc["run"])
    got = _runner(
        "soapy:driver=null", tmp_path / "spool", SimulatedClock(run.aos, speedup=60.0)
    ).run(doc)
    assert not got.ok
    assert got.reason.startswith("front end 'soapy:driver=null': ")
    assert "readStream returned NOT_SUPPORTED" in got.reason
    assert got.summary["front_end"] == "live IQ from the SoapySDR device 'driver=null'"
