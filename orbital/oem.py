"""CCSDS OEM (Orbit Ephemeris Message, CCSDS 502.0-B) in KVN and XML.

An OEM gives a satellite's state vectors (position, velocity) at listed
epochs in a named reference frame. :func:`parse_oem_kvn` and
:func:`parse_oem_xml` read it into :class:`OemEphemeris` objects (one per
object; an object's segments in time order), which stand wherever an
``ElementSet`` does: their ``satrec()`` is an :class:`OemPropagator` with
SGP4's ``sgp4_array`` interface, giving TEME states (what pass prediction
and tracks take) from interpolation **in the message's own frame**
(Lagrange, or Hermite using the velocities, of the message's
``INTERPOLATION_DEGREE``) followed by the rotation of the interpolated state
to TEME:

- ``EME2000``: the frame bias to GCRS, then GCRS -> TEME (IAU 2000A
  precession-nutation, the equation of the equinoxes removed), skyfield's;
- ``GCRF`` / ``ICRF``: GCRS -> TEME;
- ``ITRF*``: the inverse of ``orbital.geometry.teme_to_itrs`` (GMST 1982 on
  UT1, no polar motion), so ITRF -> TEME -> ITRS is the identity;
- ``TEME``: as is.

The inertial rotations change by ~1e-11 rad a second, so they are computed
every ``_ROTATION_STEP_S`` over a segment and interpolated linearly
(error < 1e-12 rad, a micrometre at GEO).

A time outside every segment's usable span gives the error code
``OUTSIDE_SPAN_ERROR`` and NaN, as SGP4 reports a decayed satellite; pass
prediction searches only inside :attr:`OemEphemeris.usable_span`.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skyfield.framelib import ICRS_to_J2000
from skyfield.sgp4lib import TEME, theta_GMST1982

from orbital.elements import ElementSet
from orbital.geometry import WGS72_MU_KM3_S2
from orbital.tle import ParseResult, RejectedRecord

FloatArray = NDArray[np.float64]

#: ``sgp4_array`` error code for a time outside the OEM's usable span.
OUTSIDE_SPAN_ERROR = 7
#: Reference frames read, by the name used inside (``REF_FRAME`` value -> frame).
FRAMES = {"EME2000": "EME2000", "J2000": "EME2000", "GCRF": "GCRF", "ICRF": "GCRF"}
FRAMES.update({"TEME": "TEME"})
_ITRF = re.compile(r"^ITRF(-?\d{2,4})?$")
INTERPOLATIONS = ("LAGRANGE", "HERMITE")
#: Interpolation when the message names none: Lagrange of degree 7 (8 points).
DEFAULT_INTERPOLATION = ("LAGRANGE", 7)
MAX_DEGREE = 15
_ROTATION_STEP_S = 600.0
DAY_S = 86400.0
_REQUIRED_META = ("OBJECT_NAME", "OBJECT_ID", "CENTER_NAME", "REF_FRAME", "TIME_SYSTEM")
_REQUIRED_TIMES = ("START_TIME", "STOP_TIME")


class OemError(Exception):
    """One OEM segment (or the message) that cannot be used: line and message."""

    def __init__(self, line_no: int, field_name: str, value: str, message: str) -> None:
        super().__init__(message)
        self.record = RejectedRecord(line_no, field_name, value, message)


# ---------------------------------------------------------------- the segment


@dataclass(frozen=True)
class OemSegment:
    """One segment: metadata and its state vectors.

    ``t_s``: (n,) seconds (UTC) after ``epoch0``, strictly increasing;
    ``r_km``, ``v_km_s``: (n, 3) in ``frame`` (``EME2000``, ``GCRF``,
    ``ITRF`` or ``TEME``; ``ref_frame`` keeps the name the message used).
    """

    object_name: str
    object_id: str
    ref_frame: str
    frame: str
    usable_start: datetime
    usable_stop: datetime
    interpolation: str
    degree: int
    epoch0: datetime
    t_s: FloatArray = field(compare=False, repr=False)
    r_km: FloatArray = field(compare=False, repr=False)
    v_km_s: FloatArray = field(compare=False, repr=False)

    @property
    def n_points(self) -> int:
        """Samples per interpolation: degree + 1 (Lagrange), (degree + 1) / 2 (Hermite)."""
        wanted = self.degree + 1 if self.interpolation == "LAGRANGE" else (self.degree + 2) // 2
        return max(2, min(wanted, int(self.t_s.shape[0])))

    def kvn(self, norad_id: int) -> str:
        """The segment as KVN metadata and data lines (exact round trip)."""
        meta = [
            "META_START",
            f"OBJECT_NAME = {self.object_name}",
            f"OBJECT_ID = {norad_id}",
            "CENTER_NAME = EARTH",
            f"REF_FRAME = {self.ref_frame}",
            "TIME_SYSTEM = UTC",
            f"START_TIME = {_iso(self.epoch0)}",
            f"USEABLE_START_TIME = {_iso(self.usable_start)}",
            f"USEABLE_STOP_TIME = {_iso(self.usable_stop)}",
            f"STOP_TIME = {_iso(self._time(-1))}",
            f"INTERPOLATION = {self.interpolation}",
            f"INTERPOLATION_DEGREE = {self.degree}",
            "META_STOP",
        ]
        if self.object_id != str(norad_id):
            meta.insert(1, f"COMMENT OBJECT_ID in the upload: {self.object_id}")
        data = [
            " ".join([_iso(self._time(i)), *(repr(float(x)) for x in (*r, *v))])
            for i, (r, v) in enumerate(zip(self.r_km.tolist(), self.v_km_s.tolist(), strict=True))
        ]
        return "\n".join(meta + data) + "\n"

    def _time(self, index: int) -> datetime:
        return self.epoch0 + timedelta(seconds=float(self.t_s[index]))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class OemEphemeris(ElementSet):
    """The OEM segments of one object, standing for an element set: its
    ``epoch`` is the start of the usable span, ``satrec()`` interpolates."""

    segments: tuple[OemSegment, ...] = field(default=(), compare=False)

    @property
    def usable_span(self) -> tuple[datetime, datetime] | None:
        return self.segments[0].usable_start, self.segments[-1].usable_stop

    @property
    def mean_motion_rev_per_day(self) -> float:
        return float(self.satrec().no_kozai) * 1440.0 / (2.0 * math.pi)

    def satrec(self) -> OemPropagator:
        """The interpolating propagator (built once per object: it holds the
        frame rotations over the span)."""
        found = self.__dict__.get("_propagator")
        if found is None:
            found = OemPropagator(self.segments)
            object.__setattr__(self, "_propagator", found)
        assert isinstance(found, OemPropagator)
        return found

    def text(self) -> str:
        """Canonical KVN: the header and every segment (parsed back exactly)."""
        head = "CCSDS_OEM_VERS = 2.0\nCREATION_DATE = " + _iso(self.epoch)
        head += "\nORIGINATOR = GROUNDSTATION\n"
        return head + "".join(s.kvn(self.norad_id) for s in self.segments)


# ---------------------------------------------------------------- interpolation


def _windows(t_s: FloatArray, n_points: int, q_s: FloatArray) -> NDArray[np.int64]:
    """(m, n_points) sample indices around each query time, centred where possible."""
    n = t_s.shape[0]
    right = np.searchsorted(t_s, q_s)
    first = np.clip(right - n_points // 2, 0, n - n_points)
    return first[:, None] + np.arange(n_points)[None, :]


def _lagrange_basis(nodes: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Lagrange basis ``L: (m, n)`` and derivative ``dL: (m, n)`` at ``q: (m,)``
    for ``nodes: (m, n)``."""
    m, n = nodes.shape
    diff = q[:, None] - nodes  # (m, n)
    denom = nodes[:, :, None] - nodes[:, None, :]  # (m, i, j)
    eye = np.eye(n, dtype=bool)
    denom[:, eye] = 1.0
    ratio = diff[:, None, :] / denom  # (m, i, j): (q - t_j) / (t_i - t_j)
    ratio[:, eye] = 1.0
    basis = ratio.prod(axis=2)
    deriv = np.zeros((m, n))
    for k in range(n):
        term = ratio.copy()
        term[:, :, k] = 1.0 / denom[:, :, k]
        term[:, k, k] = 0.0  # k == i contributes nothing
        deriv += term.prod(axis=2)
    return basis, deriv


def lagrange(
    nodes_s: FloatArray, values: FloatArray, q_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Lagrange interpolation: ``nodes_s: (m, n)``, ``values: (m, n, k)`` at
    ``q_s: (m,)`` -> value and its time derivative, each ``(m, k)``."""
    basis, deriv = _lagrange_basis(nodes_s, q_s)
    return np.einsum("mn,mnk->mk", basis, values), np.einsum("mn,mnk->mk", deriv, values)


def hermite(
    nodes_s: FloatArray, values: FloatArray, rates: FloatArray, q_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Hermite interpolation through values and rates at ``nodes_s: (m, n)``
    (a polynomial of degree 2n - 1) -> value and rate at ``q_s``, each (m, k)."""
    basis, deriv = _lagrange_basis(nodes_s, q_s)
    n = nodes_s.shape[1]
    denom = nodes_s[:, :, None] - nodes_s[:, None, :]
    denom[:, np.eye(n, dtype=bool)] = np.inf
    a = (1.0 / denom).sum(axis=2)  # L_i'(t_i)
    dq = q_s[:, None] - nodes_s
    sq, dsq = basis * basis, 2.0 * basis * deriv
    h = (1.0 - 2.0 * a * dq) * sq
    dh = -2.0 * a * sq + (1.0 - 2.0 * a * dq) * dsq
    k_ = dq * sq
    dk = sq + dq * dsq
    value = np.einsum("mn,mnk->mk", h, values) + np.einsum("mn,mnk->mk", k_, rates)
    rate = np.einsum("mn,mnk->mk", dh, values) + np.einsum("mn,mnk->mk", dk, rates)
    return value, rate


def interpolate_segment(seg: OemSegment, q_s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The state in the segment's own frame at ``q_s: (m,)`` seconds after
    ``seg.epoch0``: ``(r_km: (m, 3), v_km_s: (m, 3))``."""
    idx = _windows(seg.t_s, seg.n_points, q_s)
    nodes = seg.t_s[idx]
    if seg.interpolation == "HERMITE":
        return hermite(nodes, seg.r_km[idx], seg.v_km_s[idx], q_s)
    r, _ = lagrange(nodes, seg.r_km[idx], q_s)
    v, _ = lagrange(nodes, seg.v_km_s[idx], q_s)
    return r, v


# ---------------------------------------------------------------- frames


def _skyfield_times(epoch0: datetime, offsets_s: FloatArray) -> Any:
    from orbital.timescale import timescale

    e = epoch0.astimezone(UTC)
    second = e.second + e.microsecond * 1e-6 + np.asarray(offsets_s, dtype=np.float64)
    return timescale().utc(e.year, e.month, e.day, e.hour, e.minute, second)


class _FrameToTeme:
    """Rotation of one segment's frame to TEME at seconds after its ``epoch0``."""

    def __init__(self, seg: OemSegment) -> None:
        self.frame = seg.frame
        span = float(seg.t_s[-1] - seg.t_s[0])
        n = max(2, math.ceil(span / _ROTATION_STEP_S) + 1)
        self.grid_s = np.linspace(float(seg.t_s[0]), float(seg.t_s[-1]), n)
        t = _skyfield_times(seg.epoch0, self.grid_s)
        self.dut1_s = np.asarray(t.dut1, dtype=np.float64) * np.ones(n)
        matrices = np.zeros((n, 3, 3))
        if self.frame in ("EME2000", "GCRF"):
            gcrs_to_teme = np.moveaxis(np.asarray(TEME.rotation_at(t)), -1, 0)
            bias_t = ICRS_to_J2000.T if self.frame == "EME2000" else np.eye(3)
            matrices = gcrs_to_teme @ bias_t
        self.matrices = matrices.reshape(n, 9)

    def __call__(
        self, q_s: FloatArray, jd: FloatArray, fr: FloatArray, r: FloatArray, v: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        if self.frame == "TEME":
            return r, v
        if self.frame == "ITRF":
            return self._itrf(q_s, jd, fr, r, v)
        m = np.stack([np.interp(q_s, self.grid_s, self.matrices[:, k]) for k in range(9)], -1)
        m = m.reshape(-1, 3, 3)
        return np.einsum("mij,mj->mi", m, r), np.einsum("mij,mj->mi", m, v)

    def _itrf(
        self, q_s: FloatArray, jd: FloatArray, fr: FloatArray, r: FloatArray, v: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Inverse of ``orbital.geometry.teme_to_itrs``."""
        ut1 = fr + np.interp(q_s, self.grid_s, self.dut1_s) / DAY_S
        theta, theta_dot = theta_GMST1982(jd, ut1)
        w = np.asarray(theta_dot, dtype=np.float64) / DAY_S
        c, s = np.cos(theta), np.sin(theta)
        vx = v[:, 0] - w * r[:, 1]
        vy = v[:, 1] + w * r[:, 0]
        r_out = np.stack([c * r[:, 0] - s * r[:, 1], s * r[:, 0] + c * r[:, 1], r[:, 2]], -1)
        v_out = np.stack([c * vx - s * vy, s * vx + c * vy, v[:, 2]], -1)
        return r_out, v_out


class OemPropagator:
    """SGP4's ``Satrec.sgp4_array`` interface over OEM segments: TEME states
    at UTC Julian dates, ``OUTSIDE_SPAN_ERROR`` outside every usable span.

    ``method`` is ``"d"`` so the pass search evaluates it at every time it
    needs instead of re-interpolating its grid; ``no_kozai`` and ``ecco``
    (osculating, from the first state) size the search's grid step.
    """

    method = "d"

    def __init__(self, segments: Sequence[OemSegment]) -> None:
        self.segments = tuple(segments)
        self._frames = [_FrameToTeme(s) for s in self.segments]
        self._ref = [_julian(s.epoch0) for s in self.segments]
        self._usable = [
            (
                (s.usable_start - s.epoch0).total_seconds(),
                (s.usable_stop - s.epoch0).total_seconds(),
            )
            for s in self.segments
        ]
        seg = self.segments[0]
        jd, fr = self._ref[0]
        q = seg.t_s[:1]
        r, v = self._frames[0](
            q, np.array([jd]) + 0.0, np.array([fr + q[0] / DAY_S]), seg.r_km[:1], seg.v_km_s[:1]
        )
        self.no_kozai, self.ecco = _osculating(r[0], v[0])

    def sgp4_array(
        self, jd: FloatArray, fr: FloatArray
    ) -> tuple[NDArray[np.uint8], FloatArray, FloatArray]:
        jd = np.asarray(jd, dtype=np.float64)
        fr = np.asarray(fr, dtype=np.float64)
        m = jd.shape[0]
        err = np.full(m, OUTSIDE_SPAN_ERROR, dtype=np.uint8)
        r = np.full((m, 3), np.nan)
        v = np.full((m, 3), np.nan)
        for seg, frame, (ref_jd, ref_fr), (lo, hi) in zip(
            self.segments, self._frames, self._ref, self._usable, strict=True
        ):
            q = ((jd - ref_jd) + (fr - ref_fr)) * DAY_S
            sel = np.flatnonzero((q >= lo - 1e-6) & (q <= hi + 1e-6) & (err != 0))
            if sel.size == 0:
                continue
            ri, vi = interpolate_segment(seg, q[sel])
            r[sel], v[sel] = frame(q[sel], jd[sel], fr[sel], ri, vi)
            err[sel] = 0
        return err, r, v


def _julian(value: datetime) -> tuple[float, float]:
    """UTC Julian date as (whole at midnight - 0.5, fraction), as SGP4 splits it."""
    days = (value - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() / DAY_S
    whole = math.floor(days)
    return 2451544.5 + whole, days - whole


def _osculating(r_km: FloatArray, v_km_s: FloatArray) -> tuple[float, float]:
    """Osculating mean motion (rad/min) and eccentricity of an inertial state."""
    mu = WGS72_MU_KM3_S2
    rn, v2 = float(np.linalg.norm(r_km)), float(v_km_s @ v_km_s)
    inv_a = 2.0 / rn - v2 / mu
    if not inv_a > 0:
        return 0.0, 1.0  # not bound: the search takes its smallest step
    e_vec = ((v2 - mu / rn) * r_km - float(r_km @ v_km_s) * v_km_s) / mu
    return math.sqrt(mu * inv_a**3) * 60.0, float(np.linalg.norm(e_vec))


# ---------------------------------------------------------------- parsing


_EPOCH = re.compile(
    r"^(\d{4})-(?:(\d{2})-(\d{2})|(\d{3}))T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(Z|[+-]\d{2}:\d{2})?$",
    re.I,
)


def parse_epoch(text: str) -> datetime:
    """An OEM epoch (``YYYY-MM-DDThh:mm:ss[.f]`` or ``YYYY-DDDThh:mm:ss[.f]``,
    UTC; ISO 8601's ``Z`` or ``+hh:mm`` accepted) as aware UTC, rounded to
    the microsecond; ``ValueError`` otherwise."""
    m = _EPOCH.match(text.strip())
    if m is None:
        raise ValueError(text)
    year, month, day, doy, hh, mm, ss, frac, zone = m.groups()
    offset = timedelta(0)
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    base = (
        datetime(int(year), int(month), int(day), tzinfo=UTC)
        if doy is None
        else datetime(int(year), 1, 1, tzinfo=UTC) + timedelta(days=int(doy) - 1)
    )
    micro = round(float("0." + frac) * 1e6) if frac else 0
    return (
        base
        - offset
        + timedelta(hours=int(hh), minutes=int(mm), seconds=int(ss), microseconds=micro)
    )


@dataclass
class _RawSegment:
    """A segment as read, before checks: metadata, its line, data rows."""

    line_no: int
    meta: dict[str, tuple[int, str]] = field(default_factory=dict)
    rows: list[tuple[int, datetime, list[float]]] = field(default_factory=list)


def _meta(raw: _RawSegment, key: str) -> str:
    return raw.meta.get(key, (raw.line_no, ""))[1]


def _meta_time(raw: _RawSegment, key: str) -> datetime | None:
    line_no, value = raw.meta.get(key, (raw.line_no, ""))
    if not value:
        return None
    try:
        return parse_epoch(value)
    except ValueError:
        raise OemError(
            line_no,
            key,
            value,
            f"OEM line {line_no}: {key} {value!r} is not a time like 2026-11-30T12:00:00.000",
        ) from None


def _frame(raw: _RawSegment) -> str:
    line_no, ref = raw.meta["REF_FRAME"]
    name = ref.strip().upper()
    if name in FRAMES:
        return FRAMES[name]
    if _ITRF.match(name):
        return "ITRF"
    raise OemError(
        line_no,
        "REF_FRAME",
        ref,
        f"OEM line {line_no}: REF_FRAME {ref!r} is not supported; use EME2000, GCRF, ICRF, "
        "ITRF (any realization: ITRF2014, ITRF-93, ...) or TEME",
    )


def _checked_meta(raw: _RawSegment) -> None:
    """Required keywords present; centre Earth; time system UTC."""
    for key in _REQUIRED_META + _REQUIRED_TIMES:
        if not _meta(raw, key):
            raise OemError(
                raw.line_no,
                key,
                "",
                f"OEM segment at line {raw.line_no} has no {key} in its metadata",
            )
    for key, wanted in (("CENTER_NAME", "EARTH"), ("TIME_SYSTEM", "UTC")):
        line_no, value = raw.meta[key]
        if value.strip().upper() != wanted:
            raise OemError(
                line_no,
                key,
                value,
                f"OEM line {line_no}: {key} {value!r} is not supported; only {wanted} is read",
            )


def _interpolation(raw: _RawSegment) -> tuple[str, int]:
    line_no, method = raw.meta.get("INTERPOLATION", (raw.line_no, ""))
    method = method.strip().upper()
    if not method:
        return DEFAULT_INTERPOLATION
    if method not in INTERPOLATIONS:
        raise OemError(
            line_no,
            "INTERPOLATION",
            method,
            f"OEM line {line_no}: INTERPOLATION {method!r} is not supported; "
            f"use {' or '.join(INTERPOLATIONS)}",
        )
    d_line, degree_text = raw.meta.get("INTERPOLATION_DEGREE", (line_no, "7"))
    try:
        degree = int(degree_text)
    except ValueError:
        degree = -1
    if not 1 <= degree <= MAX_DEGREE:
        raise OemError(
            d_line,
            "INTERPOLATION_DEGREE",
            degree_text,
            f"OEM line {d_line}: INTERPOLATION_DEGREE {degree_text!r} must be an integer "
            f"1..{MAX_DEGREE}",
        )
    return method, degree


def _span(raw: _RawSegment, first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """The usable span: USEABLE_START/STOP_TIME (default START/STOP), inside the data."""
    start = _meta_time(raw, "USEABLE_START_TIME") or _meta_time(raw, "START_TIME")
    stop = _meta_time(raw, "USEABLE_STOP_TIME") or _meta_time(raw, "STOP_TIME")
    assert start is not None and stop is not None  # required, checked
    start, stop = max(start, first), min(stop, last)
    if not stop > start:
        raise OemError(
            raw.line_no,
            "USEABLE_START_TIME",
            _iso(start),
            f"OEM segment at line {raw.line_no}: its usable span {_iso(start)}..{_iso(stop)} "
            f"holds no time covered by its state vectors ({_iso(first)}..{_iso(last)})",
        )
    return start, stop


def _checked_rows(raw: _RawSegment) -> None:
    if len(raw.rows) < 2:
        raise OemError(
            raw.line_no,
            "data",
            str(len(raw.rows)),
            f"OEM segment at line {raw.line_no} has {len(raw.rows)} state vector(s); "
            "interpolation needs at least 2",
        )
    for (_, prev, _), (line_no, epoch, _) in zip(raw.rows, raw.rows[1:], strict=False):
        if not epoch > prev:
            raise OemError(
                line_no,
                "EPOCH",
                _iso(epoch),
                f"OEM line {line_no}: epoch {_iso(epoch)} is not after the previous one "
                f"({_iso(prev)}); state vectors must be in increasing time order",
            )


def _segment(raw: _RawSegment) -> OemSegment:
    """A checked segment from what was read, or ``OemError``."""
    _checked_meta(raw)
    frame = _frame(raw)
    method, degree = _interpolation(raw)
    _checked_rows(raw)
    epoch0 = raw.rows[0][1]
    usable_start, usable_stop = _span(raw, epoch0, raw.rows[-1][1])
    values = np.array([row[2][:6] for row in raw.rows], dtype=np.float64)
    return OemSegment(
        object_name=_meta(raw, "OBJECT_NAME").strip(),
        object_id=_meta(raw, "OBJECT_ID").strip(),
        ref_frame=raw.meta["REF_FRAME"][1].strip(),
        frame=frame,
        usable_start=usable_start,
        usable_stop=usable_stop,
        interpolation=method,
        degree=degree,
        epoch0=epoch0,
        t_s=np.array([(row[1] - epoch0).total_seconds() for row in raw.rows]),
        r_km=values[:, :3].copy(),
        v_km_s=values[:, 3:6].copy(),
    )


def _data_row(line_no: int, line: str) -> tuple[int, datetime, list[float]]:
    parts = line.split()
    if len(parts) not in (7, 10):
        raise OemError(
            line_no,
            "data",
            line[:60],
            f"OEM line {line_no}: a state vector is an epoch and 6 numbers (X Y Z in km, "
            f"X_DOT Y_DOT Z_DOT in km/s; 9 with accelerations), got {len(parts)} fields: "
            f"{line[:60]!r}",
        )
    try:
        epoch = parse_epoch(parts[0])
    except ValueError:
        raise OemError(
            line_no,
            "EPOCH",
            parts[0],
            f"OEM line {line_no}: epoch {parts[0]!r} is not a time like 2026-11-30T12:00:00.000",
        ) from None
    try:
        numbers = [float(p) for p in parts[1:]]
    except ValueError:
        bad = next(p for p in parts[1:] if not _is_number(p))
        raise OemError(
            line_no, "data", bad, f"OEM line {line_no}: {bad!r} is not a number"
        ) from None
    if not all(math.isfinite(x) for x in numbers):
        raise OemError(line_no, "data", line[:60], f"OEM line {line_no}: a value is not finite")
    return line_no, epoch, numbers


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _KvnReader:
    """Splits KVN lines into raw segments; bad segments become rejections."""

    def __init__(self) -> None:
        self.segments: list[_RawSegment] = []
        self.rejected: list[RejectedRecord] = []
        self.current: _RawSegment | None = None
        self.state = "header"  # header | meta | data | covariance
        self.bad = False  # the current segment was rejected: skip to the next

    def line(self, line_no: int, text: str) -> None:
        word = text.split("=", 1)[0].strip().upper() if "=" in text else text.strip().upper()
        if word.startswith("COMMENT") or not text.strip():
            return
        if word == "META_START":
            self._start(line_no)
        elif word == "META_STOP":
            self.state = "data"
        elif word == "COVARIANCE_START":
            self.state = "covariance"
        elif word == "COVARIANCE_STOP":
            self.state = "data"
        elif self.state in ("header", "covariance") or self.bad:
            return
        elif self.state == "meta":
            self._meta(line_no, text)
        else:
            self._data(line_no, text)

    def _start(self, line_no: int) -> None:
        self.current = _RawSegment(line_no)
        self.segments.append(self.current)
        self.state, self.bad = "meta", False

    def _meta(self, line_no: int, text: str) -> None:
        assert self.current is not None
        if "=" not in text:
            self._reject(
                OemError(
                    line_no,
                    "metadata",
                    text[:60],
                    f"OEM line {line_no}: {text.strip()[:60]!r} is not KEYWORD = value "
                    "(inside META_START..META_STOP)",
                )
            )
            return
        key, value = text.split("=", 1)
        self.current.meta[key.strip().upper()] = (line_no, value.strip())

    def _data(self, line_no: int, text: str) -> None:
        assert self.current is not None
        try:
            self.current.rows.append(_data_row(line_no, text))
        except OemError as exc:
            self._reject(exc)

    def _reject(self, exc: OemError) -> None:
        self.rejected.append(exc.record)
        if self.current in self.segments:
            self.segments.remove(self.current)
        self.bad = True


def _header_check(lines: Sequence[str], kind: str) -> None:
    for line_no, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if not text.strip().upper().startswith("CCSDS_OEM_VERS"):
            raise OemError(
                line_no,
                "CCSDS_OEM_VERS",
                text.strip()[:40],
                f"OEM {kind} line {line_no}: expected CCSDS_OEM_VERS first, got "
                f"{text.strip()[:40]!r}",
            )
        return


def parse_oem_kvn(lines: Iterable[str], *, norad_id: int | None = None) -> ParseResult:
    """Parse an OEM in KVN: one ``OemEphemeris`` per object (its segments),
    each bad segment one rejection naming its line. The NORAD id is the
    ``OBJECT_ID`` when that is a catalogue number, else ``norad_id``."""
    lines = list(lines)
    result = ParseResult()
    try:
        _header_check(lines, "KVN")
    except OemError as exc:
        result.rejected.append(exc.record)
        return result
    reader = _KvnReader()
    for line_no, text in enumerate(lines, start=1):
        reader.line(line_no, text)
    result.rejected.extend(reader.rejected)
    if not reader.segments and not reader.rejected:
        result.rejected.append(
            RejectedRecord(1, "META_START", "", "OEM has no segment (no META_START line)")
        )
    _add_objects(reader.segments, result, norad_id)
    return result


def _add_objects(raws: Sequence[_RawSegment], result: ParseResult, norad_id: int | None) -> None:
    """Check each raw segment, group the good ones by object, add one
    ``OemEphemeris`` per object (segments in time order, not overlapping)."""
    by_object: dict[int, list[OemSegment]] = {}
    for raw in raws:
        try:
            seg = _segment(raw)
            norad = _norad(seg, raw, norad_id)
        except OemError as exc:
            result.rejected.append(exc.record)
            continue
        by_object.setdefault(norad, []).append(seg)
    for norad, segments in by_object.items():
        segments.sort(key=lambda s: s.usable_start)
        overlap = next(
            (
                b
                for a, b in zip(segments, segments[1:], strict=False)
                if b.usable_start < a.usable_stop
            ),
            None,
        )
        if overlap is not None:
            result.rejected.append(
                RejectedRecord(
                    0,
                    "USEABLE_START_TIME",
                    _iso(overlap.usable_start),
                    f"OEM segments of NORAD {norad} overlap in their usable spans (one starts "
                    f"at {_iso(overlap.usable_start)}); send one segment per time",
                )
            )
            continue
        result.elements.append(
            OemEphemeris(
                norad_id=norad,
                name=segments[0].object_name or None,
                epoch=segments[0].usable_start,
                source_format="oem",
                segments=tuple(segments),
            )
        )


def _norad(seg: OemSegment, raw: _RawSegment, norad_id: int | None) -> int:
    text = seg.object_id
    if text.isdigit() and 0 < int(text) < 1_000_000_000:
        return int(text)
    if norad_id is not None:
        return norad_id
    line_no = raw.meta["OBJECT_ID"][0]
    raise OemError(
        line_no,
        "OBJECT_ID",
        text,
        f"OEM line {line_no}: OBJECT_ID {text!r} is not a NORAD catalogue number; put the "
        "NORAD id in OBJECT_ID, or upload the file to the satellite "
        "(POST /satellites/{norad_id}/ephemerides)",
    )


# ---------------------------------------------------------------- XML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_segments(root: ET.Element) -> list[_RawSegment]:
    """Raw segments of an ``<oem>`` tree (line numbers are segment indexes)."""
    raws: list[_RawSegment] = []
    for index, seg in enumerate((e for e in root.iter() if _local(e.tag) == "segment"), 1):
        raw = _RawSegment(index)
        for node in seg.iter():
            name = _local(node.tag)
            if name == "metadata":
                for item in node:
                    raw.meta[_local(item.tag).upper()] = (index, (item.text or "").strip())
            elif name == "stateVector":
                raw.rows.append(_xml_row(index, node))
        raws.append(raw)
    return raws


def _xml_row(index: int, node: ET.Element) -> tuple[int, datetime, list[float]]:
    values = {_local(c.tag).upper(): (c.text or "").strip() for c in node}
    keys = ("EPOCH", "X", "Y", "Z", "X_DOT", "Y_DOT", "Z_DOT")
    missing = [k for k in keys if not values.get(k)]
    if missing:
        raise OemError(
            index,
            missing[0],
            "",
            f"OEM XML segment {index}: a stateVector has no {missing[0]}",
        )
    return _data_row(index, " ".join(values[k] for k in keys))


def parse_oem_xml(text: str, *, norad_id: int | None = None) -> ParseResult:
    """Parse an OEM in XML (``<oem>``, CCSDS 505.0-B NDM/XML), like
    :func:`parse_oem_kvn`; a rejection's number is its segment's ("OEM XML
    segment 2: ...")."""
    result = ParseResult()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        result.rejected.append(
            RejectedRecord(line, "xml", str(exc)[:80], f"OEM XML is not well-formed: {exc}")
        )
        return result
    if _local(root.tag).lower() != "oem":
        result.rejected.append(
            RejectedRecord(
                1, "xml", _local(root.tag), f"XML root is <{_local(root.tag)}>, not <oem>"
            )
        )
        return result
    try:
        raws = _xml_segments(root)
    except OemError as exc:
        result.rejected.append(_xml_worded(exc.record))
        return result
    if not raws:
        result.rejected.append(RejectedRecord(1, "segment", "", "OEM XML has no <segment>"))
    _add_objects(raws, result, norad_id)
    result.rejected = [_xml_worded(r) for r in result.rejected]
    return result


_LINE_WORDS = re.compile(r"^OEM (?:segment at )?line (\d+)")


def _xml_worded(record: RejectedRecord) -> RejectedRecord:
    """A rejection of an XML OEM: its number is a segment's, so it says so."""
    message = _LINE_WORDS.sub(r"OEM XML segment \1", record.message)
    return RejectedRecord(record.line_no, record.field, record.value, message)
