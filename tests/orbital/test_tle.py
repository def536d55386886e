from __future__ import annotations

import csv
import io
import json

from sgp4.exporter import export_omm

from orbital.elements import ElementSet
from orbital.omm import parse_element_set, parse_elements, parse_omm_csv, parse_omm_json
from orbital.tle import parse_tle, tle_checksum

ISS_L1 = "1 25544U 98067A   23186.10968024 -.00120065  00000+0 -21640-2 0  9990"
ISS_L2 = "2 25544  51.6388 239.6867 0000584  94.6274 310.4783 15.49533251404577"


def test_sample_catalogue_parses_completely(catalogue: list[ElementSet]) -> None:
    assert len(catalogue) == 8109
    assert len({e.norad_id for e in catalogue}) == 8109


def test_checksum_of_published_lines_is_their_last_digit() -> None:
    assert tle_checksum(ISS_L1) == int(ISS_L1[-1])
    assert tle_checksum(ISS_L2) == int(ISS_L2[-1])


def test_bad_checksum_is_rejected_with_line_number_and_expected_value() -> None:
    bad = ISS_L2[:-1] + str((int(ISS_L2[-1]) + 3) % 10)
    result = parse_tle(["ISS (ZARYA)", ISS_L1, bad])
    assert result.elements == []
    (rej,) = result.rejected
    assert rej.line_no == 3
    assert rej.field == "checksum"
    assert rej.value == bad[-1]
    assert f"checksum is {bad[-1]}, expected {ISS_L2[-1]}" in rej.message
    assert "line 3 of upload" in rej.message


def test_good_records_still_parse_next_to_bad_ones() -> None:
    lines = [
        "GOOD 1",
        ISS_L1,
        ISS_L2,
        "BROKEN",
        ISS_L1[:30] + "X" + ISS_L1[31:],  # corrupts the epoch and the checksum
        ISS_L2,
        "NOAA 19",
        "1 33591U 09005A   23185.67452503  .00000194  00000+0  12938-3 0  9995",
        "2 33591  99.0983 231.8800 0013750 189.5465 170.5447 14.12780756742414",
    ]
    result = parse_tle(lines)
    assert [e.name for e in result.elements] == ["GOOD 1", "NOAA 19"]
    assert len(result.rejected) == 1
    assert result.rejected[0].line_no == 5


def test_catalogue_numbers_must_match_between_lines() -> None:
    other = "2 25545" + ISS_L2[7:68]
    other += str(tle_checksum(other))
    result = parse_tle([ISS_L1, other])
    (rej,) = result.rejected
    assert rej.field == "catalogue number"
    assert rej.value == "25545"
    assert "does not match line 1's 25544" in rej.message


def test_line_pairing_errors_name_the_lines() -> None:
    result = parse_tle([ISS_L2, "NAME", ISS_L1, "OTHER NAME", ISS_L1])
    fields = [(r.line_no, r.field) for r in result.rejected]
    assert (1, "line 1") in fields  # a line 2 with no line 1
    assert (3, "line 2") in fields  # a line 1 followed by a name
    assert (5, "line 2") in fields  # a line 1 at the end of the upload


def test_column_layout_errors_are_reported() -> None:
    short = ISS_L1[:60]
    result = parse_tle(["X", short, ISS_L2])
    assert result.elements == []
    assert result.rejected
    assert any("line 2" in r.message or "malformed" in r.message for r in result.rejected)


def test_epoch_day_out_of_range_is_rejected() -> None:
    line1 = ISS_L1[:20] + "400.10968024" + ISS_L1[32:68]
    line1 += str(tle_checksum(line1))
    (rej,) = parse_tle([line1, ISS_L2]).rejected
    assert rej.field == "epoch day"
    assert rej.value == "400.10968024"


def test_inclination_out_of_range_is_rejected() -> None:
    line2 = ISS_L2[:8] + "191.6388" + ISS_L2[16:68]
    line2 += str(tle_checksum(line2))
    (rej,) = parse_tle([ISS_L1, line2]).rejected
    assert rej.field == "inclination"
    assert rej.value == "191.6388"


def test_3le_with_zero_prefixed_names_and_blank_lines() -> None:
    result = parse_tle(["", "0 ISS (ZARYA)", ISS_L1, ISS_L2, ""])
    (e,) = result.elements
    assert e.name == "ISS (ZARYA)"
    assert e.norad_id == 25544
    assert e.epoch.year == 2023 and e.epoch.timetuple().tm_yday == 186


def test_text_round_trip_gives_the_same_element_set() -> None:
    (e,) = parse_tle(["ISS (ZARYA)", ISS_L1, ISS_L2]).elements
    assert parse_element_set(e.text()) == e


def _omm_records(elements: list[ElementSet]) -> list[dict[str, str]]:
    out = []
    for e in elements:
        fields = export_omm(e.satrec(), e.name or "")
        out.append({k: str(v) for k, v in fields.items()})
    return out


def test_omm_json_and_csv_give_the_same_orbits_as_the_tles(weather: list[ElementSet]) -> None:
    records = _omm_records(weather[:8])
    from_json = parse_omm_json(json.dumps(records))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]))
    writer.writeheader()
    writer.writerows(records)
    from_csv = parse_omm_csv(buf.getvalue().splitlines())
    assert not from_json.rejected and not from_csv.rejected
    for parsed in (from_json.elements, from_csv.elements):
        assert [e.norad_id for e in parsed] == [e.norad_id for e in weather[:8]]
        for tle, omm in zip(weather[:8], parsed, strict=True):
            jd, fr = tle.satrec().jdsatepoch, tle.satrec().jdsatepochF + 0.7
            _, r1, _ = tle.satrec().sgp4(jd, fr)
            _, r2, _ = omm.satrec().sgp4(jd, fr)
            assert max(abs(a - b) for a, b in zip(r1, r2, strict=True)) < 1e-3
    assert parse_elements(json.dumps(records)).elements[0].source_format == "omm"
    assert len(parse_elements(buf.getvalue()).elements) == 8


def test_omm_record_with_bad_field_is_rejected_and_others_kept(
    weather: list[ElementSet],
) -> None:
    records = _omm_records(weather[:3])
    records[1]["MEAN_MOTION"] = "fast"
    del records[2]["EPOCH"]
    result = parse_omm_json(json.dumps(records))
    assert len(result.elements) == 1
    assert [(r.line_no, r.field, r.value) for r in result.rejected] == [
        (2, "MEAN_MOTION", "fast"),
        (3, "EPOCH", ""),
    ]
    assert "MEAN_MOTION 'fast' is not a number" in result.rejected[0].message
