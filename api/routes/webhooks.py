"""Outbound webhooks of a tenant (issue 15): register, list, read and delete
endpoints, and read each one's delivery log (``groundstation.webhooks``).

Operators act for their own tenant; admins see every tenant's and name the
tenant of an endpoint they register. Another tenant's endpoint answers 404.
The schemas live here: these routes alone use them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Path, Query, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr

from api.auth import Principal
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import webhooks
from groundstation.models import WebhookDelivery, WebhookEndpoint

router = api_router(tags=["webhooks"])

_404 = "no such webhook (or another tenant's)"
WebhookIdPath = Annotated[str, Path(min_length=1, max_length=36, description="the webhook's id")]
EventType = Literal[
    "contact.booked",
    "contact.updated",
    "contact.cancelled",
    "contact.completed",
    "contact.failed",
    "contact.state_changed",
]


class WebhookCreate(BaseModel):
    """An endpoint to register: where to POST, which event types (none: all),
    and optionally its signing secret (else one is made and answered once)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.org/groundstation",
                    "event_types": ["contact.booked", "contact.completed"],
                    "description": "mission ops pager",
                }
            ]
        },
    )
    url: StrictStr = Field(min_length=1, max_length=webhooks.MAX_URL_CHARS)
    event_types: list[EventType] = Field(
        default_factory=list, max_length=len(webhooks.EVENT_TYPES), description="none: all"
    )
    secret: StrictStr | None = Field(
        None,
        min_length=webhooks.SECRET_CHARS[0],
        max_length=webhooks.SECRET_CHARS[1],
        description="the HMAC-SHA256 key; left out, a random one is made",
    )
    description: StrictStr = Field("", max_length=200)
    tenant: StrictStr | None = Field(
        None, min_length=1, max_length=120, description="admins: the tenant it belongs to"
    )


class WebhookPublic(BaseModel):
    """An endpoint as stored (never its secret)."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    tenant: str
    url: str
    description: str
    event_types: list[str] = Field(description="empty: every type")
    created_at: AwareDatetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="the signing secret: shown in this answer only, store it now")


class WebhooksPublic(BaseModel):
    data: list[WebhookPublic]
    count: int


class DeliveryAttempt(BaseModel):
    attempt: int
    at: AwareDatetime = Field(description="wall-clock time it was sent")
    status_code: int | None = Field(description="the receiver's status; null: no answer")
    error: str = Field(description="empty on success")
    duration_ms: float


class DeliveryPublic(BaseModel):
    """One event for the endpoint: pending (next attempt at
    ``next_attempt_at``), delivered (a 2xx answer) or failed (every attempt)."""

    model_config = ConfigDict(from_attributes=True)
    id: str = Field(description="also sent as X-Groundstation-Delivery")
    event_id: int = Field(description="the contact event's id (SSE id:)")
    event_type: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: AwareDatetime | None
    last_status_code: int | None
    last_error: str
    attempt_log: list[DeliveryAttempt]
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None
    payload: dict[str, Any] = Field(description="the JSON body POSTed")


class DeliveriesPublic(BaseModel):
    data: list[DeliveryPublic]
    count: int


def _public(row: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic.model_validate(row)


def _delivery(row: WebhookDelivery) -> DeliveryPublic:
    fields = {k: getattr(row, k) for k in DeliveryPublic.model_fields if k != "payload"}
    return DeliveryPublic(**fields, payload=json.loads(row.payload))


def _tenant(body: WebhookCreate, principal: Principal) -> str:
    if principal.is_admin:
        if body.tenant is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "body.tenant: an admin key names the tenant the webhook belongs to",
            )
        return body.tenant
    if body.tenant is not None and body.tenant != principal.tenant:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"tenant {body.tenant!r}: an operator key of tenant {principal.tenant!r} "
            "registers webhooks of its own tenant only",
        )
    return principal.tenant


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookCreated,
    summary="Register a webhook endpoint",
    responses=problems(_403="another tenant named", _422="bad url, event type or secret"),
)
def create_webhook(
    body: WebhookCreate, session: SessionDep, principal: OperatorDep, ctx: CtxDep, now: NowDep
) -> WebhookCreated:
    """The tenant's contact events from now on are POSTed to `url`, signed
    with the secret (answered here only). See api/README.md, Webhooks."""
    row, secret = webhooks.create_endpoint(
        session,
        tenant=_tenant(body, principal),
        url=body.url,
        event_types=body.event_types,
        secret=body.secret,
        description=body.description,
        now=now,
        allow_private=ctx.settings.webhook_allow_private,
    )
    return WebhookCreated(**_public(row).model_dump(), secret=secret)


@router.get("/webhooks", response_model=WebhooksPublic, summary="List webhook endpoints")
def list_webhooks(session: SessionDep, principal: OperatorDep) -> WebhooksPublic:
    """The endpoints of the key's tenant (an admin: every tenant's), oldest first."""
    data = [_public(r) for r in webhooks.list_endpoints(session, tenants=principal.tenants())]
    return WebhooksPublic(data=data, count=len(data))


@router.get(
    "/webhooks/{webhook_id}",
    response_model=WebhookPublic,
    summary="Read a webhook endpoint",
    responses=problems(_404=_404),
)
def get_webhook(
    webhook_id: WebhookIdPath, session: SessionDep, principal: OperatorDep
) -> WebhookPublic:
    """One endpoint (without its secret)."""
    row = webhooks.get_endpoint(session, endpoint_id=webhook_id, tenants=principal.tenants())
    return _public(row)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a webhook endpoint",
    responses=problems(_404=_404),
)
def delete_webhook(webhook_id: WebhookIdPath, session: SessionDep, principal: OperatorDep) -> None:
    """The endpoint and its delivery log; its pending deliveries are not sent."""
    webhooks.delete_endpoint(session, endpoint_id=webhook_id, tenants=principal.tenants())


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveriesPublic,
    summary="Read a webhook's delivery log",
    responses=problems(_404=_404),
)
def list_webhook_deliveries(
    webhook_id: WebhookIdPath,
    session: SessionDep,
    principal: OperatorDep,
    state: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(description="only these")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveriesPublic:
    """The endpoint's deliveries, newest first: each attempt's time, status
    code (null: no answer) and error, and the body sent."""
    rows = webhooks.list_deliveries(
        session, endpoint_id=webhook_id, tenants=principal.tenants(), state=state, limit=limit
    )
    data = [_delivery(r) for r in rows]
    return DeliveriesPublic(data=data, count=len(data))
