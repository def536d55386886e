"""Non-coherent 2-FSK demodulator: FM discriminator samples (real, at fs_hz)
-> float32 soft symbols, positive for a 0 bit (the lower frequency when the
deviation is positive).

The input is the output of an FM receiver (the recordings' audio) or of
``fm_discriminate`` on IQ. Per segment (dsp.segments, absolute positions):
1. upsample to at least 8 samples per symbol (polyphase FIR, dsp.upsample);
2. matched filter: a moving sum over one symbol (NRZ pulse);
3. decision-directed level tracking (DC and level, see 5.) on the samples;
4. feed-forward symbol timing: the zero crossings of that waveform mark symbol
   boundaries; their phase against the nominal symbol clock, averaged over
   blocks of ``timing_block_symbols`` at absolute positions and smoothed
   over neighbouring blocks, follows clock offsets of many hundred ppm and
   drift; symbols are sampled where the recovered clock phase says "centre";
5. the matched filter's output at those instants, through decision-directed
   level tracking (DC and level): the threshold is the midpoint between
   the mean high and mean low symbol levels over ``level_symbols`` (not the
   mean, which an unbalanced pattern such as a run of HDLC flags pulls off
   centre), and the spacing of those levels scales the soft output to +-1;
   through a run of one level longer than the window both hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from dsp.segments import SegmentRunner, SoftSymbols
from dsp.upsample import upsample

MIN_SPS = 8.0
MIN_CROSSINGS = 4  # per smoothed timing block


@dataclass(frozen=True)
class FskConfig:
    """baud_rate and fs_hz of the input; invert: the higher frequency is a 0 bit
    (a negative deviation); the *_symbols lengths are in symbols."""

    baud_rate: float
    fs_hz: float
    invert: bool = False
    timing_block_symbols: int = 32
    timing_smooth_blocks: int = 3
    level_symbols: int = 64
    segment_symbols: int = 4096

    @property
    def sps(self) -> float:
        return self.fs_hz / self.baud_rate


def moving_average(x: NDArray[np.float64], n: float) -> NDArray[np.float64]:
    """Centred moving average over round(n) samples, shortened at the edges.

    The differences of one cumulative sum: slices where the whole window is
    inside ``x``, index arrays only at the edges (the hot loop of this
    demodulator: gathers over every sample took most of its time)."""
    n = max(int(round(n)), 1)
    size = x.size
    c = np.empty(size + 1)
    c[0] = 0.0
    np.cumsum(x, out=c[1:])
    out = np.empty(size)
    first, stop = n // 2, size - n + n // 2 + 1  # whole windows: [first, stop)
    if stop > first:
        out[first:stop] = (c[n:] - c[: size - n + 1]) / n
    edge = min(first, size)
    idx = np.concatenate([np.arange(edge), np.arange(max(stop, edge), size)])
    lo = np.clip(idx - n // 2, 0, size)
    hi = np.clip(idx - n // 2 + n, 0, size)
    out[idx] = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return out


def _hold(
    values: NDArray[np.float64], valid: NDArray[np.bool_], default: float
) -> NDArray[np.float64]:
    """Where not ``valid``, the last valid value before (else the first after)."""
    if not valid.any():
        return np.full_like(values, default)
    index = np.where(valid, np.arange(values.size), -1)
    last = np.maximum.accumulate(index)
    last = np.where(last < 0, int(np.argmax(valid)), last)
    return values[last]


def midpoint_levels_reference(v: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Symbols -> centred on the midpoint of the local high and low levels and
    scaled by half their spacing (two passes of decision-directed estimates).
    Through a run of one level longer than the window (no low or no high
    symbol to measure) the last midpoint and spacing hold.

    The plain NumPy statement of what ``midpoint_levels`` computes (its
    numba core gives the same floats, bit for bit; tests/dsp compare them)."""
    threshold = np.zeros_like(v)
    spacing = np.ones_like(v)
    for _ in range(2):
        high = v > threshold
        n_high = moving_average(high.astype(np.float64), window)
        n_low = 1.0 - n_high
        mean_high = moving_average(np.where(high, v, 0.0), window) / np.maximum(n_high, 1e-9)
        mean_low = moving_average(np.where(high, 0.0, v), window) / np.maximum(n_low, 1e-9)
        both = (n_high > 2.0 / window) & (n_low > 2.0 / window)
        threshold = _hold((mean_high + mean_low) / 2, both, 0.0)
        spacing = _hold(np.maximum((mean_high - mean_low) / 2, 1e-9), both, 1.0)
    return (v - threshold) / spacing


def midpoint_levels(v: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """``midpoint_levels_reference`` in one numba kernel: the same sums in
    the same order, so the same floats bit for bit. The NumPy version ran
    nine passes over the upsampled waveform per iteration and was most of
    this demodulator's time: the 9600-Bd demodulator on FACSAT-1's audio
    went from 2.8 to over 6 Msamples/s of CPU time with it."""
    if window < 1:
        raise ValueError(f"level window {window} must be at least 1 sample")
    return _midpoint_levels_core(np.ascontiguousarray(v, dtype=np.float64), int(window))


@njit(cache=True, nogil=True)
def _at_least(a: float, b: float) -> float:
    """np.maximum of two floats (a NaN wins)."""
    return a if (a != a or a > b) else b


@njit(cache=True, nogil=True)
def _window_sums(v, threshold, c_high, c_vh, c_vl):  # type: ignore[no-untyped-def]
    """Cumulative sums (numpy.cumsum's order, a leading 0) of the high
    decisions, of v where high and of v where low."""
    c_high[0] = c_vh[0] = c_vl[0] = 0.0
    for i in range(v.size):
        high = v[i] > threshold[i]
        x_high = 1.0 if high else 0.0
        x_vh = v[i] if high else 0.0
        x_vl = 0.0 if high else v[i]
        if i == 0:  # cumsum starts from the first element, not from 0.0 + it
            c_high[1], c_vh[1], c_vl[1] = x_high, x_vh, x_vl
        else:
            c_high[i + 1] = c_high[i] + x_high
            c_vh[i + 1] = c_vh[i] + x_vh
            c_vl[i + 1] = c_vl[i] + x_vl


@njit(cache=True, nogil=True)
def _level_estimates(c_high, c_vh, c_vl, window, mid, half, valid):  # type: ignore[no-untyped-def]
    """Per sample: the midpoint and half-spacing of the high and low means
    over the centred window, and whether both levels were seen in it."""
    size = mid.size
    n = window
    for i in range(size):
        lo = min(max(i - n // 2, 0), size)
        hi = min(max(i - n // 2 + n, 0), size)
        count = max(hi - lo, 1)
        n_high = (c_high[hi] - c_high[lo]) / count
        n_low = 1.0 - n_high
        mean_high = (c_vh[hi] - c_vh[lo]) / count / _at_least(n_high, 1e-9)
        mean_low = (c_vl[hi] - c_vl[lo]) / count / _at_least(n_low, 1e-9)
        valid[i] = (n_high > 2.0 / window) and (n_low > 2.0 / window)
        mid[i] = (mean_high + mean_low) / 2
        half[i] = _at_least((mean_high - mean_low) / 2, 1e-9)


@njit(cache=True, nogil=True)
def _hold_into(mid, half, valid, threshold, spacing):  # type: ignore[no-untyped-def]
    """``_hold`` of both estimates into threshold and spacing."""
    first = -1
    for i in range(valid.size):
        if valid[i]:
            first = i
            break
    if first < 0:
        threshold[:] = 0.0
        spacing[:] = 1.0
        return
    last = first
    for i in range(valid.size):
        if valid[i]:
            last = i
        threshold[i] = mid[last]
        spacing[i] = half[last]


@njit(cache=True, nogil=True)
def _midpoint_levels_core(v, window):  # type: ignore[no-untyped-def]
    size = v.size
    threshold = np.zeros(size)
    spacing = np.ones(size)
    c_high, c_vh, c_vl = np.empty(size + 1), np.empty(size + 1), np.empty(size + 1)
    mid, half = np.empty(size), np.empty(size)
    valid = np.empty(size, np.bool_)
    for _ in range(2):
        _window_sums(v, threshold, c_high, c_vh, c_vl)
        _level_estimates(c_high, c_vh, c_vl, window, mid, half, valid)
        _hold_into(mid, half, valid, threshold, spacing)
    return (v - threshold) / spacing


def _timing_phase(
    y: NDArray[np.float64], t_abs: NDArray[np.float64], cfg: FskConfig, start: int, stop: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(block centres, unwrapped boundary phase) from the zero crossings of ``y``
    (sampled at absolute times ``t_abs``), blocks wholly inside [start, stop)."""
    sign = np.signbit(y)
    i = np.flatnonzero(sign[1:] != sign[:-1])
    step = y[i] - y[i + 1]
    frac = y[i] / np.where(step == 0, 1.0, step)
    crossing = t_abs[i] + frac * (t_abs[1] - t_abs[0])
    block = cfg.timing_block_symbols * cfg.sps
    first, last = int(np.ceil(start / block)), int(np.floor(stop / block))
    n_blocks = last - first
    if n_blocks < 1:
        return np.zeros(0), np.zeros(0)
    j = np.floor(crossing / block).astype(np.int64) - first
    keep = (j >= 0) & (j < n_blocks)
    phasor = np.abs(step[keep]) * np.exp(2j * np.pi * crossing[keep] / cfg.sps)
    acc = np.bincount(j[keep], phasor.real, n_blocks) + 1j * np.bincount(
        j[keep], phasor.imag, n_blocks
    )
    count = np.bincount(j[keep], minlength=n_blocks)
    k = cfg.timing_smooth_blocks
    smooth = np.convolve(acc, np.ones(k), mode="valid")
    crossings = np.convolve(count, np.ones(k, dtype=np.int64), mode="valid")
    centres = ((first + k // 2 + np.arange(smooth.size) + 0.5) * block).astype(np.float64)
    # blocks without transitions (a long run of one level) say nothing about
    # the clock: the phase is interpolated across them
    valid = crossings >= MIN_CROSSINGS
    return centres[valid], np.unwrap(np.angle(smooth[valid])).astype(np.float64)


def _demodulate_window(
    signal: NDArray[np.float64], start: int, core_start: int, core_stop: int, cfg: FskConfig
) -> SoftSymbols:
    sps = cfg.sps
    up = max(int(np.ceil(MIN_SPS / sps)), 1)
    y = upsample(signal, up) if up > 1 else signal
    t_abs = start + np.arange(y.size) / up
    matched = moving_average(y, sps * up)
    # timing looks at the waveform centred and scaled by the same level
    # tracking, sample by sample: a long run of one level makes no crossing
    y = midpoint_levels(matched, int(round(cfg.level_symbols * sps * up)))
    centres, phase = _timing_phase(y, t_abs, cfg, start, start + signal.size)
    if centres.size == 0:
        return SoftSymbols.empty()
    # clock phase theta(n) = 2 pi n / sps - phase(n); symbol centres where theta = pi mod 2 pi
    n = np.arange(start, start + signal.size)
    theta = 2 * np.pi * n / sps - np.interp(n, centres, phase)
    turns = np.floor((theta - np.pi) / (2 * np.pi))
    k = np.flatnonzero(turns[1:] > turns[:-1]) + 1  # centre between n[k-1] and n[k]
    target = np.pi + 2 * np.pi * turns[k]
    pos = n[k - 1] + (target - theta[k - 1]) / (theta[k] - theta[k - 1])
    # ... decisions at the matched filter's own output: a long run of one level
    # keeps its sign (the level tracker holds through it)
    values = np.interp((pos - start) * up, np.arange(matched.size), matched)
    levels = midpoint_levels(values, cfg.level_symbols)
    core = (n[k] >= core_start) & (n[k] < core_stop)
    soft = levels[core] if cfg.invert else -levels[core]
    return SoftSymbols(soft.astype(np.float32), pos[core])


# window of input samples -> discriminator samples on the same grid
Transform = Callable[[NDArray[np.generic]], NDArray[np.float64]]


class FskDemodulator:
    """Streaming FSK demodulator; ``process`` chunks of discriminator samples, or
    of any input that ``transform`` (applied per window, e.g. AFSK tone
    discrimination or FM discrimination of IQ) turns into them."""

    def __init__(self, config: FskConfig, transform: Transform | None = None) -> None:
        self.config = config
        convert: Transform = transform or (lambda w: np.asarray(w, dtype=np.float64))
        sps = config.sps
        margin = int(np.ceil(max(8 * config.level_symbols, 512) * sps))
        self._runner = SegmentRunner(
            int(round(config.segment_symbols * sps)),
            max(margin, 2048),
            lambda w, s, a, b: _demodulate_window(convert(w), s, a, b, config),
        )

    def process(self, samples: NDArray[np.generic]) -> SoftSymbols:
        return self._runner.push(np.asarray(samples))

    def flush(self) -> SoftSymbols:
        return self._runner.flush()
