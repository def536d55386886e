from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from groundstation import booking, ephemerides, inventory, maintenance, passes
from groundstation.errors import (
    AntennaOfflineError,
    BandMismatchError,
    BookingConflictError,
    BookingRefusedError,
    CancelRefusedError,
    ConflictingContact,
    ContactTooShortError,
    EphemerisError,
    MaintenanceConflictError,
    NoSuchPassError,
    NotFoundError,
)
from groundstation.events import InMemoryEventSink
from groundstation.models import Contact, ContactTransition, Satellite
from groundstation.plan_service import plan_contacts
from groundstation.planning import PlanRequest
from groundstation.policy import BookingPolicy
from groundstation.prediction import PassCache
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from tests.support.world import add_svalbard

DATA = Path(__file__).resolve().parent.parent / "data" / "domain"
NOW = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)  # NOAA 19 elements: epoch 2023-07-04T16:11Z
NOAA19 = 33591


def tle_text(name: str) -> str:
    lines = (DATA / "sample.tle").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.strip() == name)
    return "\n".join(lines[k : k + 3]) + "\n"


def _checksum(line: str) -> str:
    total = sum(int(ch) if ch.isdigit() else (1 if ch == "-" else 0) for ch in line[:68])
    return line[:68] + str(total % 10)


def shifted_tle(name: str, mean_anomaly_shift_deg: float) -> str:
    """The element set with the mean anomaly moved (the satellite ahead on its orbit)."""
    title, line1, line2 = tle_text(name).splitlines()
    mean_anomaly = (float(line2[43:51]) + mean_anomaly_shift_deg) % 360.0
    line2 = _checksum(f"{line2[:43]}{mean_anomaly:8.4f}{line2[51:]}")
    return f"{title}\n{line1}\n{line2}\n"


def setup_world(session: Session, *, min_viable_duration_s: float = 120.0) -> None:
    add_svalbard(session)
    for norad, name in ((NOAA19, "NOAA 19"), (28654, "NOAA 18"), (39444, "FUNCUBE-1")):
        inventory.add_satellite(
            session,
            norad_id=norad,
            name=name,
            tenant="acme",
            downlink_freq_hz=437.5e6,
            downlink_bandwidth_hz=25e3,
        )
    inventory.add_profile(
        session,
        profile_id="leo",
        prepass_s=120,
        postpass_s=60,
        min_viable_duration_s=min_viable_duration_s,
        min_elevation_deg=10.0,
    )
    result = ephemerides.upload_ephemerides(
        session, text=(DATA / "sample.tle").read_text(), now=NOW, source="celestrak"
    )
    assert len(result.stored) == 3 and result.rejected == []


def first_window(session: Session, antenna_id: str = "sv-uhf") -> passes.AvailableWindow:
    windows = passes.availability(
        session,
        norad_id=NOAA19,
        profile_id="leo",
        start=NOW,
        end=NOW + timedelta(hours=12),
        now=NOW,
    )
    return next(w for w in windows if w.antenna_id == antenna_id)


def reserve_window(session: Session, w: passes.AvailableWindow, **kw: object) -> Contact:
    args: dict[str, object] = {
        "norad_id": NOAA19,
        "antenna_id": w.antenna_id,
        "profile_id": "leo",
        "start": w.aos,
        "end": w.los,
        "tenant": "acme",
        "now": NOW,
    }
    args.update(kw)
    return booking.reserve(session, **args)  # type: ignore[arg-type]


def test_availability_lists_real_passes_on_antennas_that_fit_the_band(session: Session) -> None:
    setup_world(session)
    windows = passes.availability(
        session, norad_id=NOAA19, profile_id="leo", start=NOW, end=NOW + timedelta(days=1), now=NOW
    )
    assert len(windows) >= 8  # NOAA 19 is polar: many Svalbard passes a day
    assert {w.antenna_id for w in windows} == {"sv-uhf", "sv-uhf-2"}  # not the S-band dish
    assert all(w.state == "AVAILABLE" and w.blocked_by == "" for w in windows)
    assert all(w.max_elevation_deg >= 10.0 and w.duration_s >= 120.0 for w in windows)
    assert [w.aos for w in windows] == sorted(w.aos for w in windows)


def test_reserve_books_the_pass_with_pre_post_pass_and_setup_teardown(session: Session) -> None:
    setup_world(session)
    events = InMemoryEventSink()
    w = first_window(session)
    contact = reserve_window(session, w, events=events)
    assert contact.state == "SCHEDULED"
    # Re-predicted on another time grid: the same pass to well under a second.
    assert abs((contact.aos - w.aos).total_seconds()) < 0.5
    assert abs((contact.los - w.los).total_seconds()) < 0.5
    assert w.aos <= contact.aos and contact.los <= w.los  # clipped to the request
    assert contact.booked_start == contact.aos - timedelta(seconds=120)
    assert contact.booked_end == contact.los + timedelta(seconds=60)
    assert contact.blocked_start == contact.booked_start - timedelta(seconds=60)
    assert contact.blocked_end == contact.booked_end + timedelta(seconds=60)
    assert "33591" in contact.ephemeris_text and contact.ephemeris_epoch < NOW
    assert [(e.old_state, e.new_state) for e in events.events] == [("AVAILABLE", "SCHEDULED")]
    history = session.scalars(
        select(ContactTransition).where(ContactTransition.contact_id == contact.id)
    ).all()
    assert [(h.old_state, h.new_state) for h in history] == [("AVAILABLE", "SCHEDULED")]
    after = passes.availability(
        session,
        norad_id=NOAA19,
        profile_id="leo",
        start=NOW,
        end=NOW + timedelta(hours=12),
        now=NOW,
    )
    busy = [x for x in after if x.antenna_id == "sv-uhf" and x.aos == w.aos]
    assert busy[0].state == "BUSY" and contact.id in busy[0].blocked_by


def test_same_idempotency_key_returns_the_same_contact(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    first = reserve_window(session, w, idempotency_key="k-1")
    again = reserve_window(session, w, idempotency_key="k-1")
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_overlapping_reservation_on_same_antenna_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    first = reserve_window(session, w)
    with pytest.raises(BookingConflictError, match=first.id) as info:
        reserve_window(session, w, tenant="other")
    assert info.value.rule == "no-overlap"
    assert info.value.conflicting == ConflictingContact(
        contact_id=first.id,
        antenna_id="sv-uhf",
        state="SCHEDULED",
        blocked_start=first.blocked_start,
        blocked_end=first.blocked_end,
    )
    # The second antenna of the station is still free for the same pass.
    assert reserve_window(session, first_window(session, "sv-uhf-2")).state == "SCHEDULED"


def test_window_that_is_not_a_predicted_pass_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    gap_start = w.los + timedelta(minutes=20)
    with pytest.raises(NoSuchPassError, match="NORAD 33591 over station svalbard"):
        reserve_window(session, w, start=gap_start, end=gap_start + timedelta(minutes=5))


def test_window_stretching_past_the_predicted_los_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    with pytest.raises(NoSuchPassError, match="extends beyond the predicted pass"):
        reserve_window(session, w, end=w.los + timedelta(minutes=5))


def test_contact_shorter_than_the_minimum_viable_duration_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    with pytest.raises(ContactTooShortError, match="less than the minimum viable 120 s"):
        reserve_window(session, w, end=w.aos + timedelta(seconds=90))


def test_downlink_outside_the_antenna_band_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    with pytest.raises(BandMismatchError, match=r"437\.500 MHz.*sv-s"):
        reserve_window(session, w, antenna_id="sv-s")


def test_maintenance_window_blocks_reservations(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    maintenance.add_window(
        session,
        antenna_id="sv-uhf",
        start=w.los + timedelta(seconds=100),  # only the post-pass + teardown overlap
        end=w.los + timedelta(hours=1),
        reason="feed swap",
        now=NOW,
    )
    with pytest.raises(MaintenanceConflictError, match="feed swap"):
        reserve_window(session, w)
    assert session.scalar(select(func.count()).select_from(Contact)) == 0
    history = select(func.count()).where(ContactTransition.contact_id.is_not(None))
    assert session.scalar(history) == 0


def test_maintenance_touching_the_blocked_window_does_not_block_a_reservation(
    session: Session,
) -> None:
    """Maintenance from the blocked window's end, or up to its start, leaves
    it free ([start, end) windows); one second into it blocks it."""
    setup_world(session)
    w = first_window(session)
    first = reserve_window(session, w)
    booking.cancel(session, contact_id=first.id, now=NOW)
    blocked_start, blocked_end = first.blocked_start, first.blocked_end
    for start, end in ((blocked_end, blocked_end + timedelta(hours=1)),
                       (blocked_start - timedelta(hours=1), blocked_start)):  # fmt: skip
        maintenance.add_window(
            session, antenna_id="sv-uhf", start=start, end=end, reason="touching", now=NOW
        )
    again = reserve_window(session, w)
    assert (again.state, again.blocked_start, again.blocked_end) == (
        "SCHEDULED", blocked_start, blocked_end
    )  # fmt: skip
    booking.cancel(session, contact_id=again.id, now=NOW)
    maintenance.add_window(
        session,
        antenna_id="sv-uhf",
        start=blocked_end - timedelta(seconds=1),
        end=blocked_end + timedelta(hours=2),
        reason="one second in",
        now=NOW,
    )
    with pytest.raises(MaintenanceConflictError, match="one second in"):
        reserve_window(session, w)


def test_offline_antenna_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    maintenance.set_status(session, antenna_id="sv-uhf", status="offline", now=NOW)
    with pytest.raises(AntennaOfflineError, match="sv-uhf is offline"):
        reserve_window(session, w)


def test_ephemeris_older_than_the_limit_is_refused(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    with pytest.raises(
        EphemerisError, match=r"0\.08 days old at 2023-07-04T18:00:00Z; the limit is 0\.04 days"
    ):
        reserve_window(session, w, policy=BookingPolicy(max_ephemeris_age_s=3600.0))


def test_cancel_checks_the_contact_as_it_is_not_as_the_session_read_it(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    setup_world(session)
    contact = reserve_window(session, first_window(session))  # loaded in this session
    with session_factory() as other:
        row = other.get(Contact, contact.id)
        assert row is not None
        apply_transition(other, row, ContactState.PREPASS, at=NOW, reason="pre-pass (test)")
        other.commit()
    with pytest.raises(CancelRefusedError, match="is PREPASS"):
        booking.cancel(session, contact_id=contact.id, now=NOW)
    assert session.scalar(select(Contact.state).where(Contact.id == contact.id)) == "PREPASS"


def test_cancel_is_allowed_before_prepass_and_refused_after(session: Session) -> None:
    setup_world(session)
    windows = passes.availability(
        session,
        norad_id=NOAA19,
        profile_id="leo",
        start=NOW,
        end=NOW + timedelta(hours=12),
        now=NOW,
    )
    uhf = [w for w in windows if w.antenna_id == "sv-uhf"]
    early, late = reserve_window(session, uhf[0]), reserve_window(session, uhf[1])
    cancelled = booking.cancel(session, contact_id=early.id, now=NOW)
    assert cancelled.state == "CANCELLED"
    with pytest.raises(CancelRefusedError, match="pre-pass starts at"):
        booking.cancel(session, contact_id=late.id, now=late.booked_start + timedelta(seconds=1))
    # The cancelled window is free again.
    again = reserve_window(session, uhf[0], tenant="other")
    assert again.state == "SCHEDULED"


def test_fifty_concurrent_reservations_of_one_window_book_exactly_one(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        setup_world(s)
        w = first_window(s)
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(k: int) -> None:
        with session_factory() as s:
            barrier.wait()
            try:
                reserve_window(s, w, tenant=f"tenant-{k}", idempotency_key=f"key-{k}")
                outcome = "booked"
            except BookingRefusedError as exc:
                outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("booked") == 1
    assert outcomes.count("BookingConflictError") == 49
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1


class _Deadlock(Exception):
    sqlstate = "40P01"


def _fail_first_booking_commit(session: Session, orig: Exception) -> list[int]:
    """Make the first commit of a transaction that wrote a new contact (an
    ORM object to flush, or an ``INSERT INTO contacts`` already executed)
    raise like a PostgreSQL deadlock victim; returns the list counting
    those failures."""
    real_commit = session.commit
    failed: list[int] = []
    inserted: list[str] = []

    @event.listens_for(session, "do_orm_execute")
    def seen(state: ORMExecuteState) -> None:
        if "INSERT INTO contacts" in str(state.statement):
            inserted.append("contacts")

    def commit() -> None:
        if not failed and (inserted or any(isinstance(o, Contact) for o in session.new)):
            failed.append(1)
            raise OperationalError("INSERT INTO contacts ...", {}, orig)
        inserted.clear()
        real_commit()

    session.commit = commit  # type: ignore[method-assign]
    return failed


def test_a_deadlock_victim_is_booked_when_its_transaction_runs_again(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    failed = _fail_first_booking_commit(session, _Deadlock("deadlock detected"))
    contact = reserve_window(session, w)
    assert failed == [1]
    assert contact.state == "SCHEDULED"
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_an_error_that_is_not_transient_is_not_retried(session: Session) -> None:
    setup_world(session)
    w = first_window(session)
    failed = _fail_first_booking_commit(session, RuntimeError("disk full"))
    with pytest.raises(OperationalError, match="disk full"):
        reserve_window(session, w)
    assert failed == [1]
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_new_ephemeris_moves_a_booked_window_and_emits_an_event(session: Session) -> None:
    setup_world(session)
    contact = reserve_window(session, first_window(session))
    old_aos = contact.aos
    events = InMemoryEventSink()
    result = ephemerides.upload_ephemerides(
        session, text=shifted_tle("NOAA 19", 2.0), now=NOW, priority=1, events=events
    )
    assert len(result.stored) == 1
    session.refresh(contact)
    assert contact.state == "SCHEDULED"
    # 2 deg of mean anomaly ahead: the pass comes about 34 s earlier.
    moved_s = (old_aos - contact.aos).total_seconds()
    assert 15.0 < moved_s < 60.0
    assert contact.booked_start == contact.aos - timedelta(seconds=120)
    assert [(e.contact_id, e.old_state, e.new_state) for e in events.events] == [
        (contact.id, "SCHEDULED", "SCHEDULED")
    ]
    assert "window moved" in events.events[0].reason


def test_a_deadlocked_re_prediction_runs_again(session: Session) -> None:
    """Re-prediction moves windows under the exclusion constraint, so it can
    deadlock with a booking too: it runs again, and its event is published once."""
    setup_world(session)
    contact = reserve_window(session, first_window(session))
    old_aos = contact.aos
    real_commit = session.commit
    commits: list[int] = []
    failed: list[int] = []

    def commit() -> None:
        commits.append(1)
        if len(commits) == 2:  # the re-prediction's (the first stores the upload)
            failed.append(1)
            raise OperationalError("UPDATE contacts ...", {}, _Deadlock("deadlock detected"))
        real_commit()

    session.commit = commit  # type: ignore[method-assign]
    events = InMemoryEventSink()
    ephemerides.upload_ephemerides(
        session, text=shifted_tle("NOAA 19", 2.0), now=NOW, priority=1, events=events
    )
    assert failed == [1]
    session.refresh(contact)
    assert contact.aos < old_aos
    assert [(e.contact_id, e.new_state) for e in events.events] == [(contact.id, "SCHEDULED")]


def test_new_ephemeris_without_the_pass_fails_the_contact_to_schedule(session: Session) -> None:
    setup_world(session)
    contact = reserve_window(session, first_window(session))
    events = InMemoryEventSink()
    ephemerides.upload_ephemerides(
        session, text=shifted_tle("NOAA 19", 180.0), now=NOW, priority=1, events=events
    )
    session.refresh(contact)
    assert contact.state == "FAILED_TO_SCHEDULE"
    assert "no pass over svalbard" in contact.state_reason
    assert [e.new_state for e in events.events] == ["FAILED_TO_SCHEDULE"]


def test_plan_books_non_conflicting_contacts_around_existing_bookings(session: Session) -> None:
    setup_world(session)
    existing = reserve_window(session, first_window(session))
    end = NOW + timedelta(hours=12)
    requests = [
        PlanRequest("a", NOAA19, NOW, end, priority=5.0, wanted_passes=3),
        PlanRequest("b", 28654, NOW, end, priority=3.0, wanted_passes=3),
        PlanRequest("c", 39444, NOW, end, priority=1.0, wanted_minutes=30.0),
    ]
    outcome = plan_contacts(
        session, requests=requests, profile_id="leo", now=NOW, time_limit_s=5.0, book=True
    )
    assert outcome.result.status == "optimal"
    assert outcome.result.objective >= outcome.greedy.objective - 1e-6
    assert outcome.refused == []
    assert len(outcome.booked) == len(outcome.chosen) > 3
    for planned in outcome.chosen:
        if planned.antenna_id == existing.antenna_id:
            assert planned.window.los < existing.blocked_start or planned.window.aos > (
                existing.blocked_end
            )
    rows = session.scalars(select(Contact).where(Contact.state == "SCHEDULED")).all()
    by_antenna: dict[str, list[Contact]] = {}
    for c in rows:
        by_antenna.setdefault(c.antenna_id, []).append(c)
    for contacts in by_antenna.values():
        contacts.sort(key=lambda c: c.blocked_start)
        for a, b in zip(contacts, contacts[1:], strict=False):
            assert a.blocked_end <= b.blocked_start


def test_new_ephemeris_moving_a_window_onto_another_booking_fails_it_to_schedule(
    session: Session,
) -> None:
    setup_world(session)
    contact = reserve_window(session, first_window(session))
    # Another booking on the same antenna ending exactly where this one's
    # blocked window starts: adjacent now, overlapping once the pass moves earlier.
    other = Contact(
        satellite_id=session.scalar(select(Contact.satellite_id)),
        antenna_id=contact.antenna_id,
        profile_id="leo",
        tenant="other",
        booked_start=contact.blocked_start - timedelta(minutes=12),
        booked_end=contact.blocked_start - timedelta(minutes=1),
        blocked_start=contact.blocked_start - timedelta(minutes=13),
        blocked_end=contact.blocked_start,
        aos=contact.blocked_start - timedelta(minutes=10),
        tca=contact.blocked_start - timedelta(minutes=6),
        los=contact.blocked_start - timedelta(minutes=2),
        max_elevation_deg=30.0,
        ephemeris_epoch=contact.ephemeris_epoch,
        ephemeris_text="(other)",
        state="SCHEDULED",
    )
    session.add(other)
    session.commit()
    events = InMemoryEventSink()
    ephemerides.upload_ephemerides(
        session, text=shifted_tle("NOAA 19", 2.0), now=NOW, priority=1, events=events
    )
    session.refresh(contact)
    assert contact.state == "FAILED_TO_SCHEDULE"
    assert f"now overlaps contact {other.id}" in contact.state_reason
    assert [(e.contact_id, e.new_state) for e in events.events] == [
        (contact.id, "FAILED_TO_SCHEDULE")
    ]


def test_concurrent_retries_with_one_idempotency_key_get_one_contact(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as s:
        setup_world(s)
        w = first_window(s)
    barrier = threading.Barrier(20)
    ids: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        with session_factory() as s:
            barrier.wait()
            contact = reserve_window(s, w, idempotency_key="retry-1")
        with lock:
            ids.append(contact.id)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 20 and len(set(ids)) == 1
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1


def test_disabling_the_ephemeris_in_force_re_predicts_with_the_previous_one(
    session: Session,
) -> None:
    setup_world(session)
    contact = reserve_window(session, first_window(session))
    original_aos = contact.aos
    result = ephemerides.upload_ephemerides(
        session, text=shifted_tle("NOAA 19", 2.0), now=NOW, priority=1
    )
    session.refresh(contact)
    assert contact.aos < original_aos - timedelta(seconds=15)
    events = InMemoryEventSink()
    changed = ephemerides.set_ephemeris_enabled(
        session, ephemeris_id=result.stored[0].id, enabled=False, now=NOW, events=events
    )
    session.refresh(contact)
    assert abs((contact.aos - original_aos).total_seconds()) < 1.0
    assert [e.new_state for e in changed] == ["SCHEDULED"] == [e.new_state for e in events.events]
    history = ephemerides.list_ephemerides(session, satellite_id=contact.satellite_id)
    assert [e.enabled for e in history].count(False) == 1


def _statements_of_a_reservation(session: Session, **kw: Any) -> list[str]:
    """The SQL statements (white space folded) of reserving the first window
    of the world, its rows not yet in the session (``kw`` to
    ``reserve_window``)."""
    return _reservation_traced(session, **kw)[0]


def _reservation_traced(session: Session, **kw: Any) -> tuple[list[str], Contact]:
    """The first window of the world reserved, its rows not yet in the
    session: the SQL statements run (white space folded) and the contact."""
    setup_world(session)
    w = first_window(session)
    session.expunge_all()
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        contact = reserve_window(session, w, **kw)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return statements, contact


def test_a_reservation_reads_its_antenna_and_its_profile_once(session: Session) -> None:
    """Phase 2 finds the rows phase 1 read in the session instead of reading
    them again (bench/api.py: each query is CPU per reservation)."""
    statements = _statements_of_a_reservation(session)
    reads = [s for s in statements if s.startswith("SELECT")]
    assert sum(" antennas " in s for s in reads) == 1, reads
    assert sum(" mission_profiles " in s for s in reads) == 1, reads


@pytest.mark.parametrize(
    ("antenna_id", "profile_id", "kind", "key"),
    [
        ("nowhere", "leo", "antenna", "nowhere"),
        (None, "nothing", "mission profile", "nothing"),
        ("nowhere", "nothing", "antenna", "nowhere"),
    ],
)
def test_a_reservation_names_the_antenna_or_profile_that_does_not_exist(
    session: Session, antenna_id: str | None, profile_id: str, kind: str, key: str
) -> None:
    setup_world(session)
    w = first_window(session)
    with pytest.raises(NotFoundError) as err:
        reserve_window(session, w, antenna_id=antenna_id or w.antenna_id, profile_id=profile_id)
    assert (err.value.kind, err.value.key) == (kind, key)
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_reservation_is_one_transaction_on_postgresql_and_two_on_sqlite(
    session: Session,
) -> None:
    """PostgreSQL's reads take no lock, so the reads go on into the write (one
    COMMIT: one BEGIN and one COMMIT less per reservation); SQLite's hold
    the write lock, so they end before the pass is predicted."""
    setup_world(session)
    w = first_window(session)
    session.expunge_all()
    session.commit()
    commits: list[object] = []
    engine = session.get_bind()

    def committed(conn: object) -> None:
        commits.append(conn)

    event.listen(engine, "commit", committed)
    try:
        contact = reserve_window(session, w)
    finally:
        event.remove(engine, "commit", committed)
    expected = 2 if engine.dialect.name == "sqlite" else 1
    assert len(commits) == expected
    session.expunge_all()
    assert session.get(Contact, contact.id) is not None


def test_a_reservation_reads_its_antenna_profile_and_station_agent_in_one_statement(
    session: Session,
) -> None:
    """The antenna, its station, the profile and the station's agent come in
    one round trip (bench/reserve.py: each statement costs a reservation
    about as much CPU as matching its pass)."""
    statements = _statements_of_a_reservation(session)
    together = [
        s
        for s in statements
        if all(f" {t} " in s for t in ("antennas", "ground_stations", "mission_profiles"))
    ]
    assert len(together) == 1, statements
    assert " station_agents " in together[0]
    assert not any(" station_agents " in s for s in statements if s not in together)


def test_a_reservation_reads_its_satellite_with_its_antenna_and_profile(
    session: Session,
) -> None:
    """Without a satellite row from the caller, the satellite comes in the
    statement that reads the antenna, the profile and the ephemeris in force
    (issue 17: one round trip less per reservation); ``tenant`` None books
    for the satellite's tenant."""
    statements, contact = _reservation_traced(session, tenant=None)
    reads = [s for s in statements if s.startswith("SELECT") and " satellites" in s]
    assert len(reads) == 1, statements
    assert all(f" {t}" in reads[0] for t in ("antennas", "mission_profiles", "ephemerides"))
    satellite = session.scalar(select(Satellite).where(Satellite.norad_id == NOAA19))
    assert satellite is not None and contact.tenant == satellite.tenant


@pytest.mark.parametrize(
    ("norad_id", "tenants", "window"),
    [
        (99999, None, "pass"),  # no such satellite
        (NOAA19, ("another",), "pass"),  # another tenant's satellite
        (99999, None, "reversed"),  # named before the reversed window
        (NOAA19, ("another",), "reversed"),
        (99999, None, "no antenna"),  # named before the missing antenna
    ],
)
def test_a_reservation_names_an_unknown_or_invisible_satellite_before_any_other_refusal(
    session: Session, norad_id: int, tenants: tuple[str, ...] | None, window: str
) -> None:
    setup_world(session)
    w = first_window(session)
    session.expunge_all()
    start, end = (w.los, w.aos) if window == "reversed" else (w.aos, w.los)
    antenna_id = "nowhere" if window == "no antenna" else w.antenna_id
    for key in (None, "k1"):
        with pytest.raises(NotFoundError) as err:
            reserve_window(
                session,
                w,
                norad_id=norad_id,
                start=start,
                end=end,
                antenna_id=antenna_id,
                tenant=None,
                satellite_tenants=tenants,
                idempotency_key=key,
            )
        assert (err.value.kind, err.value.key) == ("satellite with NORAD id", norad_id)
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def _statements_of_reserve(
    session: Session, w: passes.AvailableWindow
) -> tuple[Contact, list[str]]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        contact = reserve_window(session, w)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return contact, statements


def test_a_reservation_reads_the_ephemeris_in_force_with_its_antenna_and_profile(
    session: Session,
) -> None:
    """The ephemeris in force comes in the statement that reads the antenna
    and the profile (issue 17: one round trip less per reservation)."""
    setup_world(session)
    w = first_window(session)
    session.expunge_all()
    contact, statements = _statements_of_reserve(session, w)
    with_ephemeris = [s for s in statements if " ephemerides" in s]
    assert len(with_ephemeris) == 1, statements
    assert " antennas " in with_ephemeris[0] and " mission_profiles " in with_ephemeris[0]
    in_force = ephemerides.ephemeris_in_force(session, satellite_id=contact.satellite_id, now=NOW)
    assert in_force is not None and contact.ephemeris_id == in_force.id


def test_a_reservation_writes_its_contact_and_its_history_in_one_statement_on_postgresql(
    session: Session,
) -> None:
    """PostgreSQL: the contact and its SCHEDULED history row in one ``INSERT``
    (a ``WITH ... RETURNING``) that also checks maintenance, three
    statements in all; SQLite: an ``INSERT`` each. The contact comes back as
    a stored row of the session."""
    setup_world(session)
    w = first_window(session)
    session.expunge_all()
    contact, statements = _statements_of_reserve(session, w)
    writes = [s for s in statements if "INSERT INTO" in s]
    postgres = session.get_bind().dialect.name == "postgresql"
    assert len(writes) == (1 if postgres else 2), writes
    assert all(
        any(f"INSERT INTO {t} " in s for s in writes) for t in ("contacts", "contact_transitions")
    )
    if postgres:  # satellite, antenna, profile, agent, ephemeris; the insert with its checks
        assert len(statements) == 2, statements
        assert " maintenance_windows " in writes[0]
    assert contact in session and contact not in session.new
    assert [(t.old_state, t.new_state, t.reason) for t in contact.transitions] == [
        ("AVAILABLE", "SCHEDULED", "reserved by acme")
    ]
    session.expunge_all()
    stored = session.get(Contact, contact.id)
    assert stored is not None
    assert (stored.state, stored.version, stored.verdict_reason) == ("SCHEDULED", 1, "")
    assert (stored.blocked_start, stored.aos, stored.los) == (
        contact.blocked_start,
        contact.aos,
        contact.los,
    )


def test_a_window_cut_from_a_pass_books_the_whole_pass_when_it_runs_past_the_near_search(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass is searched near the window first; one that runs past that
    range is searched again over the wide margin, so the contact carries the
    whole pass's culmination, not the edge of the near range."""
    setup_world(session)
    w = first_window(session)
    monkeypatch.setattr(booking, "NEAR_MARGIN", timedelta(0))
    # The first 150 s of the pass: its culmination lies beyond the near range.
    contact = reserve_window(session, w, end=w.aos + timedelta(seconds=150))
    assert abs(contact.max_elevation_deg - w.max_elevation_deg) < 0.01
    assert contact.los == w.aos + timedelta(seconds=150)


def test_the_near_search_matches_the_pass_the_wide_search_matches(session: Session) -> None:
    """The pass matched over NEAR_MARGIN around the window is the one a
    search over WIDE_MARGIN finds (bench/api.py: a quarter of the range)."""
    from groundstation.prediction import element_set_from_text, predict
    from orbital.stations import Station

    station = Station(id="svalbard", name="SvalSat", lat_deg=78.2298, lon_deg=15.4078,
                      alt_m=501.0, min_elevation_deg=10.0)  # fmt: skip
    element = element_set_from_text(tle_text("NOAA 19"))
    wide = predict([element], [station], NOW, NOW + timedelta(hours=12))
    assert len(wide) >= 4
    policy = BookingPolicy()
    for p in wide:
        if p.truncated:
            continue
        match = booking._matching_pass(
            element, station, p.aos, p.los, policy, norad_id=NOAA19, min_el=10.0
        )
        assert abs((match.aos - p.aos).total_seconds()) < 0.01
        assert abs((match.los - p.los).total_seconds()) < 0.01
        assert abs(match.max_elevation_deg - p.max_elevation_deg) < 1e-3
        assert not match.truncated


# ---------------------------------------------------------------- the pass cache


def _listed_passes(
    session: Session, cache: PassCache, *, profile: bool
) -> list[passes.PredictedPass]:
    """A day of NOAA 19's passes as ``GET /passes`` lists them (with the
    profile or without), its prediction held by ``cache``."""
    if profile:
        return passes.predicted_passes(
            session, norad_id=NOAA19, start=NOW, end=NOW + timedelta(days=1), now=NOW,
            profile_id="leo", cache=cache,
        )  # fmt: skip
    return passes.pass_availability(
        session, norad_id=NOAA19, start=NOW, end=NOW + timedelta(days=1), now=NOW, cache=cache
    ).predicted()


def _counting_predictions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = booking.predict

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(booking, "predict", counted)
    return calls


def test_a_window_just_listed_by_passes_is_booked_from_that_prediction_without_predicting_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: a booking reuses the prediction ``GET /passes`` keeps (same
    element set, same station and elevation limit, a range covering the
    window's search) instead of propagating the pass again, and books the
    pass exactly as it was listed."""
    setup_world(session)
    cache = PassCache()
    listed = _listed_passes(session, cache, profile=True)
    p = next(
        q for q in listed if q.duration_s >= 300 and any(a.antenna_id == "sv-uhf" and a.free for a in q.antennas)
    )  # fmt: skip
    session.expunge_all()
    session.commit()
    calls = _counting_predictions(monkeypatch)
    contact = booking.reserve(
        session, norad_id=NOAA19, antenna_id="sv-uhf", profile_id="leo", start=p.aos, end=p.los,
        tenant="acme", now=NOW, pass_cache=cache,
    )  # fmt: skip
    assert (len(calls), cache.found, len(cache)) == (0, 1, 1)
    assert (contact.aos, contact.los, contact.max_elevation_deg) == (
        p.aos,
        p.los,
        p.max_elevation_deg,
    )


@pytest.mark.parametrize("listed", ["nothing", "another day", "a lower elevation limit"])
def test_a_window_no_cached_prediction_covers_is_predicted_and_not_stored(
    session: Session, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    """Only a prediction over the same station, elevation limit and element
    set, covering the window, stands for the booking's own (the listing
    without a profile predicts at the station's 5 deg, the booking at the
    profile's 10)."""
    setup_world(session)
    cache = PassCache()
    w = first_window(session)
    if listed == "another day":
        passes.predicted_passes(
            session, norad_id=NOAA19, start=NOW + timedelta(days=1), end=NOW + timedelta(days=2),
            now=NOW, profile_id="leo", cache=cache,
        )  # fmt: skip
    elif listed == "a lower elevation limit":
        _listed_passes(session, cache, profile=False)
    session.expunge_all()
    session.commit()
    stored = len(cache)
    calls = _counting_predictions(monkeypatch)
    reserve_window(session, w, pass_cache=cache)
    assert (len(calls), cache.found, len(cache)) == (1, 0, stored)


@pytest.mark.parametrize(
    "change",
    ["starts 5 min early", "ends 5 min late", "no pass", "too short", "booked"],
)
def test_a_booking_is_refused_with_the_same_reason_from_a_cached_prediction(
    session: Session, change: str
) -> None:
    """Every refusal of the pass match names the same rule and values
    whether the pass was predicted afresh or reused from ``GET /passes``."""
    setup_world(session, min_viable_duration_s=120.0)
    cache = PassCache()
    listed = _listed_passes(session, cache, profile=True)
    p = next(q for q in listed if q.duration_s >= 300 and q.antennas[0].free)
    antenna_id = p.antennas[0].antenna_id
    start, end = {
        "starts 5 min early": (p.aos - timedelta(minutes=5), p.los),
        "ends 5 min late": (p.aos, p.los + timedelta(minutes=5)),
        "no pass": (p.los + timedelta(minutes=20), p.los + timedelta(minutes=25)),
        "too short": (p.aos, p.aos + timedelta(seconds=60)),
        "booked": (p.aos, p.los),
    }[change]
    if change == "booked":
        booking.reserve(
            session, norad_id=NOAA19, antenna_id=antenna_id, profile_id="leo", start=p.aos,
            end=p.los, tenant="acme", now=NOW,
        )  # fmt: skip
    reasons = []
    for reuse in (None, cache):
        session.expunge_all()
        session.commit()
        with pytest.raises(BookingRefusedError) as err:
            booking.reserve(
                session, norad_id=NOAA19, antenna_id=antenna_id, profile_id="leo", start=start,
                end=end, tenant="acme", now=NOW, pass_cache=reuse,
            )  # fmt: skip
        reasons.append((type(err.value), str(err.value)))
    assert reasons[0] == reasons[1]
    assert cache.found == 1
