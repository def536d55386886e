"""The line protocol of hamlib's network daemons (rotctld, rigctld).

Commands go in hamlib's extended response form (``+P 10 20``): every reply
ends with ``RPRT <code>`` and values come as ``Name: value`` lines, so a reply
is complete when its ``RPRT`` line arrives, whatever the command.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self

from groundstation.station.errors import HardwareConnectionError, HardwareError

#: hamlib's ``rig_errcode_e`` (rig.h), the negated code of a ``RPRT`` line.
HAMLIB_ERRORS = {
    1: "invalid parameter",
    2: "invalid configuration",
    3: "memory shortage",
    4: "function not implemented",
    5: "communication timed out",
    6: "IO error",
    7: "internal hamlib error",
    8: "protocol error",
    9: "command rejected by the device",
    10: "command performed, but arg truncated",
    11: "function not available",
    12: "VFO not targetable",
    13: "error talking on the bus",
    14: "collision on the bus",
    15: "NULL argument",
    16: "invalid VFO",
    17: "argument out of domain of function",
    18: "function deprecated",
    19: "security error",
    20: "device powered off",
}

MAX_REPLY_BYTES = 1 << 16


class HamlibClient:
    """One TCP connection to a hamlib daemon; thread-safe (one command at a time).

    ``timeout_s`` bounds the connection and each reply. Errors name the
    daemon, ``host:port``, the command and what came back.
    """

    daemon = "hamlib daemon"

    def __init__(self, host: str, port: int, *, timeout_s: float = 2.0) -> None:
        if not 0 < port < 65536:
            raise HardwareError(f"{self.daemon} port {port} is outside 1..65535")
        if not timeout_s > 0:
            raise HardwareError(f"{self.daemon} timeout_s {timeout_s} must be > 0")
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"{self.daemon} at {self.host}:{self.port}"

    def connect(self) -> None:
        if self._sock is not None:
            return
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            raise HardwareConnectionError(
                f"cannot connect to {self.where}: {exc} (is the daemon running and listening there?)"
            ) from exc
        self._buffer = b""

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def command(self, line: str) -> dict[str, str]:
        """Send ``line`` (without the ``+``) and return the reply's ``Name: value`` pairs.

        A negative ``RPRT`` raises :class:`HardwareError` naming the code;
        a timeout or a closed connection raises :class:`HardwareConnectionError`
        (the connection is dropped and made again by the next command).
        """
        values: dict[str, str] = {}
        for text in self.command_lines(line):
            name, sep, value = text.partition(":")
            if sep:
                values[name.strip()] = value.strip()
        return values

    def command_lines(self, line: str) -> list[str]:
        """The reply's lines between the command's echo and ``RPRT 0``."""
        if "\n" in line or not line.strip():
            raise HardwareError(f"{self.where}: command {line!r} must be one non-empty line")
        with self._lock:
            self.connect()
            try:
                lines = self._exchange(line)
            except (OSError, HardwareConnectionError) as exc:
                self.close()
                if isinstance(exc, HardwareConnectionError):
                    raise
                raise HardwareConnectionError(
                    f"{self.where}: no reply to {line!r} within {self.timeout_s} s ({exc})"
                ) from exc
        self._check_status(line, lines)
        return lines[1:-1]  # lines[0] echoes the command (``set_pos: 10 20``)

    def _exchange(self, line: str) -> list[str]:
        assert self._sock is not None
        self._sock.sendall(b"+" + line.encode("ascii") + b"\n")
        lines: list[str] = []
        while True:
            text = self._read_line(line, lines)
            lines.append(text)
            if text.startswith("RPRT "):
                return lines

    def _read_line(self, command: str, so_far: list[str]) -> str:
        assert self._sock is not None
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_REPLY_BYTES:
                raise HardwareConnectionError(
                    f"{self.where}: reply to {command!r} exceeds {MAX_REPLY_BYTES} bytes"
                )
            chunk = self._sock.recv(4096)
            if not chunk:
                raise HardwareConnectionError(
                    f"{self.where} closed the connection after {command!r}; "
                    f"reply so far: {so_far + [self._buffer.decode(errors='replace')]!r}"
                )
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\n", 1)
        return raw.decode("ascii", errors="replace").rstrip("\r")

    def _check_status(self, command: str, lines: list[str]) -> None:
        try:
            code = int(lines[-1].split()[1])
        except (IndexError, ValueError) as exc:
            raise HardwareError(
                f"{self.where}: bad status line {lines[-1]!r} after {command!r}"
            ) from exc
        if code != 0:
            reason = HAMLIB_ERRORS.get(-code, "unknown error")
            raise HardwareError(
                f"{self.where} refused {command!r}: RPRT {code} ({reason}); reply {lines!r}"
            )

    def number(self, values: dict[str, str], name: str, command: str) -> float:
        """The float ``name`` of a reply, or an error naming the reply."""
        try:
            return float(values[name])
        except (KeyError, ValueError) as exc:
            raise HardwareError(
                f"{self.where}: reply to {command!r} has no number {name!r}: {values!r}"
            ) from exc
