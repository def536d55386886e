"""ORM rows and service results -> response schemas."""

from __future__ import annotations

import weakref
from typing import Any
from urllib.parse import quote

import orjson
import pydantic_core
from fastapi import Response
from pydantic import BaseModel

from api import schemas
from groundstation import contacts
from groundstation.models import Contact, MissionProfile, Satellite
from groundstation.passes import PassAvailability, PassTable
from groundstation.profile_settings import downlink_problems, profile_document, read_profile
from groundstation.progress import ContactProgressView
from groundstation.vetting import Verdict, VerdictSource
from ingest.catalog import DatasetEntry
from ingest.quicklook import quicklook_names, thumbnail_name


def profile_public(p: MissionProfile) -> schemas.ProfilePublic:
    """The profile's settings that validate, and a problem line for each
    stored value that does not (never an error: one bad row must not break
    a listing)."""
    settings, problems = read_profile(profile_document(p))
    return schemas.ProfilePublic.model_validate(
        {"id": p.id, "tenant": p.owner_tenant, "problems": problems, **settings.model_dump()}
    )


def satellite_public(s: Satellite) -> schemas.SatellitePublic:
    out = schemas.SatellitePublic.model_validate(s)
    out.problems = downlink_problems(
        norad_id=s.norad_id, modulation=s.modulation, framing_profile=s.framing_profile
    )
    return out


def contact_public(c: Contact) -> schemas.ContactPublic:
    return schemas.ContactPublic(
        id=c.id,
        norad_id=c.satellite.norad_id,
        station_id=c.antenna.station_id,
        antenna_id=c.antenna_id,
        profile_id=c.profile_id,
        tenant=c.tenant,
        state=c.state,
        state_reason=c.state_reason,
        aos=c.aos,
        tca=c.tca,
        los=c.los,
        booked_start=c.booked_start,
        booked_end=c.booked_end,
        blocked_start=c.blocked_start,
        blocked_end=c.blocked_end,
        max_elevation_deg=c.max_elevation_deg,
        ephemeris_epoch=c.ephemeris_epoch,
        created_at=c.created_at,
        simulated=contacts.SIMULATED,
        version=c.version,
        verdict=None if c.verdict is None else Verdict(c.verdict),
        verdict_source=None if c.verdict_source is None else VerdictSource(c.verdict_source),
        verdict_reason=c.verdict_reason or "",
        verdict_by=c.verdict_by or "",
        verdict_at=c.verdict_at,
        frames_ok=c.frames_ok,
        frames_expected=c.frames_expected,
        esn0_db=c.esn0_db,
    )


def contact_progress_public(view: ContactProgressView) -> schemas.ContactProgressPublic:
    p = view.progress
    return schemas.ContactProgressPublic(
        contact_id=view.contact_id,
        state=view.state,
        status=view.status,  # type: ignore[arg-type]  # one of progress's three
        updated_at=p.updated_at if p else None,
        elapsed_s=round(p.elapsed_s, 3) if p else None,
        remaining_s=round(p.remaining_s, 3) if p else None,
        duration_s=round(p.duration_s, 3) if p else None,
        fraction=round(p.fraction, 4) if p else None,
        frames_decoded=p.frames_decoded if p else None,
        frames_sent=p.frames_sent if p else None,
        esn0_db=round(p.esn0_db, 3) if p and p.esn0_db is not None else None,
        doppler_hz=round(p.doppler_hz, 1) if p and p.doppler_hz is not None else None,
        simulated=p.simulated if p else contacts.SIMULATED,
        executed_by=p.executed_by if p else "",
    )


def contact_detail(c: Contact) -> schemas.ContactDetail:
    return schemas.ContactDetail(
        **contact_public(c).model_dump(),
        history=[schemas.TransitionPublic.model_validate(t) for t in c.transitions],
    )


def dataset_public(d: DatasetEntry) -> schemas.DatasetPublic:
    return schemas.DatasetPublic(
        id=d.id,
        contact_id=d.contact_id,
        norad_id=d.norad_id,
        satellite=d.satellite,
        station=d.station,
        antenna=d.antenna,
        start_time=d.start_time,
        end_time=d.end_time,
        total_size_bytes=d.total_size_bytes,
        manifest_sha256=d.manifest_sha256,
        ready_at=d.ready_at,
        files=[
            schemas.DatasetFilePublic(name=f.name, size_bytes=f.size_bytes, sha256=f.sha256)
            for f in d.files
        ],
        quicklooks=_quicklooks(d),
        bucket=d.bucket,
    )


def _quicklooks(d: DatasetEntry) -> list[schemas.QuicklookPublic]:
    """The dataset's quick-look PNGs with their download and thumbnail URLs."""
    names = [f.name for f in d.files]
    url = f"/datasets/{quote(d.id, safe='')}/files/"
    return [
        schemas.QuicklookPublic(
            name=n,
            url=url + quote(n),
            thumbnail_url=url + quote(thumbnail_name(n)) if thumbnail_name(n) in names else None,
        )
        for n in quicklook_names(names)
    ]


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """The model as JSON, skipping FastAPI's second validation of the return
    value (the route's ``response_model`` still documents it)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def json_plain_response(content: Any, status_code: int = 200) -> Response:
    """Plain data (dicts, lists, aware datetimes, numbers) as JSON, written as
    pydantic writes the same values (UTC as ``Z``); for hot read routes whose
    rows come from the database already in the documented shape."""
    return Response(
        orjson.dumps(content, option=orjson.OPT_UTC_Z),
        status_code=status_code,
        media_type="application/json",
    )


# Each cached prediction's passes as JSON up to their antennas, made once per
# ``PassTable`` (it lives as long as the ``PassCache`` keeps it).
_pass_heads: weakref.WeakKeyDictionary[PassTable, list[bytes]] = weakref.WeakKeyDictionary()


def _heads_of(table: PassTable) -> list[bytes]:
    """``PassPublic`` JSON of each pass of ``table`` cut before its antennas
    (``...,"antennas":[``), written by pydantic's serializer."""
    heads = _pass_heads.get(table)
    if heads is None:
        heads = [
            pydantic_core.to_json(
                {
                    "norad_id": p.norad_id,
                    "station_id": p.station_id,
                    "aos": p.aos,
                    "tca": p.tca,
                    "los": p.los,
                    "duration_s": p.duration_s,
                    "max_elevation_deg": p.max_elevation_deg,
                    "aos_azimuth_deg": p.aos_azimuth_deg,
                    "tca_azimuth_deg": p.tca_azimuth_deg,
                    "los_azimuth_deg": p.los_azimuth_deg,
                    "antennas": [],
                }
            )[: -len(b"]}")]
            for p in table.passes
        ]
        _pass_heads[table] = heads
    return heads


def passes_json(found: PassAvailability) -> bytes:
    """``PassesPublic`` JSON, byte for byte what pydantic writes for it
    (tests/api/test_api_passes_cache.py), from the cached passes' JSON and
    each antenna's availability: ~1,500 passes x 2 antennas are not built as
    objects and serialized afresh per request."""
    heads = _heads_of(found.table)
    free = {
        a: pydantic_core.to_json({"antenna_id": a, "free": True, "blocked_by": ""})
        for ids in found.antenna_ids.values()
        for a in ids
    }
    parts = []
    for k, p in enumerate(found.table.passes):
        slots = b",".join(
            free[a]
            if not held
            else pydantic_core.to_json({"antenna_id": a, "free": False, "blocked_by": held})
            for a, held in zip(found.antenna_ids[p.station_id], found.blocked_by[k], strict=True)
        )
        parts.append(heads[k] + slots + b"]}")
    return b'{"data":[' + b",".join(parts) + b'],"count":' + str(len(parts)).encode() + b"}"
