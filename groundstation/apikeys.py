"""API keys: created by the CLI (`groundstation keys create`), stored hashed,
checked by the API on every request.

Roles: ``admin`` (stations, antennas, keys; every tenant), ``operator``
(books contacts and manages the satellites of its own tenant), ``scientist``
(reads the datasets of the tenants it is granted), ``station`` (the agent
of one station: reads that station's contacts and reports on them; nothing else).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from groundstation.clock import require_utc
from groundstation.errors import NotFoundError, ValidationError
from groundstation.models import ApiKey

ROLES = ("admin", "operator", "scientist", "station")
KEY_PREFIX = "gs_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    role: str,
    tenant: str = "",
    granted_tenants: Sequence[str] = (),
    station_id: str = "",
    now: datetime,
) -> tuple[ApiKey, str]:
    """Store a new key; returns the row and the key itself (shown once)."""
    now = require_utc(now, "now")
    if role not in ROLES:
        raise ValidationError(f"role {role!r} is not one of {ROLES}")
    if role == "operator" and not tenant:
        raise ValidationError("an operator key needs a tenant (--tenant NAME)")
    if role == "scientist" and not granted_tenants:
        raise ValidationError("a scientist key needs at least one granted tenant (--grant NAME)")
    if role == "station" and not station_id:
        raise ValidationError("a station key needs its station (--station ID)")
    if role != "station" and station_id:
        raise ValidationError(f"only a station key has a station; role {role!r} was given one")
    if station_id:
        from groundstation.models import GroundStation

        if session.get(GroundStation, station_id) is None:
            raise NotFoundError("station", station_id)
    if not name:
        raise ValidationError("a key needs a name (what or who uses it)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        key_hash=hash_key(key),
        role=role,
        tenant=tenant,
        granted_tenants=sorted(set(granted_tenants)),
        station_id=station_id,
        created_at=now,
    )
    session.add(row)
    session.commit()
    return row, key


def list_keys(session: Session, *, include_revoked: bool = False) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke_key(session: Session, *, key_id: str, now: datetime) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFoundError("API key", key_id)
    if row.revoked_at is None:
        row.revoked_at = require_utc(now, "now")
    session.commit()
    return row


def authenticate(
    session: Session | Connection, *, key: str
) -> tuple[str, str, str, str, tuple[str, ...], str] | None:
    """(id, name, role, tenant, granted tenants, station) of the unrevoked key matching
    ``key``, or None. Plain columns, not an ORM row: this runs on every request."""
    row = session.execute(
        select(
            ApiKey.id,
            ApiKey.name,
            ApiKey.role,
            ApiKey.tenant,
            ApiKey.granted_tenants,
            ApiKey.station_id,
        ).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return (row[0], row[1], row[2], row[3], tuple(row[4] or ()), row[5] or "")
