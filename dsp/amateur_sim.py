"""Simulated amateur-satellite transmitters (for tests, sweeps and demos; the
signals are synthetic): frames -> channel bits per framing -> receiver audio
or IQ per modulation.

``FRAMERS`` (keyed like dsp.chain.FRAMINGS) turn frames into channel bits
with a preamble and idle gaps; the modulators produce what the receiver
takes: FM discriminator audio (FSK), two-tone audio (AFSK), an SSB audio
subcarrier (BPSK, DBPSK), or complex baseband IQ; ``fm_receiver_audio`` is
the FM receiver that turns FM IQ (with its noise) into audio. Symbol clock
offset (ppm), carrier or subcarrier frequency and its drift, phase, DC
offset and level are parameters; noise is added by ``add_noise``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from dsp.ao40 import ao40_encode
from dsp.coding import ChannelCode
from dsp.deframers import bits_of
from dsp.fm import discriminate, lowpass
from dsp.fx25 import ASTROCAST_TAG, astrocast_fx25_encode
from dsp.g3ruh import g3ruh_scramble
from dsp.gomspace import (
    AX100_SYNC,
    U482C_SYNC,
    ax100_asm_golay_encode,
    ax100_rs_encode,
    u482c_encode,
)
from dsp.hdlc import hdlc_encode
from dsp.modulation import MODULATION_REGISTRY
from dsp.modulator import PulseShaper
from dsp.nrzi import nrzi_encode

PREAMBLE_BITS = np.tile(np.array([0, 1], dtype=np.uint8), 48)


def _bytes_bits(data: bytes) -> NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def _gap(rng: np.random.Generator, n: int) -> NDArray[np.uint8]:
    return rng.integers(0, 2, n, dtype=np.uint8)


def _bursts(
    frames: list[bytes], body: Callable[[bytes], NDArray[np.uint8]], seed: int
) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    parts = [_gap(rng, 200)]
    for frame in frames:
        parts += [PREAMBLE_BITS, body(frame), _gap(rng, 150)]
    return np.concatenate(parts)


def _ax25(g3ruh: bool) -> Callable[[list[bytes], int], NDArray[np.uint8]]:
    def framer(frames: list[bytes], seed: int) -> NDArray[np.uint8]:
        data = np.concatenate([hdlc_encode(f, flags_before=24, flags_after=4) for f in frames])
        if g3ruh:
            data, _ = g3ruh_scramble(data)
        channel, _ = nrzi_encode(data)
        return channel

    return framer


def _sync(
    sync: int,
    n_sync: int,
    encode: Callable[[bytes], bytes],
    g3ruh: bool = False,
    nrzi: bool = False,
) -> Callable[[list[bytes], int], NDArray[np.uint8]]:
    def framer(frames: list[bytes], seed: int) -> NDArray[np.uint8]:
        bits = _bursts(
            frames, lambda f: np.concatenate([bits_of(sync, n_sync), _bytes_bits(encode(f))]), seed
        )
        if g3ruh:
            bits, _ = g3ruh_scramble(bits)
        if nrzi:
            bits, _ = nrzi_encode(bits)
        return bits

    return framer


def _ao40(frames: list[bytes], seed: int) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return np.concatenate([_gap(rng, 400), *(ao40_encode(f) for f in frames), _gap(rng, 100)])


def ccsds_framer(code: ChannelCode) -> Callable[[list[bytes], int], NDArray[np.uint8]]:
    """Continuous CCSDS frames of ``code`` (dsp.coding), after some idle bits."""

    def framer(frames: list[bytes], seed: int) -> NDArray[np.uint8]:
        rng = np.random.default_rng(seed)
        return np.concatenate([_gap(rng, 300), code.encode_frames(frames), _gap(rng, 300)])

    return framer


FRAMERS: dict[str, Callable[[list[bytes], int], NDArray[np.uint8]]] = {
    "ax25": _ax25(g3ruh=False),
    "ax25-g3ruh": _ax25(g3ruh=True),
    "ax100-asm-golay": _sync(AX100_SYNC, 32, ax100_asm_golay_encode),
    "ax100-rs": _sync(AX100_SYNC, 32, ax100_rs_encode, g3ruh=True),
    "u482c": _sync(
        U482C_SYNC, 32, lambda f: u482c_encode(f, viterbi=False, scrambler=True, rs=True)
    ),
    "ao40-fec": _ao40,
    "astrocast-fx25-nrzi": _sync(ASTROCAST_TAG, 64, astrocast_fx25_encode, nrzi=True),
    "astrocast-fx25-nrz": _sync(ASTROCAST_TAG, 64, astrocast_fx25_encode),
}


def _symbol_times(
    n_samples: int, fs_hz: float, baud_rate: float, clock_ppm: float
) -> NDArray[np.float64]:
    return np.arange(n_samples) / fs_hz * baud_rate * (1 + clock_ppm * 1e-6)


def nrz_waveform(
    bits: NDArray[np.uint8],
    fs_hz: float,
    baud_rate: float,
    *,
    clock_ppm: float = 0.0,
    bt: float = 1.0,
) -> NDArray[np.float64]:
    """Bits -> +-1 NRZ at fs_hz (bit 1 = +1) through a Gaussian filter of
    bandwidth-time product ``bt``, at a symbol clock off by ``clock_ppm``."""
    n = int(np.ceil(bits.size / baud_rate / (1 + clock_ppm * 1e-6) * fs_hz))
    index = np.minimum(
        _symbol_times(n, fs_hz, baud_rate, clock_ppm).astype(np.int64), bits.size - 1
    )
    levels = 2.0 * bits[index].astype(np.float64) - 1.0
    sps = fs_hz / baud_rate
    sigma = np.sqrt(np.log(2)) / (2 * np.pi * bt) * sps
    t = np.arange(-int(4 * sigma) - 1, int(4 * sigma) + 2)
    taps = np.exp(-0.5 * (t / sigma) ** 2)
    return np.convolve(levels, taps / taps.sum(), mode="same")


def fsk_audio(
    bits: NDArray[np.uint8],
    fs_hz: float,
    baud_rate: float,
    *,
    clock_ppm: float = 0.0,
    dc: float = 0.0,
    level: float = 0.3,
) -> NDArray[np.float64]:
    """FM discriminator output of a 2-FSK signal: the filtered NRZ plus a DC
    offset (a carrier offset seen by the FM receiver)."""
    return level * nrz_waveform(bits, fs_hz, baud_rate, clock_ppm=clock_ppm) + dc


def _drift(n: int, fs_hz: float, offset_hz: float, drift_hz_s: float) -> NDArray[np.float64]:
    """Carrier frequency of each of n samples: offset_hz, changing by drift_hz_s."""
    return np.asarray(offset_hz + drift_hz_s * np.arange(n) / fs_hz, dtype=np.float64)


def fm_iq(
    discriminator: NDArray[np.float64],
    fs_hz: float,
    deviation_hz: float,
    offset_hz: float = 0.0,
    *,
    drift_hz_s: float = 0.0,
    phase_rad: float = 0.0,
) -> NDArray[np.complex64]:
    """Unit-amplitude FM IQ whose frequency is offset_hz (changing by
    drift_hz_s, a Doppler-like drift) + deviation_hz * discriminator."""
    d = np.asarray(discriminator)
    freq = _drift(d.size, fs_hz, offset_hz, drift_hz_s) + deviation_hz * d
    return np.exp(1j * (2 * np.pi * np.cumsum(freq) / fs_hz + phase_rad)).astype(np.complex64)


def fm_receiver_audio(
    iq: NDArray[np.generic],
    fs_hz: float,
    deviation_hz: float,
    bandwidth_hz: float,
    *,
    level: float = 0.3,
) -> NDArray[np.float64]:
    """A simulated FM receiver tuned to 0 Hz: an IF filter ``bandwidth_hz``
    wide, then a discriminator; the audio is ``level`` at +deviation_hz (a
    tuning offset shows as DC, noise as FM clicks and a rising spectrum)."""
    z = lowpass(np.asarray(iq, dtype=np.complex128), bandwidth_hz / 2, fs_hz)
    return level * discriminate(z, fs_hz, deviation_hz)


def afsk_audio(
    bits: NDArray[np.uint8],
    fs_hz: float,
    baud_rate: float,
    af_carrier_hz: float,
    deviation_hz: float,
    *,
    clock_ppm: float = 0.0,
    level: float = 0.3,
    phase_rad: float = 0.0,
) -> NDArray[np.float64]:
    """Phase-continuous two-tone audio: af_carrier_hz + deviation_hz for a 1 bit."""
    nrz = nrz_waveform(bits, fs_hz, baud_rate, clock_ppm=clock_ppm, bt=2.0)
    freq = af_carrier_hz + deviation_hz * nrz
    return level * np.cos(2 * np.pi * np.cumsum(freq) / fs_hz + phase_rad)


def bpsk_baseband(
    bits: NDArray[np.uint8], sps: int, *, clock_ppm: float = 0.0, rrc_alpha: float = 0.35
) -> NDArray[np.complex64]:
    """Bits -> RRC-shaped BPSK at sps samples per symbol (0 -> +1)."""
    shaper = PulseShaper(sps, rrc_alpha, clock_ppm=clock_ppm)
    return shaper.process(MODULATION_REGISTRY["bpsk"].map_bits(bits), final=True)


def differential_bits(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Data bits -> DBPSK channel bits: the phase turns for a 0 bit."""
    channel, _ = nrzi_encode(bits)
    return channel


def upconvert(
    baseband: NDArray[np.complex64],
    fs_hz: float,
    freq_hz: float,
    phase_rad: float = 0.0,
    *,
    drift_hz_s: float = 0.0,
) -> NDArray[np.complex64]:
    """Baseband -> a carrier at freq_hz (changing by drift_hz_s) and phase_rad."""
    freq = _drift(baseband.size, fs_hz, freq_hz, drift_hz_s)
    phase = 2 * np.pi * (np.cumsum(freq) - freq[0]) / fs_hz + phase_rad
    return (baseband * np.exp(1j * phase)).astype(np.complex64)


def add_noise(x: NDArray[np.generic], noise_std: float, seed: int = 0) -> NDArray[np.generic]:
    """x plus white Gaussian noise of standard deviation noise_std (per component)."""
    rng = np.random.default_rng(seed)
    if np.iscomplexobj(x):
        noise = rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size)
        return (np.asarray(x, np.complex128) + noise_std * noise).astype(np.complex64)
    return np.asarray(x, np.float64) + noise_std * rng.standard_normal(x.size)
