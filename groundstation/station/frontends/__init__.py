"""Front ends: the station's IQ sources, one small interface for all.

A front end is configured (sample rate, centre frequency, gain), started,
read as a stream of :class:`IQChunk` (complex64 samples stamped with the UTC
time of their first sample and the centre frequency they were taken at),
re-tuned while it runs where the source can be, and stopped.

Implementations: :mod:`.replay` (a SigMF, WAV or cf32 recording),
:mod:`.tcp` (raw cf32/cs16 IQ over TCP from SDR software at the station),
:mod:`.soapy` (SoapySDR devices).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class IQChunk:
    """``samples``: complex64 IQ at ``fs_hz`` centred on ``center_hz`` (float32
    receiver audio from a replay of such a recording); ``time_utc``: when
    its first sample was taken; ``first_sample``: its index in the stream
    since start."""

    time_utc: datetime
    first_sample: int
    samples: NDArray[np.complex64] | NDArray[np.float32]
    fs_hz: float
    center_hz: float


class FrontEnd(Protocol):
    """What the pass executor needs of an IQ source."""

    #: True when the samples are not from an antenna (a replayed recording).
    recorded: bool
    #: Whether :meth:`tune` moves the samples (False: a fixed recording or
    #: stream; chunks keep their true ``center_hz`` and the receiver shifts).
    retunable: bool

    @property
    def sample_rate_hz(self) -> float: ...

    @property
    def center_hz(self) -> float: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def tune(self, center_hz: float) -> None: ...

    def set_gain(self, gain_db: float) -> None: ...

    def chunks(self, chunk_samples: int) -> Iterator[IQChunk]:
        """Chunks of ``chunk_samples`` (the last may be shorter) until the
        source ends or :meth:`stop` is called."""
        ...
