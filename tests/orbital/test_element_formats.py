"""Element uploads: the format is detected and named, never guessed."""

from __future__ import annotations

import pytest

from orbital.omm import detect_format, parse_elements


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
