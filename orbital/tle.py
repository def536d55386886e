"""TLE and 3LE parsing from an iterable of lines.

Every record is checked (column layout, checksums, line pairing, matching
catalogue numbers, field ranges, epoch) and a bad record is reported with
the line number, the field and the offending value, while the good records
of the same upload still parse: report, don't abort.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sgp4.api import Satrec

from orbital.elements import ElementSet, epoch_from_satrec


@dataclass(frozen=True)
class RejectedRecord:
    """Why one record of an upload was refused."""

    line_no: int  # 1-based line number in the upload
    field: str
    value: str
    message: str


@dataclass
class ParseResult:
    elements: list[ElementSet] = field(default_factory=list)
    rejected: list[RejectedRecord] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.elements.extend(other.elements)
        self.rejected.extend(other.rejected)


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 columns: digits count, '-' counts 1."""
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


class _Reject(Exception):
    def __init__(self, line_no: int, field_name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.record = RejectedRecord(line_no, field_name, value, message)


def _alpha5_to_int(text: str) -> int:
    """Catalogue number, allowing the Alpha-5 form (A0000 = 100000, I and O skipped)."""
    text = text.strip()
    if text and text[0].isalpha():
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        head = text[0].upper()
        if head not in letters or not text[1:].isdigit():
            raise ValueError(text)
        return (letters.index(head) + 10) * 10000 + int(text[1:])
    return int(text)


# (name, first column, last column) 1-based inclusive, and a validator.
_LINE1_NUMERIC = (
    ("epoch year", 19, 20),
    ("epoch day", 21, 32),
    ("first derivative of mean motion", 34, 43),
)
_LINE2_FIELDS = (
    ("inclination", 9, 16, 0.0, 180.0),
    ("right ascension of ascending node", 18, 25, 0.0, 360.0),
    ("argument of perigee", 35, 42, 0.0, 360.0),
    ("mean anomaly", 44, 51, 0.0, 360.0),
    ("mean motion", 53, 63, 0.0, 20.0),
)


def _col(line: str, first: int, last: int) -> str:
    return line[first - 1 : last]


def _where(which: int, line_no: int) -> str:
    return f"TLE line {which} (line {line_no} of upload)"


def _check_line(line: str, which: int, line_no: int) -> None:
    where = _where(which, line_no)
    if len(line) != 69:
        raise _Reject(
            line_no,
            "length",
            str(len(line)),
            f"{where} has {len(line)} characters, expected 69",
        )
    if line[0] != str(which) or line[1] != " ":
        raise _Reject(
            line_no,
            "line number",
            line[:2],
            f"{where} must start with '{which} ', found {line[:2]!r}",
        )
    check = line[68]
    if not check.isdigit():
        raise _Reject(
            line_no,
            "checksum",
            check,
            f"{where} checksum column 69 is {check!r}, expected a digit",
        )
    expected = tle_checksum(line)
    if int(check) != expected:
        raise _Reject(
            line_no,
            "checksum",
            check,
            f"{where} checksum is {check}, expected {expected}",
        )


def _parse_pair(name: str | None, l1: str, n1: int, l2: str, n2: int) -> ElementSet:
    _check_line(l1, 1, n1)
    _check_line(l2, 2, n2)
    cat1_text, cat2_text = _col(l1, 3, 7), _col(l2, 3, 7)
    try:
        cat1 = _alpha5_to_int(cat1_text)
    except ValueError:
        raise _Reject(
            n1,
            "catalogue number",
            cat1_text,
            f"{_where(1, n1)} catalogue number {cat1_text!r} is not a number",
        ) from None
    try:
        cat2 = _alpha5_to_int(cat2_text)
    except ValueError:
        raise _Reject(
            n2,
            "catalogue number",
            cat2_text,
            f"{_where(2, n2)} catalogue number {cat2_text!r} is not a number",
        ) from None
    if cat1 != cat2:
        raise _Reject(
            n2,
            "catalogue number",
            cat2_text.strip(),
            f"{_where(2, n2)} catalogue number {cat2_text.strip()} does not match "
            f"line 1's {cat1_text.strip()} (line {n1})",
        )
    for fname, a, b in _LINE1_NUMERIC:
        raw = _col(l1, a, b)
        try:
            float(raw)
        except ValueError:
            raise _Reject(
                n1, fname, raw.strip(), f"{_where(1, n1)} {fname} {raw.strip()!r} is not a number"
            ) from None
    day_text = _col(l1, 21, 32)
    year2 = int(_col(l1, 19, 20))
    year = 1900 + year2 if year2 >= 57 else 2000 + year2
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    day = float(day_text)
    if not 1.0 <= day < (367.0 if leap else 366.0):
        raise _Reject(
            n1,
            "epoch day",
            day_text.strip(),
            f"{_where(1, n1)} epoch day {day_text.strip()} is outside 1..{366 if leap else 365} "
            f"for year {year}",
        )
    for fname, a, b, lo, hi in _LINE2_FIELDS:
        raw = _col(l2, a, b)
        try:
            value = float(raw)
        except ValueError:
            raise _Reject(
                n2, fname, raw.strip(), f"{_where(2, n2)} {fname} {raw.strip()!r} is not a number"
            ) from None
        if not lo <= value <= hi and not (fname == "mean motion" and value > 0.0):
            raise _Reject(
                n2,
                fname,
                raw.strip(),
                f"{_where(2, n2)} {fname} {raw.strip()} is outside {lo:g}..{hi:g}",
            )
        if fname == "mean motion" and value <= 0.0:
            raise _Reject(
                n2, fname, raw.strip(), f"{_where(2, n2)} mean motion {raw.strip()} must be > 0"
            )
    ecc_text = _col(l2, 27, 33)
    if not ecc_text.strip().isdigit():
        raise _Reject(
            n2,
            "eccentricity",
            ecc_text.strip(),
            f"{_where(2, n2)} eccentricity {ecc_text.strip()!r} is not 7 digits "
            "(implied leading decimal point)",
        )
    try:
        sat = Satrec.twoline2rv(l1, l2)
    except (ValueError, RuntimeError) as exc:
        raise _Reject(n1, "elements", l1.strip(), f"{_where(1, n1)} is unreadable: {exc}") from None
    return ElementSet(
        norad_id=cat1,
        name=name,
        epoch=epoch_from_satrec(sat),
        source_format="tle",
        line1=l1,
        line2=l2,
    )


def _is_line(text: str, which: int) -> bool:
    return len(text) >= 2 and text[0] == str(which) and text[1] == " " and len(text) > 60


def parse_tle(lines: Iterable[str | bytes]) -> ParseResult:
    """Parse TLE (2-line) and 3LE (name + 2 lines) records from ``lines``.

    Blank lines are ignored; ``0 NAME`` name lines are accepted. Returns every
    good record and one :class:`RejectedRecord` per bad one.
    """
    result = ParseResult()
    name: str | None = None
    pending: tuple[str, int] | None = None  # line 1 waiting for its line 2

    def reject(rec: RejectedRecord) -> None:
        result.rejected.append(rec)

    for line_no, raw in enumerate(lines, start=1):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        text = text.rstrip("\r\n").rstrip()
        if not text.strip():
            continue
        if _is_line(text, 1):
            if pending is not None:
                reject(
                    RejectedRecord(
                        pending[1],
                        "line 2",
                        "",
                        f"TLE line 1 at line {pending[1]} of upload has no line 2 after it",
                    )
                )
                name = None
            pending = (text, line_no)
            continue
        if _is_line(text, 2):
            if pending is None:
                reject(
                    RejectedRecord(
                        line_no,
                        "line 1",
                        "",
                        f"TLE line 2 at line {line_no} of upload has no line 1 before it",
                    )
                )
                name = None
                continue
            try:
                result.elements.append(_parse_pair(name, pending[0], pending[1], text, line_no))
            except _Reject as exc:
                reject(exc.record)
            pending = None
            name = None
            continue
        # Anything else is a name line (3LE); a dangling line 1 before it is an error.
        if pending is not None:
            reject(
                RejectedRecord(
                    pending[1],
                    "line 2",
                    text.strip()[:30],
                    f"TLE line 1 at line {pending[1]} of upload is followed by "
                    f"{text.strip()[:30]!r} at line {line_no}, not by its line 2",
                )
            )
            pending = None
        stripped = text.strip()
        if stripped[:2] == "0 ":
            stripped = stripped[2:].strip()
        if stripped[:1] in ("1", "2") and len(stripped) > 30:
            reject(
                RejectedRecord(
                    line_no,
                    "line layout",
                    stripped[:20],
                    f"line {line_no} of upload looks like a TLE line but is malformed: "
                    f"{stripped[:40]!r}",
                )
            )
            name = None
            continue
        name = stripped
    if pending is not None:
        reject(
            RejectedRecord(
                pending[1],
                "line 2",
                "",
                f"TLE line 1 at line {pending[1]} of upload has no line 2 after it",
            )
        )
    return result
