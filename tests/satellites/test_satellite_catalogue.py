"""The satellite catalogue shipped with groundstation: one YAML file per
satellite, loaded and validated in one place."""

from pathlib import Path

import pytest

from groundstation.satellites import (
    SatelliteSpecError,
    UnknownSatelliteError,
    load_catalogue,
    parse_satellite_file,
)

# the satellites issue 14 asks for, with their NORAD ids and transmitter counts
EXPECTED = {
    "1KUNS-PF": (43466, 2),
    "AISAT": (40054, 1),
    "AISTECHSAT-3": (44103, 2),
    "AO-73": (39444, 1),
    "Astrocast 0.1": (43798, 3),
    "BY70-1": (41909, 1),
    "CA03": (42734, 2),
    "D-SAT": (42794, 1),
    "DUCHIFAT-3": (44854, 1),
    "EntrySat": (44429, 1),
    "FACSAT-1": (43721, 1),
    "FMN-1": (43192, 1),
    "GALASSIA": (41170, 1),
    "GOMX-3": (40949, 1),
    "IL01": (42718, 1),
    "INNOSAT-2": (43738, 1),
    "ITASAT 1": (43786, 1),
    "KR01": (42714, 2),
    "KS-1Q": (41847, 1),
    "Luojia-1": (43485, 1),
    "PW-Sat2": (43814, 2),
    "Quetzal-1": (45598, 1),
    "Shaonian Xing": (43199, 1),
    "Suomi 100": (43804, 1),
    "TRISAT": (46280, 1),
    "TW-1B": (40927, 1),
    "TW-1C": (40926, 1),
    "TY 4-01": (43669, 1),
    "TY-2": (43155, 1),
    "UPMSat 2": (46276, 1),
    "US01": (42721, 1),
    # beyond the list: AO-40 FEC as Manchester DBPSK (the AO-40 beacon's format)
    "QO-100": (43700, 1),
}


def test_the_built_in_catalogue_holds_every_satellite_with_its_transmitters() -> None:
    catalogue = load_catalogue()
    found = {s.name: (s.norad_id, len(s.transmitters)) for s in catalogue.satellites}
    assert found == EXPECTED


def test_transmitter_options_are_read_as_written() -> None:
    catalogue = load_catalogue()
    aisat = catalogue.find("AISAT").transmitters[0]
    assert (aisat.modulation, aisat.framing, aisat.af_carrier_hz, aisat.deviation_hz) == (
        "afsk",
        "u482c",
        3600,
        -1200,
    )
    astro = catalogue.find(43798).transmitter("9k6 FSK downlink")
    assert (astro.framing, astro.frame_size, astro.rs_interleave, astro.rs_basis) == (
        "ccsds-rs",
        1115,
        5,
        "dual",
    )
    trisat = catalogue.find("trisat").transmitters[0]
    assert (trisat.baud_rate, trisat.convolutional) == (9766, "nasa-dsn")


def test_find_takes_a_norad_id_or_a_name_in_any_spelling() -> None:
    catalogue = load_catalogue()
    assert catalogue.find("41909").name == "BY70-1"
    assert catalogue.find("by70 1").name == "BY70-1"
    assert catalogue.find("FUNcube-1").name == "AO-73"  # an alternative name
    with pytest.raises(UnknownSatelliteError, match="'SPUTNIK' is not in the catalogue.*BY70-1"):
        catalogue.find("SPUTNIK")


@pytest.mark.parametrize(
    ("key", "close"),
    [
        ("BY70", ["BY70-1"]),  # part of a name
        ("suomi", ["Suomi 100"]),
        ("Funcube", ["AO-73"]),  # part of an alternative name
        ("trisatt", ["TRISAT"]),  # a typo
        ("41908", ["BY70-1"]),  # one digit of a NORAD id wrong
        ("4190", ["BY70-1"]),  # one missing
    ],
)
def test_an_unknown_key_names_the_satellites_close_to_it(key: str, close: list[str]) -> None:
    catalogue = load_catalogue()
    with pytest.raises(UnknownSatelliteError) as exc:
        catalogue.find(key)
    assert [s.name for s in catalogue.close_to(key)][: len(close)] == close
    assert str(exc.value).startswith(f"satellite {key!r} is not in the catalogue; did you mean ")
    assert "give a NORAD id or one of" not in str(exc.value)  # not the whole list
    assert exc.value.close[0].startswith(close[0])


def test_a_bad_file_is_refused_with_its_name_field_and_value(tmp_path: Path) -> None:
    (tmp_path / "mysat.yaml").write_text(
        "name: MYSAT\nnorad_id: 99990\ntransmitters:\n"
        "  - name: downlink\n    frequency_hz: 437000000\n    modulation: fsk\n"
        "    baud_rate: 9600\n    framing: ax100-asm-golay\n    rs_interleave: 2\n"
    )
    with pytest.raises(SatelliteSpecError) as info:
        load_catalogue([tmp_path])
    assert str(info.value).startswith(f"{tmp_path / 'mysat.yaml'}: transmitters[0] ('downlink'): ")
    assert "field 'rs_interleave' does not apply" in str(info.value)


def test_a_norad_id_claimed_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "copy.yaml").write_text(
        "name: NOT-BY70\nnorad_id: 41909\ntransmitters:\n"
        "  - {name: d, frequency_hz: 437000000, modulation: bpsk, baud_rate: 9600, framing: ax25}\n"
    )
    with pytest.raises(
        SatelliteSpecError, match=r"copy.yaml: NORAD id 41909 is already used by .*by70-1.yaml"
    ):
        load_catalogue([tmp_path])


def test_yaml_that_does_not_parse_names_the_file() -> None:
    with pytest.raises(SatelliteSpecError, match="^broken.yaml: not valid YAML"):
        parse_satellite_file("name: [unclosed", "broken.yaml")


def test_a_frequency_yaml_reads_as_text_gets_a_hint() -> None:
    text = (
        "name: X\nnorad_id: 99991\ntransmitters:\n"
        "  - {name: d, frequency_hz: 437e6, modulation: fsk, baud_rate: 9600, framing: ax25}\n"
    )
    with pytest.raises(SatelliteSpecError, match=r"'437e6'.*YAML read it as text"):
        parse_satellite_file(text, "x.yaml")
