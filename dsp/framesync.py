"""Frame synchronizer: complex symbols -> soft channel-bit blocks, one per frame.

Searches the hard decisions of every phase-ambiguity rotation for the sync
pattern (the ASM, or the 52 state-independent symbols of the convolutionally
encoded ASM), allowing bit errors. A candidate locks when it is nearly
error-free or when a second pattern confirms it one frame later; once locked,
each next frame is looked for in a small window around the expected position
(the "flywheel"): the best match wins, and when none is good enough the
expected position is used, until ``max_misses`` frames in a row miss and the
search restarts. Outputs depend only on absolute positions, not on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dsp.modulation import Modulation


@dataclass(frozen=True)
class FrameCandidate:
    """start_bit: absolute soft-bit index of the frame's first (ASM) channel bit;
    soft: ``block_bits`` soft bits from there (zero-padded at the stream's end);
    rotation: ambiguity resolved from the ASM; asm_errors: bit errors in the
    sync pattern (-1 if the flywheel placed the frame without seeing it)."""

    start_bit: int
    rotation: int
    asm_errors: int
    soft: NDArray[np.float32]


class FrameSynchronizer:
    """Streaming frame sync over soft channel bits for one profile's framing."""

    def __init__(
        self,
        modulation: Modulation,
        pattern: NDArray[np.uint8],
        pattern_offset: int,
        frame_bits: int,
        block_bits: int,
        *,
        search_error_fraction: float = 0.2,
        lock_error_fraction: float = 0.3,
        max_misses: int = 4,
    ) -> None:
        self.modulation = modulation
        self.k = modulation.bits_per_symbol
        self.pattern = (1.0 - 2.0 * pattern.astype(np.float32)).astype(np.float32)
        self.L = pattern.size
        self.offset = pattern_offset
        self.F = frame_bits
        self.block_bits = block_bits
        self.W = 2 * self.k  # flywheel window: +-2 symbols
        self.t_strict = max(1, self.L // 16)
        self.t_search = int(self.L * search_error_fraction)
        self.t_lock = int(self.L * lock_error_fraction)
        self.max_misses = max_misses
        self._symbols = np.zeros(0, dtype=np.complex64)
        self._sym_base = 0  # absolute index of _symbols[0]
        self._locked = False
        self._search_pos = 0  # absolute bit index where pattern search resumes
        self._expect = 0  # absolute bit index of the next expected pattern
        self._rotation = 0
        self._misses = 0

    # ----- buffer helpers (absolute soft-bit indices) -----
    @property
    def _bit_base(self) -> int:
        return self._sym_base * self.k

    @property
    def _bit_end(self) -> int:
        return (self._sym_base + self._symbols.size) * self.k

    def _soft(self, start: int, stop: int, rotation: int) -> NDArray[np.float32]:
        """Soft bits [start, stop) for ``rotation``, zeros outside the buffer."""
        out = np.zeros(max(stop - start, 0), dtype=np.float32)
        lo, hi = max(start, self._bit_base), min(stop, self._bit_end)
        if hi <= lo:
            return out
        s0 = (lo - self._bit_base) // self.k
        s1 = (hi - self._bit_base + self.k - 1) // self.k
        bits = self.modulation.soft_bits(self._symbols[s0:s1], rotation)
        first = (self._sym_base + s0) * self.k
        out[lo - start : hi - start] = bits[lo - first : hi - first]
        return out

    def _errors(self, start: int, n_positions: int, rotation: int) -> NDArray[np.int64]:
        """Pattern bit errors at absolute positions start .. start+n_positions-1."""
        soft = self._soft(start, start + n_positions + self.L - 1, rotation)
        hard = np.where(soft < 0, -1.0, 1.0).astype(np.float32)
        corr = np.correlate(hard, self.pattern, mode="valid")
        return np.rint((self.L - corr) / 2).astype(np.int64)

    def _best_in_window(self, centre: int) -> tuple[int, int, int]:
        """(position, rotation, errors) of the best match within +-W of ``centre``;
        ties go to the locked rotation, then to the position nearest ``centre``."""
        order = [self._rotation] + [
            r for r in range(self.modulation.n_rotations) if r != self._rotation
        ]
        distance = np.abs(np.arange(-self.W, self.W + 1))
        best = (centre, self._rotation, self.L + 1)
        for rotation in order:
            errors = self._errors(centre - self.W, 2 * self.W + 1, rotation)
            i = int(np.argmin(errors * (2 * self.W + 2) + distance))
            if errors[i] < best[2]:
                best = (centre - self.W + i, rotation, int(errors[i]))
        return best

    def _candidate(self, pos: int, rotation: int, errors: int) -> FrameCandidate:
        start = pos - self.offset
        return FrameCandidate(
            start_bit=start,
            rotation=rotation,
            asm_errors=errors,
            soft=self._soft(start, start + self.block_bits, rotation),
        )

    # ----- streaming -----
    def push(self, symbols: NDArray[np.complex64], final: bool = False) -> list[FrameCandidate]:
        """Add symbols; return the frames whose blocks are now complete
        (at ``final``, also the last ones, zero-padded)."""
        self._symbols = np.concatenate([self._symbols, symbols])
        out: list[FrameCandidate] = []
        while True:
            step = self._step_locked(final) if self._locked else self._step_search(final)
            if step is None:
                break
            if isinstance(step, FrameCandidate):
                out.append(step)
        self._trim()
        return out

    def _step_search(self, final: bool) -> bool | None:
        horizon = self._bit_end - self.L + 1 if final else self._bit_end - self.F - self.L - self.W
        n = horizon - self._search_pos
        if n <= 0:
            return None
        hits: list[tuple[int, int, int]] = []
        for rotation in range(self.modulation.n_rotations):
            errors = self._errors(self._search_pos, n, rotation)
            idx = np.flatnonzero(errors <= self.t_search)
            if idx.size:
                hits.append((int(idx[0]) + self._search_pos, rotation, int(errors[idx[0]])))
        if not hits:
            self._search_pos = horizon
            return None
        pos, rotation, n_errors = min(hits)
        confirmed = n_errors <= self.t_strict
        if not confirmed and pos + self.F + self.W + self.L <= self._bit_end:
            errs_next = self._errors(pos + self.F - self.W, 2 * self.W + 1, rotation)
            confirmed = bool(errs_next.min() <= self.t_search)
        if confirmed:
            self._locked = True
            self._expect = pos
            self._rotation = rotation
            self._misses = 0
        else:
            self._search_pos = pos + 1
        return True

    def _step_locked(self, final: bool) -> FrameCandidate | bool | None:
        e = self._expect
        if not final and e - self.offset + self.block_bits + self.W > self._bit_end:
            return None
        if final and e + self.L > self._bit_end:
            return None
        pos, rotation, errors = self._best_in_window(e)
        if errors <= self.t_lock:
            self._misses = 0
            self._rotation = rotation
        else:
            pos, rotation, errors = e, self._rotation, -1
            self._misses += 1
            if self._misses > self.max_misses:
                self._locked = False
                self._search_pos = e - self.W
                return True
        self._expect = pos + self.F
        return self._candidate(pos, rotation, errors)

    def _trim(self) -> None:
        keep_bit = (
            (self._expect - self.W if self._locked else self._search_pos) - self.offset - self.k
        )
        drop = max(keep_bit // self.k - self._sym_base, 0)
        if drop:
            self._symbols = self._symbols[drop:]
            self._sym_base += drop
