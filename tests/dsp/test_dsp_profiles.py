import pytest

from dsp.profile import ProfileError, builtin_profile, builtin_profile_names, load_profile

GOOD = """
name: test
modulation: qpsk
symbol_rate: 1000000
coding: conv+rs
rs_interleave: 4
frame_length: 892
"""


def test_every_built_in_profile_loads() -> None:
    names = builtin_profile_names()
    assert "ccsds-bpsk-conv-rs" in names
    for name in names:
        assert builtin_profile(name).name == name


def test_a_valid_profile_computes_its_frame_sizes() -> None:
    profile = load_profile(GOOD)
    assert profile.codeblock_length == 892 + 128
    assert profile.channel_bits_per_frame == 2 * 8 * (4 + 1020)


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("modulation: 8psk", "modulation", "8psk"),
        ("rs_interleave: 7", "rs_interleave", "7"),
        ("coding: turbo", "coding", "turbo"),
        ("rrc_alpha: 1.5", "rrc_alpha", "1.5"),
        ("rs_basis: normal", "rs_basis", "normal"),
        ("frame_format: ax25", "frame_format", "ax25"),
        ("randomizer: maybe", "randomizer", "maybe"),
        ("symbol_rate: -5", "symbol_rate", "-5"),
    ],
)
def test_a_bad_field_is_refused_with_its_name_and_value(line: str, field: str, value: str) -> None:
    text = GOOD + line + "\n"
    with pytest.raises(ProfileError) as info:
        load_profile(text)
    assert f"'{field}'" in str(info.value)
    assert value in str(info.value)


def test_frame_length_too_long_for_the_interleave_is_refused() -> None:
    with pytest.raises(ProfileError, match="'frame_length' is 900"):
        load_profile(GOOD.replace("892", "900"))


def test_unknown_and_missing_fields_are_named() -> None:
    with pytest.raises(ProfileError, match="'bitrate'"):
        load_profile(GOOD + "bitrate: 5\n")
    with pytest.raises(ProfileError, match="'symbol_rate' is missing"):
        load_profile("name: x\nmodulation: bpsk\n")


def test_unknown_built_in_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="ccsds-bpsk-conv-rs"):
        builtin_profile("nope")


def test_differential_precoding_with_qpsk_is_refused() -> None:
    with pytest.raises(ProfileError, match="'differential' is true with modulation 'qpsk'"):
        load_profile(GOOD + "differential: true\n")
