"""Mission profiles: pre/post-pass margins, minimum duration and elevation,
demodulation/decoding and delivery settings."""

from __future__ import annotations

from fastapi import APIRouter, status

from api import schemas
from api.deps import OperatorDep, SessionDep
from api.routes._responses import problems
from groundstation import inventory, queries

router = APIRouter(tags=["mission-profiles"])


@router.get("/mission-profiles", response_model=schemas.ProfilesPublic)
def list_profiles(session: SessionDep, principal: OperatorDep) -> schemas.ProfilesPublic:
    data = [schemas.ProfilePublic.model_validate(p) for p in queries.list_profiles(session)]
    session.rollback()
    return schemas.ProfilesPublic(data=data, count=len(data))


@router.get(
    "/mission-profiles/{profile_id}",
    response_model=schemas.ProfilePublic,
    responses=problems(_404="no such profile"),
)
def get_profile(
    profile_id: str, session: SessionDep, principal: OperatorDep
) -> schemas.ProfilePublic:
    out = schemas.ProfilePublic.model_validate(queries.get_profile(session, profile_id=profile_id))
    session.rollback()
    return out


@router.post(
    "/mission-profiles",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ProfilePublic,
    responses=problems(_409="a profile with that id exists"),
)
def create_profile(
    body: schemas.ProfileCreate, session: SessionDep, principal: OperatorDep
) -> schemas.ProfilePublic:
    profile = inventory.add_profile(
        session,
        profile_id=body.id,
        min_viable_duration_s=body.min_viable_duration_s,
        prepass_s=body.prepass_s,
        postpass_s=body.postpass_s,
        min_elevation_deg=body.min_elevation_deg,
        demod=body.demod,
        decode=body.decode,
        kafka_topic=body.kafka_topic,
        dataset_options=body.dataset_options,
    )
    return schemas.ProfilePublic.model_validate(profile)


@router.put(
    "/mission-profiles/{profile_id}",
    response_model=schemas.ProfilePublic,
    responses=problems(_404="no such profile"),
)
def update_profile(
    profile_id: str, body: schemas.ProfileUpdate, session: SessionDep, principal: OperatorDep
) -> schemas.ProfilePublic:
    """Replace the profile's settings; contacts already booked keep their windows."""
    profile = queries.update_profile(session, profile_id=profile_id, **body.model_dump())
    return schemas.ProfilePublic.model_validate(profile)
