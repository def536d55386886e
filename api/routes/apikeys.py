"""API keys over the API, for admins (the console's keys page): list, create
(the key is answered once; only its hash is stored) and revoke, as
`groundstation keys create/list/revoke` do (``groundstation.apikeys``).

Its schemas live here rather than in ``api/schemas.py``: they are used by
these three routes only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.deps import AdminDep, CtxDep, NowDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import apikeys

router = api_router(tags=["api-keys"])

KeyIdPath = Annotated[str, Path(min_length=1, max_length=36, description="the key's id")]
Tenant = Annotated[str, Field(min_length=1, max_length=120)]


class ApiKeyCreate(BaseModel):
    """A key to create: an operator names its tenant, a scientist the tenants
    whose datasets it reads."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "acme pipeline", "role": "operator", "tenant": "acme"}]
        },
    )
    name: str = Field(min_length=1, max_length=120, description="who or what uses the key")
    role: Literal["admin", "operator", "scientist"]
    tenant: str = Field("", max_length=120, description="operator: the tenant it acts for")
    granted_tenants: list[Tenant] = Field(
        default_factory=list, max_length=100, description="scientist: tenants it reads"
    )


class ApiKeyPublic(BaseModel):
    """A key as stored (never the key itself: only its hash is kept)."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    role: str
    tenant: str
    granted_tenants: list[str]
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the key itself: shown in this answer only, store it now")


class ApiKeysPublic(BaseModel):
    data: list[ApiKeyPublic]
    count: int


@router.get("/api-keys", response_model=ApiKeysPublic)
def list_api_keys(
    session: SessionDep,
    principal: AdminDep,
    include_revoked: Annotated[bool, Query(description="revoked keys too")] = False,
) -> ApiKeysPublic:
    """Every key, oldest first (admins only)."""
    rows = apikeys.list_keys(session, include_revoked=include_revoked)
    data = [ApiKeyPublic.model_validate(r) for r in rows]
    return ApiKeysPublic(data=data, count=len(data))


@router.post("/api-keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated)
def create_api_key(
    body: ApiKeyCreate, session: SessionDep, principal: AdminDep, now: NowDep
) -> ApiKeyCreated:
    """A new key (admins only); the answer holds the key, once."""
    row, key = apikeys.create_key(
        session,
        name=body.name,
        role=body.role,
        tenant=body.tenant,
        granted_tenants=body.granted_tenants,
        now=now,
    )
    return ApiKeyCreated(**ApiKeyPublic.model_validate(row).model_dump(), key=key)


@router.post(
    "/api-keys/{key_id}/revoke",
    response_model=ApiKeyPublic,
    responses=problems(_404="no such key"),
)
def revoke_api_key(
    key_id: KeyIdPath, session: SessionDep, principal: AdminDep, ctx: CtxDep, now: NowDep
) -> ApiKeyPublic:
    """Revoke a key (admins only): refused from now on by this process;
    another API process may accept it for up to GS_API_KEY_CACHE_S more."""
    row = apikeys.revoke_key(session, key_id=key_id, now=now)
    ctx.key_cache.forget(row.id)
    return ApiKeyPublic.model_validate(row)
