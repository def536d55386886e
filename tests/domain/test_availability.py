"""The availability engine: one answer, in one text, for booking, GET /passes
and planning."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from groundstation import maintenance, passes
from groundstation.availability import (
    AntennaBusy,
    IntervalIndex,
    SlotAntenna,
    antenna_slot,
    antenna_slots,
    epoch_us,
)
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


_seconds = st.integers(min_value=0, max_value=12_000)
_pad_s = st.sampled_from([0.0, 0.5, 1e-6, 60.0, 90.25, 120.0])


@given(
    contacts=st.lists(st.tuples(_seconds, st.integers(min_value=1, max_value=900)), max_size=12),
    maintenance=st.lists(st.tuples(_seconds, st.integers(min_value=1, max_value=900)), max_size=4),
    windows=st.lists(st.tuples(_seconds, st.integers(min_value=1, max_value=900)), max_size=20),
    pads_s=st.tuples(_pad_s, _pad_s, _pad_s, _pad_s),
    status=st.sampled_from(["online", "online", "offline"]),
)
@example(  # windows touching a contact at either end are free; overlapping by 1 s, not
    contacts=[(100, 100), (150, 10)],
    maintenance=[(400, 100)],
    windows=[(200, 100), (0, 100), (199, 1), (0, 101), (300, 100), (300, 101), (500, 5)],
    pads_s=(0.0, 0.0, 0.0, 0.0),
    status="online",
)
def test_antenna_slots_of_many_passes_answer_as_antenna_slot_does_for_each(
    contacts: list[tuple[int, int]],
    maintenance: list[tuple[int, int]],
    windows: list[tuple[int, int]],
    pads_s: tuple[float, float, float, float],
    status: str,
) -> None:
    """Windows touching an interval exactly at either end included (whole
    seconds, pads that land on them): the vectorized look-up is exact."""

    def at(second: float) -> datetime:
        return T0 + timedelta(seconds=second)

    prepass_s, postpass_s, setup_s, teardown_s = pads_s
    antenna = SlotAntenna("a1", "s1", status, setup_s, teardown_s)
    busy = AntennaBusy(
        IntervalIndex((at(s), at(s + n), f"contact c{k}") for k, (s, n) in enumerate(contacts)),
        IntervalIndex(
            (at(s), at(s + n), f"maintenance m{k}") for k, (s, n) in enumerate(maintenance)
        ),
    )
    aos = [at(s) for s, _ in windows]
    los = [at(s + n) for s, n in windows]
    expected = [
        antenna_slot(antenna, busy, a, b, prepass_s=prepass_s, postpass_s=postpass_s).blocked_by
        for a, b in zip(aos, los, strict=True)
    ]
    found = antenna_slots(
        antenna,
        busy,
        np.array([epoch_us(t) for t in aos], dtype=np.int64),
        np.array([epoch_us(t) for t in los], dtype=np.int64),
        prepass_s=prepass_s,
        postpass_s=postpass_s,
    )
    assert found == expected


def test_passes_and_availability_name_a_maintenance_window_in_the_same_words(
    session: Session,
) -> None:
    setup_world(session)
    w = first_window(session)
    maintenance.add_window(
        session, antenna_id="sv-uhf", start=w.aos, end=w.aos + timedelta(minutes=1), now=NOW
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
    maintenance.add_window(
        session,
        antenna_id="sv-uhf",
        start=w.aos - timedelta(minutes=10),
        end=w.aos - timedelta(minutes=1),
        now=NOW,
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
