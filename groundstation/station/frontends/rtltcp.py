"""rtl_tcp front end: the client side of the rtl_tcp protocol (``rtl_tcp``
from Debian's ``rtl-sdr``, or any server speaking it, such as SDR++ or
rtl_tcp on a remote Raspberry Pi).

The server opens with a 12-byte header: ``RTL0``, the tuner type and the
number of gain steps (big-endian uint32 each), then streams unsigned 8-bit
interleaved I/Q. The client commands it with 5-byte messages: a command byte
and a big-endian uint32 (``0x01`` centre frequency in Hz, ``0x02`` sample
rate, ``0x03`` gain mode 1 manual / 0 automatic, ``0x04`` gain in tenths of
a dB). Re-tuning moves the samples (``retunable``); chunks carry the centre
frequency in force when they were read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from groundstation.clock import Clock
from groundstation.station.errors import HardwareConnectionError, HardwareError
from groundstation.station.frontends import IQChunk
from groundstation.station.frontends.tcp import TcpFrontEnd

HEADER = struct.Struct(">4sII")
COMMAND = struct.Struct(">BI")
SET_FREQUENCY, SET_SAMPLE_RATE, SET_GAIN_MODE, SET_GAIN = 0x01, 0x02, 0x03, 0x04
#: rtl_tcp's tuner type codes (rtl-sdr's enum rtlsdr_tuner).
TUNERS = {0: "unknown", 1: "E4000", 2: "FC0012", 3: "FC0013", 4: "FC2580", 5: "R820T", 6: "R828D"}


class RtlTcpFrontEnd(TcpFrontEnd):
    """A client of an rtl_tcp server at ``host:port``: sets its rate,
    frequency and (when given) manual gain at start."""

    retunable = True

    def __init__(
        self,
        host: str,
        port: int,
        *,
        clock: Clock,
        fs_hz: float,
        center_hz: float,
        gain_db: float | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            host,
            port,
            clock=clock,
            fs_hz=fs_hz,
            center_hz=center_hz,
            sample_format="cu8",
            timeout_s=timeout_s,
        )
        self.gain_db = gain_db
        self.tuner = ""
        self.gain_steps = 0

    @property
    def where(self) -> str:
        return f"rtl_tcp at {self.host}:{self.port}"

    def start(self) -> None:
        super().start()
        header = self._read_header()
        magic, tuner, steps = HEADER.unpack(header)
        if magic != b"RTL0":
            self.stop()
            raise HardwareError(
                f"{self.where} does not speak rtl_tcp: it opened with {header!r}, "
                "expected b'RTL0' and the tuner type"
            )
        self.tuner, self.gain_steps = TUNERS.get(tuner, f"type {tuner}"), steps
        self._send(SET_SAMPLE_RATE, int(round(self._fs_hz)))
        self._send(SET_FREQUENCY, int(round(self._center_hz)))
        if self.gain_db is not None:
            self.set_gain(self.gain_db)

    def _read_header(self) -> bytes:
        data = b""
        while len(data) < HEADER.size:
            part = self._receive(HEADER.size - len(data))
            if not part:
                raise HardwareConnectionError(
                    f"{self.where} closed the connection after {len(data)} bytes of its header"
                )
            data += part
        return data

    def _send(self, command: int, value: int) -> None:
        if self._sock is None:
            raise HardwareError(f"{self.where}: call start() first")
        if not 0 <= value < 2**32:
            raise HardwareError(f"{self.where}: command {command:#04x} value {value} out of range")
        try:
            self._sock.sendall(COMMAND.pack(command, value))
        except OSError as exc:
            raise HardwareConnectionError(f"{self.where}: sending {command:#04x}: {exc}") from exc

    def tune(self, center_hz: float) -> None:
        """Re-tune the dongle; later chunks carry the new centre."""
        self.requested_center_hz = center_hz
        self._send(SET_FREQUENCY, int(round(center_hz)))
        self._center_hz = float(center_hz)

    def set_gain(self, gain_db: float) -> None:
        """Manual gain (tenths of a dB on the wire)."""
        self.gain_db = gain_db
        self._send(SET_GAIN_MODE, 1)
        self._send(SET_GAIN, int(round(gain_db * 10)))

    def chunks(self, chunk_samples: int) -> Iterator[IQChunk]:
        yield from super().chunks(chunk_samples)
