from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from groundstation.db import retry_transient
from groundstation.ephemerides import ephemeris_in_force
from groundstation.models import Base, Contact, Ephemeris
from groundstation.states import ContactState
from ingest.catalog import Base as CatalogBase

from .helpers import T0, insert_contact, seed_basic


def test_migrations_produce_exactly_the_model_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        # The migrations also create the dataset catalogue (ingest.catalog).
        diff = compare_metadata(
            MigrationContext.configure(conn),
            [Base.metadata, CatalogBase.metadata],  # type: ignore[arg-type]
        )
    assert diff == []


def test_datetimes_come_back_aware_utc(session: Session) -> None:
    ids = seed_basic(session)
    contact = insert_contact(session, satellite_id=ids["satellite_id"], aos=T0)
    session.expunge_all()
    loaded = session.get(Contact, contact.id)
    assert loaded is not None
    assert loaded.aos == T0 and loaded.aos.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused_on_write(session: Session) -> None:
    ids = seed_basic(session)
    with pytest.raises(StatementError, match="naive"):
        insert_contact(session, satellite_id=ids["satellite_id"], aos=datetime(2023, 7, 4, 12))


def test_database_refuses_an_overlapping_active_contact(session: Session) -> None:
    ids = seed_basic(session)
    insert_contact(session, satellite_id=ids["satellite_id"], aos=T0)
    with pytest.raises(IntegrityError):
        # Overlaps only through setup/teardown: 300 s pass + 60 s post + 30 s teardown.
        insert_contact(
            session, satellite_id=ids["satellite_id"], aos=T0 + timedelta(seconds=300 + 60 + 60)
        )
    session.rollback()


def test_adjacent_contacts_and_cancelled_ones_do_not_block(session: Session) -> None:
    ids = seed_basic(session)
    sat = ids["satellite_id"]
    insert_contact(session, satellite_id=sat, aos=T0)
    # Blocked windows touch end-to-start exactly: allowed (half-open intervals).
    insert_contact(session, satellite_id=sat, aos=T0 + timedelta(seconds=300 + 2 * 60 + 2 * 30))
    insert_contact(session, satellite_id=sat, aos=T0, state=ContactState.CANCELLED)
    insert_contact(session, satellite_id=sat, aos=T0, antenna_id="ant2")
    assert session.scalar(select(func.count()).select_from(Contact)) == 4


def test_fifty_concurrent_overlapping_inserts_leave_exactly_one_booking(
    session_factory: sessionmaker[Session],
) -> None:
    """Fifty transactions insert overlapping contacts at once: one commits,
    49 are refused by the constraint. On PostgreSQL two inserts into an
    exclusion constraint can each wait for the other's tuple, and the
    deadlock detector aborts one (SQLSTATE 40P01, documented in
    execIndexing.c); the booking service runs such a transaction again
    (``retry_transient``), and so does this test, after which the victim
    sees the committed row and is refused like the others. Any other error
    is recorded and fails the test, naming it."""
    with session_factory() as s:
        sat = seed_basic(s)["satellite_id"]
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        with session_factory() as s:
            barrier.wait()
            try:
                retry_transient(
                    s,
                    lambda: insert_contact(s, satellite_id=sat, aos=T0 + timedelta(seconds=k)),
                    attempts=10,
                )
                result = "ok"
            except IntegrityError:
                s.rollback()
                result = "refused"
            except Exception as exc:  # recorded, so the assertion names it
                s.rollback()
                result = f"{type(exc).__name__}: {exc}"[:300]
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unexpected = [o for o in outcomes if o not in ("ok", "refused")]
    assert unexpected == []
    assert outcomes.count("ok") == 1
    assert outcomes.count("refused") == 49
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 1


def _ephemeris(sat: int, *, epoch_h: float, priority: int = 0, **kw: object) -> Ephemeris:
    return Ephemeris(
        satellite_id=sat,
        epoch=T0 + timedelta(hours=epoch_h),
        source_format="tle",
        text=f"epoch {epoch_h} priority {priority}",
        priority=priority,
        **kw,
    )


def test_ephemeris_in_force_is_highest_priority_enabled_unexpired_newest(
    session: Session,
) -> None:
    sat = seed_basic(session)["satellite_id"]
    assert isinstance(sat, int)
    session.add_all(
        [
            _ephemeris(sat, epoch_h=0, priority=0),
            _ephemeris(sat, epoch_h=5, priority=0),
            _ephemeris(sat, epoch_h=1, priority=2),
            _ephemeris(sat, epoch_h=2, priority=2),
            _ephemeris(sat, epoch_h=9, priority=3, enabled=False),
            _ephemeris(sat, epoch_h=8, priority=5, expires_at=T0 + timedelta(hours=10)),
        ]
    )
    session.commit()
    before_expiry = ephemeris_in_force(session, satellite_id=sat, now=T0 + timedelta(hours=9))
    after_expiry = ephemeris_in_force(session, satellite_id=sat, now=T0 + timedelta(hours=11))
    assert before_expiry is not None and before_expiry.text == "epoch 8 priority 5"
    assert after_expiry is not None and after_expiry.text == "epoch 2 priority 2"
