"""A catalogue transmitter, simulated and streaming (synthetic signals, for the
service's simulated passes): frames -> complex baseband IQ at ``fs_hz``.

``CatalogueTransmitter(tx)`` sends each frame in a slot of the same number of
samples (``slot_samples``): the framing's channel bits for that frame (the
framers of ``dsp.amateur_sim.FRAMERS``, or the CCSDS code of
``dsp.chain.ccsds_profile`` as one continuous stream) padded with idle bits,
modulated by ``dsp.amateur_sim``'s modulators (``MODULATORS``, keyed by the
spec's modulation): FSK as FM IQ at the spec's deviation, AFSK as FM IQ of the
two-tone audio (FM deviation = the audio centre), BPSK and DBPSK as
RRC-shaped baseband, their Manchester-coded kinds (``dsp.psk.PSK_KINDS``)
as two RRC chips per bit (dsp.manchester). The carrier phase is continuous
from slot to slot.

The output carries Es = 1 per channel symbol, as ``dsp.channel.Channel``
expects, so the channel's Es/N0 is the Eb/N0 per channel bit of these binary
modulations (``dsp.sweep``'s definition); a Manchester bit's two chips
carry 1/2 each. ``sample_rate_hz`` is the sample
rate the receiver is tested at: 48 kHz (the recordings' rate) or a multiple
of it for fast FSK, an integer number of samples per chip for PSK.
``random_frames`` is the simulated satellite's payload: frames that the
framing can carry, of one length (``frame_bytes``) or, with ``min_bytes``,
of lengths drawn up to it. Frames of any length in ``frame_size_range``
up to the transmitter's ``max_frame_bytes`` can be sent: each fills its
slot (sized for the longest) with idle bits, so a pass's timing does not
depend on the frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from dsp.amateur_sim import (
    FRAMERS,
    afsk_audio,
    differential_bits,
    fm_iq,
    nrz_waveform,
)
from dsp.chain import ccsds_profile
from dsp.coding import ChannelCode
from dsp.manchester import manchester_chips, manchester_differential_bits
from dsp.modulation import MODULATION_REGISTRY
from dsp.modulator import PulseShaper
from dsp.psk import PSK_KINDS, PskKind
from dsp.spec import TransmitterSpec

BASE_RATE_HZ = 48_000.0
MIN_SPS = 4
DEFAULT_FRAME_BYTES = 100
#: frame length where the framing fixes it (the rest: DEFAULT_FRAME_BYTES)
FIXED_FRAME_BYTES = {"ao40-fec": 256}
#: (least, most) frame bytes of the framings that carry frames of any length:
#: HDLC as dsp.hdlc.HdlcDeframer accepts it (15..1024 bytes), the GOMspace
#: modes as their length fields and RS(255,223) allow, Astrocast FX.25 as
#: its one codeword holds (flags and FCS included)
VARIABLE_FRAME_BYTES = {
    "ax25": (15, 1024),
    "ax25-g3ruh": (15, 1024),
    "ax100-asm-golay": (1, 223),
    "ax100-rs": (1, 222),
    "u482c": (1, 223),
    "astrocast-fx25-nrzi": (1, 219),
    "astrocast-fx25-nrz": (1, 219),
}
#: idle bits before the first frame (the receiver's acquisition)
LEAD_BITS = 400
#: idle bits after each frame's burst (besides its framer's own gaps)
IDLE_BITS = 32
RRC_ALPHA = 0.35  # as dsp.amateur_sim.bpsk_baseband


def sample_rate_hz(tx: TransmitterSpec) -> float:
    """The sample rate of ``tx``'s simulated IQ (see the module docstring)."""
    baud = float(tx.baud_rate)
    if tx.modulation in PSK_KINDS:
        chip_hz = PSK_KINDS[tx.modulation].chip_rate(baud)
        return chip_hz * max(round(BASE_RATE_HZ / chip_hz), MIN_SPS)
    return BASE_RATE_HZ * math.ceil(MIN_SPS * baud / BASE_RATE_HZ)


def frame_bytes(tx: TransmitterSpec) -> int:
    """Length of the simulated frames of ``tx``."""
    if tx.framing.startswith("ccsds"):
        return int(ccsds_profile(tx, concatenated=True).frame_length)
    return FIXED_FRAME_BYTES.get(tx.framing, DEFAULT_FRAME_BYTES)


def frame_size_range(tx: TransmitterSpec) -> tuple[int, int]:
    """(least, most) bytes of a frame ``tx``'s framing can carry (one length
    for the framings that fix it)."""
    if tx.framing in VARIABLE_FRAME_BYTES:
        return VARIABLE_FRAME_BYTES[tx.framing]
    size = frame_bytes(tx)
    return size, size


def check_frame_size(tx: TransmitterSpec, size: int) -> None:
    """ValueError naming ``size`` when ``tx``'s framing cannot carry it."""
    least, most = frame_size_range(tx)
    if not least <= size <= most:
        raise ValueError(
            f"transmitter {tx.name!r} ({tx.framing}): a frame of {size} bytes cannot be sent; "
            + (
                f"this framing carries {least}..{most} bytes"
                if least < most
                else f"it carries {most}"
            )
        )


def random_frames(
    tx: TransmitterSpec,
    n: int,
    seed: int,
    *,
    min_bytes: int | None = None,
    max_bytes: int | None = None,
) -> list[bytes]:
    """``n`` random frames that ``tx``'s framing can send (a draw it refuses,
    e.g. a 0x7E in an Astrocast FX.25 frame, is drawn again): of
    ``max_bytes`` (default ``frame_bytes(tx)``) bytes each, or, with
    ``min_bytes``, of lengths drawn uniformly in min_bytes..max_bytes.
    Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    most = frame_bytes(tx) if max_bytes is None else max_bytes
    least = most if min_bytes is None else min_bytes
    for size in (least, most):
        check_frame_size(tx, size)
    if least > most:
        raise ValueError(f"min_bytes {least} is more than max_bytes {most}")
    framer = _framer(tx)
    out: list[bytes] = []
    while len(out) < n:
        size = int(rng.integers(least, most + 1))
        frame = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        try:
            framer(frame)
        except ValueError:
            continue
        out.append(frame)
    return out


# ----- framing: one frame -> channel bits -----
def _framer(tx: TransmitterSpec) -> Callable[[bytes], NDArray[np.uint8]]:
    if tx.framing.startswith("ccsds"):
        code = ChannelCode(ccsds_profile(tx, concatenated=tx.framing == "ccsds-concatenated"))
        return lambda frame: code.encode_frames([frame])  # the code's state carries over
    framer = FRAMERS[tx.framing]
    return lambda frame: framer([frame], 0)


def _worst_case_bits(tx: TransmitterSpec, size: int) -> int:
    """Channel bits of the longest burst of one frame of ``size`` bytes (HDLC
    stuffs all-ones most; the other framings do not depend on the bytes)."""
    return int(_framer(tx)(b"\xff" * size).size)


# ----- modulation: channel bits -> IQ, Es = 1 per symbol -----
class Modulator(Protocol):
    def __call__(self, bits: NDArray[np.uint8], final: bool = False) -> NDArray[np.complex64]: ...

    def samples_for(self, n_bits: int) -> int: ...


class _Fm:
    """FSK (or, with ``afsk``, AFSK audio) as FM IQ, phase continuous."""

    def __init__(self, tx: TransmitterSpec, fs_hz: float, *, afsk: bool) -> None:
        self.tx, self.fs_hz, self.afsk = tx, fs_hz, afsk
        self.baud = float(tx.baud_rate)
        self.deviation_hz = float(tx.deviation_hz or tx.baud_rate / 2)
        self.scale = np.float32(math.sqrt(self.baud / fs_hz))
        self.phase_rad = 0.0

    def samples_for(self, n_bits: int) -> int:
        return int(nrz_waveform(np.zeros(n_bits, np.uint8), self.fs_hz, self.baud).size)

    def __call__(self, bits: NDArray[np.uint8], final: bool = False) -> NDArray[np.complex64]:
        if self.afsk:
            af_hz = float(self.tx.af_carrier_hz or 0.0)
            audio = afsk_audio(bits, self.fs_hz, self.baud, af_hz, self.deviation_hz, level=1.0)
            iq = fm_iq(audio, self.fs_hz, af_hz, phase_rad=self.phase_rad)
        else:
            nrz = nrz_waveform(bits, self.fs_hz, self.baud)
            iq = fm_iq(nrz, self.fs_hz, self.deviation_hz, phase_rad=self.phase_rad)
        if iq.size:
            self.phase_rad = float(np.angle(iq[-1]))
        return (iq * self.scale).astype(np.complex64)


class _Psk:
    """BPSK (DBPSK: the bits differentially encoded first; Manchester: each
    bit then sent as two opposite chips), RRC-shaped by one streaming pulse
    shaper (unit energy per bit)."""

    def __init__(self, tx: TransmitterSpec, fs_hz: float, kind: PskKind) -> None:
        self.kind = kind
        self.chips = 2 if kind.manchester else 1
        self.sps = round(fs_hz / kind.chip_rate(float(tx.baud_rate)))
        self.shaper = PulseShaper(self.sps, RRC_ALPHA)
        self.scale = np.float32(math.sqrt(1 / self.chips))
        self._phase = np.zeros(0, np.uint8)  # the last differential phase

    def samples_for(self, n_bits: int) -> int:
        return n_bits * self.chips * self.sps

    def _channel(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        if not self.kind.differential:
            return bits
        if not self.kind.manchester:
            return differential_bits(bits)
        phases = manchester_differential_bits(np.concatenate([self._phase, bits]))
        phases = phases[self._phase.size :]
        if phases.size:
            self._phase = phases[-1:]
        return phases

    def __call__(self, bits: NDArray[np.uint8], final: bool = False) -> NDArray[np.complex64]:
        channel = self._channel(bits)
        if self.kind.manchester:
            channel = manchester_chips(channel)
        symbols = MODULATION_REGISTRY["bpsk"].map_bits(channel)
        return (self.shaper.process(symbols, final=final) * self.scale).astype(np.complex64)


def _psk_modulator(kind: PskKind) -> Callable[[TransmitterSpec, float], Modulator]:
    return lambda tx, fs: _Psk(tx, fs, kind)


MODULATORS: dict[str, Callable[[TransmitterSpec, float], Modulator]] = {
    "fsk": lambda tx, fs: _Fm(tx, fs, afsk=False),
    "afsk": lambda tx, fs: _Fm(tx, fs, afsk=True),
    **{name: _psk_modulator(kind) for name, kind in PSK_KINDS.items()},
}


class CatalogueTransmitter:
    """Frames of one catalogue transmitter -> IQ (``process``): LEAD_BITS idle
    bits (``lead_samples``), then one slot of ``slot_samples`` per frame (the
    PSK shaper's delay aside; ``final`` flushes its tail). ``seed`` draws the
    idle bits; ``max_frame_bytes`` (default ``frame_bytes(tx)``) sizes the
    slot: shorter frames, down to the framing's least, fill it with idle bits."""

    def __init__(
        self, tx: TransmitterSpec, *, seed: int = 0, max_frame_bytes: int | None = None
    ) -> None:
        if tx.modulation not in MODULATORS:
            raise ValueError(
                f"transmitter {tx.name!r}: modulation {tx.modulation!r} cannot be simulated; "
                f"supported: {', '.join(MODULATORS)}"
            )
        self.tx = tx
        self.max_frame_bytes = frame_bytes(tx) if max_frame_bytes is None else max_frame_bytes
        check_frame_size(tx, self.max_frame_bytes)
        self.fs_hz = sample_rate_hz(tx)
        self._framer = _framer(tx)
        self._rng = np.random.default_rng(seed)
        # a continuous CCSDS stream has no idle bits between frames
        pad = 0 if tx.framing.startswith("ccsds") else IDLE_BITS
        self.slot_bits = _worst_case_bits(tx, self.max_frame_bytes) + pad
        self._modulate = MODULATORS[tx.modulation](tx, self.fs_hz)
        self.slot_samples = self._modulate.samples_for(self.slot_bits)
        self.lead_samples = self._modulate.samples_for(LEAD_BITS)
        self._started = False

    def _idle(self, n: int) -> NDArray[np.uint8]:
        return self._rng.integers(0, 2, n, dtype=np.uint8)

    def process(self, frames: list[bytes], final: bool = False) -> NDArray[np.complex64]:
        """The IQ of ``frames`` (after the lead on the first call)."""
        bits: list[NDArray[np.uint8]] = []
        if not self._started:
            bits.append(self._idle(LEAD_BITS))
            self._started = True
        for frame in frames:
            check_frame_size(self.tx, len(frame))
            if len(frame) > self.max_frame_bytes:
                raise ValueError(
                    f"frame of {len(frame)} bytes is longer than this transmitter's slots "
                    f"({self.max_frame_bytes} bytes: max_frame_bytes)"
                )
            framed = self._framer(frame)
            if framed.size > self.slot_bits:
                raise ValueError(
                    f"frame of {len(frame)} bytes needs {framed.size} channel bits, "
                    f"more than the slot's {self.slot_bits}"
                )
            bits += [framed, self._idle(self.slot_bits - framed.size)]
        if not bits:
            return self._modulate(np.zeros(0, np.uint8), final=final)
        return self._modulate(np.concatenate(bits), final=final)
