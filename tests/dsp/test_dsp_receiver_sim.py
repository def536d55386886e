"""The multi-protocol receiver on simulated signals (dsp.amateur_sim): each
modulation and framing, from receiver audio and from IQ, with symbol clock
offsets of several hundred ppm, DC and carrier offsets, level steps and
noise; chunking changes nothing; noise alone gives no frame."""

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.amateur_sim import (
    FRAMERS,
    add_noise,
    afsk_audio,
    bpsk_baseband,
    ccsds_framer,
    differential_bits,
    fm_iq,
    fsk_audio,
    upconvert,
)
from dsp.chain import ccsds_profile, decode_satellite
from dsp.coding import ChannelCode
from dsp.satellite import SatelliteSpec, TransmitterSpec, transmitter_from_mapping

FS = 48_000.0


def satellite(**fields: object) -> tuple[SatelliteSpec, TransmitterSpec]:
    tx = transmitter_from_mapping(
        {"name": "downlink", "frequency_hz": 437_000_000, **fields}, "sim"
    )
    return SatelliteSpec("SIMSAT", 99999, (tx,)), tx


def channel_bits(tx: TransmitterSpec, frames: list[bytes]) -> NDArray[np.uint8]:
    if tx.framing.startswith("ccsds"):
        code = ChannelCode(ccsds_profile(tx, tx.framing == "ccsds-concatenated"))
        return ccsds_framer(code)(frames, 3)
    return FRAMERS[tx.framing](frames, 3)


def random_frames(n: int, size: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, size, dtype=np.uint8).tobytes().replace(b"\x7e", b"\x7d")
        for _ in range(n)
    ]


def signal(
    tx: TransmitterSpec,
    frames: list[bytes],
    *,
    iq: bool,
    clock_ppm: float,
    seed: int,
    carrier_hz: float = 0.0,
) -> NDArray[np.generic]:
    """The simulated receiver output for tx: audio (real) or IQ (complex)."""
    bits = channel_bits(tx, frames)
    if tx.modulation == "fsk":
        audio = fsk_audio(bits, FS, tx.baud_rate, clock_ppm=clock_ppm, dc=0.08)
        x = fm_iq(audio / 0.3, FS, tx.deviation_hz or tx.baud_rate / 2, carrier_hz) if iq else audio
        return add_noise(x, 0.1 if iq else 0.04, seed)
    if tx.modulation == "afsk":
        # the validator requires both of an afsk transmitter
        assert tx.af_carrier_hz is not None and tx.deviation_hz is not None
        audio = afsk_audio(
            bits, FS, tx.baud_rate, tx.af_carrier_hz, tx.deviation_hz, clock_ppm=clock_ppm
        )
        return add_noise(audio, 0.03, seed)
    if tx.modulation == "dbpsk":
        bits = differential_bits(bits)
    shaped = 0.2 * upconvert(
        bpsk_baseband(bits, int(FS // tx.baud_rate), clock_ppm=clock_ppm), FS, carrier_hz, 0.9
    )
    return add_noise(shaped if iq else shaped.real, 0.02, seed)


CASES = [
    # modulation, framing, baud, options, input, frame bytes, clock ppm, carrier (Hz)
    ("fsk", "ax25", 1200, {"deviation_hz": 600}, "audio", 60, 500, 0),
    ("fsk", "ax25-g3ruh", 9600, {}, "iq", 90, -400, 2500),
    ("fsk", "ax100-asm-golay", 4800, {"deviation_hz": 1600}, "audio", 100, -600, 0),
    ("fsk", "ax100-rs", 19200, {}, "audio", 120, 300, 0),
    ("fsk", "u482c", 9600, {}, "audio", 80, 450, 0),
    ("fsk", "astrocast-fx25-nrzi", 1200, {"deviation_hz": 1200}, "audio", 200, -300, 0),
    ("fsk", "astrocast-fx25-nrz", 1200, {"deviation_hz": 1200}, "iq", 200, 300, -1800),
    (
        "fsk",
        "ccsds-concatenated",
        9766,
        {"frame_size": 223, "convolutional": "nasa-dsn"},
        "iq",
        223,
        -500,
        1000,
    ),
    ("fsk", "ccsds-rs", 9600, {"frame_size": 1115, "rs_interleave": 5}, "audio", 1115, 400, 0),
    ("afsk", "u482c", 4800, {"af_carrier_hz": 3600, "deviation_hz": -1200}, "audio", 150, 400, 0),
    ("afsk", "ax25", 1200, {"af_carrier_hz": 1700, "deviation_hz": 500}, "audio", 60, -500, 0),
    ("bpsk", "ax25-g3ruh", 9600, {}, "audio", 80, 300, 10_370),
    ("bpsk", "ax25-g3ruh", 1200, {}, "iq", 80, -300, -2_200),
    ("bpsk", "ax25", 1200, {}, "audio", 60, 200, 1_650),
    (
        "bpsk",
        "ccsds-concatenated",
        9600,
        {"frame_size": 114, "rs_basis": "conventional", "precoding": "differential"},
        "audio",
        114,
        100,
        12_400,
    ),
    ("dbpsk", "ao40-fec", 1200, {}, "audio", 256, -300, 1_450),
]


@pytest.mark.parametrize(
    ("modulation", "framing", "baud", "options", "kind", "size", "ppm", "carrier"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[4]}" for c in CASES],
)
def test_simulated_signal_decodes_every_frame(
    modulation: str,
    framing: str,
    baud: int,
    options: dict[str, object],
    kind: str,
    size: int,
    ppm: int,
    carrier: int,
) -> None:
    sat, tx = satellite(modulation=modulation, framing=framing, baud_rate=baud, **options)
    frames = random_frames(3, size, seed=baud + size)
    x = signal(tx, frames, iq=kind == "iq", clock_ppm=ppm, seed=7, carrier_hz=carrier)
    decoded = decode_satellite(x, FS, sat)
    assert [d.frame for d in decoded] == frames
    times = [d.time_s for d in decoded]
    assert times == sorted(times)
    if modulation in ("bpsk", "dbpsk"):
        assert all(d.carrier_hz is not None and abs(d.carrier_hz - carrier) < 20 for d in decoded)


def test_fsk_levels_that_step_by_20_db_between_bursts_are_followed() -> None:
    sat, tx = satellite(modulation="fsk", framing="ax100-asm-golay", baud_rate=9600)
    frames = random_frames(4, 120, seed=1)
    parts = [
        np.multiply(signal(tx, [f], iq=False, clock_ppm=200, seed=i), g)
        for i, (f, g) in enumerate(zip(frames, (1, 10, 1, 0.1), strict=True))
    ]
    decoded = decode_satellite(np.concatenate(parts), FS, sat)
    assert [d.frame for d in decoded] == frames


@pytest.mark.parametrize("modulation", ["fsk", "bpsk"])
def test_chunking_changes_no_frame_time_or_estimate(modulation: str) -> None:
    framing = "ax100-asm-golay" if modulation == "fsk" else "ax25-g3ruh"
    sat, tx = satellite(modulation=modulation, framing=framing, baud_rate=9600)
    frames = random_frames(4, 100, seed=2)
    x = signal(tx, frames, iq=False, clock_ppm=250, seed=3, carrier_hz=11_000)
    whole = decode_satellite(x, FS, sat, chunk_samples=1 << 22)
    pieces = decode_satellite(x, FS, sat, chunk_samples=997)
    assert len(whole) == 4
    assert pieces == whole


@pytest.mark.parametrize("modulation", ["fsk", "afsk", "bpsk", "dbpsk"])
def test_noise_alone_gives_no_frame(modulation: str) -> None:
    framing = {"fsk": "ax25-g3ruh", "afsk": "u482c", "bpsk": "ax25-g3ruh", "dbpsk": "ao40-fec"}[
        modulation
    ]
    options = {"af_carrier_hz": 3600, "deviation_hz": -1200} if modulation == "afsk" else {}
    sat, _ = satellite(
        modulation=modulation,
        framing=framing,
        baud_rate=4800 if modulation == "afsk" else 1200,
        **options,
    )
    noise = np.random.default_rng(9).standard_normal(int(6 * FS)) * 0.1
    assert decode_satellite(noise, FS, sat) == []


def test_bpsk_audio_that_ends_just_before_a_carrier_search_block_boundary_keeps_its_frames() -> (
    None
):
    # flushing pushes the Hilbert filter's tail through the demodulator; when that
    # completes a block, the symbols it releases must reach the deframers
    sat, tx = satellite(modulation="bpsk", framing="ax25-g3ruh", baud_rate=9600)
    frames = random_frames(2, 80, seed=5)
    x = signal(tx, frames, iq=False, clock_ppm=0, seed=3, carrier_hz=11_000)
    block = int(0.5 * FS)  # PskConfig.block_s
    x = np.concatenate([x, add_noise(np.zeros(2 * block - 50 - x.size), 0.02, 4)])
    assert [d.frame for d in decode_satellite(x, FS, sat)] == frames
