"""Ground stations, their antennas and antenna maintenance windows (admin writes)."""

from __future__ import annotations

from fastapi import status

from api import schemas
from api.deps import AdminDep, ReaderDep, SessionDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation import inventory

router = api_router(tags=["ground-stations"])


def _station(s: object) -> schemas.StationPublic:
    return schemas.StationPublic.model_validate(s)


@router.get("/ground-stations", response_model=schemas.StationsPublic)
def list_stations(session: SessionDep, principal: ReaderDep) -> schemas.StationsPublic:
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
    out = _station(inventory.get_station(session, station_id=station_id))
    return out


@router.get(
    "/ground-stations/{station_id}/antennas",
    response_model=schemas.AntennasPublic,
    responses=problems(_404="no such station"),
)
def list_antennas(
    station_id: str, session: SessionDep, principal: ReaderDep
) -> schemas.AntennasPublic:
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
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    data = [
        schemas.MaintenancePublic.model_validate(m)
        for m in inventory.list_maintenance(session, antenna_id=antenna_id)
    ]
    return schemas.MaintenancesPublic(data=data, count=len(data))


@router.post(
    "/ground-stations/{station_id}/antennas/{antenna_id}/maintenance",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.MaintenancePublic,
    responses=problems(_404="no such station or antenna"),
)
def create_maintenance(
    station_id: str,
    antenna_id: str,
    body: schemas.MaintenanceCreate,
    session: SessionDep,
    principal: AdminDep,
) -> schemas.MaintenancePublic:
    inventory.get_antenna(session, station_id=station_id, antenna_id=antenna_id)
    window = inventory.add_maintenance(
        session, antenna_id=antenna_id, start=body.start, end=body.end, reason=body.reason
    )
    return schemas.MaintenancePublic.model_validate(window)
