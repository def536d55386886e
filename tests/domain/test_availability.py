"""The availability engine: one answer, in one text, for booking, GET /passes
and planning."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from groundstation import inventory, passes
from groundstation.availability import IntervalIndex
from groundstation.plan_service import plan_contacts
from groundstation.planning import PlanRequest

from .helpers import T0
from .test_booking import NOAA19, NOW, first_window, setup_world

_minutes = st.integers(min_value=0, max_value=200)


@given(
    intervals=st.lists(st.tuples(_minutes, st.integers(min_value=1, max_value=60)), max_size=30),
    query=st.tuples(_minutes, st.integers(min_value=1, max_value=60)),
)
def test_interval_index_names_the_earliest_interval_overlapping_a_query(
    intervals: list[tuple[int, int]], query: tuple[int, int]
) -> None:
    def at(minute: int) -> object:
        return T0 + timedelta(minutes=minute)

    rows = [(at(s), at(s + n), f"i{k}") for k, (s, n) in enumerate(intervals)]
    start, end = at(query[0]), at(query[0] + query[1])
    overlapping = sorted(r for r in rows if r[0] < end and r[1] > start)  # type: ignore[operator]
    expected = overlapping[0][2] if overlapping else ""
    assert IntervalIndex(rows).first_overlap(start, end) == expected  # type: ignore[arg-type]


def test_passes_and_availability_name_a_maintenance_window_in_the_same_words(
    session: Session,
) -> None:
    setup_world(session)
    w = first_window(session)
    inventory.add_maintenance(
        session, antenna_id="sv-uhf", start=w.aos, end=w.aos + timedelta(minutes=1)
    )
    end = NOW + timedelta(hours=12)  # the range of first_window
    booking_view = next(
        x
        for x in passes.availability(
            session, norad_id=NOAA19, profile_id="leo", start=NOW, end=end, now=NOW
        )
        if x.antenna_id == "sv-uhf" and x.aos == w.aos
    )
    api_view = next(
        slot
        for p in passes.predicted_passes(
            session, norad_id=NOAA19, start=NOW, end=end, now=NOW, min_elevation_deg=10.0
        )
        if abs((p.aos - w.aos).total_seconds()) < 1.0
        for slot in p.antennas
        if slot.antenna_id == "sv-uhf"
    )
    assert booking_view.blocked_by == api_view.blocked_by
    assert api_view.blocked_by.startswith("maintenance ") and api_view.blocked_by.endswith("Z")


def test_a_plan_keeps_clear_of_maintenance_just_before_its_range(session: Session) -> None:
    """A window's pre-pass and setup reach before the plan's range: the busy
    intervals there count (they were read over the range itself, so the
    plan proposed a window its commit then refused)."""
    setup_world(session)
    w = first_window(session)
    inventory.add_maintenance(
        session,
        antenna_id="sv-uhf",
        start=w.aos - timedelta(minutes=10),
        end=w.aos - timedelta(minutes=1),
    )
    request = PlanRequest(
        "only",
        NOAA19,
        w.aos - timedelta(seconds=30),
        w.los + timedelta(seconds=30),
        priority=1.0,
        wanted_passes=1,
    )
    outcome = plan_contacts(
        session,
        requests=[request],
        profile_id="leo",
        now=NOW,
        antenna_ids=["sv-uhf"],
        time_limit_s=5.0,
        book=True,
    )
    assert outcome.chosen == [] and outcome.refused == [] and outcome.booked == []


def test_availability_leaves_out_a_window_whose_pre_pass_has_started(session: Session) -> None:
    """Booking refuses a window whose pre-pass started; availability (the CLI,
    and ``/passes?profile=``) no longer offers it as AVAILABLE."""
    setup_world(session)
    w = first_window(session)
    later = w.aos - timedelta(seconds=60)  # inside leo's 120 s pre-pass
    after = passes.availability(
        session,
        norad_id=NOAA19,
        profile_id="leo",
        start=NOW,
        end=NOW + timedelta(hours=12),
        now=later,
    )
    assert after and all(x.aos > w.aos for x in after)
