"""Resource events (issue 15): an ephemeris's or a station's status changed.
Each is a row of the one event history (``contact_transitions`` without a
contact, migration 0012a), written in the transaction that made the change,
so the SSE stream, the webhook relay and ``Last-Event-ID`` see it in the
same order as contact events (``event_log``); the caller publishes the
returned event to its sinks once committed (``events.publish_committed``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from groundstation.events import ResourceEvent
from groundstation.models import (
    Antenna,
    Contact,
    ContactProgress,
    ContactTransition,
    Ephemeris,
    Satellite,
)

EPHEMERIS = "ephemeris"
STATION = "station"
ANTENNA = "antenna"
DATASET = "dataset"


def record(session: Session, event: ResourceEvent) -> ResourceEvent:
    """Add ``event`` to the history inside the caller's transaction."""
    session.add(
        ContactTransition(
            contact_id=None,
            old_state=event.old_status,
            new_state=event.new_status,
            at=event.at,
            reason=event.reason,
            subject_kind=event.kind,
            subject_id=event.subject_id,
            subject_tenant=event.tenant,
            subject_norad_id=event.norad_id,
            subject_station_id=event.station,
            subject_antenna_id=event.antenna,
            subject_in_force=event.in_force,
        )
    )
    return event


def ephemeris_event(
    session: Session,
    ephemeris: Ephemeris,
    *,
    old_status: str,
    new_status: str,
    in_force: bool,
    at: datetime,
    reason: str,
) -> ResourceEvent:
    """Record an ephemeris status event (seen by the satellite's tenant)."""
    satellite = session.get(Satellite, ephemeris.satellite_id)
    assert satellite is not None
    ephemeris.announced_status = new_status
    return record(
        session,
        ResourceEvent(
            kind=EPHEMERIS,
            subject_id=str(ephemeris.id),
            old_status=old_status,
            new_status=new_status,
            at=at,
            reason=reason,
            tenant=satellite.tenant,
            norad_id=satellite.norad_id,
            in_force=in_force,
        ),
    )


def antenna_event(
    session: Session, antenna: Antenna, *, old_status: str, at: datetime, reason: str
) -> ResourceEvent:
    """Record an antenna status event (seen by every tenant)."""
    return record(
        session,
        ResourceEvent(
            kind=ANTENNA,
            subject_id=antenna.id,
            old_status=old_status,
            new_status=antenna.status,
            at=at,
            reason=reason,
            station=antenna.station_id,
            antenna=antenna.id,
        ),
    )


def station_event(
    session: Session,
    station_id: str,
    *,
    old_status: str,
    new_status: str,
    at: datetime,
    reason: str,
) -> ResourceEvent:
    """Record a station status event (its agent online / offline; every tenant)."""
    return record(
        session,
        ResourceEvent(
            kind=STATION,
            subject_id=station_id,
            old_status=old_status,
            new_status=new_status,
            at=at,
            reason=reason,
            station=station_id,
        ),
    )


def dataset_event(
    session: Session, contact: Contact, dataset_id: str, *, at: datetime
) -> ResourceEvent:
    """Record that ``contact``'s dataset is ready (stored, checksummed,
    catalogued), in the catalogue transaction that makes it visible; seen by
    the contact's tenant, as its contact events."""
    satellite = session.get(Satellite, contact.satellite_id)
    antenna = session.get(Antenna, contact.antenna_id)
    progress = session.get(ContactProgress, contact.id)
    simulated = " (simulated pass)" if progress is not None and progress.simulated else ""
    return record(
        session,
        ResourceEvent(
            kind=DATASET,
            subject_id=dataset_id,
            old_status="NONE",
            new_status="ready",
            at=at,
            reason=f"dataset {dataset_id} of contact {contact.id} is ready{simulated}",
            tenant=contact.tenant,
            norad_id=None if satellite is None else satellite.norad_id,
            station=None if antenna is None else antenna.station_id,
            antenna=contact.antenna_id,
        ),
    )
