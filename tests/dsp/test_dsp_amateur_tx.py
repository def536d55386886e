"""The streaming simulated transmitter of catalogue transmitters (dsp.amateur_tx):
what it sends through a noisy channel, the receiver (SatelliteReceiver, as
``decode`` and the service use it) decodes exactly, frame for frame."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dsp.amateur_tx import (
    CatalogueTransmitter,
    frame_bytes,
    frame_size_range,
    random_frames,
    sample_rate_hz,
)
from dsp.chain import SatelliteReceiver
from dsp.channel import Channel, ChannelConfig
from dsp.psk import PSK_KINDS
from dsp.satellite import SatelliteSpec, TransmitterSpec
from groundstation.satellites import load_catalogue


def _transmitter(key: str, name: str | None = None) -> tuple[SatelliteSpec, TransmitterSpec]:
    sat = load_catalogue().find(key)
    tx = sat.transmitter(name) if name else sat.transmitters[0]
    return dataclasses.replace(sat, transmitters=(tx,)), tx


@pytest.mark.parametrize(
    ("key", "name", "n_frames"),
    [
        ("UPMSat 2", None, 6),  # FSK 1200, AX.25
        ("DUCHIFAT-3", None, 12),  # BPSK 9600, AX.25 G3RUH
        ("KR01", "1k2 BPSK downlink", 6),  # BPSK 1200, AX.25 G3RUH
        ("BY70-1", None, 12),  # BPSK 9600, CCSDS concatenated, differential
        ("AO-73", None, 3),  # DBPSK 1200, AO-40 FEC
        ("QO-100", None, 2),  # DBPSK Manchester 400, AO-40 FEC
        ("AISAT", None, 8),  # AFSK 4800, U482C
        ("1KUNS-PF", "9k6 FSK downlink", 12),  # FSK 9600, AX100 ASM+Golay
        ("GOMX-3", None, 12),  # FSK 19200, AX100 RS
        ("Astrocast 0.1", "1k2 FSK downlink NRZ-I", 3),  # FSK 1200, Astrocast FX.25
    ],
)
def test_every_frame_sent_on_a_strong_link_is_decoded_once_and_nothing_else(
    key: str, name: str | None, n_frames: int
) -> None:
    sat, tx = _transmitter(key, name)
    sender = CatalogueTransmitter(tx, seed=3)
    frames = random_frames(tx, n_frames, seed=4)
    assert len({len(f) for f in frames}) == 1 and len(frames[0]) == frame_bytes(tx)
    channel = Channel(
        ChannelConfig(fs_hz=sender.fs_hz, phase_rad=2.0, freq_offset_hz=350.0, esn0_db=20.0)
    )
    receiver = SatelliteReceiver(sat, sender.fs_hz, iq=True)
    decoded = []
    n_samples = 0
    for i, frame in enumerate(frames):  # one frame per call, as the service streams them
        iq = channel.process(sender.process([frame], final=i == n_frames - 1))
        n_samples += iq.size
        decoded += receiver.process(iq)
    decoded += receiver.flush()
    assert [d.frame for d in sorted(decoded, key=lambda d: d.time_s)] == frames
    # each frame in its slot: lead + n slots (within a sample per call; the
    # PSK shaper's tail aside)
    expected = sender.lead_samples + n_frames * sender.slot_samples
    assert expected - n_frames <= n_samples <= expected + 8 * round(sender.fs_hz / tx.baud_rate)


@pytest.mark.parametrize("key", ["UPMSat 2", "DUCHIFAT-3", "AISAT", "QO-100"])
def test_the_signal_carries_unit_energy_per_channel_symbol(key: str) -> None:
    """What dsp.channel.Channel's Es/N0 assumes (so Es/N0 is the Eb/N0 per channel bit)."""
    _, tx = _transmitter(key)
    sender = CatalogueTransmitter(tx, seed=1)
    iq = sender.process(random_frames(tx, 4, seed=2), final=True)
    energy = float(np.mean(np.abs(iq) ** 2)) * sender.fs_hz / float(tx.baud_rate)
    assert energy == pytest.approx(1.0, rel=0.05)


def test_sample_rates_are_the_receivers_tested_ones() -> None:
    """48 kHz (the recordings') with at least 4 samples per symbol; PSK an
    integer number of samples per chip (two chips per Manchester bit)."""
    rates = {
        (t.modulation, t.baud_rate): sample_rate_hz(t)
        for s in load_catalogue().satellites
        for t in s.transmitters
    }
    assert rates[("fsk", 9600)] == rates[("bpsk", 1200)] == rates[("afsk", 4800)] == 48_000
    assert rates[("fsk", 19200)] == 96_000
    for (modulation, baud), fs in rates.items():
        assert fs / baud >= 4
        if modulation in PSK_KINDS:
            assert (fs / PSK_KINDS[modulation].chip_rate(baud)).is_integer()
    assert rates[("dbpsk-manchester", 400)] == 48_000


def test_a_frame_the_framing_cannot_carry_is_drawn_again() -> None:
    """Astrocast FX.25 has no bit stuffing: no 0x7E in the frame or its FCS."""
    _, tx = _transmitter("Astrocast 0.1", "1k2 FSK downlink NRZ-I")
    frames = random_frames(tx, 40, seed=9)
    assert len(frames) == 40 and not any(0x7E in f for f in frames)
    assert random_frames(tx, 40, seed=9) == frames


@pytest.mark.parametrize(
    ("key", "name", "sizes"),
    [
        ("UPMSat 2", None, (15, 200)),  # AX.25: HDLC's least frame up to 200 bytes
        ("1KUNS-PF", "9k6 FSK downlink", (1, 223)),  # AX100 ASM+Golay: 1..223
        ("GOMX-3", None, (5, 120)),  # AX100 RS
        ("AISAT", None, (10, 150)),  # U482C
        ("Astrocast 0.1", "1k2 FSK downlink NRZ-I", (1, 219)),  # one FX.25 codeword
    ],
)
def test_frames_of_varying_length_are_sent_in_equal_slots_and_decoded(
    key: str, name: str | None, sizes: tuple[int, int]
) -> None:
    sat, tx = _transmitter(key, name)
    least, most = sizes
    frames = random_frames(tx, 6, seed=12, min_bytes=least, max_bytes=most)
    assert len({len(f) for f in frames}) >= 4
    assert all(least <= len(f) <= most for f in frames)
    sender = CatalogueTransmitter(tx, seed=3, max_frame_bytes=most)
    channel = Channel(ChannelConfig(fs_hz=sender.fs_hz, freq_offset_hz=-250.0, esn0_db=20.0))
    receiver = SatelliteReceiver(sat, sender.fs_hz, iq=True)
    decoded, n_samples = [], 0
    for i, frame in enumerate(frames):
        iq = channel.process(sender.process([frame], final=i == len(frames) - 1))
        n_samples += iq.size
        decoded += receiver.process(iq)
    decoded += receiver.flush()
    assert [d.frame for d in sorted(decoded, key=lambda d: d.time_s)] == frames
    # the slots do not depend on the frames' lengths
    assert abs(n_samples - (sender.lead_samples + len(frames) * sender.slot_samples)) <= len(frames)


def test_frame_sizes_a_framing_cannot_carry_are_refused_with_the_size() -> None:
    _, ax25 = _transmitter("UPMSat 2")
    _, ao40 = _transmitter("AO-73")
    assert frame_size_range(ax25) == (15, 1024) and frame_size_range(ao40) == (256, 256)
    with pytest.raises(ValueError, match="frame of 14 bytes cannot be sent"):
        random_frames(ax25, 2, seed=1, min_bytes=14)
    with pytest.raises(ValueError, match="frame of 100 bytes cannot be sent; it carries 256"):
        CatalogueTransmitter(ao40, max_frame_bytes=100)
    sender = CatalogueTransmitter(ax25, max_frame_bytes=40)
    with pytest.raises(ValueError, match="frame of 41 bytes is longer than this transmitter's"):
        sender.process([bytes(41)])
    with pytest.raises(ValueError, match="frame of 3 bytes cannot be sent; this framing carries"):
        sender.process([bytes(3)])
