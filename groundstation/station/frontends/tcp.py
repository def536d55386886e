"""TCP front end: raw IQ over TCP from SDR software that already runs at the
station (GNU Radio's ``tcp_server_sink``, or any program writing interleaved
samples to a socket).

Formats: ``cf32`` (complex64, little-endian, 8 bytes a sample), ``cs16``
(interleaved int16 I and Q, 4 bytes a sample, scaled to +-1) and ``cu8``
(unsigned 8-bit I and Q, rtl_tcp's; see :mod:`.rtltcp` for its protocol). The stream
carries no metadata: rate and centre frequency are the station's
configuration, and the producer's tuning is its own, so :meth:`tune` is
noted but does not move the samples. Chunks are stamped from the clock at
connection plus the sample count over the rate.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from groundstation.clock import Clock
from groundstation.errors import ValidationError
from groundstation.station.errors import HardwareConnectionError
from groundstation.station.frontends import IQChunk

SAMPLE_BYTES = {"cf32": 8, "cs16": 4, "cu8": 2}


def _decode(raw: bytes, sample_format: str) -> NDArray[np.complex64]:
    if sample_format == "cf32":
        return np.frombuffer(raw, dtype="<c8").astype(np.complex64)
    if sample_format == "cu8":  # rtl_tcp: unsigned 8-bit I and Q around 127.5
        pairs8 = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 127.5) / 127.5
        return (pairs8[0::2] + 1j * pairs8[1::2]).astype(np.complex64)
    pairs = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return (pairs[0::2] + 1j * pairs[1::2]).astype(np.complex64)


class TcpFrontEnd:
    """A client of an IQ stream at ``host:port``."""

    recorded = False
    retunable = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        fs_hz: float,
        center_hz: float,
        sample_format: str = "cf32",
        timeout_s: float = 5.0,
    ) -> None:
        if sample_format not in SAMPLE_BYTES:
            raise ValidationError(
                f"IQ stream format {sample_format!r} is not one of {sorted(SAMPLE_BYTES)}"
            )
        if not fs_hz > 0:
            raise ValidationError(f"IQ stream fs_hz {fs_hz} must be > 0")
        self.host, self.port = host, port
        self.clock = clock
        self.sample_format = sample_format
        self.timeout_s = timeout_s
        self._fs_hz = float(fs_hz)
        self._center_hz = float(center_hz)
        self.requested_center_hz = self._center_hz
        self.gain_db: float | None = None
        self._sock: socket.socket | None = None
        self._t0: datetime | None = None
        self._stop = threading.Event()

    @property
    def where(self) -> str:
        return f"IQ stream ({self.sample_format}) at {self.host}:{self.port}"

    @property
    def sample_rate_hz(self) -> float:
        return self._fs_hz

    @property
    def center_hz(self) -> float:
        return self._center_hz

    def start(self) -> None:
        self._stop.clear()
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            raise HardwareConnectionError(
                f"cannot connect to {self.where}: {exc} (is the SDR software streaming there?)"
            ) from exc
        self._t0 = self.clock.now()

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def tune(self, center_hz: float) -> None:
        """Noted only: the producer's tuning is its own."""
        self.requested_center_hz = center_hz

    def set_gain(self, gain_db: float) -> None:
        """Noted only: the producer's gain is its own."""
        self.gain_db = gain_db

    def chunks(self, chunk_samples: int) -> Iterator[IQChunk]:
        if self._sock is None or self._t0 is None:
            raise ValidationError(f"{self.where}: call start() before chunks()")
        if chunk_samples <= 0:
            raise ValidationError(f"chunk_samples {chunk_samples} must be > 0")
        size = SAMPLE_BYTES[self.sample_format]
        want = chunk_samples * size
        first, pending = 0, b""
        while not self._stop.is_set():
            data = self._receive(want - len(pending))
            pending += data
            whole = len(pending) - len(pending) % size
            if data and whole < want:
                continue
            if whole:
                samples = _decode(pending[:whole], self.sample_format)
                t_first = self._t0 + timedelta(seconds=first / self._fs_hz)
                yield IQChunk(t_first, first, samples, self._fs_hz, self._center_hz)
                first += samples.size
                pending = pending[whole:]
            if not data:
                return  # the producer closed the stream

    def _receive(self, n: int) -> bytes:
        sock = self._sock
        if sock is None:
            return b""
        try:
            return sock.recv(n)
        except TimeoutError as exc:
            raise HardwareConnectionError(
                f"{self.where}: no samples for {self.timeout_s} s"
            ) from exc
        except OSError:
            if self._stop.is_set():
                return b""
            raise
