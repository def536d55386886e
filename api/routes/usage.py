"""Contact minutes per tenant and month (after AWS Ground Station's GetMinuteUsage)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from api import schemas
from api.deps import NowDep, OperatorDep, SessionDep
from api.routing import api_router
from groundstation import usage

router = api_router(tags=["usage"])


@router.get("/usage", response_model=schemas.UsagePublic)
def get_usage(
    session: SessionDep,
    now: NowDep,
    principal: OperatorDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")] = None,
) -> schemas.UsagePublic:
    """Booked (not cancelled) and used (completed) AOS..LOS minutes of the
    contacts whose AOS falls in `month` (default: the current one)."""
    month = month or now.strftime("%Y-%m")
    first, nxt = usage.month_range(month)
    rows = usage.usage(session, month=month, tenants=principal.tenants())
    data = [
        schemas.TenantUsage(
            tenant=r.tenant,
            booked_minutes=r.booked_minutes,
            used_minutes=r.used_minutes,
            contacts_booked=r.contacts_booked,
            contacts_completed=r.contacts_completed,
        )
        for r in rows
    ]
    return schemas.UsagePublic(month=month, start=first, end=nxt, data=data, count=len(data))
