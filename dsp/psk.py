"""BPSK / DBPSK demodulator for signals anywhere in a wide band: complex64
samples (IQ, or the analytic signal of SSB receiver audio) -> float32 soft
symbols, one stream per loop gear.

The band is cut into blocks at absolute positions (``block_s``). Each block
gets a carrier estimate (dsp.carrier_search: squared-signal spectrum); a
block is active when it or a neighbour holds a significant carrier. Over a
run of active blocks the coherent demodulator (dsp.demodulator: matched
filter, Gardner timing, Costas carrier, AGC) is driven by the carrier track
interpolated between block centres; a new run starts fresh loops, so each
burst is pulled in on its own. Two gears run side by side: narrow loops
that hold a weak continuous signal, and the wide pull-in loops that catch
short bursts (their frames are merged downstream). Soft output: the
in-phase symbol (BPSK, 180-degree ambiguity left to the framing) or the
differential product -Re(z[k] conj(z[k-1])) (DBPSK), positive for a 0 bit.
Manchester-coded signals (``manchester``) are demodulated at the chip rate,
twice the bit rate, and their chips paired into bits by dsp.manchester
before either soft output; their differential code turns the phase for a 1
(AO-40's), so the product's sign is the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from dsp.carrier_search import CarrierEstimate, find_bpsk_carrier
from dsp.demodulator import DemodConfig, SymbolDemodulator
from dsp.manchester import ManchesterSync
from dsp.segments import SoftSymbols


@dataclass(frozen=True)
class LoopGear:
    """Loop noise bandwidths (times the symbol period); settle: symbols of the
    wider pull-in loops at the start of a run."""

    carrier_bn_t: float
    timing_bn_t: float
    settle_symbols: int


TRACKING = LoopGear(carrier_bn_t=0.007, timing_bn_t=0.001, settle_symbols=1500)
PULL_IN = LoopGear(carrier_bn_t=0.02, timing_bn_t=0.005, settle_symbols=0)


@dataclass(frozen=True)
class PskKind:
    """How a PSK modulation name codes its bits: differentially (DBPSK) and/or
    Manchester-coded (two chips per bit)."""

    differential: bool
    manchester: bool

    def chip_rate(self, baud_rate: float) -> float:
        """Symbols per second on the air for ``baud_rate`` bits per second."""
        return baud_rate * (2 if self.manchester else 1)


#: the PSK modulations of the catalogue (gr-satellites' BPSK, DBPSK, BPSK
#: Manchester, DBPSK Manchester)
PSK_KINDS: dict[str, PskKind] = {
    "bpsk": PskKind(differential=False, manchester=False),
    "dbpsk": PskKind(differential=True, manchester=False),
    "bpsk-manchester": PskKind(differential=False, manchester=True),
    "dbpsk-manchester": PskKind(differential=True, manchester=True),
}


@dataclass(frozen=True)
class PskConfig:
    """min_hz/max_hz: where the carrier may be; detect_db: significance of a
    carrier line (noise alone stays under ~10 dB); subband_detect_db: the
    same for the sub-band search of narrow signals in a wide band
    (dsp.carrier_search; its scale: noise alone under ~7 dB, tones ~0);
    band_snr_db: least signal band over the band's median density (an r=1/2
    coded signal at its threshold shows ~2 dB; silence and hum 0);
    line_bin_hz: the carrier search's resolution (``slow_signal`` below)."""

    baud_rate: float
    fs_hz: float
    min_hz: float
    max_hz: float
    differential: bool = False
    rrc_alpha: float = 0.35
    block_s: float = 0.5
    detect_db: float = 12.0
    subband_detect_db: float = 8.0
    band_snr_db: float = 1.0
    gears: tuple[LoopGear, ...] = field(default=(TRACKING, PULL_IN))
    manchester: bool = False
    line_bin_hz: float = 12.0

    @property
    def chip_rate(self) -> float:
        """Symbols per second on the air: the baud rate, twice it when Manchester-coded."""
        return PskKind(self.differential, self.manchester).chip_rate(self.baud_rate)


#: under this many symbols per second on the air, ``slow_signal`` settings
SLOW_CHIP_RATE = 1200.0


def for_slow_signal(config: PskConfig) -> PskConfig:
    """``config`` for a signal of fewer than SLOW_CHIP_RATE symbols/s on the
    air (the AO-40 beacon's 800 chips/s): 1.5-s blocks and a carrier search
    with bins of chip_rate / 200 (4 Hz at 800/s), which gather the squared
    line over longer segments; at Eb/N0 3 dB the beacon's line then shows
    ~9 dB (~6 dB with the defaults) and noise alone stays under ~7 dB.
    Faster signals keep ``config`` as it is."""
    if config.chip_rate >= SLOW_CHIP_RATE:
        return config
    return replace(config, block_s=1.5, line_bin_hz=config.chip_rate / 200)


def carrier_track_hz(
    n: NDArray[np.int64], times: list[float], freqs: list[float]
) -> NDArray[np.float64]:
    """Carrier at samples n from the estimates (freqs) at block centres (times):
    linear between them and, beyond the first or last, along the line through
    the two nearest (a drifting carrier keeps drifting to the end of a run;
    holding the last estimate left it up to 0.25 s x the drift rate off)."""
    track = np.interp(n, times, freqs)
    if len(times) >= 2:
        slope_lo = (freqs[1] - freqs[0]) / (times[1] - times[0])
        slope_hi = (freqs[-1] - freqs[-2]) / (times[-1] - times[-2])
        track = np.where(n < times[0], freqs[0] + slope_lo * (n - times[0]), track)
        track = np.where(n > times[-1], freqs[-1] + slope_hi * (n - times[-1]), track)
    return np.asarray(track, dtype=np.float64)


class _Run:
    """The demodulators of one run of active blocks (one per gear)."""

    def __init__(self, cfg: PskConfig, start: int, power: float) -> None:
        sps = cfg.fs_hz / cfg.chip_rate
        self.start = start
        self.demods = [
            SymbolDemodulator(
                DemodConfig(
                    sps=sps,
                    rrc_alpha=cfg.rrc_alpha,
                    detector=0,
                    timing_bn_t=g.timing_bn_t,
                    carrier_bn_t=g.carrier_bn_t,
                    settle_symbols=g.settle_symbols,
                ),
                cfg.fs_hz,
                initial_gain=1.0 / np.sqrt(max(power * sps, 1e-30)),
            )
            for g in cfg.gears
        ]
        self.last = [complex(0.0) for _ in cfg.gears]
        self.manchester = [ManchesterSync() for _ in cfg.gears] if cfg.manchester else None


class PskDemodulator:
    """Streaming: ``process`` complex chunks, then ``flush``; each returns one
    ``SoftSymbols`` per gear."""

    def __init__(self, config: PskConfig) -> None:
        self.config = config
        self.block = max(int(round(config.block_s * config.fs_hz)), 1024)
        self._buffer = np.zeros(0, dtype=np.complex64)
        self._buffer_start = 0
        self._estimates: list[CarrierEstimate] = []  # per block, from block 0
        self._next_block = 0  # next block to demodulate
        self._run: _Run | None = None
        self.carrier_track: list[tuple[float, float]] = []  # (time_s, freq_hz) of active blocks

    def process(self, samples: NDArray[np.complexfloating]) -> list[SoftSymbols]:
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.complex64)])
        return self._advance(final=False)

    def flush(self) -> list[SoftSymbols]:
        return self._advance(final=True)

    def _block_samples(self, j: int) -> NDArray[np.complex64]:
        lo = j * self.block - self._buffer_start
        return self._buffer[max(lo, 0) : lo + self.block]

    def _estimate(self, j: int) -> CarrierEstimate:
        while len(self._estimates) <= j:
            k = len(self._estimates)
            samples = self._block_samples(k)
            c = self.config
            if samples.size < 256:
                self._estimates.append(CarrierEstimate(float("nan"), float("-inf")))
            else:
                self._estimates.append(
                    find_bpsk_carrier(
                        samples,
                        c.fs_hz,
                        c.chip_rate,
                        min_hz=c.min_hz,
                        max_hz=c.max_hz,
                        line_bin_hz=c.line_bin_hz,
                    )
                )
        return self._estimates[j]

    def _detected(self, e: CarrierEstimate) -> bool:
        c = self.config
        threshold = c.subband_detect_db if e.subbands else c.detect_db
        return e.significance_db >= threshold and e.band_snr_db >= c.band_snr_db

    def _anchors(self, j: int, n_blocks: int) -> tuple[list[float], list[float]]:
        times, freqs = [], []
        end = self._buffer_start + self._buffer.size
        for k in (j - 1, j, j + 1):
            if 0 <= k < n_blocks:
                e = self._estimate(k)
                if self._detected(e):
                    # an estimate holds for the centre of the samples it saw (the
                    # last block of a stream may be short)
                    times.append(k * self.block + min(self.block, end - k * self.block) / 2)
                    freqs.append(e.freq_hz)
        return times, freqs

    def _advance(self, final: bool) -> list[SoftSymbols]:
        outputs: list[list[SoftSymbols]] = [[] for _ in self.config.gears]
        end = self._buffer_start + self._buffer.size
        n_complete = end // self.block
        n_blocks = -(-end // self.block) if final else n_complete
        while True:
            j = self._next_block
            if j >= n_blocks or (not final and j + 1 >= n_complete):
                break  # block j waits for its right neighbour's estimate
            times, freqs = self._anchors(j, n_blocks)
            samples = self._block_samples(j)
            if not freqs:
                self._run = None
            else:
                self._demodulate(j, samples, times, freqs, outputs)
            self._next_block += 1
        keep = (self._next_block - 1) * self.block - self._buffer_start
        if keep > 0:
            self._buffer = self._buffer[keep:]
            self._buffer_start += keep
        return [SoftSymbols.concat(parts) for parts in outputs]

    def _demodulate(
        self,
        j: int,
        samples: NDArray[np.complex64],
        times: list[float],
        freqs: list[float],
        outputs: list[list[SoftSymbols]],
    ) -> None:
        start = j * self.block
        if self._run is None:
            # the level of the louder of this block and the next: a burst may
            # start late in this one
            nxt = self._block_samples(j + 1)
            power = max(float(np.mean(np.abs(b) ** 2)) if b.size else 0.0 for b in (samples, nxt))
            self._run = _Run(self.config, start, power or 1.0)
        n = start + np.arange(samples.size)
        freq = carrier_track_hz(n, times, freqs)
        self.carrier_track.append(
            ((start + samples.size / 2) / self.config.fs_hz, float(np.mean(freq)))
        )
        run = self._run
        for g, demod in enumerate(run.demods):
            out = demod.process(samples, freq)
            symbols, pos = out.symbols, out.sample_pos
            if run.manchester is not None:
                symbols, pos = run.manchester[g].process(symbols, pos)
            if self.config.differential:
                previous = np.concatenate([[run.last[g]], symbols[:-1]])
                product = (symbols * np.conj(previous)).real
                soft = product if self.config.manchester else -product
                if symbols.size:
                    run.last[g] = complex(symbols[-1])
                    if previous[0] == 0:
                        soft[0] = 0.0
            else:
                soft = symbols.real
            outputs[g].append(SoftSymbols(soft.astype(np.float32), pos + run.start))
