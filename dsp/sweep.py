"""Simulated-signal sweeps of the multi-protocol receiver (for bench/ and
tests; every signal here is synthetic): a modulation family at an Eb/N0 ->
receiver samples with realistic impairments -> raw-bit errors and frames
found, beside the theoretical curve of that modulation and detection.

Eb/N0 is per channel bit (Es/N0 for these binary modulations), set from the
clean signal's mean power P: the per-component noise variance is
P * fs / (2 * baud * Eb/N0), for real audio and complex IQ alike. Where the
noise enters depends on the source:
- ``fm-audio``: FSK as FM IQ, noise at RF, then a simulated FM receiver
  (dsp.amateur_sim.fm_receiver_audio: an IF filter of Carson's bandwidth
  widened by twice the largest carrier offset, so that it passes the
  signal, then the discriminator) whose audio the receiver gets: the
  recordings' case, Eb/N0 at RF;
- ``iq``: complex baseband at a carrier offset (drifting) with noise;
- ``audio``: the tones (AFSK) or the SSB subcarrier (BPSK/DBPSK) with white
  noise in the audio band: SSB is linear, so this is Eb/N0 at RF too.

Raw-bit errors compare the demodulator's hard decisions (``TransmitterChain.
demod``, first branch) with the channel bits sent (the data bits for DBPSK,
whose soft output is the differential product), symbol by symbol through
the sample positions it reports; a bit it gives no symbol for counts half an
error. Coherent BPSK leaves a 180-degree ambiguity to the framing (NRZI,
sync words in both polarities): it is resolved per block of
``AMBIGUITY_BLOCK`` symbols. Frames are those ``TransmitterChain.deframe``
finds from the same symbols, against the frames sent.

Theoretical bit error rates (gamma = Eb/N0):
- non-coherent orthogonal FSK: 0.5 * exp(-gamma / 2);
- coherent BPSK: Q(sqrt(2 gamma)) = 0.5 * erfc(sqrt(gamma));
- differentially detected DBPSK: 0.5 * exp(-gamma).
For framings without FEC (AX.25) a frame is lost when any of its channel
bits is wrong: FER = 1 - (1 - BER)^n over the n channel bits of the frame
(flags, stuffing, FCS, and the scrambler and NRZI memory before it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import erfc, erfcinv

from dsp.amateur_sim import (
    FRAMERS,
    add_noise,
    afsk_audio,
    bpsk_baseband,
    differential_bits,
    fm_iq,
    fm_receiver_audio,
    nrz_waveform,
    upconvert,
)
from dsp.chain import DecodedFrame, TransmitterChain
from dsp.hdlc import hdlc_encode
from dsp.manchester import manchester_chips, manchester_differential_bits
from dsp.psk import PSK_KINDS
from dsp.satellite import SatelliteSpec, TransmitterSpec, transmitter_from_mapping
from dsp.segments import SoftSymbols

AMBIGUITY_BLOCK = 512  # symbols per polarity decision (coherent BPSK)
EDGE_BITS = 256  # bits at each end of the stream left out of the bit count
SOURCES = ("fm-audio", "iq", "audio")


# ----- theory -----
def _ber_fsk(g: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * np.exp(-g / 2))


def _ber_bpsk(g: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * erfc(np.sqrt(g)))


def _ber_dbpsk(g: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(0.5 * np.exp(-g))


THEORY_BER = {"noncoherent-fsk": _ber_fsk, "coherent-bpsk": _ber_bpsk, "dbpsk": _ber_dbpsk}
THEORY_LABEL = {
    "noncoherent-fsk": "non-coherent FSK 0.5*exp(-Eb/2N0)",
    "coherent-bpsk": "coherent BPSK Q(sqrt(2Eb/N0))",
    "dbpsk": "DBPSK 0.5*exp(-Eb/N0)",
}


def theory_ber(detection: str, ebn0_db: float) -> float:
    """Bit error rate of ``detection`` (a key of THEORY_BER) at ebn0_db."""
    return float(THEORY_BER[detection](np.array(10 ** (ebn0_db / 10))))


def theory_ebn0_db(detection: str, ber: float) -> float:
    """The Eb/N0 (dB) at which ``detection`` has bit error rate ``ber`` (< 0.5)."""
    gamma = {
        "noncoherent-fsk": lambda p: 2 * np.log(0.5 / p),
        "coherent-bpsk": lambda p: erfcinv(2 * p) ** 2,
        "dbpsk": lambda p: np.log(0.5 / p),
    }[detection](ber)
    return float(10 * np.log10(gamma))


def frame_error_rate(ber: float, n_bits: float) -> float:
    """Frames of n_bits channel bits without FEC: lost when any bit is wrong."""
    return float(1.0 - (1.0 - ber) ** n_bits)


def ber_for_frame_error_rate(fer: float, n_bits: float) -> float:
    return float(1.0 - (1.0 - fer) ** (1.0 / n_bits))


def crossing_db(
    ebn0_db: NDArray[np.float64] | list[float],
    rate: NDArray[np.float64] | list[float],
    target: float,
    floor: float = 1e-12,
) -> float:
    """Eb/N0 (dB) where a falling error-rate curve first crosses ``target``,
    interpolated in log(rate); a rate of 0 counts as ``floor`` (e.g. half an
    event of the count measured); NaN when the curve does not cross it."""
    x = np.asarray(ebn0_db, dtype=np.float64)
    y = np.log10(np.maximum(np.asarray(rate, dtype=np.float64), floor))
    t = np.log10(target)
    for i in range(x.size - 1):
        if y[i] >= t > y[i + 1]:
            return float(x[i] + (t - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
    return float("nan")


# ----- families -----
@dataclass(frozen=True)
class Family:
    """One modulation family as a transmitter (catalogue-style mapping) plus
    the simulated channel: source (see SOURCES); clock_ppm: symbol clock
    offset; offset_hz: carrier offset at RF for FM and IQ (what the FM
    receiver's tuning misses, as DC in its audio), or the SSB subcarrier
    frequency for BPSK/DBPSK audio; drift_hz_s: how fast that offset moves
    (Doppler); subcarrier_hz: where an SSB operator would expect the
    subcarrier (what gr-satellites is told; ours finds it); ebn0_db: the
    sweep's grid; frame_bytes: length of the simulated frames."""

    name: str
    transmitter: Mapping[str, Any]
    source: str
    detection: str
    ebn0_db: tuple[float, ...]
    frame_bytes: int
    clock_ppm: float
    offset_hz: float = 0.0
    drift_hz_s: float = 0.0
    subcarrier_hz: float | None = None
    fs_hz: float = 48_000.0
    note: str = field(default="", compare=False)

    @property
    def tx(self) -> TransmitterSpec:
        return transmitter_from_mapping(
            {"name": self.name, "frequency_hz": 437_000_000, **self.transmitter}, "sweep"
        )

    @property
    def satellite(self) -> SatelliteSpec:
        return SatelliteSpec("SIMULATED", 99999, (self.tx,))

    @property
    def uncoded(self) -> bool:
        return self.tx.framing in ("ax25", "ax25-g3ruh")

    @property
    def deviation_hz(self) -> float:
        tx = self.tx
        return float(tx.deviation_hz or tx.baud_rate / 2)


def _fsk_family(name: str, baud: float, framing: str, source: str, **kw: Any) -> Family:
    options = {k: kw.pop(k) for k in ("deviation_hz",) if k in kw}
    return Family(
        name,
        {"modulation": "fsk", "baud_rate": baud, "framing": framing, **options},
        source,
        "noncoherent-fsk",
        **kw,
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        _fsk_family(
            "fsk-1200-fm-audio",
            1200,
            "ax25",
            "fm-audio",
            deviation_hz=600,
            ebn0_db=tuple(np.arange(6.0, 15.1, 1.0)),
            frame_bytes=60,
            clock_ppm=400,
            offset_hz=60,
            note="UPMSat 2: AX.25, h = 1",
        ),
        _fsk_family(
            "fsk-9600-fm-audio",
            9600,
            "ax25-g3ruh",
            "fm-audio",
            ebn0_db=tuple(np.arange(6.0, 15.1, 1.0)),
            frame_bytes=100,
            clock_ppm=-300,
            offset_hz=500,
            drift_hz_s=20,
            note="US01: AX.25 G3RUH, h = 1",
        ),
        _fsk_family(
            "fsk-9600-iq",
            9600,
            "ax25-g3ruh",
            "iq",
            ebn0_db=tuple(np.arange(6.0, 15.1, 1.0)),
            frame_bytes=100,
            clock_ppm=300,
            offset_hz=1500,
            drift_hz_s=100,
            note="US01 from IQ: AX.25 G3RUH, h = 1",
        ),
        _fsk_family(
            "fsk-4800-fm-audio",
            4800,
            "ax100-asm-golay",
            "fm-audio",
            deviation_hz=1600,
            ebn0_db=tuple(np.arange(4.0, 13.1, 1.0)),
            frame_bytes=100,
            clock_ppm=500,
            offset_hz=800,
            note="Luojia-1: AX100 ASM+Golay (RS), h = 0.67",
        ),
        Family(
            "afsk-1200-audio",
            {
                "modulation": "afsk",
                "baud_rate": 1200,
                "framing": "ax25",
                "af_carrier_hz": 1700,
                "deviation_hz": 500,
            },
            "audio",
            "noncoherent-fsk",
            ebn0_db=tuple(np.arange(6.0, 15.1, 1.0)),
            frame_bytes=60,
            clock_ppm=-400,
            note="Bell 202: AX.25, tones 1200/2200 Hz",
        ),
        Family(
            "afsk-4800-audio",
            {
                "modulation": "afsk",
                "baud_rate": 4800,
                "framing": "u482c",
                "af_carrier_hz": 3600,
                "deviation_hz": -1200,
            },
            "audio",
            "noncoherent-fsk",
            ebn0_db=tuple(np.arange(4.0, 15.1, 1.0)),
            frame_bytes=100,
            clock_ppm=300,
            note="AISAT: U482C (RS), tones 2400/4800 Hz",
        ),
        Family(
            "bpsk-1200-audio",
            {"modulation": "bpsk", "baud_rate": 1200, "framing": "ax25-g3ruh"},
            "audio",
            "coherent-bpsk",
            ebn0_db=tuple(np.arange(3.0, 12.1, 1.0)),
            frame_bytes=60,
            clock_ppm=200,
            offset_hz=1500 + 250,
            drift_hz_s=10,
            subcarrier_hz=1500,
            note="PW-Sat2: AX.25 G3RUH on an SSB subcarrier",
        ),
        Family(
            "bpsk-9600-audio",
            {"modulation": "bpsk", "baud_rate": 9600, "framing": "ax25-g3ruh"},
            "audio",
            "coherent-bpsk",
            ebn0_db=tuple(np.arange(3.0, 12.1, 1.0)),
            frame_bytes=100,
            clock_ppm=-200,
            offset_hz=12_000 + 400,
            drift_hz_s=30,
            subcarrier_hz=12_000,
            note="EntrySat: AX.25 G3RUH on an SSB subcarrier",
        ),
        Family(
            "bpsk-1200-iq",
            {"modulation": "bpsk", "baud_rate": 1200, "framing": "ax25-g3ruh"},
            "iq",
            "coherent-bpsk",
            ebn0_db=tuple(np.arange(3.0, 12.1, 1.0)),
            frame_bytes=60,
            clock_ppm=300,
            offset_hz=400,
            drift_hz_s=30,
            note="KR01 from IQ: AX.25 G3RUH",
        ),
        Family(
            "bpsk-1200-iq-doppler",
            {"modulation": "bpsk", "baud_rate": 1200, "framing": "ax25-g3ruh"},
            "iq",
            "coherent-bpsk",
            ebn0_db=tuple(np.arange(3.0, 12.1, 1.0)),
            frame_bytes=60,
            clock_ppm=-300,
            offset_hz=-2500,
            drift_hz_s=140,
            note="PW-Sat2 from IQ without Doppler correction near TCA at 435 MHz",
        ),
        Family(
            "dbpsk-1200-audio",
            {"modulation": "dbpsk", "baud_rate": 1200, "framing": "ao40-fec"},
            "audio",
            "dbpsk",
            ebn0_db=tuple(np.arange(0.0, 10.1, 1.0)),
            frame_bytes=256,
            clock_ppm=-300,
            offset_hz=1500 + 200,
            drift_hz_s=10,
            subcarrier_hz=1500,
            note="AO-73: AO-40 FEC on an SSB subcarrier",
        ),
        Family(
            "dbpsk-1200-iq",
            {"modulation": "dbpsk", "baud_rate": 1200, "framing": "ao40-fec"},
            "iq",
            "dbpsk",
            ebn0_db=tuple(np.arange(0.0, 10.1, 1.0)),
            frame_bytes=256,
            clock_ppm=200,
            offset_hz=-500,
            drift_hz_s=20,
            note="AO-73 from IQ: AO-40 FEC",
        ),
        Family(
            "dbpsk-manchester-400-audio",
            {"modulation": "dbpsk-manchester", "baud_rate": 400, "framing": "ao40-fec"},
            "audio",
            "dbpsk",
            ebn0_db=tuple(np.arange(0.0, 8.1, 1.0)),
            frame_bytes=256,
            clock_ppm=-300,
            offset_hz=1500 + 150,
            drift_hz_s=5,
            subcarrier_hz=1500,
            note="QO-100 / AO-40 beacon: AO-40 FEC, Manchester DBPSK on an SSB subcarrier",
        ),
        Family(
            "dbpsk-manchester-400-iq",
            {"modulation": "dbpsk-manchester", "baud_rate": 400, "framing": "ao40-fec"},
            "iq",
            "dbpsk",
            ebn0_db=tuple(np.arange(0.0, 8.1, 1.0)),
            frame_bytes=256,
            clock_ppm=250,
            offset_hz=-700,
            drift_hz_s=5,
            note="QO-100 / AO-40 beacon from IQ: AO-40 FEC, Manchester DBPSK",
        ),
    )
}


# ----- simulation -----
@dataclass(frozen=True)
class SimulatedSignal:
    """samples: what the receiver gets (real audio or complex IQ) at fs_hz;
    frames: the frames sent; bits: what the demodulator's hard decisions
    should be, symbol k centred at ``(k + centre) / baud / (1 + ppm)`` s;
    frame_bits: mean channel bits of one frame (for the FER of AX.25)."""

    samples: NDArray[np.generic]
    fs_hz: float
    frames: list[bytes]
    bits: NDArray[np.uint8]
    centre: float
    frame_bits: float


#: the address and control fields of a simulated AX.25 UI frame (CQ from
#: N0CALL-1; a real frame's header, which the soft repair of dsp.ax25_repair checks)
AX25_HEADER = (
    bytes(c << 1 for c in b"CQ    ") + b"\x60" + bytes(c << 1 for c in b"N0CALL") + b"\x63\x03\xf0"
)


def random_payloads(n: int, size: int, seed: int, header: bytes = b"") -> list[bytes]:
    """``n`` frames of ``size`` bytes: ``header``, then random bytes."""
    rng = np.random.default_rng(seed)
    body = size - len(header)
    return [header + rng.integers(0, 256, body, dtype=np.uint8).tobytes() for _ in range(n)]


def noise_std(power: float, ebn0_db: float, fs_hz: float, baud_rate: float) -> float:
    """Per-component noise standard deviation giving ebn0_db to a signal of
    mean power ``power`` (real or complex samples at fs_hz)."""
    return float(np.sqrt(power * fs_hz / (2 * baud_rate * 10 ** (ebn0_db / 10))))


def _frame_bits(family: Family, frames: list[bytes]) -> float:
    if not family.uncoded:
        return float("nan")
    # any error from the NRZI / G3RUH memory before the opening flag to the closing flag
    memory = 1 + (17 if family.tx.framing == "ax25-g3ruh" else 0)
    sizes = [hdlc_encode(f, flags_before=1, flags_after=1).size + memory for f in frames]
    return float(np.mean(sizes))


def simulate(family: Family, ebn0_db: float, n_frames: int, seed: int) -> SimulatedSignal:
    """``n_frames`` random frames of ``family`` at ``ebn0_db``, with its clock
    offset, carrier (or subcarrier) offset and drift, and a random phase."""
    tx = family.tx
    fs, baud = family.fs_hz, float(tx.baud_rate)
    rng = np.random.default_rng(seed)
    phase = float(rng.uniform(0, 2 * np.pi))
    header = AX25_HEADER if family.uncoded else b""
    frames = random_payloads(n_frames, family.frame_bytes, seed + 1, header)
    sent = FRAMERS[tx.framing](frames, seed + 2)
    noise_seed = seed + 3
    if tx.modulation == "fsk":
        nrz = nrz_waveform(sent, fs, baud, clock_ppm=family.clock_ppm)
        iq = fm_iq(
            nrz,
            fs,
            family.deviation_hz,
            family.offset_hz,
            drift_hz_s=family.drift_hz_s,
            phase_rad=phase,
        )
        noisy = add_noise(iq, noise_std(1.0, ebn0_db, fs, baud), noise_seed)
        # the FM receiver's IF filter: Carson's bandwidth, widened to pass the
        # signal at its largest offset (an FM radio is not tuned to the Hz)
        duration_s = iq.size / fs
        worst_offset = max(
            abs(family.offset_hz), abs(family.offset_hz + family.drift_hz_s * duration_s)
        )
        carson = 2 * abs(family.deviation_hz) + baud + 2 * worst_offset
        x = (
            noisy
            if family.source == "iq"
            else fm_receiver_audio(noisy, fs, family.deviation_hz, carson)
        )
        return SimulatedSignal(x, fs, frames, sent, 0.5, _frame_bits(family, frames))
    if tx.modulation == "afsk":
        audio = afsk_audio(
            sent,
            fs,
            baud,
            float(tx.af_carrier_hz or 0.0),
            family.deviation_hz,
            clock_ppm=family.clock_ppm,
            phase_rad=phase,
        )
        x = add_noise(audio, noise_std(float(np.mean(audio**2)), ebn0_db, fs, baud), noise_seed)
        return SimulatedSignal(x, fs, frames, sent, 0.5, _frame_bits(family, frames))
    channel = psk_channel_chips(tx.modulation, sent)
    sps = int(round(fs / PSK_KINDS[tx.modulation].chip_rate(baud)))
    shaped = upconvert(
        bpsk_baseband(channel, sps, clock_ppm=family.clock_ppm),
        fs,
        family.offset_hz,
        phase,
        drift_hz_s=family.drift_hz_s,
    )
    clean = shaped if family.source == "iq" else shaped.real
    power = float(np.mean(np.abs(clean) ** 2))
    x = add_noise(clean, noise_std(power, ebn0_db, fs, baud), noise_seed)
    return SimulatedSignal(x, fs, frames, sent, 0.0, _frame_bits(family, frames))


def psk_channel_chips(modulation: str, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Channel bits -> the chips a PSK modulation of ``PSK_KINDS`` sends:
    differentially encoded (each kind its way), then Manchester-coded."""
    kind = PSK_KINDS[modulation]
    if kind.differential:
        bits = manchester_differential_bits(bits) if kind.manchester else differential_bits(bits)
    return manchester_chips(bits) if kind.manchester else bits


# ----- measurement -----
@dataclass(frozen=True)
class Measurement:
    """bit_errors among ``bits`` counted (EDGE_BITS left out at each end),
    ``missing`` of them without a symbol (counted as half an error each);
    frames_found: distinct frames sent that were decoded; extra: decoded
    frames that were not sent (must stay 0)."""

    bit_errors: int
    missing: int
    bits: int
    frames_sent: int
    frames_found: int
    extra: int

    @property
    def ber(self) -> float:
        return (self.bit_errors + 0.5 * self.missing) / max(self.bits, 1)

    @property
    def fer(self) -> float:
        return 1.0 - self.frames_found / max(self.frames_sent, 1)


def raw_bit_errors(
    symbols: SoftSymbols,
    signal: SimulatedSignal,
    baud_rate: float,
    clock_ppm: float,
    ambiguity: bool,
) -> tuple[int, int, int]:
    """(errors, missing, bits counted) of the hard decisions of ``symbols``
    against ``signal.bits``; symbols are placed by their sample positions
    (the best of a few symbols of lag: filter delays)."""
    t = symbols.sample_pos / signal.fs_hz * baud_rate * (1 + clock_ppm * 1e-6)
    index = np.floor(t - signal.centre + 0.5).astype(np.int64)
    hard = (symbols.soft < 0).astype(np.uint8)
    lo, hi = EDGE_BITS, signal.bits.size - EDGE_BITS
    best: tuple[int, int, int] | None = None
    for lag in range(-3, 4):
        k = index + lag
        keep = (k >= lo) & (k < hi)
        k_unique, first = np.unique(k[keep], return_index=True)
        wrong = hard[keep][first] != signal.bits[k_unique]
        if ambiguity:
            block = (k_unique - lo) // AMBIGUITY_BLOCK
            n = np.bincount(block)
            e = np.bincount(block, wrong.astype(np.int64))
            errors = int(np.minimum(e, n - e).sum())
        else:
            errors = int(np.count_nonzero(wrong))
        missing = (hi - lo) - k_unique.size
        if best is None or errors + missing < best[0] + best[1]:
            best = (errors, missing, hi - lo)
    assert best is not None
    return best


def measure(family: Family, signal: SimulatedSignal, chunk_samples: int = 1 << 16) -> Measurement:
    """Run the receiver's chain for ``family`` over ``signal``: raw-bit errors of
    its demodulator's first branch and the frames its deframers find."""
    chain = TransmitterChain(
        family.satellite, family.tx, signal.fs_hz, np.iscomplexobj(signal.samples)
    )
    first: list[SoftSymbols] = []
    decoded: list[DecodedFrame] = []
    x = signal.samples
    for start in range(0, x.size, chunk_samples):
        branches = chain.demod.process(x[start : start + chunk_samples])
        first.append(branches[0])
        decoded += chain.deframe(branches)
    branches = chain.demod.flush()
    first.append(branches[0])
    decoded += chain.deframe(branches, final=True)
    tx = family.tx
    errors, missing, bits = raw_bit_errors(
        SoftSymbols.concat(first),
        signal,
        float(tx.baud_rate),
        family.clock_ppm,
        ambiguity=not PSK_KINDS[tx.modulation].differential
        if tx.modulation in PSK_KINDS
        else False,
    )
    got = {d.frame for d in decoded}
    sent = set(signal.frames)
    return Measurement(errors, missing, bits, len(signal.frames), len(got & sent), len(got - sent))
