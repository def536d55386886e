"""A tenant's own dataset bucket (issue 18, per-profile delivery): read by
admins and the tenant's operators, set and cleared by admins
(``groundstation.tenant_buckets``).

Its schemas live here rather than in ``api/schemas.py``: they are used by
these three routes only.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.auth import Principal
from api.deps import AdminDep, CtxDep, NowDep, OperatorDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import tenant_buckets
from groundstation.errors import NotFoundError

router = api_router(tags=["tenants"])

TenantPath = Annotated[str, Path(min_length=1, max_length=120, description="the tenant")]


class TenantBucketSet(BaseModel):
    """The bucket a tenant's datasets go to from now on."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"bucket": "acme-datasets"}]}
    )
    bucket: str = Field(
        min_length=1,
        max_length=255,
        description=(
            "an S3 bucket name (3-63 lowercase letters, digits, '.' and '-'); the service "
            "must be able to write to it with its own credentials"
        ),
    )


class TenantBucketPublic(BaseModel):
    tenant: str
    bucket: str | None = Field(description="null: the service's default store")
    source: Literal["api", "settings", "default"] = Field(
        description=(
            "api: set by an admin here; settings: GS_TENANT_BUCKETS; default: no bucket of its own"
        )
    )
    updated_at: AwareDatetime | None = None


def _public(found: tenant_buckets.BucketSetting) -> TenantBucketPublic:
    return TenantBucketPublic(
        tenant=found.tenant,
        bucket=found.bucket,
        source=found.source,
        updated_at=found.updated_at,
    )


def _may_read(principal: Principal, tenant: str) -> None:
    if not principal.sees(tenant):
        raise NotFoundError("tenant", tenant)


@router.get(
    "/tenants/{tenant}/bucket",
    response_model=TenantBucketPublic,
    responses=problems(
        _404="no satellite or API key names the tenant, or (operators) another tenant"
    ),
)
def get_tenant_bucket(
    tenant: TenantPath, session: SessionDep, ctx: CtxDep, principal: OperatorDep
) -> TenantBucketPublic:
    """Where the tenant's next datasets go, and who set it."""
    _may_read(principal, tenant)
    return _public(tenant_buckets.tenant_bucket(session, ctx.dataset_stores(), tenant=tenant))


@router.put(
    "/tenants/{tenant}/bucket",
    response_model=TenantBucketPublic,
    responses=problems(
        _404="no satellite or API key names the tenant",
        _422=(
            "the bucket name breaks S3's naming rules, or the service cannot write to the "
            "bucket (no such bucket, access denied, endpoint unreachable): the detail says "
            "which, naming the bucket"
        ),
    ),
)
def set_tenant_bucket(
    tenant: TenantPath,
    body: TenantBucketSet,
    session: SessionDep,
    ctx: CtxDep,
    principal: AdminDep,
    now: NowDep,
) -> TenantBucketPublic:
    """Send the tenant's datasets to ``bucket`` from now on (admins only),
    after writing, reading back and deleting a probe object there. Datasets
    already stored stay in the bucket they were written to, and keep
    downloading from there."""
    found = tenant_buckets.set_tenant_bucket(
        session, ctx.dataset_stores(), tenant=tenant, bucket=body.bucket, now=now
    )
    return _public(found)


@router.delete(
    "/tenants/{tenant}/bucket",
    response_model=TenantBucketPublic,
    responses=problems(_404="no satellite or API key names the tenant"),
)
def clear_tenant_bucket(
    tenant: TenantPath, session: SessionDep, ctx: CtxDep, principal: AdminDep
) -> TenantBucketPublic:
    """Forget the bucket an admin set (admins only): the tenant's next
    datasets go where GS_TENANT_BUCKETS says, else to the default store.
    Nothing stored is moved or deleted."""
    found = tenant_buckets.clear_tenant_bucket(session, ctx.dataset_stores(), tenant=tenant)
    return _public(found)
