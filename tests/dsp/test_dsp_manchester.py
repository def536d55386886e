"""Manchester-coded BPSK (dsp.manchester; the AO-40 / QO-100 beacon's
"DBPSK Manchester"): the chip pairing is found whatever chip the stream
starts on and whatever the chunking; the receiver's Manchester and plain
DBPSK chains each decode only their own signal (AO-73 sends plain DBPSK,
as its recording shows: tests/dsp/test_dsp_real_recordings.py); noise
alone gives no frame."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dsp.amateur_tx import CatalogueTransmitter, random_frames
from dsp.chain import SatelliteReceiver, decode_satellite
from dsp.channel import Channel, ChannelConfig
from dsp.manchester import ManchesterSync, manchester_chips, manchester_differential_bits
from dsp.satellite import SatelliteSpec
from groundstation.satellites import load_catalogue
from groundstation.satellites.wav import read_wav

RECORDINGS = Path(__file__).parents[1] / "data" / "dsp" / "recordings"


def _noisy_chips(bits: np.ndarray, lead: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    chips = 1.0 - 2.0 * manchester_chips(bits)
    x = np.concatenate([rng.choice([-1.0, 1.0], lead), chips]) * np.exp(0.9j)
    return x + 0.4 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))


@pytest.mark.parametrize("lead", [0, 1, 3])
def test_chips_are_paired_into_bits_whatever_chip_the_stream_starts_on(lead: int) -> None:
    bits = np.random.default_rng(1).integers(0, 2, 800).astype(np.uint8)
    x = _noisy_chips(bits, lead, seed=2)
    symbols, pos = ManchesterSync().process(x, np.arange(x.size, dtype=np.float64))
    # after the pairing has settled, each symbol starts on a bit's first chip
    settled = pos >= lead + 64
    assert np.all((pos[settled] - lead) % 2 == 0)
    index = ((pos[settled] - lead) // 2).astype(np.int64)
    hard = ((symbols[settled] * np.exp(-0.9j)).real < 0).astype(np.uint8)
    assert np.mean(hard == bits[index]) > 0.999


def test_chunking_changes_no_bit_symbol() -> None:
    bits = np.random.default_rng(3).integers(0, 2, 600).astype(np.uint8)
    x = _noisy_chips(bits, 1, seed=4)
    pos = np.arange(x.size, dtype=np.float64)
    whole = ManchesterSync().process(x, pos)
    sync = ManchesterSync()
    parts = [sync.process(x[a:b], pos[a:b]) for a, b in [(0, 1), (1, 2), (2, 97), (97, x.size)]]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    assert np.array_equal(np.concatenate([p[1] for p in parts]), whole[1])


def test_the_differential_code_turns_the_phase_for_a_one() -> None:
    assert manchester_differential_bits(np.array([1, 0, 0, 1, 1], np.uint8)).tolist() == [
        1,
        1,
        1,
        0,
        1,
    ]
    assert manchester_chips(np.array([0, 1], np.uint8)).tolist() == [0, 1, 1, 0]


def _decode_as(modulation: str, baud: float, key: str) -> tuple[int, int]:
    """(frames sent by ``key``'s first transmitter at 15 dB, frames a receiver
    that takes it for ``modulation`` at ``baud`` decodes)."""
    sat = load_catalogue().find(key)
    tx = sat.transmitters[0]
    sender = CatalogueTransmitter(tx, seed=5)
    frames = random_frames(tx, 2, seed=6)
    channel = Channel(ChannelConfig(fs_hz=sender.fs_hz, freq_offset_hz=-420.0, esn0_db=15.0))
    iq = channel.process(sender.process(frames, final=True))
    assumed = dataclasses.replace(tx, modulation=modulation, baud_rate=baud)
    rx_sat = SatelliteSpec(sat.name, sat.norad_id, (assumed,))
    receiver = SatelliteReceiver(rx_sat, sender.fs_hz, iq=True)
    decoded = receiver.process(iq) + receiver.flush()
    return len(frames), len({d.frame for d in decoded} & set(frames))


def test_manchester_and_plain_dbpsk_each_decode_only_their_own_signal() -> None:
    # QO-100's beacon: 400 bits/s, 800 chips/s
    assert _decode_as("dbpsk-manchester", 400, "QO-100") == (2, 2)
    assert _decode_as("dbpsk", 800, "QO-100") == (2, 0)
    # AO-73: plain 1200-baud DBPSK
    assert _decode_as("dbpsk", 1200, "AO-73") == (2, 2)
    assert _decode_as("dbpsk-manchester", 600, "AO-73") == (2, 0)


def test_noise_alone_gives_no_manchester_frame() -> None:
    sat = load_catalogue().find("QO-100")
    noise = np.random.default_rng(11).standard_normal(int(40 * 48_000)) * 0.1
    assert decode_satellite(noise, 48_000.0, sat) == []


def test_the_ao73_recording_is_plain_dbpsk_not_manchester() -> None:
    """The real FUNcube-1 signal: its frame comes out as plain 1200-baud DBPSK
    (the catalogue's entry) and under neither Manchester reading."""
    samples, fs_hz = read_wav(RECORDINGS / "ao73.wav")
    sat = load_catalogue().find("AO-73")
    tx = sat.transmitters[0]
    assert tx.modulation == "dbpsk"
    counts = []
    for modulation, baud in (
        ("dbpsk", 1200),
        ("dbpsk-manchester", 600),
        ("dbpsk-manchester", 1200),
    ):
        one = dataclasses.replace(tx, modulation=modulation, baud_rate=baud)
        counts.append(len(decode_satellite(samples, fs_hz, SatelliteSpec(sat.name, 1, (one,)))))
    assert counts == [1, 0, 0]
