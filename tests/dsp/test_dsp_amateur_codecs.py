"""Known-answer tests of the codecs amateur satellites use: CRC-16/X.25, NRZI,
HDLC, G3RUH, Golay(24,12), the GOMspace framings, AO-40 FEC and the NASA-DSN
order of the convolutional code."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dsp.ao40 import SYNC_VECTOR, ao40_decode, ao40_encode, ao40_sync_positions
from dsp.coding import ChannelCode
from dsp.crc import crc16_x25
from dsp.g3ruh import g3ruh_descramble, g3ruh_scramble
from dsp.golay import golay24_decode, golay24_encode
from dsp.gomspace import (
    ax100_asm_golay_decode,
    ax100_asm_golay_encode,
    ax100_rs_decode,
    ax100_rs_encode,
    u482c_decode,
    u482c_encode,
)
from dsp.hdlc import HdlcDeframer, bit_destuff, bit_stuff, fcs_ok, hdlc_encode
from dsp.kiss import kiss_decode, kiss_encode
from dsp.nrzi import nrzi_decode, nrzi_encode
from dsp.profile import builtin_profile
from dsp.satellite import transmitter_from_mapping
from dsp.transmitter import random_frames
from groundstation.satellites import load_catalogue

from .redecode import decode_again

GOLDEN = json.loads(
    (Path(__file__).parents[1] / "data" / "dsp" / "amateur_golden.json").read_text()
)


def soft_of(data: bytes) -> np.ndarray:
    return (1.0 - 2.0 * np.unpackbits(np.frombuffer(data, np.uint8))).astype(np.float32)


# ----- CRC-16/X.25 (the AX.25 FCS) -----
def test_crc16_x25_of_the_check_string_is_906e() -> None:
    # reveng CRC catalogue, CRC-16/IBM-SDLC (alias X-25): check=0x906e
    assert crc16_x25(b"123456789") == 0x906E


def test_crc16_x25_over_a_frame_and_its_fcs_leaves_the_catalogue_residue() -> None:
    # residue 0xf0b8 before the final XOR, i.e. 0x0f47 after it
    rng = np.random.default_rng(1)
    for size in (1, 17, 200):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        fcs = crc16_x25(data).to_bytes(2, "little")
        assert crc16_x25(data + fcs) == 0xF0B8 ^ 0xFFFF
        assert fcs_ok(data + fcs)
        assert not fcs_ok(data + bytes([fcs[0] ^ 1, fcs[1]]))


# ----- NRZI -----
def test_nrzi_sends_a_zero_as_a_level_change_and_decodes_either_polarity() -> None:
    flag = np.array([0, 1, 1, 1, 1, 1, 1, 0], dtype=np.uint8)
    channel, last = nrzi_encode(flag, previous=0)
    assert channel.tolist() == [1, 1, 1, 1, 1, 1, 1, 0]
    assert last == 0
    assert nrzi_decode(channel, 0)[0].tolist() == flag.tolist()
    assert nrzi_decode(1 - channel, 1)[0].tolist() == flag.tolist()


def test_nrzi_decoding_in_chunks_equals_decoding_at_once() -> None:
    bits = np.random.default_rng(2).integers(0, 2, 1000, dtype=np.uint8)
    whole, _ = nrzi_decode(bits)
    first, level = nrzi_decode(bits[:377])
    second, _ = nrzi_decode(bits[377:], level)
    assert np.array_equal(np.concatenate([first, second]), whole)


# ----- HDLC -----
def test_bit_stuffing_inserts_a_zero_after_five_ones_and_destuffing_removes_it() -> None:
    ones = np.ones(8, dtype=np.uint8)  # 0xFF
    assert bit_stuff(ones).tolist() == [1, 1, 1, 1, 1, 0, 1, 1, 1]
    rng = np.random.default_rng(3)
    for _ in range(20):
        bits = (rng.random(300) < 0.8).astype(np.uint8)
        assert np.array_equal(bit_destuff(bit_stuff(bits)), bits)


def test_hdlc_frames_come_back_without_fcs_and_bad_fcs_is_dropped() -> None:
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (20, 80, 255)]
    frames.append(b"\xff" * 40 + b"\x7e" * 10)  # stuffing and flag bytes inside
    bits = np.concatenate([hdlc_encode(f) for f in frames])
    found = HdlcDeframer().push(bits, final=True)
    assert [f.frame for f in found] == frames
    corrupted = bits.copy()
    corrupted[found[1].start_bit + 30] ^= 1
    assert [f.frame for f in HdlcDeframer().push(corrupted, final=True)] == [
        frames[0],
        frames[2],
        frames[3],
    ]


def test_hdlc_deframer_gives_the_same_frames_whatever_the_chunking() -> None:
    rng = np.random.default_rng(5)
    frames = [
        rng.integers(0, 256, int(rng.integers(16, 300)), np.uint8).tobytes() for _ in range(12)
    ]
    noise = [rng.integers(0, 2, int(rng.integers(0, 500)), np.uint8) for _ in frames]
    bits = np.concatenate(
        [np.concatenate([n, hdlc_encode(f)]) for n, f in zip(noise, frames, strict=True)]
    )
    whole = HdlcDeframer().push(bits, final=True)
    cuts = np.sort(rng.integers(0, bits.size, 40))
    deframer = HdlcDeframer()
    pieces = []
    for chunk in np.split(bits, cuts):
        pieces += deframer.push(chunk)
    pieces += deframer.push(np.zeros(0, np.uint8), final=True)
    assert [f.frame for f in whole] == frames
    assert pieces == whole


# ----- G3RUH -----
def test_g3ruh_scrambler_is_the_maximal_length_x17_x12_1_sequence() -> None:
    history = np.zeros(17, dtype=np.uint8)
    history[-1] = 1
    sequence, _ = g3ruh_scramble(np.zeros(2 * 131071, dtype=np.uint8), history)
    assert np.array_equal(sequence[:131071], sequence[131071:])
    # period exactly 2**17 - 1: no shorter period divides it (131071 is prime)
    assert not np.array_equal(sequence[:1000], sequence[1:1001])
    assert int(sequence[:131071].sum()) == 2**16  # an m-sequence has 2**16 ones


def test_g3ruh_descrambler_undoes_the_scrambler_across_chunks_and_resynchronises() -> None:
    rng = np.random.default_rng(6)
    data = rng.integers(0, 2, 5000, dtype=np.uint8)
    channel, _ = g3ruh_scramble(data)
    first, history = g3ruh_descramble(channel[:1234])
    second, _ = g3ruh_descramble(channel[1234:], history)
    assert np.array_equal(np.concatenate([first, second]), data)
    wrong = rng.integers(0, 2, 17, dtype=np.uint8)
    late, _ = g3ruh_descramble(channel, wrong)
    assert np.array_equal(late[17:], data[17:])
    flipped = channel.copy()
    flipped[100] ^= 1
    errors = np.flatnonzero(g3ruh_descramble(flipped)[0] != data)
    assert errors.tolist() == [100, 112, 117]


# ----- Golay(24,12) -----
def test_golay24_has_the_weight_distribution_of_the_extended_golay_code() -> None:
    weights = np.bincount([bin(golay24_encode(d)).count("1") for d in range(4096)], minlength=25)
    expected = np.zeros(25, dtype=int)
    expected[[0, 8, 12, 16, 24]] = [1, 759, 2576, 759, 1]
    assert np.array_equal(weights, expected)


def test_golay24_corrects_three_errors_and_detects_four() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        data = int(rng.integers(0, 4096))
        word = golay24_encode(data)
        positions = rng.choice(24, 4, replace=False)
        errors = [sum(1 << int(p) for p in positions[:k]) for k in range(5)]
        for k in range(4):
            result = golay24_decode(word ^ errors[k])
            assert (result.data, result.errors) == (data, k)
        assert not golay24_decode(word ^ errors[4]).ok


def test_golay24_encodes_the_data_in_the_low_twelve_bits() -> None:
    assert golay24_encode(0x000) == 0x000000
    assert golay24_encode(0xFFF) == 0xFFFFFF
    assert golay24_encode(0x001) == 0xFFE001


# ----- GOMspace AX100 / U482C -----
def test_ax100_asm_golay_round_trip_corrects_golay_and_rs_errors() -> None:
    frame = bytes(range(100))
    block = bytearray(ax100_asm_golay_encode(frame))
    assert block[:3] == golay24_encode(0x600 | 132).to_bytes(3, "big")
    block[0] ^= 0x81  # two bit errors in the Golay word
    for i in range(10, 26):  # 16 byte errors
        block[i] ^= 0x5A
    decoded = ax100_asm_golay_decode(soft_of(bytes(block)))
    assert decoded is not None
    assert (decoded.frame, decoded.golay_errors, decoded.rs_corrections) == (frame, 2, 16)
    assert decoded.block_bits == 24 + 8 * 132
    block[40] ^= 1  # a 17th byte error
    assert ax100_asm_golay_decode(soft_of(bytes(block))) is None


@pytest.mark.parametrize("viterbi", [False, True])
@pytest.mark.parametrize("scrambler", [False, True])
@pytest.mark.parametrize("rs", [False, True])
def test_u482c_follows_the_flags_of_its_length_field(
    viterbi: bool, scrambler: bool, rs: bool
) -> None:
    frame = bytes(np.random.default_rng(8).integers(0, 256, 60, dtype=np.uint8))
    block = u482c_encode(frame, viterbi=viterbi, scrambler=scrambler, rs=rs)
    soft = soft_of(block)
    if viterbi:  # soft decisions: a few weak wrong symbols are corrected
        soft[[30, 90, 200]] *= -0.2
    decoded = u482c_decode(soft)
    assert decoded is not None
    assert decoded.frame == frame
    assert decoded.rs_corrections == (0 if rs else -1)
    assert decoded.block_bits == 8 * len(block)


@pytest.mark.parametrize("rs", [False, True])
def test_u482c_frame_without_reed_solomon_needs_a_clean_length_field(rs: bool) -> None:
    # nothing checks such a frame, and any 24 bits are within 3 errors of a Golay
    # codeword: after a false sync in noise a corrected header is mostly garbage
    frame = bytes(np.random.default_rng(9).integers(0, 256, 60, dtype=np.uint8))
    block = bytearray(u482c_encode(frame, viterbi=False, scrambler=True, rs=rs))
    block[0] ^= 0x81  # two bit errors in the length field
    decoded = u482c_decode(soft_of(bytes(block)))
    assert (decoded is not None and decoded.frame == frame) == rs


def test_ax100_reed_solomon_mode_round_trip_corrects_a_byte() -> None:
    frame = bytes.fromhex("0102030405060708") + bytes(50)
    block = bytearray(ax100_rs_encode(frame))
    assert block[0] == len(frame) + 33
    assert block[1:9] == frame[:8]
    block[20] ^= 0xFF
    decoded = ax100_rs_decode(soft_of(bytes(block)))
    assert decoded is not None
    assert (decoded.frame, decoded.rs_corrections) == (frame, 1)


# ----- AO-40 FEC -----
def test_ao40_spreads_the_sync_vector_every_80_symbols_and_decodes_through_noise() -> None:
    rng = np.random.default_rng(9)
    frame = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
    air = ao40_encode(frame)
    assert air.size == 5200
    assert np.array_equal(air[ao40_sync_positions()], SYNC_VECTOR)
    soft = (1.0 - 2.0 * air + rng.normal(0, 0.8, air.size)).astype(np.float32)
    assert np.mean((soft < 0) != air) > 0.08  # about 10 % channel bit errors
    decoded = ao40_decode(soft)
    assert decoded.ok
    assert decoded.frame == frame


def test_ao40_reports_an_uncorrectable_frame() -> None:
    frame = bytes(256)
    soft = (1.0 - 2.0 * ao40_encode(frame)).astype(np.float32)
    soft[1000:2200] *= -1
    assert not ao40_decode(soft).ok


# ----- CCSDS NASA-DSN symbol order -----
def test_nasa_dsn_order_sends_each_coded_pair_swapped_and_decodes() -> None:
    ccsds = builtin_profile("ccsds-bpsk-conv-rs")
    nasa = ccsds.__class__(**{**ccsds.__dict__, "convolutional": "nasa-dsn"})
    frames = random_frames(ccsds, 2, seed=4)
    a = ChannelCode(ccsds).encode_frames(frames)
    b = ChannelCode(nasa).encode_frames(frames)
    assert np.array_equal(b.reshape(-1, 2), a.reshape(-1, 2)[:, ::-1])
    code = ChannelCode(nasa)
    soft = (1.0 - 2.0 * b[: code.block_bits]).astype(np.float32)
    block = code.decode_block(soft)
    assert block.rs_ok
    assert block.frame == frames[0]
    pattern, offset = code.sync_pattern
    assert np.array_equal(b[offset : offset + pattern.size], pattern)


# ----- real received bits (tests/data/dsp/amateur_golden.json) -----
@pytest.mark.parametrize("case", GOLDEN, ids=[c["framing"] + "-" + c["recording"] for c in GOLDEN])
def test_codec_turns_received_bits_of_a_real_recording_into_the_frame_gr_satellites_printed(
    case: dict[str, Any],
) -> None:
    tx = load_catalogue().find(case["satellite"]).transmitter(case["transmitter"])
    assert tx.framing == case["framing"]
    frame = decode_again(bytes.fromhex(case["bits_hex"]), case["n_bits"], tx)
    assert frame == bytes.fromhex(case["frame_hex"])


def test_a_corrupted_golden_frame_is_refused() -> None:
    case = next(c for c in GOLDEN if c["framing"] == "ax25-g3ruh")
    tx = transmitter_from_mapping(
        {
            "name": "d",
            "frequency_hz": 437e6,
            "modulation": "fsk",
            "baud_rate": 9600,
            "framing": "ax25-g3ruh",
        },
        "t",
    )
    bits = bytearray(bytes.fromhex(case["bits_hex"]))
    bits[40] ^= 0x10
    assert decode_again(bytes(bits), case["n_bits"], tx) is None


# ----- KISS -----
def test_kiss_escapes_fend_and_fesc_and_round_trips() -> None:
    frames = [b"\x01\xc0\x02", b"\xdb", b"plain"]
    data = kiss_encode(frames)
    assert data[:7] == bytes.fromhex("c00001dbdc02c0")
    assert data[7:11] == bytes.fromhex("c000dbdd")
    assert kiss_decode(data) == frames
    # gr-satellites interleaves timestamp frames (command 9): skipped
    assert kiss_decode(bytes.fromhex("c0090102c0") + data) == frames
