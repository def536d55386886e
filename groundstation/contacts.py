"""Reading contacts: one page of them (filters, keyset cursor), one with its
history, and its track. The API's ``GET /contacts`` and the CLI's
``contacts list`` both list through ``contacts_page``.

``tenants=None`` means every tenant; a tuple restricts rows to those tenants
(a contact outside them is reported as not existing).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Dialect, Engine, Integer, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from groundstation.clock import require_supported, require_utc
from groundstation.db import DBAPICursor, PreparedSQL, autocommit_cursor
from groundstation.errors import NotFoundError, ValidationError
from groundstation.models import Antenna, Contact, Satellite
from groundstation.prediction import element_set_from_text, orbital_station
from groundstation.states import ContactState
from groundstation.vetting import parse_verdict

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from orbital.track import Track


def encode_cursor(booked_start: datetime, contact_id: str) -> str:
    raw = f"{booked_start.isoformat()}|{contact_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, contact_id = raw.split("|", 1)
        at = datetime.fromisoformat(when)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            f"cursor {cursor!r} is not one returned by this API (use next_cursor as is)"
        ) from None
    try:
        return require_supported(at, "cursor time"), contact_id
    except ValidationError:
        raise ValidationError(
            f"cursor {cursor!r} is not one returned by this API (use next_cursor as is)"
        ) from None


def _contact_filters(
    *,
    tenants: Sequence[str] | None,
    states: Sequence[str] | None,
    norad_id: int | None,
    station_id: str | None,
    start: datetime | None,
    end: datetime | None,
    profile_id: str | None = None,
    antenna_id: str | None = None,
    verdicts: Sequence[str] | None = None,
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The filters given (names, in a fixed order: the shape of the query)
    and their values, checked. An unknown satellite, station, antenna or
    profile matches nothing (an empty page, as for another tenant's); an
    unknown state or verdict is a ``ValidationError``; the verdict
    ``none`` matches contacts not vetted yet."""
    values: dict[str, Any] = {}
    if tenants is not None:
        values["tenants"] = list(tenants)
    if states:
        bad = [s for s in states if s not in ContactState.__members__]
        if bad:
            raise ValidationError(
                f"state {bad[0]!r} is not a contact state; one of {', '.join(ContactState)}"
            )
        # Each once: the SQL is prepared per number of values (``_page_sql``).
        values["states"] = list(dict.fromkeys(states))
    ids = {
        "norad_id": norad_id,
        "station_id": station_id,
        "antenna_id": antenna_id,
        "profile_id": profile_id,
    }
    values.update((name, value) for name, value in ids.items() if value is not None)
    if verdicts:
        values.update(_verdict_filter(verdicts))
    if start is not None:
        values["start"] = require_utc(start, "start")
    if end is not None:
        values["end"] = require_utc(end, "end")
    return tuple(values), values


def _verdict_filter(verdicts: Sequence[str]) -> dict[str, list[str]]:
    """The verdict filter: ``verdicts`` named (each checked), or those and
    no verdict when ``none`` is among them."""
    named = list(dict.fromkeys(parse_verdict(v).value for v in verdicts if v != UNVETTED))
    return {"verdicts_or_none" if UNVETTED in verdicts else "verdicts": named}


_contacts = Contact.__table__.c
_satellites = Satellite.__table__.c
_antennas = Antenna.__table__.c

#: Whether this service's contacts are worked by the RF simulator: every pass
#: is, by the in-process downlink executor (no antenna, no radio), until
#: contacts are executed on station hardware (issue 13). The API says so on
#: every contact, as datasets, events and logs do.
SIMULATED = True

#: The ``verdict`` filter value matching contacts without a verdict.
UNVETTED = "none"

# The public fields of a contact (api ContactPublic), as plain columns.
CONTACT_SUMMARY_COLUMNS = (
    _contacts.id,
    _satellites.norad_id,
    _antennas.station_id,
    _contacts.antenna_id,
    _contacts.profile_id,
    _contacts.tenant,
    _contacts.state,
    _contacts.state_reason,
    _contacts.aos,
    _contacts.tca,
    _contacts.los,
    _contacts.booked_start,
    _contacts.booked_end,
    _contacts.blocked_start,
    _contacts.blocked_end,
    _contacts.max_elevation_deg,
    _contacts.ephemeris_epoch,
    _contacts.created_at,
    _contacts.version,
    _contacts.verdict,
    _contacts.verdict_source,
    _contacts.verdict_reason,
    _contacts.verdict_by,
    _contacts.verdict_at,
    _contacts.frames_ok,
    _contacts.frames_expected,
    _contacts.esn0_db,
)
_SUMMARY_KEYS = tuple(c.key for c in CONTACT_SUMMARY_COLUMNS)

# Each filter as a clause over bound parameters named as in ``_contact_filters``.
_FILTER_CLAUSES: dict[str, Any] = {
    "tenants": _contacts.tenant.in_(bindparam("tenants", expanding=True)),
    "states": _contacts.state.in_(bindparam("states", expanding=True)),
    "norad_id": _contacts.satellite_id.in_(
        select(_satellites.id).where(_satellites.norad_id == bindparam("norad_id"))
    ),
    "station_id": _contacts.antenna_id.in_(
        select(_antennas.id).where(_antennas.station_id == bindparam("station_id"))
    ),
    "antenna_id": _contacts.antenna_id == bindparam("antenna_id"),
    "profile_id": _contacts.profile_id == bindparam("profile_id"),
    "verdicts": _contacts.verdict.in_(bindparam("verdicts", expanding=True)),
    "verdicts_or_none": or_(
        _contacts.verdict.in_(bindparam("verdicts_or_none", expanding=True)),
        _contacts.verdict.is_(None),
    ),
    "start": _contacts.booked_end > bindparam("start", type_=_contacts.booked_end.type),
    "end": _contacts.booked_start < bindparam("end", type_=_contacts.booked_start.type),
}
_AFTER_CURSOR = or_(
    _contacts.booked_start > bindparam("at", type_=_contacts.booked_start.type),
    and_(
        _contacts.booked_start == bindparam("at", type_=_contacts.booked_start.type),
        _contacts.id > bindparam("last_id"),
    ),
)


@functools.lru_cache(maxsize=256)
def _page_statements(filters: tuple[str, ...], after_cursor: bool) -> tuple[Select[Any], ...]:
    """The count and page queries (Core, bound parameters) for one shape of
    filters: built and compiled once per shape, not per request. The page's
    rows end with the count (a scalar subquery, evaluated once per
    statement): one statement per page, and count and rows from one snapshot.
    The count query alone is for a page without rows."""
    clauses = [_FILTER_CLAUSES[name] for name in filters]
    count = select(func.count()).select_from(Contact.__table__).where(*clauses)
    if after_cursor:
        clauses.append(_AFTER_CURSOR)
    page = (
        select(*CONTACT_SUMMARY_COLUMNS, count.scalar_subquery())
        .join_from(Contact.__table__, Satellite.__table__, _satellites.id == _contacts.satellite_id)
        .join(Antenna.__table__, _antennas.id == _contacts.antenna_id)
        .where(*clauses)
        .order_by(_contacts.booked_start, _contacts.id)
        .limit(bindparam("page_rows", type_=Integer))
    )
    return count, page


def contacts_page(
    db: Session | Engine,
    *,
    tenants: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    norad_id: int | None = None,
    station_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
    profile_id: str | None = None,
    antenna_id: str | None = None,
    verdicts: Sequence[str] | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of contacts ordered by (booked start, id), as dicts of
    ``CONTACT_SUMMARY_COLUMNS`` (plain rows: this is the API's busiest read),
    the total count matching the filters, and the cursor of the next page
    (None at the end).

    ``db``: a session (the CLI's), whose read ends here, or an engine (the
    API's ``GET /contacts``): a pooled connection in autocommit for the one
    statement, without a session to make, begin, roll back and close
    (about a sixth of that request's CPU, bench/api.py). Either way the
    statement runs on the driver's cursor as SQL prepared once per shape of
    filters (``db.PreparedSQL``): SQLAlchemy's per-execution work (its
    connection, result and row objects) was about a fifth of that request's
    CPU more."""
    filters, params = _contact_filters(
        tenants=tenants,
        states=states,
        norad_id=norad_id,
        station_id=station_id,
        start=start,
        end=end,
        profile_id=profile_id,
        antenna_id=antenna_id,
        verdicts=verdicts,
    )
    if cursor:
        params["at"], params["last_id"] = decode_cursor(cursor)
    params["page_rows"] = limit + 1
    lengths = tuple((name, len(v)) for name, v in params.items() if isinstance(v, list))
    shape = (filters, bool(cursor), lengths)
    # In autocommit unless a transaction is open: no BEGIN/ROLLBACK, and on
    # SQLite no write lock for a read.
    if isinstance(db, Engine):
        with autocommit_cursor(db) as cur:
            result, count = _read_page(cur, _page_sql(db.dialect, shape), params)
    else:
        conn = db.connection(execution_options=None if db.in_transaction() else _AUTOCOMMIT)
        cur = conn.connection.cursor()
        try:
            result, count = _read_page(cur, _page_sql(conn.dialect, shape), params)
        finally:
            cur.close()
        db.rollback()
    rows = [dict(zip(_SUMMARY_KEYS, row, strict=False), simulated=SIMULATED) for row in result]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["booked_start"], last["id"])
    return rows[:limit], count, next_cursor


_AUTOCOMMIT: dict[str, Any] = {"isolation_level": "AUTOCOMMIT"}


def _read_page(
    cur: DBAPICursor, sql: tuple[PreparedSQL, PreparedSQL], params: dict[str, Any]
) -> tuple[list[tuple[Any, ...]], int]:
    """The page's rows (converted as the columns' types convert them) and
    the count of all matching: carried by the rows, counted alone only for a
    page past the last row."""
    count_sql, page_sql = sql
    rows = page_sql.fetchall(cur, params)
    if rows:
        return rows, int(rows[0][-1])
    if "at" in params:  # a cursor past the last row: no row carried the count
        return rows, int(count_sql.fetchall(cur, params)[0][0] or 0)
    return rows, 0


@functools.lru_cache(maxsize=512)
def _page_sql(dialect: Dialect, shape: tuple[Any, ...]) -> tuple[PreparedSQL, PreparedSQL]:
    """The count and page statements of one shape of filters (their names,
    after a cursor or not, the lengths of the list filters) as SQL text for
    ``dialect``: compiled once per shape, not per request."""
    filters, after_cursor, lengths = shape
    count, page = _page_statements(filters, after_cursor)
    return PreparedSQL(count, dialect, dict(lengths)), PreparedSQL(page, dialect, dict(lengths))


def get_contact_for(
    session: Session, *, contact_id: str, tenants: Sequence[str] | None = None
) -> Contact:
    contact = session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .options(
            joinedload(Contact.satellite),
            joinedload(Contact.antenna),
            selectinload(Contact.transitions),
        )
    )
    if contact is None or (tenants is not None and contact.tenant not in tenants):
        raise NotFoundError("contact", contact_id)
    return contact


#: The most samples ``contact_track`` computes for one contact.
MAX_TRACK_SAMPLES = 200_000


@dataclass(frozen=True)
class ContactTrack:
    """A contact's track from pre-pass start to post-pass end, and the
    Doppler shift of its downlink along it (shape ``(n_times,)``)."""

    track: Track
    downlink_freq_hz: float
    doppler_hz: NDArray[np.float64]


def contact_track(
    session: Session, *, contact_id: str, step_s: float, tenants: Sequence[str] | None = None
) -> ContactTrack:
    """Az/el/range/range-rate/Doppler of a contact every ``step_s``: what it
    needs is read in a short transaction, ended here, and the track is
    computed outside it (with the element set the contact was booked with)."""
    from orbital.track import compute_track

    contact = get_contact_for(session, contact_id=contact_id, tenants=tenants)
    station = orbital_station(contact.antenna.station, min_elevation_deg=0.0)
    element = element_set_from_text(contact.ephemeris_text)
    freq_hz = contact.satellite.downlink_freq_hz
    start, end = contact.booked_start, contact.booked_end
    session.rollback()
    samples = (end - start).total_seconds() / step_s
    if samples > MAX_TRACK_SAMPLES:
        raise ValidationError(
            f"step_s {step_s} gives {samples:.0f} samples for this contact; "
            f"at most {MAX_TRACK_SAMPLES}"
        )
    track = compute_track(element, station, start=start, end=end, step_s=step_s)
    return ContactTrack(track, freq_hz, track.doppler_hz(freq_hz))
