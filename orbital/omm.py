"""OMM (CCSDS Orbit Mean-elements Message) in CelesTrak's JSON and CSV forms
and in CCSDS KVN and XML.

Also :func:`parse_elements`, which accepts any supported text (TLE, 3LE,
OMM JSON/CSV/KVN/XML, CCSDS OEM KVN/XML, az/el tables:
``SUPPORTED_FORMATS``), detects its
format from its content and dispatches on it, and
:func:`parse_element_set`, the inverse of ``ElementSet.text()``.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sgp4.api import Satrec
from sgp4.omm import initialize as omm_initialize

from orbital.elements import ElementSet
from orbital.errors import ElementSetError
from orbital.stations import Station
from orbital.tle import ParseResult, RejectedRecord, parse_tle

REQUIRED_FIELDS = (
    "OBJECT_ID",
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)
_DEFAULTS = {
    "CLASSIFICATION_TYPE": "U",
    "EPHEMERIS_TYPE": "0",
    "ELEMENT_SET_NO": "999",
    "REV_AT_EPOCH": "0",
}
_NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "MEAN_MOTION": (1e-9, 100.0),
    "ECCENTRICITY": (0.0, 0.999999),
    "INCLINATION": (0.0, 180.0),
    "RA_OF_ASC_NODE": (0.0, 360.0),
    "ARG_OF_PERICENTER": (0.0, 360.0),
    "MEAN_ANOMALY": (0.0, 360.0),
    "BSTAR": (-1e3, 1e3),
    "MEAN_MOTION_DOT": (-1e3, 1e3),
    "MEAN_MOTION_DDOT": (-1e3, 1e3),
}


def _parse_epoch(text: str) -> datetime:
    text = text.strip().rstrip("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(text)


def _normalised(fields: Mapping[str, Any]) -> dict[str, str]:
    """Upper-case keys, stripped string values, defaults for the optional fields."""
    norm = {
        str(k).strip().upper(): ("" if v is None else str(v).strip()) for k, v in fields.items()
    }
    for key, value in _DEFAULTS.items():
        if not norm.get(key):
            norm[key] = value
    return norm


def _check_fields(norm: Mapping[str, str], line_no: int, label: str) -> None:
    """Every required field is present and every numeric field inside its range."""
    for key in REQUIRED_FIELDS:
        if not norm.get(key):
            raise _OmmReject(line_no, key, "", f"{label} is missing field {key}")
    for key, (lo, hi) in _NUMERIC_RANGES.items():
        try:
            number = float(norm[key])
        except ValueError:
            raise _OmmReject(
                line_no, key, norm[key], f"{label} field {key} {norm[key]!r} is not a number"
            ) from None
        if not lo <= number <= hi:
            raise _OmmReject(
                line_no,
                key,
                norm[key],
                f"{label} field {key} {norm[key]} is outside {lo:g}..{hi:g}",
            )


def _norad_id(norm: Mapping[str, str], line_no: int, label: str) -> int:
    try:
        return int(norm["NORAD_CAT_ID"])
    except ValueError:
        raise _OmmReject(
            line_no,
            "NORAD_CAT_ID",
            norm["NORAD_CAT_ID"],
            f"{label} field NORAD_CAT_ID {norm['NORAD_CAT_ID']!r} is not an integer",
        ) from None


def _epoch(norm: Mapping[str, str], line_no: int, label: str) -> datetime:
    try:
        return _parse_epoch(norm["EPOCH"])
    except ValueError:
        raise _OmmReject(
            line_no,
            "EPOCH",
            norm["EPOCH"],
            f"{label} field EPOCH {norm['EPOCH']!r} is not an ISO 8601 time like "
            "2023-07-04T11:36:17.597184",
        ) from None


def _canonical_integers(norm: dict[str, str], line_no: int, label: str) -> None:
    """Rewrite the integer fields as plain integers (``"12.0"`` becomes ``"12"``)."""
    for key in ("EPHEMERIS_TYPE", "ELEMENT_SET_NO", "REV_AT_EPOCH"):
        try:
            norm[key] = str(int(float(norm[key])))
        except ValueError:
            raise _OmmReject(
                line_no, key, norm[key], f"{label} field {key} {norm[key]!r} is not an integer"
            ) from None


def _record(fields: Mapping[str, Any], line_no: int, where: str) -> ElementSet:
    norm = _normalised(fields)
    label = f"{where} (NORAD {norm.get('NORAD_CAT_ID') or '?'})"
    _check_fields(norm, line_no, label)
    norad = _norad_id(norm, line_no, label)
    epoch = _epoch(norm, line_no, label)
    norm["EPOCH"] = epoch.strftime("%Y-%m-%dT%H:%M:%S.%f")
    _canonical_integers(norm, line_no, label)
    try:
        omm_initialize(Satrec(), norm)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise _OmmReject(line_no, "elements", "", f"{label} is unusable: {exc}") from None
    name = norm.get("OBJECT_NAME") or None
    return ElementSet(
        norad_id=norad,
        name=name,
        epoch=epoch,
        source_format="omm",
        line1=None,
        line2=None,
        omm=norm,
    )


class _OmmReject(Exception):
    def __init__(self, line_no: int, field_name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.record = RejectedRecord(line_no, field_name, value, message)


def parse_omm_json(text: str | bytes) -> ParseResult:
    """Parse CelesTrak OMM JSON: one object or a list of objects."""
    result = ParseResult()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        result.rejected.append(
            RejectedRecord(exc.lineno, "json", exc.msg, f"OMM JSON is not valid JSON: {exc}")
        )
        return result
    except (ValueError, RecursionError) as exc:  # a number too long, nesting too deep
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        result.rejected.append(
            RejectedRecord(1, "json", reason[:80], f"OMM JSON cannot be read: {reason}")
        )
        return result
    records = data if isinstance(data, list) else [data]
    for index, rec in enumerate(records, start=1):
        if not isinstance(rec, Mapping):
            result.rejected.append(
                RejectedRecord(
                    index, "record", type(rec).__name__, f"OMM record {index} is not an object"
                )
            )
            continue
        try:
            result.elements.append(_record(rec, index, f"OMM record {index}"))
        except _OmmReject as exc:
            result.rejected.append(exc.record)
    return result


def parse_omm_csv(lines: Iterable[str]) -> ParseResult:
    """Parse CelesTrak OMM CSV (a header row of OMM keywords, one record a row)."""
    result = ParseResult()
    reader = csv.DictReader(line for line in lines if line.strip())
    for row in reader:
        line_no = reader.line_num
        try:
            result.elements.append(_record(row, line_no, f"OMM CSV line {line_no}"))
        except _OmmReject as exc:
            result.rejected.append(exc.record)
    return result


_KVN_UNITS = re.compile(r"\s*\[[^\]]*\]\s*$")


def parse_omm_kvn(lines: Iterable[str]) -> ParseResult:
    """Parse CCSDS OMM KVN (502.0-B): one or more messages, each from its
    ``CCSDS_OMM_VERS`` line; ``KEY = value [unit]`` lines, comments and
    section markers skipped. A record's line number is its first line."""
    result = ParseResult()
    records: list[tuple[int, dict[str, str]]] = []
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.upper().startswith("COMMENT") or "=" not in text:
            continue
        key, value = (part.strip() for part in text.split("=", 1))
        key = key.upper()
        if key == "CCSDS_OMM_VERS" or not records:
            records.append((line_no, {}))
        records[-1][1][key] = _KVN_UNITS.sub("", value)
    for line_no, fields in records:
        try:
            result.elements.append(_theory_checked(fields, line_no, f"OMM KVN line {line_no}"))
        except _OmmReject as exc:
            result.rejected.append(exc.record)
    return result


def _theory_checked(fields: Mapping[str, str], line_no: int, where: str) -> ElementSet:
    """``_record`` for a CCSDS OMM, whose mean elements must be SGP4's (TLE)."""
    theory = fields.get("MEAN_ELEMENT_THEORY", "SGP4").strip().upper()
    if theory not in ("SGP4", "SGP/SGP4"):
        raise _OmmReject(
            line_no,
            "MEAN_ELEMENT_THEORY",
            theory,
            f"{where}: MEAN_ELEMENT_THEORY {theory!r} is not read here; only SGP4 mean "
            "elements (TLE-compatible) are",
        )
    return _record(fields, line_no, where)


def parse_omm_xml(text: str) -> ParseResult:
    """Parse CCSDS OMM XML: one ``<omm>`` or an ``<ndm>`` of them (CelesTrak's
    XML); record numbers count the ``<omm>`` elements."""
    result = ParseResult()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        result.rejected.append(
            RejectedRecord(line, "xml", str(exc)[:80], f"OMM XML is not well-formed: {exc}")
        )
        return result
    messages = [e for e in root.iter() if _local(e.tag).lower() == "omm"]
    if not messages:
        result.rejected.append(
            RejectedRecord(1, "xml", _local(root.tag), "OMM XML holds no <omm> element")
        )
    for index, message in enumerate(messages, start=1):
        fields = {
            _local(e.tag).upper(): (e.text or "").strip()
            for e in message.iter()
            if len(e) == 0 and e is not message
        }
        try:
            result.elements.append(_theory_checked(fields, index, f"OMM XML record {index}"))
        except _OmmReject as exc:
            result.rejected.append(exc.record)
    return result


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _leading_line(text: str) -> int:
    stripped = text.lstrip("\ufeff \t\r\n")
    return text[: len(text) - len(stripped)].count("\n") + 1


def _parse_json(text: str, options: ParseOptions) -> ParseResult:
    return parse_omm_json(text.lstrip("\ufeff \t\r\n"))


def _parse_csv(text: str, options: ParseOptions) -> ParseResult:
    return parse_omm_csv(text.lstrip("\ufeff \t\r\n").splitlines())


def _parse_omm_kvn(text: str, options: ParseOptions) -> ParseResult:
    return parse_omm_kvn(text.splitlines())


def _parse_omm_xml(text: str, options: ParseOptions) -> ParseResult:
    return parse_omm_xml(text.lstrip("\ufeff \t\r\n"))


def _parse_oem_kvn(text: str, options: ParseOptions) -> ParseResult:
    from orbital.oem import parse_oem_kvn

    return parse_oem_kvn(text.splitlines(), norad_id=options.norad_id)


def _parse_oem_xml(text: str, options: ParseOptions) -> ParseResult:
    from orbital.oem import parse_oem_xml

    return parse_oem_xml(text.lstrip("\ufeff \t\r\n"), norad_id=options.norad_id)


def _parse_tle(text: str, options: ParseOptions) -> ParseResult:
    return parse_tle(text.splitlines())


def _parse_azel(text: str, options: ParseOptions) -> ParseResult:
    from orbital.azel import parse_azel_json

    return parse_azel_json(text, norad_id=options.norad_id, stations=options.stations)


@dataclass(frozen=True)
class ParseOptions:
    """What some formats need besides the text: the satellite of an OEM or
    az/el table that does not name its NORAD id, the stations an az/el
    table may name."""

    norad_id: int | None = None
    stations: Mapping[str, Station] = field(default_factory=dict)


#: The parser of each format ``parse_elements`` reads, by the name
#: ``detect_format`` gives it.
PARSERS: dict[str, Callable[[str, ParseOptions], ParseResult]] = {
    "TLE/3LE": _parse_tle,
    "OMM JSON": _parse_json,
    "OMM CSV": _parse_csv,
    "CCSDS OMM (KVN)": _parse_omm_kvn,
    "XML (CCSDS OMM)": _parse_omm_xml,
    "CCSDS OEM (KVN)": _parse_oem_kvn,
    "XML (CCSDS OEM)": _parse_oem_xml,
    "AZ/EL JSON": _parse_azel,
}
#: The formats ``parse_elements`` reads, by the name ``detect_format`` gives.
SUPPORTED_FORMATS = tuple(PARSERS)


def detect_format(text: str) -> str:
    """The name of the format ``text`` is in, from its first non-blank line:
    one of ``SUPPORTED_FORMATS``, or "XML" (XML that is neither an OEM nor
    an OMM), so errors can name it instead of guessing another."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("{") and '"azElSegmentList"' in stripped[:100_000]:
        return "AZ/EL JSON"
    if stripped.startswith(("[", "{")):
        return "OMM JSON"
    first = stripped.splitlines()[0].strip().upper() if stripped else ""
    if stripped.startswith("<"):
        head = stripped[:2000].upper()
        for kind in ("OEM", "OMM"):
            if f"<{kind}" in head or f"CCSDS_{kind}_VERS" in head:
                return f"XML (CCSDS {kind})"
        return "XML"
    for kind in ("OEM", "OMM"):
        if first.startswith(f"CCSDS_{kind}_VERS"):
            return f"CCSDS {kind} (KVN)"
    if "OBJECT_NAME" in first or "NORAD_CAT_ID" in first:
        return "OMM CSV"
    return "TLE/3LE"


def parse_elements(
    text: str | bytes,
    *,
    norad_id: int | None = None,
    stations: Mapping[str, Station] | None = None,
) -> ParseResult:
    """Parse any supported ephemeris text (``detect_format`` names it; see
    ``SUPPORTED_FORMATS``); a format recognized but not read is one
    rejection naming it and its first line. ``norad_id`` is the satellite
    of an OEM whose OBJECT_ID is not a NORAD catalogue number (or of an
    az/el table without ``noradId``); ``stations`` those an az/el table
    may name."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    kind = detect_format(text)
    parser = PARSERS.get(kind)
    if parser is None:
        line_no = _leading_line(text)
        first = text.lstrip("\ufeff \t\r\n").splitlines()[0].strip()
        message = (
            f"the upload is {kind} (line {line_no}: {first[:40]!r}), a format not read "
            f"here; send {', '.join(SUPPORTED_FORMATS)}"
        )
        return ParseResult(rejected=[RejectedRecord(line_no, "format", kind, message)])
    return parser(text, ParseOptions(norad_id, stations or {}))


def parse_element_set(text: str) -> ElementSet:
    """The one element set in ``text`` (inverse of ``ElementSet.text()``);
    raises ``ElementSetError`` naming the problem."""
    result = parse_elements(text)
    if result.rejected:
        raise ElementSetError(result.rejected[0].message)
    if len(result.elements) != 1:
        raise ElementSetError(f"expected exactly one element set, found {len(result.elements)}")
    return result.elements[0]
