"""Streaming by fixed segments: a local computation over a sample stream run
on segments at absolute positions, each seen through a window with margins.

``SegmentRunner`` cuts the stream into cores [k*S, (k+1)*S) and calls the
computation on the samples [k*S - M, (k+1)*S + M] (clipped to the stream);
the computation returns what belongs to the core. Windows depend only on
absolute positions, never on how the caller chunked the stream, so chunking
changes no output; memory stays bounded by one window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class SoftSymbols:
    """soft: (n,) float32 soft symbols, positive for a 0 bit, about +-1;
    sample_pos: (n,) float64 absolute input sample index of each symbol centre."""

    soft: NDArray[np.float32]
    sample_pos: NDArray[np.float64]

    @staticmethod
    def empty() -> SoftSymbols:
        return SoftSymbols(np.zeros(0, np.float32), np.zeros(0, np.float64))

    @staticmethod
    def concat(parts: list[SoftSymbols]) -> SoftSymbols:
        if not parts:
            return SoftSymbols.empty()
        return SoftSymbols(
            np.concatenate([p.soft for p in parts]), np.concatenate([p.sample_pos for p in parts])
        )


# compute(window, window_start, core_start, core_stop) -> symbols of the core
WindowComputation = Callable[[NDArray[np.generic], int, int, int], SoftSymbols]


class SegmentRunner:
    """Feed samples in any chunks; get the computation's output segment by segment."""

    def __init__(self, segment: int, margin: int, compute: WindowComputation) -> None:
        if segment <= 0 or margin < 0:
            raise ValueError(f"segment {segment} and margin {margin} must be positive")
        self.segment = segment
        self.margin = margin
        self.compute = compute
        self._buffer: NDArray[np.generic] | None = None
        self._buffer_start = 0  # absolute index of _buffer[0]
        self._next_core = 0

    def push(self, samples: NDArray[np.generic]) -> SoftSymbols:
        self._buffer = samples if self._buffer is None else np.concatenate([self._buffer, samples])
        return self._run(final=False)

    def flush(self) -> SoftSymbols:
        return self._run(final=True)

    def _run(self, final: bool) -> SoftSymbols:
        out = []
        buf = self._buffer
        if buf is None:
            return SoftSymbols.empty()
        end = self._buffer_start + buf.size
        while True:
            core_start = self._next_core
            core_stop = core_start + self.segment
            if core_start >= end or (not final and core_stop + self.margin > end):
                break
            lo = max(core_start - self.margin, 0)
            hi = min(core_stop + self.margin, end)
            window = buf[lo - self._buffer_start : hi - self._buffer_start]
            out.append(self.compute(window, lo, core_start, min(core_stop, end)))
            self._next_core = core_stop
        keep = max(self._next_core - self.margin, 0) - self._buffer_start
        if keep > 0:
            self._buffer = buf[keep:]
            self._buffer_start += keep
        return SoftSymbols.concat(out)
