import numpy as np
import pytest
from numpy.typing import NDArray

from dsp.convolutional import conv_encode
from dsp.crc import crc16_ccitt
from dsp.randomizer import randomize, randomizer_sequence
from dsp.reed_solomon import (
    conventional_to_dual,
    dual_to_conventional,
    rs_decode,
    rs_decode_reference,
    rs_encode,
    rs_encode_reference,
)
from dsp.viterbi import viterbi_decode, viterbi_decode_reference

ASM = bytes.fromhex("1ACFFC1D")


def test_randomizer_sequence_starts_with_the_ccsds_known_bytes() -> None:
    expected = bytes.fromhex("FF480EC09A0D70BC8E2C93ADA7B746CE")
    assert bytes(randomizer_sequence(16)) == expected


def test_randomizer_repeats_every_255_bytes_and_undoes_itself() -> None:
    seq = randomizer_sequence(600)
    assert np.array_equal(seq[:255], seq[255:510])
    data = np.arange(300, dtype=np.uint8)
    assert np.array_equal(randomize(randomize(data)), data)


def crc16_ccitt_bitwise(data: bytes, init: int = 0xFFFF) -> int:
    """CRC-16-CCITT bit by bit, as CCSDS 132.0-B 4.1.6 defines it."""
    crc = init
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def test_crc16_ccitt_of_check_string_is_29b1() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1
    assert crc16_ccitt_bitwise(b"123456789") == 0x29B1


def test_crc16_ccitt_agrees_with_the_bitwise_definition_on_random_data() -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 7, 223, 1115):
        data = rng.integers(0, 256, size, dtype=np.uint8)
        assert crc16_ccitt(data.tobytes()) == crc16_ccitt_bitwise(data.tobytes())
        assert crc16_ccitt(data) == crc16_ccitt_bitwise(data.tobytes())
        assert crc16_ccitt(data.tobytes(), init=0) == crc16_ccitt_bitwise(data.tobytes(), 0)


def test_rs_conventional_shortened_16_bytes_gives_the_known_parity() -> None:
    data = bytes.fromhex("eec1d49d7082582c93ada7b746ce5a97")
    parity = bytes.fromhex("e6de0634fb399bdb61ab215b64672ffc0e68e7ea60cb6ade775cb2507cb7613f")
    assert rs_encode(data, interleave=1, basis="conventional")[16:] == parity
    assert rs_encode_reference(data, interleave=1, basis="conventional")[16:] == parity


def test_numba_rs_codec_agrees_with_reedsolo_on_random_blocks_and_errors() -> None:
    rng = np.random.default_rng(21)
    outcomes = set()
    for trial in range(60):
        interleave = int(rng.integers(1, 6))
        k = int(rng.integers(1, 224))
        basis = ("dual", "conventional")[trial % 2]
        data = rng.integers(0, 256, k * interleave, dtype=np.uint8).tobytes()
        block = bytearray(rs_encode(data, interleave, basis))
        assert bytes(block) == rs_encode_reference(data, interleave, basis)
        n_errors = min(int(rng.integers(0, 20)) * interleave, len(block))
        for pos in rng.choice(len(block), n_errors, replace=False):
            block[pos] ^= int(rng.integers(1, 256))
        fast = rs_decode(bytes(block), interleave, basis)
        slow = rs_decode_reference(bytes(block), interleave, basis)
        assert fast.corrections == slow.corrections
        if fast.ok:
            assert fast.data == slow.data == data
        outcomes.add(fast.ok)
    assert outcomes == {True, False}


def test_dual_basis_table_matches_the_ccsds_annex_and_is_a_bijection() -> None:
    first = conventional_to_dual(np.arange(8, dtype=np.uint8))
    assert bytes(first) == bytes([0x00, 0x7B, 0xAF, 0xD4, 0x99, 0xE2, 0x36, 0x4D])
    everything = np.arange(256, dtype=np.uint8)
    assert np.array_equal(dual_to_conventional(conventional_to_dual(everything)), everything)
    assert np.unique(conventional_to_dual(everything)).size == 256


def test_rs_dual_basis_is_the_conventional_code_seen_through_the_basis_matrix() -> None:
    rng = np.random.default_rng(3)
    data_dual = rng.integers(0, 256, 223, dtype=np.uint8)
    coded_dual = np.frombuffer(rs_encode(data_dual.tobytes(), basis="dual"), dtype=np.uint8)
    coded_conv = rs_encode(dual_to_conventional(data_dual).tobytes(), basis="conventional")
    assert bytes(dual_to_conventional(coded_dual)) == coded_conv


@pytest.mark.parametrize("basis", ["dual", "conventional"])
@pytest.mark.parametrize("interleave", [1, 2, 3, 4, 5])
def test_rs_corrects_16_errors_per_codeword_and_counts_them(basis: str, interleave: int) -> None:
    rng = np.random.default_rng(interleave)
    shortening = 10
    data = rng.integers(0, 256, (223 - shortening) * interleave, dtype=np.uint8).tobytes()
    block = bytearray(rs_encode(data, interleave=interleave, basis=basis))
    n_codeword = len(block) // interleave
    expected = []
    for j in range(interleave):
        n_err = 16 - j
        rows = rng.choice(n_codeword, n_err, replace=False)
        for r in rows:
            block[r * interleave + j] ^= int(rng.integers(1, 256))
        expected.append(n_err)
    result = rs_decode(bytes(block), interleave=interleave, basis=basis)
    assert result.data == data
    assert result.corrections == tuple(expected)
    assert result.ok


def test_rs_reports_a_codeword_with_17_errors_as_uncorrectable() -> None:
    rng = np.random.default_rng(9)
    data = rng.integers(0, 256, 446, dtype=np.uint8).tobytes()
    block = bytearray(rs_encode(data, interleave=2))
    for r in rng.choice(255, 17, replace=False):
        block[r * 2] ^= 0xA5
    result = rs_decode(bytes(block), interleave=2)
    assert result.corrections[0] == -1
    assert result.corrections[1] == 0
    assert not result.ok


def test_rs_rejects_a_data_length_that_does_not_fit_the_interleave() -> None:
    with pytest.raises(ValueError, match="447"):
        rs_encode(bytes(447), interleave=2)


def test_convolutionally_encoded_asm_ends_in_the_known_pattern() -> None:
    bits = np.unpackbits(np.frombuffer(ASM, dtype=np.uint8))
    for state in (0, 17, 63):
        coded, _ = conv_encode(bits, state)
        assert np.packbits(coded).tobytes().hex().endswith("1c971aa73d3e")


def test_conv_encoder_carries_its_state_across_calls() -> None:
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, 500, dtype=np.uint8)
    whole, _ = conv_encode(bits)
    first, state = conv_encode(bits[:123])
    second, _ = conv_encode(bits[123:], state)
    assert np.array_equal(np.concatenate([first, second]), whole)


def _noisy(
    coded: NDArray[np.uint8], ebn0_db: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    sigma = np.sqrt(1 / (2 * 0.5 * 10 ** (ebn0_db / 10)))
    return (1 - 2.0 * coded) + sigma * rng.standard_normal(coded.size)


def test_numba_viterbi_agrees_with_the_reference_on_noisy_input() -> None:
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2, 600, dtype=np.uint8)
    coded, _ = conv_encode(bits)
    soft = _noisy(coded, 1.0, rng)
    known = np.full(600, -1, dtype=np.int8)
    known[-32:] = bits[-32:]
    for known_bits, start_state in ((None, -1), (known, 0)):  # the defaults, then both given
        fast = viterbi_decode(soft, known_bits, start_state)
        slow = viterbi_decode_reference(soft, known_bits, start_state)
        assert np.array_equal(fast, slow)
    assert np.count_nonzero(fast != bits) > 0  # the test input really had decoding errors


def test_viterbi_corrects_channel_errors_at_4db() -> None:
    rng = np.random.default_rng(12)
    bits = rng.integers(0, 2, 20000, dtype=np.uint8)
    coded, _ = conv_encode(bits)
    soft = _noisy(coded, 4.0, rng)
    channel_errors = np.count_nonzero((soft < 0) != coded.astype(bool))
    decoded = viterbi_decode(soft, start_state=0)
    assert channel_errors > 500
    assert np.count_nonzero(decoded != bits) < 20


def test_viterbi_of_inverted_symbols_gives_inverted_bits() -> None:
    rng = np.random.default_rng(13)
    bits = rng.integers(0, 2, 300, dtype=np.uint8)
    coded, _ = conv_encode(bits)
    decoded = viterbi_decode(-(1 - 2.0 * coded))
    assert np.array_equal(decoded[10:], 1 - bits[10:])
