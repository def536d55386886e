"""Reading contacts: one page of them (filters, keyset cursor), one with its
history, and its track. The API's ``GET /contacts`` and the CLI's
``contacts list`` both list through ``contacts_page``.

``tenants=None`` means every tenant; a tuple restricts rows to those tenants
(a contact outside them is reported as not existing).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from groundstation.clock import require_supported, require_utc
from groundstation.errors import NotFoundError, ValidationError
from groundstation.models import Antenna, Contact, Satellite
from groundstation.prediction import element_set_from_text, orbital_station
from groundstation.states import ContactState

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from orbital.track import Track


def _cursor_of(booked_start: datetime, contact_id: str) -> str:
    raw = f"{booked_start.isoformat()}|{contact_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, contact_id = raw.split("|", 1)
        at = datetime.fromisoformat(when)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            f"cursor {cursor!r} is not one returned by this API (use next_cursor as is)"
        ) from None
    try:
        return require_supported(at, "cursor time"), contact_id
    except ValidationError:
        raise ValidationError(
            f"cursor {cursor!r} is not one returned by this API (use next_cursor as is)"
        ) from None


def _contact_filters(
    *,
    tenants: Sequence[str] | None,
    states: Sequence[str] | None,
    norad_id: int | None,
    station_id: str | None,
    start: datetime | None,
    end: datetime | None,
    profile_id: str | None = None,
    antenna_id: str | None = None,
) -> list[Any]:
    """The WHERE clauses of a listing. An unknown satellite, station,
    antenna or profile matches nothing (an empty page, as for another
    tenant's); an unknown state is a ``ValidationError``."""
    clauses: list[Any] = []
    if tenants is not None:
        clauses.append(Contact.tenant.in_(list(tenants)))
    if states:
        bad = [s for s in states if s not in ContactState.__members__]
        if bad:
            raise ValidationError(
                f"state {bad[0]!r} is not a contact state; one of {', '.join(ContactState)}"
            )
        clauses.append(Contact.state.in_(list(states)))
    if norad_id is not None:
        clauses.append(
            Contact.satellite_id.in_(select(Satellite.id).where(Satellite.norad_id == norad_id))
        )
    if station_id is not None:
        clauses.append(
            Contact.antenna_id.in_(select(Antenna.id).where(Antenna.station_id == station_id))
        )
    if antenna_id is not None:
        clauses.append(Contact.antenna_id == antenna_id)
    if profile_id is not None:
        clauses.append(Contact.profile_id == profile_id)
    if start is not None:
        clauses.append(Contact.booked_end > require_utc(start, "start"))
    if end is not None:
        clauses.append(Contact.booked_start < require_utc(end, "end"))
    return clauses


# The public fields of a contact (api ContactPublic), as plain columns.
CONTACT_SUMMARY_COLUMNS = (
    Contact.id,
    Satellite.norad_id,
    Antenna.station_id,
    Contact.antenna_id,
    Contact.profile_id,
    Contact.tenant,
    Contact.state,
    Contact.state_reason,
    Contact.aos,
    Contact.tca,
    Contact.los,
    Contact.booked_start,
    Contact.booked_end,
    Contact.blocked_start,
    Contact.blocked_end,
    Contact.max_elevation_deg,
    Contact.ephemeris_epoch,
    Contact.created_at,
)


def contacts_page(
    session: Session,
    *,
    tenants: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    norad_id: int | None = None,
    station_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    cursor: str | None = None,
    limit: int = 100,
    profile_id: str | None = None,
    antenna_id: str | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """One page of contacts ordered by (booked start, id), as dicts of
    ``CONTACT_SUMMARY_COLUMNS`` (plain rows: this is the API's busiest read),
    the total count matching the filters, and the cursor of the next page
    (None at the end)."""
    clauses = _contact_filters(
        tenants=tenants,
        states=states,
        norad_id=norad_id,
        station_id=station_id,
        start=start,
        end=end,
        profile_id=profile_id,
        antenna_id=antenna_id,
    )
    count = session.scalar(select(func.count()).select_from(Contact).where(*clauses)) or 0
    if cursor:
        at, last_id = decode_cursor(cursor)
        clauses.append(
            or_(Contact.booked_start > at, and_(Contact.booked_start == at, Contact.id > last_id))
        )
    result = session.execute(
        select(*CONTACT_SUMMARY_COLUMNS)
        .join(Satellite, Satellite.id == Contact.satellite_id)
        .join(Antenna, Antenna.id == Contact.antenna_id)
        .where(*clauses)
        .order_by(Contact.booked_start, Contact.id)
        .limit(limit + 1)
    )
    rows = [row._asdict() for row in result]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursor_of(last["booked_start"], last["id"])
    return rows[:limit], int(count), next_cursor


def get_contact_for(
    session: Session, *, contact_id: str, tenants: Sequence[str] | None = None
) -> Contact:
    contact = session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .options(
            joinedload(Contact.satellite),
            joinedload(Contact.antenna),
            selectinload(Contact.transitions),
        )
    )
    if contact is None or (tenants is not None and contact.tenant not in tenants):
        raise NotFoundError("contact", contact_id)
    return contact


#: The most samples ``contact_track`` computes for one contact.
MAX_TRACK_SAMPLES = 200_000


@dataclass(frozen=True)
class ContactTrack:
    """A contact's track from pre-pass start to post-pass end, and the
    Doppler shift of its downlink along it (shape ``(n_times,)``)."""

    track: Track
    downlink_freq_hz: float
    doppler_hz: NDArray[np.float64]


def contact_track(
    session: Session, *, contact_id: str, step_s: float, tenants: Sequence[str] | None = None
) -> ContactTrack:
    """Az/el/range/range-rate/Doppler of a contact every ``step_s``: what it
    needs is read in a short transaction, ended here, and the track is
    computed outside it (with the element set the contact was booked with)."""
    from orbital.track import compute_track

    contact = get_contact_for(session, contact_id=contact_id, tenants=tenants)
    station = orbital_station(contact.antenna.station, min_elevation_deg=0.0)
    element = element_set_from_text(contact.ephemeris_text)
    freq_hz = contact.satellite.downlink_freq_hz
    start, end = contact.booked_start, contact.booked_end
    session.rollback()
    samples = (end - start).total_seconds() / step_s
    if samples > MAX_TRACK_SAMPLES:
        raise ValidationError(
            f"step_s {step_s} gives {samples:.0f} samples for this contact; "
            f"at most {MAX_TRACK_SAMPLES}"
        )
    track = compute_track(element, station, start=start, end=end, step_s=step_s)
    return ContactTrack(track, freq_hz, track.doppler_hz(freq_hz))
