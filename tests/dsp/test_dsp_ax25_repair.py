"""Soft-decision repair of AX.25 frames whose FCS fails (dsp.ax25_repair,
used by dsp.deframers.Ax25Deframer): one or two wrong channel bits among
the least reliable are repaired, with and without G3RUH; errors the
bounded search cannot reach give nothing; nothing that fails the FCS is
ever output, and neither noise nor uncorrectable frames give a frame."""

import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.amateur_sim import FRAMERS
from dsp.ax25_repair import RepairConfig, has_ax25_address_field
from dsp.chain import TransmitterChain
from dsp.deframers import Ax25Deframer, LineDecoder
from dsp.hdlc import HdlcDeframer, _fcs_bytes, fcs_ok
from dsp.satellite import SatelliteSpec, transmitter_from_mapping
from dsp.segments import SoftSymbols


def ax25_frame(info: bytes) -> bytes:
    """A UI frame from CQ to N0CALL-1 (shifted ASCII, extension bit on the last byte)."""
    dest = bytes(c << 1 for c in b"CQ    ") + bytes([0x60])
    src = bytes(c << 1 for c in b"N0CALL") + bytes([0x63])
    return dest + src + b"\x03\xf0" + info


def deframe(soft: NDArray[np.float32], g3ruh: bool, repair: RepairConfig | None) -> list[bytes]:
    d = Ax25Deframer(g3ruh=g3ruh, repair=repair)
    out = d.push(SoftSymbols(soft, np.arange(soft.size, dtype=np.float64)), final=True)
    return [f.frame for f in out]


def received(
    frame: bytes, g3ruh: bool, wrong: list[int], rng: np.random.Generator
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Soft channel bits of ``frame`` at a good SNR with the ``wrong``-th bits
    of the frame's body (indices into its channel bits after the opening
    flags) received wrong and weak; returns (soft, body indices)."""
    bits = FRAMERS["ax25-g3ruh" if g3ruh else "ax25"]([frame], 0)
    soft = (1.0 - 2.0 * bits) * rng.uniform(0.6, 1.4, bits.size)
    body = np.arange(24 * 8 + 40, bits.size - 4 * 8 - 40)  # clear of the flags
    index = body[wrong]
    soft[index] = -0.1 * np.sign(soft[index])
    return soft.astype(np.float32), index


@pytest.mark.parametrize("g3ruh", [False, True])
@pytest.mark.parametrize("wrong", [[5], [17, 120], [0, 1]])
def test_one_or_two_weak_wrong_channel_bits_are_repaired(g3ruh: bool, wrong: list[int]) -> None:
    frame = ax25_frame(bytes(range(40)))
    soft, _ = received(frame, g3ruh, wrong, np.random.default_rng(1))
    assert deframe(soft, g3ruh, None) == []
    d = Ax25Deframer(g3ruh=g3ruh, repair=RepairConfig())
    out = d.push(SoftSymbols(soft, np.arange(soft.size, dtype=np.float64)), final=True)
    assert [f.frame for f in out] == [frame]
    assert dict(out[0].corrections) == {"soft": len(wrong)}


def test_wrong_bits_that_look_reliable_are_not_searched_and_give_nothing() -> None:
    frame = ax25_frame(bytes(range(40)))
    rng = np.random.default_rng(2)
    soft, index = received(frame, True, [40], rng)
    soft[index] *= 10  # wrong, but the strongest bit of the frame
    assert deframe(soft, True, RepairConfig()) == []


def test_three_wrong_bits_are_beyond_the_bounded_search() -> None:
    frame = ax25_frame(bytes(range(40)))
    soft, _ = received(frame, False, [10, 90, 200], np.random.default_rng(3))
    assert deframe(soft, False, RepairConfig()) == []


def test_the_address_field_check() -> None:
    assert has_ax25_address_field(ax25_frame(b"x"))
    assert not has_ax25_address_field(bytes(range(1, 40, 2)))  # extension bit on byte 0
    assert not has_ax25_address_field(bytes(40))  # no extension bit at all


def test_a_segment_with_more_likely_errors_than_the_search_fixes_is_not_searched() -> None:
    frame = ax25_frame(bytes(range(40)))
    soft, index = received(frame, False, [30], np.random.default_rng(7))
    # eight bits weaker than the wrong one: any of them could be wrong too
    others = np.arange(300, 380, 10)
    soft[others] = 0.02 * np.sign(soft[others])
    assert deframe(soft, False, None) == []
    assert deframe(soft, False, RepairConfig()) == []
    assert deframe(soft, False, RepairConfig(max_miss=1.0)) == [frame]


@pytest.mark.parametrize("g3ruh", [False, True])
def test_noisy_frames_give_only_frames_that_were_sent_and_more_than_without_repair(
    g3ruh: bool,
) -> None:
    """1,500 frames in Gaussian noise from Es/N0 4 to 9 dB (from nearly all
    lost to nearly all found): repair finds more, and never a frame that was
    not sent."""
    rng = np.random.default_rng(8 + g3ruh)
    plain = repaired = wrong = 0
    for i in range(1500):
        frame = ax25_frame(rng.integers(0, 256, 40, dtype=np.uint8).tobytes())
        bits = FRAMERS["ax25-g3ruh" if g3ruh else "ax25"]([frame], i)
        esn0 = 10 ** (rng.uniform(4.0, 9.0) / 10)
        noise = rng.standard_normal(bits.size) / np.sqrt(2 * esn0)
        soft = ((1.0 - 2.0 * bits) + noise).astype(np.float32)
        plain += deframe(soft, g3ruh, None) == [frame]
        found = deframe(soft, g3ruh, RepairConfig())
        repaired += found == [frame]
        wrong += sum(f != frame for f in found)
    assert wrong == 0
    assert repaired >= plain + 30, (plain, repaired)


@pytest.mark.parametrize("g3ruh", [False, True])
def test_noise_alone_searched_without_the_gates_gives_no_frame(g3ruh: bool) -> None:
    """Pure noise with both gates off, so that every flag-bounded segment of a
    frame's length is searched (78 flip sets each): not one frame (the FCS and
    the address field reject them all)."""
    rng = np.random.default_rng(5 + g3ruh)
    ungated = RepairConfig(min_snr_db=-100.0, max_miss=1.0)
    d = Ax25Deframer(g3ruh=g3ruh, repair=ungated)
    line, hdlc = LineDecoder("nrzi+g3ruh" if g3ruh else "nrzi"), HdlcDeframer()
    n, frames, searched = 400_000, [], 0
    for k in range(5):
        soft = rng.standard_normal(n).astype(np.float32)
        frames += d.push(SoftSymbols(soft, np.arange(k * n, (k + 1) * n, 1.0)), final=k == 4)
        hdlc.push((line.decode(soft) < 0).astype(np.uint8), final=k == 4)
        searched += len(hdlc.failed)
        hdlc.failed = []
    assert searched >= 3000
    assert frames == []


def test_a_repaired_frame_always_passes_its_fcs() -> None:
    frame = ax25_frame(b"hello world, repaired")
    soft, _ = received(frame, True, [33], np.random.default_rng(6))
    out = deframe(soft, True, RepairConfig())
    assert out == [frame]
    assert fcs_ok(out[0] + _fcs_bytes(out[0]))


@pytest.mark.parametrize(("modulation", "repaired"), [("bpsk", True), ("fsk", False)])
def test_the_receiver_repairs_psk_frames_but_not_fm_discriminator_ones(
    modulation: str, repaired: bool
) -> None:
    """PSK soft symbols are near-Gaussian, so a weak one is an unreliable one;
    an FM discriminator's errors are full-size clicks, so FSK is not repaired."""
    tx = transmitter_from_mapping(
        {
            "name": "downlink",
            "frequency_hz": 437_000_000,
            "modulation": modulation,
            "baud_rate": 9600,
            "framing": "ax25-g3ruh",
        },
        "test",
    )
    chain = TransmitterChain(SatelliteSpec("SIM", 99999, (tx,)), tx, 48_000.0, iq=True)
    frame = ax25_frame(bytes(range(40)))
    soft, _ = received(frame, True, [60], np.random.default_rng(9))
    symbols = SoftSymbols(soft, 5.0 * np.arange(soft.size, dtype=np.float64))
    decoded = chain.deframe([symbols] * chain.demod.n_branches, final=True)
    assert [d.frame for d in decoded] == ([frame] if repaired else [])
