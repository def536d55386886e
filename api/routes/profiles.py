"""Mission profiles: pre/post-pass margins, minimum duration and elevation,
demodulation/decoding and delivery settings.

A profile belongs to a tenant, or is shared (admin-owned): an operator sees
its own tenant's and the shared ones, changes only its own; another tenant's
answers 404, a shared one 403 on write. ``PUT`` replaces every setting (all
fields required); ``PATCH`` is a JSON merge patch (RFC 7396)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, HTTPException, status

from api import schemas
from api.auth import Principal
from api.convert import profile_public
from api.deps import OperatorDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import inventory

router = api_router(tags=["mission-profiles"])

_404 = "no such profile (or another tenant's)"
_WRITE = problems(_404=_404, _403="a shared (admin-owned) profile: operators may not change it")


@router.get("/mission-profiles", response_model=schemas.ProfilesPublic)
def list_profiles(session: SessionDep, principal: OperatorDep) -> schemas.ProfilesPublic:
    """The shared profiles and those of the key's tenant (an admin: all)."""
    rows = inventory.list_profiles(session, tenants=principal.tenants())
    data = [profile_public(p) for p in rows]
    return schemas.ProfilesPublic(data=data, count=len(data))


@router.get(
    "/mission-profiles/{profile_id}",
    response_model=schemas.ProfilePublic,
    responses=problems(_404=_404),
)
def get_profile(
    profile_id: str, session: SessionDep, principal: OperatorDep
) -> schemas.ProfilePublic:
    """One mission profile with its settings, and the stored values that do not validate, if
    any."""
    profile = inventory.get_profile_for(session, profile_id=profile_id, tenants=principal.tenants())
    out = profile_public(profile)
    return out


def _owner(body: schemas.ProfileCreate, principal: Principal) -> str | None:
    if principal.is_admin:
        return body.tenant
    if body.tenant is not None and body.tenant != principal.tenant:
        raise HTTPException(
            403,
            f"tenant {body.tenant!r}: an operator key of tenant {principal.tenant!r} "
            "creates profiles of its own tenant only",
        )
    return principal.tenant


@router.post(
    "/mission-profiles",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ProfilePublic,
    responses=problems(_409="a profile with that id exists"),
)
def create_profile(
    body: schemas.ProfileCreate, session: SessionDep, principal: OperatorDep
) -> schemas.ProfilePublic:
    """An operator's profile belongs to its tenant; an admin's is shared
    (read-only to operators) unless it names a `tenant`."""
    profile = inventory.add_profile(
        session,
        profile_id=body.id,
        owner_tenant=_owner(body, principal),
        **body.model_dump(exclude={"id", "tenant"}),
    )
    return profile_public(profile)


@router.put(
    "/mission-profiles/{profile_id}",
    response_model=schemas.ProfilePublic,
    responses=_WRITE,
)
def replace_profile(
    profile_id: str,
    body: schemas.ProfileReplace,  # type: ignore[valid-type]
    session: SessionDep,
    principal: OperatorDep,
) -> schemas.ProfilePublic:
    """Replace the whole profile: every setting is required (a missing one is
    422, never silently reset to its default); send `{}` to clear a section.
    To change some settings only, use PATCH. Contacts already booked keep
    their windows."""
    profile = inventory.replace_profile(
        session,
        profile_id=profile_id,
        settings=body.model_dump(),  # type: ignore[attr-defined]
        tenants=principal.tenants(),
    )
    return profile_public(profile)


@router.patch(
    "/mission-profiles/{profile_id}",
    response_model=schemas.ProfilePublic,
    responses=_WRITE,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ProfilePatch"}}
            }
        }
    },
)
def patch_profile(
    profile_id: str,
    body: Annotated[
        schemas.ProfilePatch,  # type: ignore[valid-type]
        Body(media_type="application/merge-patch+json"),
    ],
    session: SessionDep,
    principal: OperatorDep,
) -> schemas.ProfilePublic:
    """JSON merge patch (RFC 7396; `application/merge-patch+json` or
    `application/json`): the settings sent replace theirs, in sections key
    by key; null removes a setting (back to its default); the others are
    kept. The patched profile is validated as a whole. Contacts already
    booked keep their windows."""
    patch: dict[str, Any] = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    profile = inventory.patch_profile(
        session, profile_id=profile_id, patch=patch, tenants=principal.tenants()
    )
    return profile_public(profile)
