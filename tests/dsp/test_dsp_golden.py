from pathlib import Path

import numpy as np

from dsp.coding import ChannelCode
from dsp.profile import builtin_profile
from dsp.receiver import Receiver, ReceiverConfig
from dsp.simulate import LinkConfig, simulate
from dsp.transmitter import random_frames

DATA = Path(__file__).parents[1] / "data" / "dsp"


def _frames(name: str) -> list[bytes]:
    return [bytes.fromhex(line) for line in (DATA / name).read_text().split()]


def test_frame_source_reproduces_the_golden_tm_frames() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    assert random_frames(profile, 3, seed=2024) == _frames("conv_rs_frames.hex")


def test_channel_bits_of_golden_frames_match_bit_for_bit() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    bits = ChannelCode(profile).encode_frames(_frames("conv_rs_frames.hex"))
    golden = bytes.fromhex((DATA / "conv_rs_channel_bits.hex").read_text().strip())
    assert np.packbits(bits).tobytes() == golden
    assert golden[:8].hex().endswith("1c971aa73d3e")


def test_golden_frames_decode_from_their_channel_bits() -> None:
    profile = builtin_profile("ccsds-bpsk-conv-rs")
    code = ChannelCode(profile)
    golden = np.unpackbits(
        np.frombuffer(bytes.fromhex((DATA / "conv_rs_channel_bits.hex").read_text()), np.uint8)
    )
    soft = (1.0 - 2.0 * golden).astype(np.float32)
    frames = _frames("conv_rs_frames.hex")
    n = code.channel_bits_per_frame
    for i, frame in enumerate(frames):
        block = code.decode_block(soft[i * n : i * n + code.block_bits])
        assert block.frame == frame
        assert block.rs_corrections == (0,)


def test_simulator_reproduces_the_golden_iq() -> None:
    profile = builtin_profile("ccsds-bpsk-rs")
    iq = simulate(profile, _frames("rs_frames.hex"), LinkConfig(sps=2, lead_symbols=64, seed=1))
    golden = np.fromfile(DATA / "rs_sps2.cf32", dtype=np.complex64)
    assert iq.shape == golden.shape
    assert np.max(np.abs(iq - golden)) < 1e-5


def test_receiver_decodes_the_golden_iq_to_the_golden_frames() -> None:
    profile = builtin_profile("ccsds-bpsk-rs")
    golden = np.fromfile(DATA / "rs_sps2.cf32", dtype=np.complex64)
    rx = Receiver(profile, ReceiverConfig(fs_hz=profile.symbol_rate * 2, acquisition_symbols=1024))
    results = rx.process(golden) + rx.flush()
    assert [r.frame for r in results] == _frames("rs_frames.hex")
    assert all(r.crc_ok for r in results)
