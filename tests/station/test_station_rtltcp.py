"""The rtl_tcp front end against a server speaking the rtl_tcp protocol.

Debian's ``rtl_tcp`` (package ``rtl-sdr``) needs an RTL2832 dongle on USB
to serve anything, and this machine has none, so the server here is a few
lines that speak the protocol as rtl_tcp does (header ``RTL0`` + tuner +
gain count, unsigned 8-bit I/Q, 5-byte commands)."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pytest

from groundstation.clock import SimulatedClock
from groundstation.station.errors import HardwareError
from groundstation.station.frontends.rtltcp import RtlTcpFrontEnd

FS_HZ = 250_000.0


@dataclass
class FakeRtlTcp:
    """Serves ``iq`` (uint8 pairs) once to one client, recording its commands."""

    iq: bytes
    magic: bytes = b"RTL0"
    commands: list[tuple[int, int]] = field(default_factory=list)
    port: int = 0
    _sock: socket.socket = field(default_factory=socket.socket)

    def start(self) -> None:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn:
            conn.sendall(self.magic + struct.pack(">II", 5, 29))  # R820T, 29 gains
            reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
            reader.start()
            reader.join(0.5)  # the client's set-up commands arrive first
            conn.sendall(self.iq)
            reader.join(1.0)

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(1.0)
        while True:
            try:
                data = conn.recv(64)
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= 5:
                self.commands.append(struct.unpack(">BI", buf[:5]))
                buf = buf[5:]


def _tone(n: int) -> tuple[bytes, np.ndarray]:
    t = np.arange(n)
    z = 0.8 * np.exp(2j * np.pi * 0.05 * t)
    pairs = np.empty(2 * n, dtype=np.uint8)
    pairs[0::2] = np.round(z.real * 127.5 + 127.5).astype(np.uint8)
    pairs[1::2] = np.round(z.imag * 127.5 + 127.5).astype(np.uint8)
    expected = (pairs[0::2] - 127.5) / 127.5 + 1j * (pairs[1::2] - 127.5) / 127.5
    return pairs.tobytes(), expected


@pytest.fixture
def clock() -> Iterator[SimulatedClock]:
    yield SimulatedClock(datetime(2026, 11, 30, tzinfo=UTC))


def test_the_client_sets_rate_frequency_and_gain_and_reads_unsigned_iq(
    clock: SimulatedClock,
) -> None:
    raw, expected = _tone(20_000)
    server = FakeRtlTcp(raw)
    server.start()
    front = RtlTcpFrontEnd(
        "127.0.0.1", server.port, clock=clock, fs_hz=FS_HZ, center_hz=437.5e6, gain_db=29.7
    )
    front.start()
    try:
        chunks = list(front.chunks(4096))
    finally:
        front.stop()
    assert front.tuner == "R820T" and front.gain_steps == 29
    assert server.commands[:4] == [(0x02, 250_000), (0x01, 437_500_000), (0x03, 1), (0x04, 297)]
    samples = np.concatenate([c.samples for c in chunks])
    assert samples.dtype == np.complex64 and samples.size == expected.size
    assert np.allclose(samples, expected, atol=1e-6)
    assert [c.first_sample for c in chunks[:2]] == [0, 4096]
    assert {c.center_hz for c in chunks} == {437.5e6}


def test_retuning_sends_the_frequency_and_later_chunks_carry_it(clock: SimulatedClock) -> None:
    raw, _ = _tone(8192)
    server = FakeRtlTcp(raw)
    server.start()
    front = RtlTcpFrontEnd("127.0.0.1", server.port, clock=clock, fs_hz=FS_HZ, center_hz=437.5e6)
    front.start()
    try:
        front.tune(437.49e6)
        chunks = list(front.chunks(4096))
    finally:
        front.stop()
    assert (0x01, 437_490_000) in server.commands
    assert (0x03, 1) not in server.commands  # no gain given: the server's own (auto)
    assert chunks and all(c.center_hz == 437.49e6 for c in chunks)


def test_a_server_that_does_not_speak_rtl_tcp_is_refused_naming_what_it_sent(
    clock: SimulatedClock,
) -> None:
    server = FakeRtlTcp(b"", magic=b"HTTP")
    server.start()
    front = RtlTcpFrontEnd("127.0.0.1", server.port, clock=clock, fs_hz=FS_HZ, center_hz=1e8)
    with pytest.raises(HardwareError, match="does not speak rtl_tcp: it opened with b'HTTP"):
        front.start()
