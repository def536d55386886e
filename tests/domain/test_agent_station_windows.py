"""The windows offered are the windows booking accepts at stations run by an
agent (issue 13): ``/passes`` (with and without a profile), availability
and the batch planner apply ``reserve``'s rotator slew-rate and
station-offline rules (``booking.AgentStations``), on SQLite and PostgreSQL.

Station "under" lies below NOAA 18's track at ZENITH_AT: its slow az/el
rotator cannot follow that pass, its fast one can."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from groundstation import agents, passes
from groundstation.booking import reserve
from groundstation.errors import BookingRefusedError
from groundstation.plan_service import PlanOutcome, plan_contacts
from groundstation.planning import PlanRequest
from tests.station.test_station_slew_booking import NOAA18, NOW, ZENITH_AT, seed_under_the_track

START, END = ZENITH_AT - timedelta(minutes=30), ZENITH_AT + timedelta(minutes=30)


@pytest.fixture
def under(session: Session) -> Session:
    seed_under_the_track(session)
    session.commit()
    return session


def _silence_the_agent(session: Session) -> None:
    agents.record_heartbeat(
        session,
        station_id="under",
        software_version="t",
        front_end="t",
        status={},
        now=NOW - timedelta(hours=2),
    )
    session.commit()


def _zenith_slots(found: list[passes.PredictedPass]) -> dict[str, tuple[bool, str]]:
    (zenith,) = [p for p in found if p.aos <= ZENITH_AT <= p.los]
    assert zenith.max_elevation_deg > 85.0
    return {a.antenna_id: (a.free, a.blocked_by) for a in zenith.antennas}


def _bookable(session: Session, antenna_id: str, aos: object, los: object) -> bool:
    try:
        reserve(
            session,
            norad_id=NOAA18,
            antenna_id=antenna_id,
            profile_id="leo",
            start=aos,  # type: ignore[arg-type]
            end=los,  # type: ignore[arg-type]
            tenant="acme",
            now=NOW,
        )
    except BookingRefusedError:
        session.rollback()
        return False
    session.rollback()
    return True


@pytest.mark.parametrize("profile_id", ["leo", None])
def test_passes_offer_the_zenith_pass_only_on_the_antenna_that_can_follow_it(
    under: Session, profile_id: str | None
) -> None:
    found = passes.predicted_passes(
        under, norad_id=NOAA18, start=START, end=END, now=NOW, profile_id=profile_id
    )
    slots = _zenith_slots(found)
    assert slots["azel-fast"] == (True, "")
    free, why = slots["azel-slow"]
    assert not free
    assert "rotator to move faster than it can" in why and "azel-slow slews 10 deg/s" in why


def test_what_passes_offers_is_what_booking_accepts(under: Session) -> None:
    found = passes.predicted_passes(
        under, norad_id=NOAA18, start=START, end=END, now=NOW, profile_id="leo"
    )
    (zenith,) = [p for p in found if p.aos <= ZENITH_AT <= p.los]
    offered = {a.antenna_id: a.free for a in zenith.antennas}
    booked = {a: _bookable(under, a, zenith.aos, zenith.los) for a in offered}
    assert offered == booked == {"azel-fast": True, "azel-slow": False}


def test_availability_blocks_the_antenna_too_slow_for_the_pass(under: Session) -> None:
    windows = passes.availability(
        under, norad_id=NOAA18, profile_id="leo", start=START, end=END, now=NOW
    )
    zenith = {w.antenna_id: w for w in windows if w.aos <= ZENITH_AT <= w.los}
    assert zenith["azel-fast"].free
    assert not zenith["azel-slow"].free
    assert "azel-slow slews 10 deg/s" in zenith["azel-slow"].blocked_by


@pytest.mark.parametrize("profile_id", ["leo", None])
def test_passes_at_a_station_whose_agent_is_long_silent_are_offered_on_no_antenna(
    under: Session, profile_id: str | None
) -> None:
    _silence_the_agent(under)
    found = passes.predicted_passes(
        under, norad_id=NOAA18, start=START, end=END, now=NOW, profile_id=profile_id
    )
    slots = _zenith_slots(found)
    assert {free for free, _ in slots.values()} == {False}
    for _, why in slots.values():
        assert "station under offline since 2023-07-04T16:00:00Z" in why


def _plan(session: Session, *, book: bool, antenna_ids: list[str] | None = None) -> PlanOutcome:
    request = PlanRequest("r1", NOAA18, START, END, priority=1.0, wanted_passes=1)
    return plan_contacts(
        session,
        requests=[request],
        profile_id="leo",
        now=NOW,
        book=book,
        tenant="acme",
        antenna_ids=antenna_ids,
    )


def test_the_planner_puts_the_zenith_pass_on_the_antenna_that_can_follow_it(
    under: Session,
) -> None:
    outcome = _plan(under, book=True)
    chosen = outcome.chosen
    assert [c.antenna_id for c in chosen] == ["azel-fast"]
    assert outcome.refused == []
    assert [c.antenna_id for c in outcome.booked] == ["azel-fast"]


def test_the_planner_plans_nothing_at_a_station_whose_agent_is_long_silent(
    under: Session,
) -> None:
    _silence_the_agent(under)
    outcome = _plan(under, book=True)
    assert outcome.chosen == [] and outcome.refused == []


def test_the_planner_offers_no_window_an_antenna_cannot_follow(under: Session) -> None:
    outcome = _plan(under, book=True, antenna_ids=["azel-slow"])
    assert outcome.chosen == [] and outcome.refused == []
