"""Test helpers shared by the domain tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from groundstation.models import (
    Antenna,
    Contact,
    ContactTransition,
    GroundStation,
    MissionProfile,
    Satellite,
)
from groundstation.states import ContactState

T0 = datetime(2023, 7, 4, 12, 0, tzinfo=UTC)


def seed_basic(session: Session) -> dict[str, int]:
    """One station with two antennas, one satellite, one profile."""
    session.add(GroundStation(id="gs1", name="Test", lat_deg=60.0, lon_deg=10.0, alt_m=100.0))
    session.add_all(
        [
            Antenna(id="ant1", station_id="gs1", bands=[[400e6, 450e6]], setup_s=30, teardown_s=30),
            Antenna(id="ant2", station_id="gs1", bands=[[2.2e9, 2.3e9]], setup_s=30, teardown_s=30),
        ]
    )
    sat = Satellite(norad_id=99001, name="TESTSAT", tenant="acme", downlink_freq_hz=437e6)
    session.add(sat)
    session.add(MissionProfile(id="p1", prepass_s=60, postpass_s=60, min_viable_duration_s=60))
    session.commit()
    return {"satellite_id": sat.id}


def insert_contact(
    session: Session,
    *,
    satellite_id: int,
    antenna_id: str = "ant1",
    aos: datetime,
    duration_s: float = 300.0,
    prepass_s: float = 60.0,
    postpass_s: float = 60.0,
    setup_s: float = 30.0,
    teardown_s: float = 30.0,
    state: ContactState = ContactState.SCHEDULED,
    tenant: str = "acme",
    commit: bool = True,
) -> Contact:
    """A contact row as the booking service would write it (no prediction)."""
    los = aos + timedelta(seconds=duration_s)
    booked_start = aos - timedelta(seconds=prepass_s)
    booked_end = los + timedelta(seconds=postpass_s)
    contact = Contact(
        satellite_id=satellite_id,
        antenna_id=antenna_id,
        profile_id="p1",
        tenant=tenant,
        booked_start=booked_start,
        booked_end=booked_end,
        blocked_start=booked_start - timedelta(seconds=setup_s),
        blocked_end=booked_end + timedelta(seconds=teardown_s),
        aos=aos,
        tca=aos + timedelta(seconds=duration_s / 2),
        los=los,
        max_elevation_deg=45.0,
        ephemeris_epoch=T0,
        ephemeris_text="(test)",
        state=state.value,
    )
    session.add(contact)
    session.flush()
    session.add(
        ContactTransition(
            contact_id=contact.id,
            old_state="AVAILABLE",
            new_state=state.value,
            at=T0,
            reason="seeded",
        )
    )
    if commit:
        session.commit()
    return contact
