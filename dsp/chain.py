"""The multi-protocol receiver: samples of one satellite's downlink -> frames
of each of its transmitters.

A transmitter's chain is composed from two registries keyed by the names in
its spec (dsp.spec, validated by dsp.satellite): ``DEMODULATORS`` (modulation -> samples to soft
symbol branches) and ``FRAMINGS`` (framing -> soft symbols to frames). Each
entry also lists the spec options it takes, so the catalogue loader can
refuse options that do not apply. Input is either real receiver audio (FM
discriminator output for FSK, tones for AFSK, an SSB subcarrier for BPSK) or
complex IQ; the receiver finds subcarrier, carrier offset, level and clock
itself. ``SatelliteReceiver`` streams; ``decode_satellite`` runs a whole
array through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from dsp.analytic import AnalyticSignal
from dsp.ao40 import FRAME_SYMBOLS, SYNC_VECTOR, ao40_decode, ao40_sync_positions
from dsp.ax25_repair import RepairConfig
from dsp.coding import ChannelCode
from dsp.deframers import (
    Ax25Deframer,
    BlockResult,
    Deframed,
    SyncWordDeframer,
    bits_of,
)
from dsp.fm import afsk_discriminate, fm_discriminate
from dsp.fsk import FskConfig, FskDemodulator
from dsp.fx25 import ASTROCAST_TAG, CODEWORD_BITS, astrocast_fx25_decode
from dsp.gomspace import (
    ASM_GOLAY_BLOCK_BITS,
    AX100_SYNC,
    RS_MODE_BLOCK_BITS,
    U482C_SYNC,
    GomspaceFrame,
    ax100_asm_golay_decode,
    ax100_rs_decode,
    u482c_decode,
)
from dsp.profile import DownlinkProfile
from dsp.psk import PSK_KINDS, PskConfig, PskDemodulator, PskKind, for_slow_signal
from dsp.segments import SoftSymbols
from dsp.spec import SatelliteSpec, SatelliteSpecError, TransmitterSpec


# ----- demodulators -----
class Demodulator(Protocol):
    """Samples -> one or more branches of soft symbols (hypotheses whose frames
    are merged)."""

    n_branches: int

    def process(self, samples: NDArray[np.generic]) -> list[SoftSymbols]: ...

    def flush(self) -> list[SoftSymbols]: ...

    def carrier_hz(self, time_s: float) -> float | None: ...


class _Fsk:
    n_branches = 1

    def __init__(self, tx: TransmitterSpec, fs_hz: float, iq: bool, afsk: bool) -> None:
        deviation = tx.deviation_hz or tx.baud_rate / 2
        transform: Callable[[NDArray[np.generic]], NDArray[np.float64]] | None = None
        if afsk:
            af = float(tx.af_carrier_hz or 0.0)

            def transform(w: NDArray[np.generic]) -> NDArray[np.float64]:
                audio = fm_discriminate(w, fs_hz, 2 * af, tx.baud_rate) if iq else w
                return afsk_discriminate(audio, fs_hz, af, deviation, tx.baud_rate)

        elif iq:

            def transform(w: NDArray[np.generic]) -> NDArray[np.float64]:
                return fm_discriminate(w, fs_hz, deviation, tx.baud_rate)

        # the transforms already divide by the (signed) deviation
        invert = deviation < 0 and transform is None
        self._demod = FskDemodulator(FskConfig(tx.baud_rate, fs_hz, invert=invert), transform)
        self._af = tx.af_carrier_hz

    def process(self, samples: NDArray[np.generic]) -> list[SoftSymbols]:
        return [self._demod.process(samples)]

    def flush(self) -> list[SoftSymbols]:
        return [self._demod.flush()]

    def carrier_hz(self, time_s: float) -> float | None:
        return self._af


class _Psk:
    def __init__(self, tx: TransmitterSpec, fs_hz: float, iq: bool, kind: PskKind) -> None:
        edge = 200.0
        low, high = (-fs_hz / 2 + edge, fs_hz / 2 - edge) if iq else (edge, fs_hz / 2 - edge)
        config = for_slow_signal(
            PskConfig(
                tx.baud_rate,
                fs_hz,
                low,
                high,
                differential=kind.differential,
                manchester=kind.manchester,
            )
        )
        self._demod = PskDemodulator(config)
        # receiver audio: the analytic signal puts the subcarrier on one side
        self._analytic = None if iq else AnalyticSignal()
        self._delay = self._analytic.delay if self._analytic else 0
        self.n_branches = len(config.gears)
        self.fs_hz = fs_hz

    def _shift(self, branches: list[SoftSymbols]) -> list[SoftSymbols]:
        return [SoftSymbols(b.soft, b.sample_pos - self._delay) for b in branches]

    def process(self, samples: NDArray[np.generic]) -> list[SoftSymbols]:
        z = self._analytic.process(samples.real) if self._analytic else samples
        return self._shift(self._demod.process(np.asarray(z, np.complex64)))

    def flush(self) -> list[SoftSymbols]:
        if self._analytic is None:
            return self._shift(self._demod.flush())
        # push the Hilbert filter's last samples through before the end
        tail = self._demod.process(self._analytic.process(np.zeros(self._delay)))
        last = self._demod.flush()
        return self._shift([SoftSymbols.concat([a, b]) for a, b in zip(tail, last, strict=True)])

    def carrier_hz(self, time_s: float) -> float | None:
        track = self._demod.carrier_track
        if not track:
            return None
        times = np.array([t for t, _ in track])
        return float(track[int(np.argmin(np.abs(times - time_s)))][1])


def _psk_builder(kind: PskKind) -> Callable[[TransmitterSpec, float, bool], Demodulator]:
    return lambda tx, fs, iq: _Psk(tx, fs, iq, kind)


@dataclass(frozen=True)
class DemodEntry:
    build: Callable[[TransmitterSpec, float, bool], Demodulator]
    options: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()


DEMODULATORS: dict[str, DemodEntry] = {
    "fsk": DemodEntry(lambda tx, fs, iq: _Fsk(tx, fs, iq, afsk=False), frozenset({"deviation_hz"})),
    "afsk": DemodEntry(
        lambda tx, fs, iq: _Fsk(tx, fs, iq, afsk=True),
        frozenset({"deviation_hz", "af_carrier_hz"}),
        frozenset({"deviation_hz", "af_carrier_hz"}),
    ),
    **{name: DemodEntry(_psk_builder(kind)) for name, kind in PSK_KINDS.items()},
}


# ----- framings -----
class Deframer(Protocol):
    def push(self, symbols: SoftSymbols, final: bool = False) -> list[Deframed]: ...


def _ax25_repair(tx: TransmitterSpec) -> RepairConfig | None:
    """Soft repair (dsp.ax25_repair) where the soft symbols' magnitudes tell
    which bits are unreliable: PSK (near-Gaussian symbols). An FM
    discriminator's errors are clicks of full size, not weak bits: on
    FSK 9600 at Eb/N0 10 dB the failed segments looked error-free to the
    reliability model and the repair found 1 frame in 30."""
    return RepairConfig() if tx.modulation in PSK_KINDS else None


def _gomspace(
    decode: Callable[[NDArray[np.float32]], GomspaceFrame | None],
) -> Callable[[NDArray[np.float32]], BlockResult | None]:
    def block(soft: NDArray[np.float32]) -> BlockResult | None:
        result = decode(soft[32:])
        if result is None:
            return None
        fixes = [("golay", result.golay_errors)] if result.golay_errors >= 0 else []
        if result.rs_corrections >= 0:
            fixes.append(("rs", result.rs_corrections))
        return BlockResult(result.frame, 32 + result.block_bits, tuple(fixes))

    return block


def _ax100_asm(tx: TransmitterSpec) -> Deframer:
    return SyncWordDeframer(
        bits_of(AX100_SYNC, 32),
        max_errors=4,
        block_bits=32 + ASM_GOLAY_BLOCK_BITS,
        decode=_gomspace(ax100_asm_golay_decode),
    )


def _ax100_rs(tx: TransmitterSpec) -> Deframer:
    return SyncWordDeframer(
        bits_of(AX100_SYNC, 32),
        max_errors=4,
        block_bits=32 + RS_MODE_BLOCK_BITS,
        decode=_gomspace(ax100_rs_decode),
        line="g3ruh",
    )


def _u482c(tx: TransmitterSpec) -> Deframer:
    return SyncWordDeframer(
        bits_of(U482C_SYNC, 32),
        max_errors=4,
        block_bits=32 + ASM_GOLAY_BLOCK_BITS,
        decode=_gomspace(u482c_decode),
    )


def _ao40(tx: TransmitterSpec) -> Deframer:
    def block(soft: NDArray[np.float32]) -> BlockResult | None:
        result = ao40_decode(soft)
        if not result.ok:
            return None
        return BlockResult(result.frame, FRAME_SYMBOLS, (("rs", sum(result.rs_corrections)),))

    return SyncWordDeframer(
        SYNC_VECTOR,
        max_errors=8,
        block_bits=FRAME_SYMBOLS,
        decode=block,
        offsets=ao40_sync_positions(),
    )


def _astrocast(nrzi: bool) -> Callable[[TransmitterSpec], Deframer]:
    def build(tx: TransmitterSpec) -> Deframer:
        def block(soft: NDArray[np.float32]) -> BlockResult | None:
            result = astrocast_fx25_decode(soft[64:])
            if result is None:
                return None
            return BlockResult(result[0], 64 + CODEWORD_BITS, (("rs", result[1]),))

        return SyncWordDeframer(
            bits_of(ASTROCAST_TAG, 64),
            max_errors=8,
            block_bits=64 + CODEWORD_BITS,
            decode=block,
            line="nrzi" if nrzi else "none",
        )

    return build


def ccsds_profile(tx: TransmitterSpec, concatenated: bool) -> DownlinkProfile:
    """The DownlinkProfile (dsp.coding) of a CCSDS transmitter."""
    return DownlinkProfile(
        name=tx.name,
        modulation="bpsk",
        symbol_rate=tx.baud_rate,
        coding="conv+rs" if concatenated else "rs",
        rs_basis=tx.rs_basis or "dual",
        rs_interleave=tx.rs_interleave or 1,
        frame_length=tx.frame_size or 223,
        randomizer=(tx.scrambler or "ccsds") == "ccsds",
        frame_format="raw",
        fecf=False,
        differential=tx.precoding == "differential",
        convolutional=tx.convolutional or "ccsds",
    )


def _ccsds(concatenated: bool) -> Callable[[TransmitterSpec], Deframer]:
    def build(tx: TransmitterSpec) -> Deframer:
        code = ChannelCode(ccsds_profile(tx, concatenated))
        pattern, offset = code.sync_pattern

        def block(soft: NDArray[np.float32]) -> BlockResult | None:
            decoded = code.decode_block(soft)
            if not decoded.rs_ok:
                return None
            fixes = (("rs", int(sum(decoded.rs_corrections))),)
            return BlockResult(decoded.frame, code.channel_bits_per_frame, fixes)

        return SyncWordDeframer(
            pattern,
            # the coded ASM is 52 symbols; the plain one 32 bits, as gr-satellites allows
            max_errors=pattern.size // 4 if concatenated else 4,
            block_bits=code.block_bits,
            decode=block,
            sync_start=offset,
        )

    return build


def _check_ccsds(tx: TransmitterSpec, source: str) -> None:
    size, depth = tx.frame_size or 223, tx.rs_interleave or 1
    if size > 223 * depth or size % depth:
        raise SatelliteSpecError(
            f"{source}: field 'frame_size' is {size}, expected a multiple of rs_interleave="
            f"{depth} no larger than {223 * depth} (223 bytes per Reed-Solomon codeword)"
        )


def _no_check(tx: TransmitterSpec, source: str) -> None:
    return None


@dataclass(frozen=True)
class FramingEntry:
    build: Callable[[TransmitterSpec], Deframer]
    options: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[TransmitterSpec, str], None] = _no_check


_CCSDS_OPTIONS = frozenset({"frame_size", "rs_basis", "rs_interleave", "precoding", "scrambler"})
FRAMINGS: dict[str, FramingEntry] = {
    "ax25": FramingEntry(lambda tx: Ax25Deframer(g3ruh=False, repair=_ax25_repair(tx))),
    "ax25-g3ruh": FramingEntry(lambda tx: Ax25Deframer(g3ruh=True, repair=_ax25_repair(tx))),
    "ax100-asm-golay": FramingEntry(_ax100_asm),
    "ax100-rs": FramingEntry(_ax100_rs),
    "u482c": FramingEntry(_u482c),
    "ao40-fec": FramingEntry(_ao40),
    "astrocast-fx25-nrzi": FramingEntry(_astrocast(nrzi=True)),
    "astrocast-fx25-nrz": FramingEntry(_astrocast(nrzi=False)),
    "ccsds-concatenated": FramingEntry(
        _ccsds(concatenated=True),
        _CCSDS_OPTIONS | {"convolutional"},
        frozenset({"frame_size"}),
        {
            "rs_basis": "dual",
            "rs_interleave": 1,
            "precoding": "none",
            "scrambler": "ccsds",
            "convolutional": "ccsds",
        },
        _check_ccsds,
    ),
    "ccsds-rs": FramingEntry(
        _ccsds(concatenated=False),
        _CCSDS_OPTIONS,
        frozenset({"frame_size"}),
        {"rs_basis": "dual", "rs_interleave": 1, "precoding": "none", "scrambler": "ccsds"},
        _check_ccsds,
    ),
}


# ----- the chain -----
@dataclass(frozen=True)
class DecodedFrame:
    """One frame of one transmitter. time_s: start of its flag/sync word from
    the first sample; carrier_hz: subcarrier or carrier frequency where the
    modulation has one (estimated for BPSK); snr_db: Es/N0 estimated from
    its soft symbols; corrections: bits/bytes fixed per code; bits: the
    received bits of the frame (see dsp.deframers.Deframed)."""

    satellite: str
    norad_id: int
    transmitter: str
    time_s: float
    frame: bytes
    snr_db: float
    carrier_hz: float | None
    corrections: tuple[tuple[str, int], ...]
    bits: bytes = b""
    n_bits: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "satellite": self.satellite,
            "norad_id": self.norad_id,
            "transmitter": self.transmitter,
            "time_s": round(self.time_s, 6),
            "carrier_hz": None if self.carrier_hz is None else round(self.carrier_hz, 1),
            "snr_db": round(self.snr_db, 2) if np.isfinite(self.snr_db) else None,
            "corrections": dict(self.corrections),
            "length": len(self.frame),
            "frame_hex": self.frame.hex(),
        }


class TransmitterChain:
    """Demodulator + one deframer per branch; merges the branches' frames."""

    def __init__(
        self, satellite: SatelliteSpec, tx: TransmitterSpec, fs_hz: float, iq: bool
    ) -> None:
        self.satellite = satellite
        self.tx = tx
        self.fs_hz = fs_hz
        self.demod = DEMODULATORS[tx.modulation].build(tx, fs_hz, iq)
        self.deframers = [FRAMINGS[tx.framing].build(tx) for _ in range(self.demod.n_branches)]
        self._recent: list[tuple[bytes, float]] = []  # (frame, sample_pos) of emitted frames

    def process(self, samples: NDArray[np.generic]) -> list[DecodedFrame]:
        return self.deframe(self.demod.process(samples), final=False)

    def flush(self) -> list[DecodedFrame]:
        return self.deframe(self.demod.flush(), final=True)

    def deframe(self, branches: list[SoftSymbols], final: bool = False) -> list[DecodedFrame]:
        """Soft-symbol branches of this chain's ``demod`` -> frames (what
        ``process`` does after demodulating; measurements that look at the
        symbols as well call the two steps themselves)."""
        found = []
        for deframer, symbols in zip(self.deframers, branches, strict=True):
            found += deframer.push(symbols, final=final)
        out = []
        for d in sorted(found, key=lambda d: d.sample_pos):
            if self._seen(d):
                continue
            time_s = d.sample_pos / self.fs_hz
            out.append(
                DecodedFrame(
                    self.satellite.name,
                    self.satellite.norad_id,
                    self.tx.name,
                    time_s,
                    d.frame,
                    d.snr_db,
                    self.demod.carrier_hz(time_s),
                    d.corrections,
                    d.bits,
                    d.n_bits,
                )
            )
        return out

    def _seen(self, d: Deframed) -> bool:
        """The same frame already came from another branch (or polarity) around
        the same time: within one frame duration."""
        span = d.n_bits * self.fs_hz / self.tx.baud_rate
        self._recent = [(f, p) for f, p in self._recent if p > d.sample_pos - 4 * span]
        if any(f == d.frame and abs(p - d.sample_pos) < span for f, p in self._recent):
            return True
        self._recent.append((d.frame, d.sample_pos))
        return False


class SatelliteReceiver:
    """Every transmitter of a satellite on one stream of samples (real audio or
    complex IQ at ``fs_hz``): ``process`` chunks, then ``flush``."""

    def __init__(self, satellite: SatelliteSpec, fs_hz: float, *, iq: bool) -> None:
        if fs_hz <= 0:
            raise ValueError(f"sample rate is {fs_hz} Hz, expected a positive number")
        self.chains = []
        for tx in satellite.transmitters:
            if tx.baud_rate * 2 > fs_hz:
                continue  # this rate cannot be in the recording: fewer than 2 samples per symbol
            self.chains.append(TransmitterChain(satellite, tx, fs_hz, iq))
        if not self.chains:
            rates = ", ".join(f"{t.baud_rate:g}" for t in satellite.transmitters)
            raise ValueError(
                f"sample rate {fs_hz:g} Hz is below twice every baud rate of {satellite.name} ({rates})"
            )

    def process(self, samples: NDArray[np.generic]) -> list[DecodedFrame]:
        return [f for chain in self.chains for f in chain.process(samples)]

    def flush(self) -> list[DecodedFrame]:
        return [f for chain in self.chains for f in chain.flush()]


def decode_satellite(
    samples: NDArray[np.generic],
    fs_hz: float,
    satellite: SatelliteSpec,
    *,
    chunk_samples: int = 1 << 16,
) -> list[DecodedFrame]:
    """Decode every transmitter of ``satellite`` in ``samples``: real (receiver
    audio) or complex (IQ) at ``fs_hz``. Frames sorted by time."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise ValueError(f"samples have shape {x.shape}, expected one channel (1-D)")
    receiver = SatelliteReceiver(satellite, fs_hz, iq=np.iscomplexobj(x))
    frames = []
    for start in range(0, x.size, chunk_samples):
        frames += receiver.process(x[start : start + chunk_samples])
    frames += receiver.flush()
    return sorted(frames, key=lambda f: (f.time_s, f.transmitter))
