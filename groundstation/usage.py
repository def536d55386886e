"""Contact minutes per tenant and month (after AWS Ground Station's
GetMinuteUsage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from groundstation.clock import SUPPORTED_END, SUPPORTED_START
from groundstation.errors import ValidationError
from groundstation.models import Contact
from groundstation.states import ContactState


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
