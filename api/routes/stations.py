"""Ground stations, their antennas (status) and antenna maintenance windows
(admin writes): taking an antenna out of service fails the contacts it holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Path, Query, Response, status

from api import schemas
from api.deps import AdminDep, CtxDep, NowDep, ReaderDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation import inventory, maintenance

router = api_router(tags=["ground-stations"])

WindowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="maintenance window id")]


def _station(s: object) -> schemas.StationPublic:
    return schemas.StationPublic.model_validate(s)


@router.get("/ground-stations", response_model=schemas.StationsPublic)
def list_stations(session: SessionDep, principal: ReaderDep) -> schemas.StationsPublic:
    """The ground stations with their antennas (every key reads them)."""
    data = [_station(s) for s in inventory.list_stations(session)]
    return schemas.StationsPublic(data=data, count=len(data))


@router.post(
    "/ground-stations",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.StationPublic,
    responses=problems(_409="a station with that id exists"),
)
def create_station(
    body: schemas.StationCreate, session: SessionDep, principal: AdminDep
) -> schemas.StationPublic:
    """Add a ground station (admins): id, name, location, minimum elevation and horizon mask;
    its antennas are added next."""
    inventory.add_station(
        session,
        station_id=body.id,
        name=body.name,
        lat_deg=body.lat_deg,
        lon_deg=body.lon_deg,
        alt_m=body.alt_m,
        min_elevation_deg=body.min_elevation_deg,
        horizon_mask=body.horizon_mask,
    )
    out = _station(inventory.get_station(session, station_id=body.id))
    return out


@router.get(
    "/ground-stations/{station_id}",
    response_model=schemas.StationPublic,
    responses=problems(_404="no such station"),
)
def get_station(
    station_id: str, session: SessionDep, principal: ReaderDep
) -> schemas.StationPublic:
    """One ground station with its antennas."""
    out = _station(inventory.get_station(session, station_id=station_id))
    return out


@router.patch(
    "/ground-stations/{station_id}",
    response_model=schemas.StationChangePublic,
    responses=problems(_404="no such station"),
)
def update_station(
    station_id: str,
    body: schemas.StationUpdate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: AdminDep,
) -> schemas.StationChangePublic:
    """Change a station's name, location, minimum elevation or horizon mask
    (admins). A change of geometry re-predicts its SCHEDULED contacts whose
    pre-pass is ahead, each with the ephemeris it was booked with: a moved
    window is updated, a pass that no longer fits becomes FAILED_TO_SCHEDULE
    naming the change; contacts under way keep their window."""
    changes = body.model_dump(exclude_unset=True)
    if not changes or any(v is None for v in changes.values()):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="give at least one of name, lat_deg, lon_deg, alt_m, min_elevation_deg, "
            f"horizon_mask, none null (got {sorted(changes) or 'nothing'})",
        )
    station, fired = inventory.update_station(
        session, station_id=station_id, changes=changes, now=now, events=ctx.events
    )
    moved = [e.contact_id for e in fired if e.new_state == "SCHEDULED"]
    failed = [e.contact_id for e in fired if e.new_state != "SCHEDULED"]
    return schemas.StationChangePublic.model_validate(
        {**_station(station).model_dump(), "contacts_moved": moved, "contacts_failed": failed}
    )


@router.get(
    "/ground-stations/{station_id}/antennas",
    response_model=schemas.AntennasPublic,
    responses=problems(_404="no such station"),
)
def list_antennas(
    station_id: str, session: SessionDep, principal: ReaderDep
) -> schemas.AntennasPublic:
    """The antennas of a station: bands, slew rates, setup and teardown times, status."""
    station = inventory.get_station(session, station_id=station_id)
    data = [schemas.AntennaPublic.model_validate(a) for a in station.antennas]
    return schemas.AntennasPublic(data=data, count=len(data))


@router.post(
    "/ground-stations/{station_id}/antennas",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.AntennaPublic,
    responses=problems(_404="no such station", _409="an antenna with that id exists"),
)
def create_antenna(
    station_id: str, body: schemas.AntennaCreate, session: SessionDep, principal: AdminDep
) -> schemas.AntennaPublic:
    """Add an antenna to a station (admins): its bands (`bands_hz`), minimum elevation, slew
    rates, setup and teardown times and status."""
    antenna = inventory.add_antenna(
        session,
        antenna_id=body.id,
        station_id=station_id,
        bands_hz=body.bands_hz,
        min_elevation_deg=body.min_elevation_deg,
        max_az_slew_deg_s=body.max_az_slew_deg_s,
        max_el_slew_deg_s=body.max_el_slew_deg_s,
        setup_s=body.setup_s,
        teardown_s=body.teardown_s,
        status=body.status,
    )
    return schemas.AntennaPublic.model_validate(antenna)


@router.get(
    "/ground-stations/{station_id}/antennas/{antenna_id}/maintenance",
    response_model=schemas.MaintenancesPublic,
    responses=problems(_404="no such station or antenna"),
)
def list_maintenance(
    station_id: str, antenna_id: str, session: SessionDep, principal: ReaderDep
) -> schemas.MaintenancesPublic:
    """The maintenance windows of an antenna, earliest first."""
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    data = [
        schemas.MaintenancePublic.model_validate(m)
        for m in inventory.list_maintenance(session, antenna_id=antenna_id)
    ]
    return schemas.MaintenancesPublic(data=data, count=len(data))


@router.get("/maintenance-windows", response_model=schemas.MaintenancesPublic)
def list_maintenance_between(
    session: SessionDep,
    principal: ReaderDep,
    start: Timestamp,
    end: Timestamp,
    station: Annotated[str | None, Query(max_length=80, description="station id")] = None,
) -> schemas.MaintenancesPublic:
    """The maintenance windows of every antenna (of `station`) overlapping
    `start`..`end`, by start time: what the console's timeline shows."""
    data = [
        schemas.MaintenancePublic.model_validate(m)
        for m in inventory.maintenance_between(session, start=start, end=end, station_id=station)
    ]
    return schemas.MaintenancesPublic(data=data, count=len(data))


_HOLDS = (
    "Contacts of the antenna that it holds and that have not reached PASS (SCHEDULED, "
    "PREPASS) become PROVIDER_FAILED, with an event naming the reason; those in PASS or "
    "POSTPASS are left to finish. The answer lists both."
)


@router.post(
    "/ground-stations/{station_id}/antennas/{antenna_id}/maintenance",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.MaintenanceChangePublic,
    responses=problems(_404="no such station or antenna"),
    description="Add a maintenance window: the antenna is not bookable in it. " + _HOLDS,
)
def create_maintenance(
    station_id: str,
    antenna_id: str,
    body: schemas.MaintenanceCreate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: AdminDep,
) -> schemas.MaintenanceChangePublic:
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    change = maintenance.add_window(
        session,
        antenna_id=antenna_id,
        start=body.start,
        end=body.end,
        reason=body.reason,
        now=now,
        by=f"key {principal.name}",
        events=ctx.events,
    )
    return _maintenance_change(change)


@router.patch(
    "/ground-stations/{station_id}/antennas/{antenna_id}/maintenance/{window_id}",
    response_model=schemas.MaintenanceChangePublic,
    responses=problems(_404="no such station, antenna or maintenance window"),
    description="Move, resize or re-word a maintenance window (fields left out keep their "
    "value). " + _HOLDS,
)
def update_maintenance(
    station_id: str,
    antenna_id: str,
    window_id: WindowId,
    body: schemas.MaintenanceUpdate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: AdminDep,
) -> schemas.MaintenanceChangePublic:
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    change = maintenance.update_window(
        session,
        antenna_id=antenna_id,
        window_id=window_id,
        start=body.start,
        end=body.end,
        reason=body.reason,
        now=now,
        by=f"key {principal.name}",
        events=ctx.events,
    )
    return _maintenance_change(change)


@router.delete(
    "/ground-stations/{station_id}/antennas/{antenna_id}/maintenance/{window_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(_404="no such station, antenna or maintenance window"),
)
def delete_maintenance(
    station_id: str, antenna_id: str, window_id: WindowId, session: SessionDep, principal: AdminDep
) -> Response:
    """Remove a maintenance window: the antenna is bookable in it again
    (contacts it failed stay PROVIDER_FAILED)."""
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    maintenance.delete_window(session, antenna_id=antenna_id, window_id=window_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.patch(
    "/ground-stations/{station_id}/antennas/{antenna_id}",
    response_model=schemas.AntennaChangePublic,
    responses=problems(_404="no such station or antenna"),
    description="Change an antenna's bands, slew rates or status (online, offline, "
    "maintenance); fields left out keep their value. Not online: it is not bookable, and its "
    "contacts from now on are handled as a maintenance window's. " + _HOLDS + " New bands or "
    "slew rates: its contacts from now on that have not reached PASS and that it can no longer "
    "hold (downlink outside the bands; at an agent's station, a pass the rotator cannot follow) "
    "become PROVIDER_FAILED naming the change.",
)
def update_antenna(
    station_id: str,
    antenna_id: str,
    body: schemas.AntennaUpdate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: AdminDep,
) -> schemas.AntennaChangePublic:
    changes = body.model_dump(exclude_unset=True)
    if not changes or any(v is None for v in changes.values()):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="give at least one of bands_hz, max_az_slew_deg_s, max_el_slew_deg_s, "
            f"status, none null (got {sorted(changes) or 'nothing'})",
        )
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    antenna, held = maintenance.update_antenna(
        session,
        antenna_id=antenna_id,
        changes=changes,
        now=now,
        by=f"key {principal.name}",
        events=ctx.events,
    )
    return schemas.AntennaChangePublic.model_validate(
        {
            **schemas.AntennaPublic.model_validate(antenna).model_dump(),
            "contacts_failed": held.failed,
            "contacts_running": held.running,
        }
    )


def _maintenance_change(change: maintenance.MaintenanceChange) -> schemas.MaintenanceChangePublic:
    return schemas.MaintenanceChangePublic.model_validate(
        {
            **schemas.MaintenancePublic.model_validate(change.window).model_dump(),
            "contacts_failed": change.contacts.failed,
            "contacts_running": change.contacts.running,
        }
    )
