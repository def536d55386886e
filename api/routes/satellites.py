"""Satellites of a tenant and their ephemerides: TLE/3LE, OMM (JSON, CSV,
KVN, XML) and CCSDS OEM (KVN, XML), the format detected and named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import schemas
from api.auth import Principal
from api.context import AppContext
from api.convert import satellite_public
from api.deps import CtxDep, NowDep, OperatorDep, ReaderDep, SessionDep
from api.errors import problem
from api.limits import run_expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation import ephemerides, inventory
from groundstation.models import Ephemeris

router = api_router(tags=["satellites"])


def _public(e: Ephemeris, now: datetime) -> schemas.EphemerisPublic:
    out = schemas.EphemerisPublic.model_validate(e)
    out.status = ephemerides.ephemeris_status(e, now=now)  # type: ignore[assignment]
    return out


NoradPath = Annotated[int, Path(gt=0, lt=1_000_000_000, description="NORAD id")]

_404 = problems(_404="no such satellite (or another tenant's)")
_TLE_EXAMPLE = (
    "NOAA 19\n"
    "1 33591U 09005A   23185.67452503  .00000194  00000+0  12938-3 0  9995\n"
    "2 33591  99.0983 231.8800 0013750 189.5465 170.5447 14.12780756742414\n"
)
_OMM_EXAMPLE: dict[str, Any] = {
    "OBJECT_NAME": "NOAA 19",
    "OBJECT_ID": "2009-005A",
    "EPOCH": "2023-07-04T16:11:18.962592",
    "MEAN_MOTION": 14.12780756,
    "ECCENTRICITY": 0.001375,
    "INCLINATION": 99.0983,
    "RA_OF_ASC_NODE": 231.88,
    "ARG_OF_PERICENTER": 189.5465,
    "MEAN_ANOMALY": 170.5447,
    "EPHEMERIS_TYPE": 0,
    "CLASSIFICATION_TYPE": "U",
    "NORAD_CAT_ID": 33591,
    "ELEMENT_SET_NO": 999,
    "REV_AT_EPOCH": 74241,
    "BSTAR": 0.00012938,
    "MEAN_MOTION_DOT": 0.00000194,
    "MEAN_MOTION_DDOT": 0,
}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "text/plain": {"schema": {"type": "string"}, "example": _TLE_EXAMPLE},
            "application/json": {"schema": {}, "example": _OMM_EXAMPLE},
        },
        "required": True,
    }
}


@router.get("/satellites", response_model=schemas.SatellitesPublic)
def list_satellites(
    session: SessionDep,
    principal: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> schemas.SatellitesPublic:
    """The satellites the key sees (its tenants'; admins: all), by NORAD id, paged."""
    rows, count = inventory.list_satellites(
        session, tenants=principal.tenants(), limit=limit, offset=offset
    )
    data = [satellite_public(s) for s in rows]
    return schemas.SatellitesPublic(data=data, count=count)


@router.post(
    "/satellites",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.SatellitePublic,
    responses=problems(_409="a satellite with that NORAD id exists"),
)
def create_satellite(
    body: schemas.SatelliteCreate, session: SessionDep, principal: OperatorDep
) -> schemas.SatellitePublic:
    """Register a satellite and its downlink (operators for their tenant; admins name the
    tenant); its element sets are uploaded next."""
    if principal.is_admin:
        if not body.tenant:
            raise HTTPException(422, "tenant: an admin must name the satellite's tenant")
        tenant = body.tenant
    else:
        if body.tenant and body.tenant != principal.tenant:
            raise HTTPException(
                403,
                f"tenant {body.tenant!r}: an operator key of tenant {principal.tenant!r} "
                "registers satellites for its own tenant only",
            )
        tenant = principal.tenant
    satellite = inventory.add_satellite(
        session,
        norad_id=body.norad_id,
        name=body.name,
        tenant=tenant,
        downlink_freq_hz=body.downlink_freq_hz,
        downlink_bandwidth_hz=body.downlink_bandwidth_hz,
        modulation=body.modulation,
        symbol_rate_baud=body.symbol_rate_baud,
        framing_profile=body.framing_profile,
    )
    return satellite_public(satellite)


@router.get("/satellites/{norad_id}", response_model=schemas.SatellitePublic, responses=_404)
def get_satellite(
    norad_id: NoradPath, session: SessionDep, principal: ReaderDep
) -> schemas.SatellitePublic:
    """One satellite and its downlink."""
    satellite = inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    out = satellite_public(satellite)
    return out


@router.get(
    "/satellites/{norad_id}/transmitters",
    response_model=schemas.CatalogueTransmittersPublic,
    responses=_404,
)
def satellite_transmitters(
    norad_id: NoradPath, session: SessionDep, principal: ReaderDep
) -> schemas.CatalogueTransmittersPublic:
    """The satellite's transmitters in the built-in satellite catalogue (the
    downlinks a mission profile's `decode.transmitter` can pick with the
    `catalogue` framing): frequency, modulation, baud rate, framing."""
    from groundstation.satellites import UnknownSatelliteError, builtin_catalogue

    inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    session.rollback()
    try:
        spec = builtin_catalogue().find(norad_id)
    except UnknownSatelliteError:
        return schemas.CatalogueTransmittersPublic(
            norad_id=norad_id, catalogued=False, data=[], count=0
        )
    data = [
        schemas.CatalogueTransmitterPublic(
            name=t.name,
            frequency_hz=t.frequency_hz,
            modulation=t.modulation,
            baud_rate=t.baud_rate,
            framing=t.framing,
            deviation_hz=t.deviation_hz,
            af_carrier_hz=t.af_carrier_hz,
        )
        for t in spec.transmitters
    ]
    return schemas.CatalogueTransmittersPublic(
        norad_id=norad_id,
        catalogued=True,
        catalogue_name=spec.name,
        data=data,
        count=len(data),
    )


@router.get(
    "/satellites/{norad_id}/ephemerides", response_model=schemas.EphemeridesPublic, responses=_404
)
def list_ephemerides(
    norad_id: NoradPath, session: SessionDep, principal: OperatorDep, now: NowDep
) -> schemas.EphemeridesPublic:
    """The history, newest epoch first, and the id of the one in force now."""
    satellite = inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    rows = ephemerides.list_ephemerides(session, satellite_id=satellite.id)
    in_force = ephemerides.ephemeris_in_force(session, satellite_id=satellite.id, now=now)
    out = schemas.EphemeridesPublic(
        data=[_public(e, now) for e in rows],
        count=len(rows),
        in_force_id=in_force.id if in_force is not None else None,
    )
    return out


@router.get(
    "/satellites/{norad_id}/ephemerides/in-force",
    response_model=schemas.EphemerisPublic,
    responses=problems(_404="no such satellite, or it has no usable ephemeris"),
)
def ephemeris_in_force(
    norad_id: NoradPath, session: SessionDep, principal: OperatorDep, now: NowDep
) -> schemas.EphemerisPublic:
    """The ephemeris that booking and prediction use now for the satellite: enabled, unexpired,
    highest priority, then newest epoch."""
    satellite = inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    in_force = ephemerides.ephemeris_in_force(session, satellite_id=satellite.id, now=now)
    if in_force is None:
        raise HTTPException(
            404, f"satellite NORAD {norad_id} has no enabled, unexpired ephemeris; upload one"
        )
    return _public(in_force, now)


@router.post(
    "/satellites/{norad_id}/ephemerides",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.EphemerisUploadReport,
    responses={
        **_404,
        **problems(_422="no record stored; `rejected` gives each reason", _429=EXPENSIVE_429),
    },
    openapi_extra=_UPLOAD_BODY,
)
async def upload_ephemerides(
    norad_id: NoradPath,
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    priority: Annotated[int, Query(ge=-1000, le=1000)] = 0,
    source: Annotated[str, Query(max_length=120)] = "api",
    enabled: bool = True,
    expires_at: Timestamp | None = None,
) -> schemas.EphemerisUploadReport | JSONResponse:
    """An ephemeris of this satellite (`text/plain` or `application/json`
    body): TLE/3LE, OMM (JSON, CSV, KVN, XML) or a CCSDS OEM (KVN or XML;
    its OBJECT_ID may be an international designator here). Each record is
    reported as accepted or rejected with the reason; records of other
    satellites are rejected. An OEM is in force until the end of its usable
    span at most, and predicts only inside it."""
    text = await _upload_text(request)
    options = _Options(priority, source, enabled, expires_at)
    # Re-predicts the satellite's bookings: an expensive request.
    return await run_expensive(
        ctx, principal, _upload, session, ctx, now, principal, norad_id, text, options
    )


@dataclass(frozen=True)
class _Options:
    """The query options of an upload, stored on each of its ephemerides."""

    priority: int
    source: str
    enabled: bool
    expires_at: datetime | None


@router.patch(
    "/satellites/{norad_id}/ephemerides/{ephemeris_id}",
    response_model=schemas.EphemerisPublic,
    responses=problems(_404="no such satellite (or another tenant's), or no such ephemeris of it"),
)
def update_ephemeris(
    norad_id: NoradPath,
    ephemeris_id: Annotated[int, Path(gt=0, lt=2**63)],
    body: schemas.EphemerisUpdate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
) -> schemas.EphemerisPublic:
    """Enable or disable a stored ephemeris, change its priority or expiry
    (AWS UpdateEphemeris); when that changes the one in force, the
    satellite's SCHEDULED contacts are re-predicted (moved, or failed to
    schedule with the reason)."""
    satellite = inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    changes = body.model_dump(include=body.model_fields_set)
    for name in ("enabled", "priority"):
        if name in changes and changes[name] is None:
            raise HTTPException(422, f"{name}: null is not a value; leave it out to keep it")
    ephemerides.update_ephemeris(
        session,
        ephemeris_id=ephemeris_id,
        satellite_id=satellite.id,
        changes=changes,
        now=now,
        events=ctx.events,
    )
    row = session.get(Ephemeris, ephemeris_id)
    assert row is not None
    return _public(row, now)


async def _upload_text(request: Request) -> str:
    """The body of an ephemeris upload as text: UTF-8, not blank (else 422)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(
            422,
            f"body: ephemeris upload is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x})",
        ) from None
    if not text.strip():
        raise HTTPException(
            422, "body: empty ephemeris upload; send TLE/3LE, OMM or CCSDS OEM text"
        )
    return text


def _upload(
    session: Session,
    ctx: AppContext,
    now: datetime,
    principal: Principal,
    norad_id: NoradPath,
    text: str,
    options: _Options,
) -> schemas.EphemerisUploadReport | JSONResponse:
    inventory.get_satellite_for(session, norad_id=norad_id, tenants=principal.tenants())
    result = ephemerides.upload_ephemerides(
        session,
        text=text,
        now=now,
        source=options.source,
        priority=options.priority,
        enabled=options.enabled,
        expires_at=options.expires_at,
        norad_ids=[norad_id],
        events=ctx.events,
    )
    others = sorted(result.parsed_norad_ids - {norad_id})
    rejected = list(result.rejected) + [
        f"NORAD {n}: record is for another satellite than {norad_id}; upload it there"
        for n in others
    ]
    if not result.stored:
        return _nothing_stored(f"no element set of NORAD {norad_id}", result.format, rejected)
    return schemas.EphemerisUploadReport(
        accepted=[_public(e, now) for e in result.stored],
        rejected=rejected,
        contacts_updated=len(result.events),
        format=result.format,
    )


def _nothing_stored(what: str, fmt: str, rejected: list[str]) -> JSONResponse:
    return problem(
        422,
        f"{what} was stored from this upload (read as {fmt}): "
        + (rejected[0] if rejected else "it holds no TLE/3LE, OMM or OEM record"),
        kind="ephemeris-rejected",
        rejected=rejected,
        format=fmt,
    )


@router.post(
    "/ephemerides",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.EphemeridesUploadReport,
    responses=problems(
        _422="no record stored; `rejected` gives each reason, `format` how it was read",
        _429=EXPENSIVE_429,
    ),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_many_ephemerides(
    request: Request,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    priority: Annotated[int, Query(ge=-1000, le=1000)] = 0,
    source: Annotated[str, Query(max_length=120)] = "api",
    enabled: bool = True,
    expires_at: Timestamp | None = None,
) -> schemas.EphemeridesUploadReport | JSONResponse:
    """A multi-satellite TLE/3LE file, OMM (JSON, CSV, KVN, XML: e.g. a
    CelesTrak group) or CCSDS OEM (KVN, XML; OBJECT_ID the NORAD id): each
    record of a satellite this key sees is stored (with `priority`,
    `source`, `enabled` and `expires_at`); a record of a satellite not registered, or another tenant's,
    is rejected in the same words, as is a malformed one; the others are
    stored all the same. The answer: per satellite, what was stored, its
    ephemeris in force and how many contacts the change re-predicted. 201
    when any record was stored, else 422 listing every rejection, naming the
    format it was read as (and the line of each error)."""
    text = await _upload_text(request)
    options = _Options(priority, source, enabled, expires_at)
    # Re-predicts the bookings of every satellite: an expensive request.
    return await run_expensive(
        ctx, principal, _upload_many, session, ctx, now, principal, text, options
    )


def _upload_many(
    session: Session,
    ctx: AppContext,
    now: datetime,
    principal: Principal,
    text: str,
    options: _Options,
) -> schemas.EphemeridesUploadReport | JSONResponse:
    result = ephemerides.upload_ephemerides(
        session,
        text=text,
        now=now,
        source=options.source,
        priority=options.priority,
        enabled=options.enabled,
        expires_at=options.expires_at,
        tenants=principal.tenants(),
        events=ctx.events,
    )
    if not result.stored:
        return _nothing_stored("body: no element set", result.format, result.rejected)
    satellites = []
    for satellite_id, norad_id in sorted(result.norad_ids.items(), key=lambda kv: kv[1]):
        in_force = ephemerides.ephemeris_in_force(session, satellite_id=satellite_id, now=now)
        satellites.append(
            schemas.SatelliteUploadResult(
                norad_id=norad_id,
                accepted=[_public(e, now) for e in result.stored if e.satellite_id == satellite_id],
                in_force_id=None if in_force is None else in_force.id,
                contacts_updated=result.contacts_updated.get(satellite_id, 0),
            )
        )
    return schemas.EphemeridesUploadReport(
        format=result.format,
        satellites=satellites,
        rejected=result.rejected,
        contacts_updated=len(result.events),
    )
