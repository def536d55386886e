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


def _catalogue_number(line: str, which: int, line_no: int) -> int:
    """Columns 3-7 of a TLE line as a catalogue number (Alpha-5 allowed)."""
    text = _col(line, 3, 7)
    try:
        return _alpha5_to_int(text)
    except ValueError:
        raise _Reject(
            line_no,
            "catalogue number",
            text,
            f"{_where(which, line_no)} catalogue number {text!r} is not a number",
        ) from None


def _check_catalogue_numbers(l1: str, n1: int, l2: str, n2: int) -> int:
    """The catalogue number both lines carry; a mismatch is refused."""
    cat1 = _catalogue_number(l1, 1, n1)
    cat2 = _catalogue_number(l2, 2, n2)
    if cat1 != cat2:
        cat1_text, cat2_text = _col(l1, 3, 7).strip(), _col(l2, 3, 7).strip()
        raise _Reject(
            n2,
            "catalogue number",
            cat2_text,
            f"{_where(2, n2)} catalogue number {cat2_text} does not match "
            f"line 1's {cat1_text} (line {n1})",
        )
    return cat1


def _check_line1_fields(l1: str, n1: int) -> None:
    """Line 1's numeric fields are numbers and its epoch day is inside its year."""
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


def _check_line2_angles(l2: str, n2: int) -> None:
    """Line 2's angles and mean motion are numbers inside their ranges."""
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


def _check_eccentricity(l2: str, n2: int) -> None:
    ecc_text = _col(l2, 27, 33)
    if not ecc_text.strip().isdigit():
        raise _Reject(
            n2,
            "eccentricity",
            ecc_text.strip(),
            f"{_where(2, n2)} eccentricity {ecc_text.strip()!r} is not 7 digits "
            "(implied leading decimal point)",
        )


def _parse_pair(name: str | None, l1: str, n1: int, l2: str, n2: int) -> ElementSet:
    _check_line(l1, 1, n1)
    _check_line(l2, 2, n2)
    cat1 = _check_catalogue_numbers(l1, n1, l2, n2)
    _check_line1_fields(l1, n1)
    _check_line2_angles(l2, n2)
    _check_eccentricity(l2, n2)
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


class _TleReader:
    """Pairs lines 1 and 2 (with an optional name line before them) one line at a time."""

    def __init__(self) -> None:
        self.result = ParseResult()
        self.name: str | None = None
        self.pending: tuple[str, int] | None = None  # line 1 waiting for its line 2

    def reject(self, rec: RejectedRecord) -> None:
        self.result.rejected.append(rec)

    def _reject_unpaired_line1(self) -> None:
        assert self.pending is not None
        self.reject(
            RejectedRecord(
                self.pending[1],
                "line 2",
                "",
                f"TLE line 1 at line {self.pending[1]} of upload has no line 2 after it",
            )
        )

    def line1(self, text: str, line_no: int) -> None:
        if self.pending is not None:
            self._reject_unpaired_line1()
            self.name = None
        self.pending = (text, line_no)

    def line2(self, text: str, line_no: int) -> None:
        if self.pending is None:
            self.reject(
                RejectedRecord(
                    line_no,
                    "line 1",
                    "",
                    f"TLE line 2 at line {line_no} of upload has no line 1 before it",
                )
            )
            self.name = None
            return
        try:
            self.result.elements.append(
                _parse_pair(self.name, self.pending[0], self.pending[1], text, line_no)
            )
        except _Reject as exc:
            self.reject(exc.record)
        self.pending = None
        self.name = None

    def other_line(self, text: str, line_no: int) -> None:
        """A name line (3LE); a dangling line 1 before it is an error."""
        if self.pending is not None:
            self.reject(
                RejectedRecord(
                    self.pending[1],
                    "line 2",
                    text.strip()[:30],
                    f"TLE line 1 at line {self.pending[1]} of upload is followed by "
                    f"{text.strip()[:30]!r} at line {line_no}, not by its line 2",
                )
            )
            self.pending = None
        stripped = text.strip()
        if stripped[:2] == "0 ":
            stripped = stripped[2:].strip()
        if stripped[:1] in ("1", "2") and len(stripped) > 30:
            self.reject(
                RejectedRecord(
                    line_no,
                    "line layout",
                    stripped[:20],
                    f"line {line_no} of upload looks like a TLE line but is malformed: "
                    f"{stripped[:40]!r}",
                )
            )
            self.name = None
            return
        self.name = stripped

    def finish(self) -> ParseResult:
        if self.pending is not None:
            self._reject_unpaired_line1()
        return self.result


def parse_tle(lines: Iterable[str | bytes]) -> ParseResult:
    """Parse TLE (2-line) and 3LE (name + 2 lines) records from ``lines``.

    Blank lines are ignored; ``0 NAME`` name lines are accepted. Returns every
    good record and one :class:`RejectedRecord` per bad one.
    """
    reader = _TleReader()
    for line_no, raw in enumerate(lines, start=1):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        text = text.rstrip("\r\n").rstrip()
        if not text.strip():
            continue
        if _is_line(text, 1):
            reader.line1(text, line_no)
        elif _is_line(text, 2):
            reader.line2(text, line_no)
        else:
            reader.other_line(text, line_no)
    return reader.finish()
