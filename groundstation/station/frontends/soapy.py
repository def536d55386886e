"""SoapySDR front end: any SDR with a SoapySDR driver (device string such as
``driver=rtlsdr`` or ``driver=airspy,serial=...``), from the station's
configuration.

SoapySDR's Python module comes from Debian (``python3-soapysdr``), built for
Debian's CPython 3.11. Where the running interpreter cannot import it (a
virtualenv on another build of Python 3.11), :func:`load_soapysdr` loads
Debian's module files directly when their ABI tag is this interpreter's
(``EXT_SUFFIX``); otherwise it says what to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import sysconfig
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from groundstation.clock import Clock
from groundstation.errors import ValidationError
from groundstation.station.errors import HardwareConnectionError, HardwareError
from groundstation.station.frontends import IQChunk

DEBIAN_DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
SOAPY_SDR_TIMEOUT = -1
SOAPY_SDR_OVERFLOW = -4


def _load_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HardwareError(f"cannot load SoapySDR module file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_soapysdr(dist_packages: Path = DEBIAN_DIST_PACKAGES) -> ModuleType:
    """SoapySDR's Python module: importable as is, or Debian's python3-soapysdr."""
    try:
        return importlib.import_module("SoapySDR")
    except ImportError:
        pass
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    native, wrapper = dist_packages / f"_SoapySDR{suffix}", dist_packages / "SoapySDR.py"
    if not (native.is_file() and wrapper.is_file()):
        raise HardwareError(
            f"SoapySDR's Python module is not installed for this Python ({suffix}): "
            f"no {native.name} in {dist_packages}; on Debian: apt-get install python3-soapysdr"
        )
    _load_file("_SoapySDR", native)
    return _load_file("SoapySDR", wrapper)


class SoapyFrontEnd:
    """An SDR opened through SoapySDR. ``timeout_s``: how long the device may
    give no samples before the stream is an error."""

    recorded = False
    retunable = True

    def __init__(
        self,
        device: str,
        *,
        clock: Clock,
        fs_hz: float,
        center_hz: float,
        gain_db: float | None = None,
        antenna: str | None = None,
        channel: int = 0,
        timeout_s: float = 2.0,
    ) -> None:
        if not fs_hz > 0:
            raise ValidationError(f"SoapySDR device {device!r}: fs_hz {fs_hz} must be > 0")
        self.device = device
        self.clock = clock
        self.channel = channel
        self.antenna = antenna
        self.timeout_s = timeout_s
        self._fs_hz = float(fs_hz)
        self._center_hz = float(center_hz)
        self.gain_db = gain_db
        self._soapy: ModuleType | None = None
        self._dev: Any = None
        self._stream: Any = None
        self._t0: datetime | None = None
        self._stop = threading.Event()
        self.overflows = 0

    @property
    def sample_rate_hz(self) -> float:
        return self._fs_hz

    @property
    def center_hz(self) -> float:
        return self._center_hz

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (RuntimeError, ValueError, TypeError) as exc:
            raise HardwareError(f"SoapySDR device {self.device!r}: {what} failed: {exc}") from exc

    def start(self) -> None:
        """Open the device, set rate, frequency, gain and antenna, start the RX stream."""
        soapy = self._soapy = load_soapysdr()
        rx = soapy.SOAPY_SDR_RX
        args = self._call("parsing the device string", soapy.KwargsFromString, self.device)
        self._dev = self._call("open (SoapySDRUtil --find lists devices)", soapy.Device, args)
        self._call("setSampleRate", self._dev.setSampleRate, rx, self.channel, self._fs_hz)
        self._call("setFrequency", self._dev.setFrequency, rx, self.channel, self._center_hz)
        if self.gain_db is not None:
            self._call("setGain", self._dev.setGain, rx, self.channel, self.gain_db)
        if self.antenna is not None:
            self._call("setAntenna", self._dev.setAntenna, rx, self.channel, self.antenna)
        self._stream = self._call(
            "setupStream", self._dev.setupStream, rx, soapy.SOAPY_SDR_CF32, [self.channel]
        )
        ret = self._call("activateStream", self._dev.activateStream, self._stream)
        if ret != 0:
            raise HardwareError(
                f"SoapySDR device {self.device!r}: activateStream returned "
                f"{soapy.errToStr(ret)} ({ret})"
            )
        self._stop.clear()
        self._t0 = self.clock.now()

    def stop(self) -> None:
        self._stop.set()
        if self._dev is not None and self._stream is not None:
            self._dev.deactivateStream(self._stream)
            self._dev.closeStream(self._stream)
        self._stream = None
        self._dev = None

    def tune(self, center_hz: float) -> None:
        if self._dev is not None and self._soapy is not None:
            rx = self._soapy.SOAPY_SDR_RX
            self._call("setFrequency", self._dev.setFrequency, rx, self.channel, center_hz)
        self._center_hz = float(center_hz)

    def set_gain(self, gain_db: float) -> None:
        if self._dev is not None and self._soapy is not None:
            rx = self._soapy.SOAPY_SDR_RX
            self._call("setGain", self._dev.setGain, rx, self.channel, gain_db)
        self.gain_db = gain_db

    def chunks(self, chunk_samples: int) -> Iterator[IQChunk]:
        if self._dev is None or self._t0 is None or self._soapy is None:
            raise ValidationError(f"SoapySDR device {self.device!r}: call start() before chunks()")
        if chunk_samples <= 0:
            raise ValidationError(f"chunk_samples {chunk_samples} must be > 0")
        first = 0
        while not self._stop.is_set():
            samples = self._read(chunk_samples)
            if samples is None:
                return
            t_first = self._t0 + timedelta(seconds=first / self._fs_hz)
            yield IQChunk(t_first, first, samples, self._fs_hz, self._center_hz)
            first += samples.size

    def _read(self, n: int) -> np.ndarray[Any, np.dtype[np.complex64]] | None:
        """``n`` samples, or None when stopped meanwhile."""
        assert self._soapy is not None
        buf = np.empty(n, dtype=np.complex64)
        filled, waited_s, wait_us = 0, 0.0, 100_000
        while filled < n:
            if self._stop.is_set() or self._dev is None:
                return None
            result = self._dev.readStream(
                self._stream, [buf[filled:]], n - filled, timeoutUs=wait_us
            )
            if result.ret > 0:
                filled += result.ret
                waited_s = 0.0
            elif result.ret == SOAPY_SDR_OVERFLOW:
                self.overflows += 1  # samples were dropped by the host; go on
            elif result.ret == SOAPY_SDR_TIMEOUT or result.ret == 0:
                waited_s += wait_us / 1e6
                if waited_s >= self.timeout_s:
                    raise HardwareConnectionError(
                        f"SoapySDR device {self.device!r}: no samples for {self.timeout_s} s"
                    )
            else:
                raise HardwareError(
                    f"SoapySDR device {self.device!r}: readStream returned "
                    f"{self._soapy.errToStr(result.ret)} ({result.ret})"
                )
        return buf
