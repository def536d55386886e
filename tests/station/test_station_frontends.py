"""Front ends: replaying recordings (the decode command's readers) and IQ
over TCP from a real GNU Radio flowgraph (Debian's gnuradio)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.io import wavfile

from groundstation.clock import SimulatedClock
from groundstation.errors import ValidationError
from groundstation.station.errors import HardwareConnectionError
from groundstation.station.frontends import FrontEnd, IQChunk
from groundstation.station.frontends.replay import ReplayFrontEnd
from groundstation.station.frontends.tcp import TcpFrontEnd

T0 = datetime(2023, 7, 4, 5, 15, tzinfo=UTC)
PRODUCER = Path(__file__).with_name("gr_iq_producer.py")


def _iq(n: int) -> NDArray[np.complex64]:
    rng = np.random.default_rng(13)
    return (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64) * 0.3


def _collect(front_end: FrontEnd, chunk_samples: int) -> list[IQChunk]:
    return list(front_end.chunks(chunk_samples))


# --- replay ---


def test_a_sigmf_recording_replays_whole_in_compressed_time_with_its_centre_frequency(
    tmp_path: Path,
) -> None:
    x = _iq(48_000)
    x.tofile(tmp_path / "pass.sigmf-data")
    meta = {
        "global": {"core:datatype": "cf32_le", "core:sample_rate": 48_000},
        "captures": [{"core:sample_start": 0, "core:frequency": 437.525e6}],
    }
    (tmp_path / "pass.sigmf-meta").write_text(json.dumps(meta))
    clock = SimulatedClock(T0, speedup=4.0)  # 1 s of recording in 0.25 s
    replay = ReplayFrontEnd(tmp_path / "pass.sigmf-meta", clock=clock)
    assert replay.recorded and not replay.retunable
    assert (replay.sample_rate_hz, replay.center_hz) == (48_000.0, 437.525e6)
    replay.start()
    started = time.monotonic()
    chunks = _collect(replay, 4_800)
    elapsed_s = time.monotonic() - started
    assert elapsed_s >= 0.2  # paced on the clock (1 s at 4x), not as fast as read
    assert [c.first_sample for c in chunks] == list(range(0, 48_000, 4_800))
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), x)
    assert chunks[3].time_utc - chunks[0].time_utc == timedelta(seconds=0.3)
    for c in chunks:  # a chunk is released once the clock has passed its last sample
        assert c.time_utc >= T0 and c.center_hz == 437.525e6 and c.fs_hz == 48_000.0


def test_replay_of_a_stereo_wav_and_of_raw_cf32_gives_their_iq(tmp_path: Path) -> None:
    x = _iq(10_000)
    pcm = np.round(np.clip(np.stack([x.real, x.imag], axis=1), -1, 1) * 32767).astype(np.int16)
    wavfile.write(tmp_path / "pass.wav", 20_000, pcm)
    clock = SimulatedClock(T0)
    wav = ReplayFrontEnd(tmp_path / "pass.wav", clock=clock, center_hz=145.8e6, pace=False)
    wav.start()
    got = np.concatenate([c.samples for c in _collect(wav, 3_000)])
    assert wav.sample_rate_hz == 20_000.0
    assert np.max(np.abs(got - np.clip(x.real, -1, 1) - 1j * np.clip(x.imag, -1, 1))) < 1e-4
    x.tofile(tmp_path / "pass.cf32")
    raw = ReplayFrontEnd(
        tmp_path / "pass.cf32", clock=clock, fs_hz=20_000, center_hz=145.8e6, pace=False
    )
    raw.start()
    raw.tune(145.801e6)  # a recording is not retuned: chunks say where they are
    chunks = _collect(raw, 4_096)
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), x)
    assert {c.center_hz for c in chunks} == {145.8e6}
    assert raw.requested_center_hz == 145.801e6


def test_replay_refuses_receiver_audio_and_a_recording_without_a_frequency(tmp_path: Path) -> None:
    wavfile.write(tmp_path / "audio.wav", 48_000, np.zeros(100, np.int16))
    with pytest.raises(ValidationError, match="receiver audio .mono., not I/Q"):
        ReplayFrontEnd(tmp_path / "audio.wav", clock=SimulatedClock(T0), center_hz=1e8)
    _iq(100).tofile(tmp_path / "x.cf32")
    with pytest.raises(ValidationError, match=r"x.cf32.*give its centre frequency"):
        ReplayFrontEnd(tmp_path / "x.cf32", clock=SimulatedClock(T0), fs_hz=1e3)


# --- TCP, against GNU Radio ---


def _producer(
    port: int, sample_format: str, rate_hz: float, period: int
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["/usr/bin/python3", str(PRODUCER), str(port), sample_format, str(rate_hz), str(period)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _connected(front_end: TcpFrontEnd, producer: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60.0  # GNU Radio takes a few seconds to start
    while True:
        try:
            front_end.start()
            return
        except HardwareConnectionError:
            if producer.poll() is not None or time.monotonic() > deadline:
                err = producer.stderr.read().decode() if producer.stderr else ""
                pytest.fail(f"GNU Radio producer did not listen: {err}")
            time.sleep(0.2)


@pytest.fixture
def stop_after() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.parametrize("sample_format", ["cf32", "cs16"])
def test_iq_from_a_gnu_radio_tcp_sink_arrives_whole_and_in_order(
    gnuradio: None, free_port: int, sample_format: str, stop_after: list[subprocess.Popen[bytes]]
) -> None:
    rate_hz, period = 250_000.0, 10_000
    producer = _producer(free_port, sample_format, rate_hz, period)
    stop_after.append(producer)
    front_end = TcpFrontEnd(
        "127.0.0.1",
        free_port,
        clock=SimulatedClock(T0),
        fs_hz=rate_hz,
        center_hz=437.0e6,
        sample_format=sample_format,
    )
    _connected(front_end, producer)
    chunks: list[IQChunk] = []
    started = time.monotonic()
    for chunk in front_end.chunks(25_000):
        chunks.append(chunk)
        if len(chunks) == 20:
            break
    elapsed_s = time.monotonic() - started
    front_end.stop()
    z = np.concatenate([c.samples for c in chunks])
    scale = 32768.0 if sample_format == "cs16" else 1.0
    ramp = np.round(z.real * scale)
    assert z.size == 500_000 and all(c.samples.size == 25_000 for c in chunks)
    assert np.all(np.mod(np.diff(ramp), period) == 1)  # no sample lost, repeated or reordered
    assert np.array_equal(np.round(z.imag * scale), -ramp)
    assert [c.first_sample for c in chunks] == list(range(0, 500_000, 25_000))
    assert chunks[1].time_utc - chunks[0].time_utc == timedelta(seconds=0.1)
    assert elapsed_s > 1.0  # the flowgraph's throttle: 2 s of samples at 250 kHz


def test_a_tcp_front_end_with_nothing_listening_names_the_stream(free_port: int) -> None:
    front_end = TcpFrontEnd(
        "127.0.0.1", free_port, clock=SimulatedClock(T0), fs_hz=1e6, center_hz=1e8
    )
    with pytest.raises(
        HardwareConnectionError, match=rf"IQ stream \(cf32\) at 127.0.0.1:{free_port}"
    ):
        front_end.start()
    with pytest.raises(ValidationError, match="format 'cs8'"):
        TcpFrontEnd(
            "127.0.0.1", 1, clock=SimulatedClock(T0), fs_hz=1, center_hz=1, sample_format="cs8"
        )
