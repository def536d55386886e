"""Station agents (issue 13): what ``groundstation agent`` at a station
reads and reports with its ``station`` key, and its status for readers.

A station key acts for its own station only: another station in the path
answers 404, as one that does not exist.
"""

from __future__ import annotations

from api import schemas
from api.auth import Principal
from api.deps import CtxDep, NowDep, ReaderDep, SessionDep, StationKeyDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import agents, inventory
from groundstation.errors import NotFoundError

router = api_router(tags=["station-agents"])


def _own(principal: Principal, station_id: str) -> None:
    if principal.station_id != station_id:
        raise NotFoundError("station", station_id)


@router.post(
    "/ground-stations/{station_id}/agent/heartbeat",
    response_model=schemas.AgentStatusPublic,
    responses=problems(_404="no such station, or not this key's station"),
)
def heartbeat(
    station_id: str,
    body: schemas.AgentHeartbeat,
    session: SessionDep,
    now: NowDep,
    ctx: CtxDep,
    principal: StationKeyDep,
) -> schemas.AgentStatusPublic:
    """A station agent says it is alive (its station's key only): software version, front end
    (says `simulated` when it is), status; the answer carries the central service's clock."""
    _own(principal, station_id)
    agents.record_heartbeat(
        session,
        station_id=station_id,
        software_version=body.software_version,
        front_end=body.front_end,
        status=body.status,
        now=now,
        events=ctx.events,
    )
    return _status(session, station_id, now, ctx.settings.agent_offline_after_s)


def _status(
    session: SessionDep, station_id: str, now: NowDep, offline_after_s: float
) -> schemas.AgentStatusPublic:
    st = agents.agent_status(
        session, station_id=station_id, now=now, offline_after_s=offline_after_s
    )
    return schemas.AgentStatusPublic(
        station_id=st.station_id,
        registered=st.registered,
        online=st.online,
        last_seen_at=st.last_seen_at,
        software_version=st.software_version,
        front_end=st.front_end,
        status=st.status or {},
        service_now=now,
    )


@router.get(
    "/ground-stations/{station_id}/agent",
    response_model=schemas.AgentStatusPublic,
    responses=problems(_404="no such station"),
)
def agent_status(
    station_id: str, session: SessionDep, now: NowDep, ctx: CtxDep, principal: ReaderDep
) -> schemas.AgentStatusPublic:
    """Whether the station's agent is registered and online, and its last heartbeat."""
    inventory.get_station(session, station_id=station_id)
    return _status(session, station_id, now, ctx.settings.agent_offline_after_s)


@router.get(
    "/ground-stations/{station_id}/agent/contacts",
    response_model=schemas.AgentContactsPublic,
    responses=problems(_404="no such station, or not this key's station"),
)
def agent_contacts(
    station_id: str, session: SessionDep, now: NowDep, ctx: CtxDep, principal: StationKeyDep
) -> schemas.AgentContactsPublic:
    """The station's active contacts whose pass is not over, within the horizon."""
    _own(principal, station_id)
    data = agents.station_runs(
        session,
        station_id=station_id,
        now=now,
        horizon_s=ctx.settings.agent_contacts_horizon_s,
    )
    return schemas.AgentContactsPublic(data=data, count=len(data))


@router.post(
    "/ground-stations/{station_id}/agent/contacts/{contact_id}/frames",
    response_model=schemas.AgentFramesStored,
    responses=problems(_404="no such contact at this key's station"),
)
def upload_frames(
    station_id: str,
    contact_id: str,
    body: schemas.AgentFramesUpload,
    session: SessionDep,
    now: NowDep,
    principal: StationKeyDep,
) -> schemas.AgentFramesStored:
    """Frames the agent decoded; sending a batch again stores nothing twice."""
    _own(principal, station_id)
    frames = [agents.decode_frame(f.model_dump(mode="json")) for f in body.frames]
    new = agents.store_frames(
        session, station_id=station_id, contact_id=contact_id, frames=frames, now=now
    )
    stored = agents.frames_stored(session, contact_id=contact_id)
    session.rollback()
    return schemas.AgentFramesStored(received=len(frames), new=new, stored=stored)


@router.post(
    "/ground-stations/{station_id}/agent/contacts/{contact_id}/report",
    response_model=schemas.AgentReportPublic,
    responses=problems(_404="no such contact at this key's station"),
)
def report(
    station_id: str,
    contact_id: str,
    body: schemas.AgentReportCreate,
    session: SessionDep,
    now: NowDep,
    principal: StationKeyDep,
) -> schemas.AgentReportPublic:
    """The end-of-pass report; sent again, the first one is answered."""
    _own(principal, station_id)
    row = agents.store_report(
        session,
        station_id=station_id,
        contact_id=contact_id,
        ok=body.ok,
        reason=body.reason,
        frames_total=body.frames_total,
        summary=body.summary,
        now=now,
    )
    return schemas.AgentReportPublic(
        contact_id=row.contact_id,
        ok=row.ok,
        reason=row.reason,
        frames_total=row.frames_total,
        reported_at=row.reported_at,
    )
