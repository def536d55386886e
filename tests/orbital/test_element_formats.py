"""Element uploads: the format is detected and named, never guessed."""

from __future__ import annotations

import pytest

from orbital.omm import detect_format, parse_elements
from tests.support.omm import NOAA19_OMM_KVN as OMM_KVN
from tests.support.omm import omm_xml


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("NOAA 19\n1 33591U ...\n", "TLE/3LE"),
        ('[{"OBJECT_NAME": "X"}]', "OMM JSON"),
        ("OBJECT_NAME,OBJECT_ID,EPOCH\n", "OMM CSV"),
        ("\n\nCCSDS_OEM_VERS = 2.0\n", "CCSDS OEM (KVN)"),
        ("CCSDS_OMM_VERS = 2.0\n", "CCSDS OMM (KVN)"),
        ('<?xml version="1.0"?>\n<oem id="CCSDS_OEM_VERS">', "XML (CCSDS OEM)"),
        ('<?xml version="1.0"?>\n<omm>', "XML (CCSDS OMM)"),
        ("<html>", "XML"),
    ],
)
def test_the_format_of_an_upload_is_detected(text: str, kind: str) -> None:
    assert detect_format(text) == kind


def test_an_oem_is_read_as_an_oem_and_its_errors_name_it_and_the_line() -> None:
    result = parse_elements("\n\nCCSDS_OEM_VERS = 2.0\nMETA_START\n")
    assert result.elements == []
    (rejected,) = result.rejected
    assert (rejected.line_no, rejected.field) == (4, "OBJECT_NAME")
    assert rejected.message == "OEM segment at line 4 has no OBJECT_NAME in its metadata"


def test_an_unsupported_format_is_one_rejection_naming_it_and_its_line() -> None:
    result = parse_elements("\n\n<html>\n")
    assert result.elements == []
    (rejected,) = result.rejected
    assert (rejected.line_no, rejected.field, rejected.value) == (3, "format", "XML")
    assert "the upload is XML (line 3: '<html>')" in rejected.message
    assert "TLE/3LE" in rejected.message


NOAA19_TLE = """NOAA 19
1 33591U 09005A   23185.67452503  .00000194  00000+0  12938-3 0  9995
2 33591  99.0983 231.8800 0013750 189.5465 170.5447 14.12780756742414
"""


def _position_km(text: str) -> tuple[float, ...]:
    (element,) = parse_elements(text).elements
    err, r, _ = element.satrec().sgp4(2460130.5, 0.25)
    assert err == 0
    return tuple(r)


def test_omm_kvn_and_xml_give_the_elements_of_the_tle() -> None:
    assert detect_format(OMM_KVN) == "CCSDS OMM (KVN)"
    assert detect_format(omm_xml(OMM_KVN, ("33591", "33592"))) == "XML (CCSDS OMM)"
    expected = _position_km(NOAA19_TLE)
    assert _position_km(OMM_KVN) == pytest.approx(expected, abs=1e-6)
    result = parse_elements(omm_xml(OMM_KVN, ("33591", "33592")))
    assert [e.norad_id for e in result.elements] == [33591, 33592] and not result.rejected
    err, r, _ = result.elements[0].satrec().sgp4(2460130.5, 0.25)
    assert tuple(r) == pytest.approx(expected, abs=1e-6)


def test_omm_kvn_errors_name_the_field_and_the_line() -> None:
    bad = OMM_KVN.replace("ECCENTRICITY = .0013750", "ECCENTRICITY = 1.5")
    (rejected,) = parse_elements(bad).rejected
    assert (
        rejected.message
        == "OMM KVN line 1 (NORAD 33591) field ECCENTRICITY 1.5 is outside 0..0.999999"
    )
    other = OMM_KVN.replace("MEAN_ELEMENT_THEORY = SGP4", "MEAN_ELEMENT_THEORY = DSST")
    (rejected,) = parse_elements(other).rejected
    assert "MEAN_ELEMENT_THEORY 'DSST' is not read here" in rejected.message
    missing = OMM_KVN.replace("MEAN_MOTION = 14.12780756 [rev/day]\n", "")
    assert "is missing field MEAN_MOTION" in parse_elements(missing).rejected[0].message


def test_broken_omm_xml_is_named_with_its_line() -> None:
    (rejected,) = parse_elements('<?xml version="1.0"?>\n<omm>\n<body>\n</omm>').rejected
    assert rejected.line_no == 4 and rejected.message.startswith("OMM XML is not well-formed")
