"""Satellites as data: the one validator of satellite and transmitter fields
(dsp.satellite), whose modulation and framing names are the receiver's
registry keys."""

import pytest

from dsp.chain import DEMODULATORS, FRAMINGS
from dsp.satellite import SatelliteSpecError, satellite_from_mapping, transmitter_from_mapping

TX = {
    "name": "9k6 FSK downlink",
    "frequency_hz": 437_350_000,
    "modulation": "fsk",
    "baud_rate": 9600,
    "framing": "ax100-asm-golay",
}


def sat(**transmitter: object) -> dict[str, object]:
    return {"name": "TESTSAT", "norad_id": 99999, "transmitters": [{**TX, **transmitter}]}


def test_a_valid_satellite_loads_with_the_framing_defaults() -> None:
    spec = satellite_from_mapping(
        sat(framing="ccsds-concatenated", frame_size=223, convolutional="nasa-dsn"), "x.yaml"
    )
    tx = spec.transmitters[0]
    assert (tx.framing, tx.frame_size, tx.rs_basis, tx.rs_interleave) == (
        "ccsds-concatenated",
        223,
        "dual",
        1,
    )
    assert tx.convolutional == "nasa-dsn"
    assert spec.transmitter("9k6 FSK downlink") is tx


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"modulation": "qam"},
            "transmitters[0] ('9k6 FSK downlink'): field 'modulation' is 'qam'",
        ),
        ({"framing": "AX100 ASM"}, "field 'framing' is 'AX100 ASM', expected one of"),
        ({"baud_rate": -9600}, "field 'baud_rate' is -9600"),
        ({"deviation_hz": 0}, "field 'deviation_hz' is 0"),
        ({"rs_basis": "dual"}, "field 'rs_basis' does not apply to modulation 'fsk' with framing"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"modulation": "afsk"}, "field 'af_carrier_hz' is missing (modulation 'afsk' needs it)"),
        ({"framing": "ccsds-rs"}, "field 'frame_size' is missing (framing 'ccsds-rs' needs it)"),
        (
            {"framing": "ccsds-rs", "frame_size": 1000, "rs_interleave": 4},
            "field 'frame_size' is 1000, expected a multiple of rs_interleave=4",
        ),
    ],
)
def test_bad_transmitter_fields_are_refused_naming_file_transmitter_field_and_value(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(SatelliteSpecError) as info:
        satellite_from_mapping(sat(**change), "groundstation/satellites/data/testsat.yaml")
    text = str(info.value)
    assert text.startswith("groundstation/satellites/data/testsat.yaml: ")
    assert message in text


def test_satellite_level_fields_are_checked() -> None:
    good = sat()
    changes: list[tuple[dict[str, object], str]] = [
        ({"norad_id": "25544"}, "field 'norad_id' is '25544'"),
        ({"transmitters": []}, "field 'transmitters' is [], expected a non-empty list"),
        ({"alternative_names": "ISS"}, "field 'alternative_names' is 'ISS'"),
    ]
    for change, message in changes:
        with pytest.raises(
            SatelliteSpecError, match="sat.yaml: " + message.replace("[", r"\[").replace("]", r"\]")
        ):
            satellite_from_mapping({**good, **change}, "sat.yaml")
    twice = {**good, "transmitters": [TX, TX]}
    with pytest.raises(SatelliteSpecError, match="two transmitters are named '9k6 FSK downlink'"):
        satellite_from_mapping(twice, "sat.yaml")


def test_every_registry_name_is_accepted_by_the_validator() -> None:
    for modulation, demodulator in DEMODULATORS.items():
        extra = {key: 1200 for key in demodulator.required}
        transmitter_from_mapping({**TX, "modulation": modulation, **extra}, "t")
    for framing, framer in FRAMINGS.items():
        extra = {"frame_size": 223} if "frame_size" in framer.required else {}
        assert transmitter_from_mapping({**TX, "framing": framing, **extra}, "t").framing == framing
