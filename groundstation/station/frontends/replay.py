"""Replay front end: a recording (SigMF cf32_le, stereo WAV I/Q, raw cf32;
with ``audio=True`` also a mono WAV of a receiver's audio output, as the
amateur recordings are) played as if it came from an antenna, in real or
compressed time.

The recording is read by the same reader as ``groundstation decode``
(``commands.dsp.open_recording``). It is ``recorded``: whatever it produces
must say so. Its centre frequency is fixed: :meth:`tune` is noted but the
chunks keep the recording's own ``center_hz``, so the receiver shifts.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from groundstation.clock import Clock
from groundstation.errors import ValidationError
from groundstation.station.frontends import IQChunk
from groundstation.station.timing import sleep_until


class ReplayFrontEnd:
    """``path`` in ``fmt`` (auto: by its name); ``fs_hz`` is needed for raw
    cf32 only. ``center_hz``: the recording's centre frequency (SigMF: its
    first capture's ``core:frequency`` when not given). ``pace``: release
    each chunk when the clock reaches the time of its last sample (a
    ``SimulatedClock`` with a speedup compresses time); else as fast as read.
    ``audio``: a mono recording of receiver audio is taken too (``iq`` is
    then False and the chunks hold its real samples, for a receiver of
    audio, as ``groundstation decode`` reads such a file); else refused."""

    recorded = True
    retunable = False

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        fmt: str = "auto",
        fs_hz: float | None = None,
        center_hz: float | None = None,
        pace: bool = True,
        audio: bool = False,
    ) -> None:
        from groundstation.commands.dsp import guess_format, open_recording, sigmf_paths

        kind = guess_format(str(path)) if fmt == "auto" else fmt
        self._recording = open_recording(
            argparse.Namespace(iq=str(path), format=kind, sample_rate=fs_hz)
        )
        if not self._recording.iq and not audio:
            raise ValidationError(
                f"recording {str(path)!r} is receiver audio (mono), not I/Q: "
                "a front end replays I/Q (stereo WAV, cf32, SigMF), or the receiver "
                "audio of a satellite from the catalogue"
            )
        if center_hz is None and kind == "sigmf":
            center_hz = _sigmf_frequency(sigmf_paths(str(path))[1])
        if center_hz is None:
            raise ValidationError(f"recording {str(path)!r}: give its centre frequency (center_hz)")
        self.path = path
        self.clock = clock
        self.pace = pace
        self._center_hz = float(center_hz)
        self.requested_center_hz = self._center_hz
        self.gain_db: float | None = None
        self._stop = threading.Event()
        self._t0: datetime | None = None

    @property
    def iq(self) -> bool:
        """False for a recording of receiver audio (real samples)."""
        return self._recording.iq

    @property
    def sample_rate_hz(self) -> float:
        return self._recording.fs_hz

    @property
    def center_hz(self) -> float:
        return self._center_hz

    @property
    def n_samples(self) -> int:
        return self._recording.n_samples

    def start(self) -> None:
        self._stop.clear()
        self._t0 = self.clock.now()

    def stop(self) -> None:
        self._stop.set()

    def tune(self, center_hz: float) -> None:
        """Noted only: a recording's samples stay where they were recorded."""
        self.requested_center_hz = center_hz

    def set_gain(self, gain_db: float) -> None:
        """Noted only: a recording's gain was fixed when it was made."""
        self.gain_db = gain_db

    def chunks(self, chunk_samples: int) -> Iterator[IQChunk]:
        if self._t0 is None:
            raise ValidationError(f"replay of {str(self.path)!r}: call start() before chunks()")
        if chunk_samples <= 0:
            raise ValidationError(f"chunk_samples {chunk_samples} must be > 0")
        fs_hz = self.sample_rate_hz
        for first, block in self._recording.blocks(chunk_samples):
            if self._stop.is_set():
                return
            t_first = self._t0 + timedelta(seconds=first / fs_hz)
            if self.pace:
                ready = t_first + timedelta(seconds=block.size / fs_hz)
                if sleep_until(self.clock, ready, self._stop, max_step_s=1.0):
                    return
            samples = block.astype(np.complex64) if self.iq else block.astype(np.float32)
            yield IQChunk(t_first, first, samples, fs_hz, self._center_hz)


def _sigmf_frequency(meta_path: Path) -> float | None:
    """The first capture's ``core:frequency`` of a SigMF recording, if any."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise ValidationError(f"SigMF metadata {str(meta_path)!r}: {exc}") from None
    captures = meta.get("captures") if isinstance(meta, dict) else None
    if isinstance(captures, list) and captures and isinstance(captures[0], dict):
        freq = captures[0].get("core:frequency")
        if isinstance(freq, int | float) and not isinstance(freq, bool) and freq > 0:
            return float(freq)
    return None
