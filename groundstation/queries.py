"""Read-side queries for the API (listing, filtering, pagination, usage).

Keyword-only functions taking a ``Session``, like the other service modules.
``tenants=None`` means every tenant; a tuple restricts rows to those tenants
(an entity outside them is reported as not existing).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from groundstation.clock import (
    SUPPORTED_END,
    SUPPORTED_START,
    require_supported,
    require_utc,
)
from groundstation.errors import GoneError, NotFoundError, ValidationError
from groundstation.models import (
    Antenna,
    Contact,
    Satellite,
)
from groundstation.states import ContactState
from ingest.catalog import DatasetEntry, DatasetRow

if TYPE_CHECKING:
    pass

# ---------------------------------------------------------------- contacts


def _cursor_of(booked_start: datetime, contact_id: str) -> str:
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
) -> list[Any]:
    clauses: list[Any] = []
    if tenants is not None:
        clauses.append(Contact.tenant.in_(list(tenants)))
    if states:
        bad = [s for s in states if s not in ContactState.__members__]
        if bad:
            raise ValidationError(
                f"state {bad[0]!r} is not a contact state; one of {', '.join(ContactState)}"
            )
        clauses.append(Contact.state.in_(list(states)))
    if norad_id is not None:
        clauses.append(
            Contact.satellite_id.in_(select(Satellite.id).where(Satellite.norad_id == norad_id))
        )
    if station_id is not None:
        clauses.append(
            Contact.antenna_id.in_(select(Antenna.id).where(Antenna.station_id == station_id))
        )
    if start is not None:
        clauses.append(Contact.booked_end > require_utc(start, "start"))
    if end is not None:
        clauses.append(Contact.booked_start < require_utc(end, "end"))
    return clauses


# The public fields of a contact (api ContactPublic), as plain columns.
CONTACT_SUMMARY_COLUMNS = (
    Contact.id,
    Satellite.norad_id,
    Antenna.station_id,
    Contact.antenna_id,
    Contact.profile_id,
    Contact.tenant,
    Contact.state,
    Contact.state_reason,
    Contact.aos,
    Contact.tca,
    Contact.los,
    Contact.booked_start,
    Contact.booked_end,
    Contact.blocked_start,
    Contact.blocked_end,
    Contact.max_elevation_deg,
    Contact.ephemeris_epoch,
    Contact.created_at,
)


def contacts_page(
    session: Session,
    *,
    tenants: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    norad_id: int | None = None,
    station_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of contacts ordered by (booked start, id), as dicts of
    ``CONTACT_SUMMARY_COLUMNS`` (plain rows: this is the API's busiest read),
    the total count matching the filters, and the cursor of the next page
    (None at the end)."""
    clauses = _contact_filters(
        tenants=tenants,
        states=states,
        norad_id=norad_id,
        station_id=station_id,
        start=start,
        end=end,
    )
    count = session.scalar(select(func.count()).select_from(Contact).where(*clauses)) or 0
    if cursor:
        at, last_id = decode_cursor(cursor)
        clauses.append(
            or_(Contact.booked_start > at, and_(Contact.booked_start == at, Contact.id > last_id))
        )
    result = session.execute(
        select(*CONTACT_SUMMARY_COLUMNS)
        .join(Satellite, Satellite.id == Contact.satellite_id)
        .join(Antenna, Antenna.id == Contact.antenna_id)
        .where(*clauses)
        .order_by(Contact.booked_start, Contact.id)
        .limit(limit + 1)
    )
    rows = [row._asdict() for row in result]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursor_of(last["booked_start"], last["id"])
    return rows[:limit], int(count), next_cursor


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


def contact_tenant(session: Session, *, contact_id: str) -> str | None:
    return session.scalar(select(Contact.tenant).where(Contact.id == contact_id))


# ---------------------------------------------------------------- usage


@dataclass(frozen=True)
class TenantUsage:
    tenant: str
    booked_minutes: float
    used_minutes: float
    contacts_booked: int
    contacts_completed: int


def month_range(month: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> [first instant, first instant of the next month) in UTC."""
    try:
        year_s, month_s = month.split("-")
        year, mon = int(year_s), int(month_s)
        first = datetime(year, mon, 1, tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"month {month!r} is not YYYY-MM (e.g. 2023-07)") from None
    if not SUPPORTED_START <= first < SUPPORTED_END:
        raise ValidationError(
            f"month {month!r} is outside the supported range "
            f"{SUPPORTED_START:%Y-%m}..{SUPPORTED_END - timedelta(days=1):%Y-%m}"
        )
    nxt = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=UTC)
    return first, nxt


def usage(
    session: Session, *, month: str, tenants: Sequence[str] | None = None
) -> list[TenantUsage]:
    """Contact minutes per tenant for contacts whose AOS falls in ``month``:
    booked = AOS..LOS of every contact that was booked and not cancelled or
    refused; used = AOS..LOS of the completed ones (as AWS GetMinuteUsage)."""
    first, nxt = month_range(month)
    query = select(Contact.tenant, Contact.state, Contact.aos, Contact.los).where(
        Contact.aos >= first, Contact.aos < nxt
    )
    if tenants is not None:
        query = query.where(Contact.tenant.in_(list(tenants)))
    not_booked = {
        ContactState.CANCELLED.value,
        ContactState.FAILED_TO_SCHEDULE.value,
        ContactState.AVAILABLE.value,
    }
    acc: dict[str, list[float]] = {}
    for tenant, state, aos, los in session.execute(query):
        minutes = (los - aos).total_seconds() / 60.0
        row = acc.setdefault(tenant, [0.0, 0.0, 0, 0])
        if state not in not_booked:
            row[0] += minutes
            row[2] += 1
        if state == ContactState.COMPLETED.value:
            row[1] += minutes
            row[3] += 1
    if tenants is not None:
        for tenant in tenants:
            acc.setdefault(tenant, [0.0, 0.0, 0, 0])
    return [
        TenantUsage(t, round(v[0], 3), round(v[1], 3), int(v[2]), int(v[3]))
        for t, v in sorted(acc.items())
    ]


# ---------------------------------------------------------------- datasets


def _dataset_query(tenants: Sequence[str] | None, state: str = "ready") -> Any:
    query = select(DatasetRow).where(DatasetRow.state == state)
    if tenants is not None:
        query = query.where(
            DatasetRow.norad_id.in_(
                select(Satellite.norad_id).where(Satellite.tenant.in_(list(tenants)))
            )
        )
    return query


def list_datasets(
    session: Session,
    *,
    tenants: Sequence[str] | None = None,
    norad_id: int | None = None,
    station: str | None = None,
    contact_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[DatasetEntry], int]:
    """Ready datasets of the tenants' satellites overlapping start..end."""
    query = _dataset_query(tenants)
    if norad_id is not None:
        query = query.where(DatasetRow.norad_id == norad_id)
    if station is not None:
        query = query.where(DatasetRow.station == station)
    if contact_id is not None:
        query = query.where(DatasetRow.contact_id == contact_id)
    if start is not None:
        query = query.where(DatasetRow.end_time >= require_utc(start, "start"))
    if end is not None:
        query = query.where(DatasetRow.start_time <= require_utc(end, "end"))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(DatasetRow.files))
        .order_by(DatasetRow.start_time, DatasetRow.id)
        .limit(limit)
        .offset(offset)
    )
    return [DatasetEntry.from_row(r) for r in rows], int(count)


def get_dataset_for(
    session: Session, *, dataset_id: str, tenants: Sequence[str] | None = None
) -> DatasetEntry:
    row = session.scalar(
        _dataset_query(tenants)
        .where(DatasetRow.id == dataset_id)
        .options(selectinload(DatasetRow.files))
    )
    if row is None:
        expired = session.scalar(
            _dataset_query(tenants, state="expired").where(DatasetRow.id == dataset_id)
        )
        if expired is not None:
            at = expired.expired_at.isoformat() if expired.expired_at else "?"
            raise GoneError(f"dataset {dataset_id!r} was removed at {at}: {expired.expired_reason}")
        raise NotFoundError("dataset", dataset_id)
    return DatasetEntry.from_row(row)
