"""OMM (CCSDS Orbit Mean-elements Message) in CelesTrak's JSON and CSV forms.

Also :func:`parse_elements`, which accepts any supported text (TLE, 3LE,
OMM JSON, OMM CSV) and dispatches on its content, and
:func:`parse_element_set`, the inverse of ``ElementSet.text()``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sgp4.api import Satrec
from sgp4.omm import initialize as omm_initialize

from orbital.elements import ElementSet
from orbital.errors import ElementSetError
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


#: The formats ``parse_elements`` reads, by the name ``detect_format`` gives.
SUPPORTED_FORMATS = ("TLE/3LE", "OMM JSON", "OMM CSV")


def detect_format(text: str) -> str:
    """The name of the format ``text`` is in, from its first non-blank line:
    one of ``SUPPORTED_FORMATS``, or a format recognized but not read here
    ("CCSDS OEM (KVN)", "CCSDS OMM (KVN)", "XML (CCSDS OEM)", "XML (CCSDS
    OMM)", "XML"), so errors can name it instead of guessing another."""
    stripped = text.lstrip("\ufeff \t\r\n")
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


def parse_elements(text: str | bytes) -> ParseResult:
    """Parse any supported element text: TLE/3LE, OMM JSON or OMM CSV
    (``detect_format``); a format recognized but not supported is one
    rejection naming it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    stripped = text.lstrip()
    kind = detect_format(text)
    if kind == "OMM JSON":
        return parse_omm_json(stripped)
    if kind == "OMM CSV":
        return parse_omm_csv(stripped.splitlines())
    if kind != "TLE/3LE":
        line_no = text[: len(text) - len(stripped)].count("\n") + 1
        first = stripped.splitlines()[0].strip()
        message = (
            f"the upload is {kind} (line {line_no}: {first[:40]!r}), a format not read "
            f"here; send {', '.join(SUPPORTED_FORMATS)}"
        )
        return ParseResult(rejected=[RejectedRecord(line_no, "format", kind, message)])
    return parse_tle(text.splitlines())


def parse_element_set(text: str) -> ElementSet:
    """The one element set in ``text`` (inverse of ``ElementSet.text()``);
    raises ``ElementSetError`` naming the problem."""
    result = parse_elements(text)
    if result.rejected:
        raise ElementSetError(result.rejected[0].message)
    if len(result.elements) != 1:
        raise ElementSetError(f"expected exactly one element set, found {len(result.elements)}")
    return result.elements[0]
