"""Az/el ephemerides: a pointing table for one station (AWS Ground Station's
azimuth-elevation ephemeris), usable wherever an element set is.

The upload is AWS's ``AzElSegments`` JSON with the station named::

    {"groundStation": "svalbard", "angleUnit": "DEGREE_ANGLE",
     "azElSegmentList": [{"referenceEpoch": "2023-07-04T18:00:00Z",
                          "validTimeRange": {"startTime": ..., "endTime": ...},
                          "azElList": [{"dt": 0.0, "az": 12.5, "el": 3.0}, ...]}]}

(``angleUnit`` ``DEGREE_ANGLE`` or ``RADIAN``; ``dt`` seconds after the
reference epoch, increasing; a row may give ``range_km``.)

Each table row becomes the Earth-fixed point along the line of sight from
the station at the row's range (``NOMINAL_RANGE_KM`` when the table gives
none): an OEM segment in ITRF (Lagrange, degree 5), so prediction, tracks
and the antenna's pointing take it unchanged, and the look angles from the
station are the table's (at every row exactly; between rows, interpolated).
Without ranges, the range, range rate and Doppler of its tracks are those
of that nominal point, not of a satellite: only the direction is known.
The table is for its station only: ``AzElEphemeris.station``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from orbital.oem import OemEphemeris, OemSegment, parse_epoch
from orbital.stations import Station
from orbital.tle import ParseResult, RejectedRecord

#: Range of a row that gives none (km): the direction is all a table must give.
NOMINAL_RANGE_KM = 1000.0
_UNITS = {"DEGREE_ANGLE": 1.0, "RADIAN": 180.0 / math.pi}
_DEGREE = 5


class AzElError(Exception):
    def __init__(self, where: int, field_name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.record = RejectedRecord(where, field_name, value, message)


@dataclass(frozen=True)
class AzElRow:
    dt_s: float
    azimuth_deg: float
    elevation_deg: float
    range_km: float | None


@dataclass(frozen=True)
class AzElSegment:
    reference_epoch: datetime
    valid_start: datetime
    valid_end: datetime
    rows: tuple[AzElRow, ...]


@dataclass(frozen=True)
class AzElEphemeris(OemEphemeris):
    """A pointing table of one station (``station``) as an ephemeris."""

    station: Station | None = field(default=None, compare=False)
    azel_segments: tuple[AzElSegment, ...] = field(default=(), compare=False)

    def text(self) -> str:
        """Canonical JSON: the upload's fields, the station's location included."""
        assert self.station is not None
        s = self.station
        doc = {
            "groundStation": s.id,
            "station": {"lat_deg": s.lat_deg, "lon_deg": s.lon_deg, "alt_m": s.alt_m},
            "noradId": self.norad_id,
            "name": self.name,
            "angleUnit": "DEGREE_ANGLE",
            "azElSegmentList": [_segment_doc(seg) for seg in self.azel_segments],
        }
        return json.dumps(doc, sort_keys=True)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _segment_doc(seg: AzElSegment) -> dict[str, Any]:
    rows: list[dict[str, float]] = []
    for r in seg.rows:
        row = {"dt": r.dt_s, "az": r.azimuth_deg, "el": r.elevation_deg}
        if r.range_km is not None:
            row["range_km"] = r.range_km
        rows.append(row)
    return {
        "referenceEpoch": _iso(seg.reference_epoch),
        "validTimeRange": {"startTime": _iso(seg.valid_start), "endTime": _iso(seg.valid_end)},
        "azElList": rows,
    }


def is_azel_json(text: str) -> bool:
    """Whether JSON text is an az/el table (it has ``azElSegmentList``)."""
    return '"azElSegmentList"' in text[:100_000]


# ---------------------------------------------------------------- parsing


def _number(value: Any, where: str, name: str, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AzElError(index, name, repr(value)[:40], f"{where}: {name} {value!r} is not a number")
    return float(value)


def _time(value: Any, where: str, name: str, index: int) -> datetime:
    try:
        return parse_epoch(str(value))
    except ValueError:
        raise AzElError(
            index,
            name,
            str(value)[:40],
            f"{where}: {name} {value!r} is not a time like 2023-07-04T18:00:00Z",
        ) from None


def _rows(doc: Mapping[str, Any], scale: float, where: str, index: int) -> tuple[AzElRow, ...]:
    items = doc.get("azElList")
    if not isinstance(items, list) or len(items) < 2:
        raise AzElError(index, "azElList", "", f"{where}: azElList needs at least 2 rows")
    rows: list[AzElRow] = []
    for k, item in enumerate(items, start=1):
        at = f"{where}, row {k}"
        if not isinstance(item, Mapping):
            raise AzElError(index, "azElList", str(k), f"{at} is not an object")
        dt = _number(item.get("dt"), at, "dt", index)
        az = _number(item.get("az"), at, "az", index) * scale
        el = _number(item.get("el"), at, "el", index) * scale
        rng = item.get("range_km")
        range_km = None if rng is None else _number(rng, at, "range_km", index)
        if not -90.0 <= el <= 90.0:
            raise AzElError(index, "el", f"{el:g}", f"{at}: el {el:g} deg is outside -90..90")
        if range_km is not None and not range_km > 0:
            raise AzElError(index, "range_km", f"{range_km:g}", f"{at}: range_km must be > 0")
        if rows and not dt > rows[-1].dt_s:
            raise AzElError(
                index,
                "dt",
                f"{dt:g}",
                f"{at}: dt {dt:g} is not after the previous {rows[-1].dt_s:g}",
            )
        rows.append(AzElRow(dt, az % 360.0, el, range_km))
    return tuple(rows)


def _segment(doc: Any, scale: float, index: int) -> AzElSegment:
    where = f"az/el segment {index}"
    if not isinstance(doc, Mapping):
        raise AzElError(index, "azElSegmentList", "", f"{where} is not an object")
    reference = _time(doc.get("referenceEpoch"), where, "referenceEpoch", index)
    rows = _rows(doc, scale, where, index)
    first = reference + timedelta(seconds=rows[0].dt_s)
    last = reference + timedelta(seconds=rows[-1].dt_s)
    valid = doc.get("validTimeRange") or {}
    if not isinstance(valid, Mapping):
        raise AzElError(index, "validTimeRange", "", f"{where}: validTimeRange is not an object")
    start = _time(valid["startTime"], where, "startTime", index) if "startTime" in valid else first
    end = _time(valid["endTime"], where, "endTime", index) if "endTime" in valid else last
    if not (first <= start < end <= last):
        raise AzElError(
            index,
            "validTimeRange",
            f"{_iso(start)}..{_iso(end)}",
            f"{where}: validTimeRange {_iso(start)}..{_iso(end)} must be a non-empty part of "
            f"its rows' times {_iso(first)}..{_iso(last)}",
        )
    return AzElSegment(reference, start, end, rows)


def _station(doc: Mapping[str, Any], stations: Mapping[str, Station]) -> Station:
    name = doc.get("groundStation")
    if not isinstance(name, str) or not name:
        raise AzElError(1, "groundStation", "", "az/el ephemeris: groundStation is missing")
    where = doc.get("station")
    if isinstance(where, Mapping):  # the stored form carries the location
        return Station(
            id=name,
            name=name,
            lat_deg=float(where["lat_deg"]),
            lon_deg=float(where["lon_deg"]),
            alt_m=float(where["alt_m"]),
        )
    if name not in stations:
        raise AzElError(
            1,
            "groundStation",
            name,
            f"az/el ephemeris: groundStation {name!r} is not a known station; "
            f"known: {', '.join(sorted(stations)) or 'none'}",
        )
    return stations[name]


def _norad(doc: Mapping[str, Any], norad_id: int | None) -> int:
    value = doc.get("noradId")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000_000:
        return value
    if value is None and norad_id is not None:
        return norad_id
    raise AzElError(
        1,
        "noradId",
        repr(value),
        f"az/el ephemeris: noradId {value!r} is not a NORAD catalogue number; give it, or "
        "upload the table to the satellite (POST /satellites/{norad_id}/ephemerides)",
    )


def parse_azel_json(
    text: str, *, norad_id: int | None = None, stations: Mapping[str, Station] | None = None
) -> ParseResult:
    """Parse an az/el table (module docstring): one ``AzElEphemeris``, or
    one rejection naming the segment, row and value at fault (its
    ``line_no`` is the segment number)."""
    result = ParseResult()
    try:
        doc = json.loads(text)
        if not isinstance(doc, Mapping):
            raise AzElError(1, "json", type(doc).__name__, "az/el ephemeris is not a JSON object")
        if isinstance(doc.get("azElData"), Mapping):  # AWS's wrapper
            doc = {**doc, **doc["azElData"]}
        result.elements.append(_ephemeris(doc, norad_id, stations or {}))
    except json.JSONDecodeError as exc:
        result.rejected.append(
            RejectedRecord(exc.lineno, "json", exc.msg, f"az/el JSON is not valid JSON: {exc}")
        )
    except AzElError as exc:
        result.rejected.append(exc.record)
    return result


def _ephemeris(
    doc: Mapping[str, Any], norad_id: int | None, stations: Mapping[str, Station]
) -> AzElEphemeris:
    unit = str(doc.get("angleUnit", "DEGREE_ANGLE")).upper()
    if unit not in _UNITS:
        raise AzElError(
            1,
            "angleUnit",
            unit,
            f"az/el ephemeris: angleUnit {unit!r} is not DEGREE_ANGLE or RADIAN",
        )
    station = _station(doc, stations)
    norad = _norad(doc, norad_id)
    docs = doc.get("azElSegmentList")
    if not isinstance(docs, list) or not docs:
        raise AzElError(1, "azElSegmentList", "", "az/el ephemeris: azElSegmentList is empty")
    segments = sorted(
        (_segment(d, _UNITS[unit], i) for i, d in enumerate(docs, 1)), key=lambda s: s.valid_start
    )
    for a, b in zip(segments, segments[1:], strict=False):
        if b.valid_start < a.valid_end:
            raise AzElError(
                1,
                "validTimeRange",
                _iso(b.valid_start),
                f"az/el segments overlap (one starts at {_iso(b.valid_start)} before the "
                f"previous ends at {_iso(a.valid_end)})",
            )
    name = doc.get("name")
    return AzElEphemeris(
        norad_id=norad,
        name=str(name) if name else None,
        epoch=segments[0].valid_start,
        source_format="azel",
        segments=tuple(_as_oem(seg, station) for seg in segments),
        station=station,
        azel_segments=tuple(segments),
    )


def _as_oem(seg: AzElSegment, station: Station) -> OemSegment:
    """The table's points along the lines of sight, in ITRF, as an OEM segment."""
    t = np.array([r.dt_s for r in seg.rows]) - seg.rows[0].dt_s
    az = np.radians([r.azimuth_deg for r in seg.rows])
    el = np.radians([r.elevation_deg for r in seg.rows])
    rng = np.array([NOMINAL_RANGE_KM if r.range_km is None else r.range_km for r in seg.rows])
    enu = np.stack([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)], -1)
    r_km = station.itrs_km()[None, :] + (rng[:, None] * enu) @ station.enu_basis()
    v_km_s = np.gradient(r_km, t, axis=0, edge_order=2 if t.shape[0] > 2 else 1)
    return OemSegment(
        object_name=station.id,
        object_id="azel",
        ref_frame="ITRF",
        frame="ITRF",
        usable_start=seg.valid_start,
        usable_stop=seg.valid_end,
        interpolation="LAGRANGE",
        degree=_DEGREE,
        epoch0=seg.reference_epoch + timedelta(seconds=seg.rows[0].dt_s),
        t_s=t,
        r_km=r_km,
        v_km_s=v_km_s,
    )
