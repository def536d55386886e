"""``db.PreparedSQL`` and ``db.autocommit_cursor``: the hot reads' way to a
statement (``contacts.contacts_page``) gives what SQLAlchemy's own execution
gives, and leaves the pooled connection as it found it; ``UTCDateTime``'s
quick read of SQLite text gives what SQLAlchemy's parse gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, bindparam, func, insert, select

from groundstation.db import PreparedSQL, autocommit_cursor, make_engine
from groundstation.models import Satellite, UTCDateTime

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
_sat = Satellite.__table__.c


def _add_satellites(engine: Engine) -> None:
    rows = [
        {
            "norad_id": 40000 + k,
            "name": f"SAT-{k}",
            "tenant": f"t{k % 3}",
            "downlink_freq_hz": 437.0e6 + k * 0.125,
            # A whole second (no microseconds) among them: stored and read back as is.
            "created_at": T0 + timedelta(minutes=k, microseconds=0 if k == 2 else 17 * k),
        }
        for k in range(6)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Satellite), rows)


_STATEMENT = (
    select(_sat.norad_id, _sat.name, _sat.downlink_freq_hz, _sat.created_at)
    .where(
        _sat.tenant.in_(bindparam("tenants", expanding=True)),
        _sat.created_at > bindparam("after", type_=UTCDateTime()),
    )
    .order_by(_sat.norad_id)
    .limit(bindparam("rows"))
)


def test_prepared_select_reads_the_rows_and_values_sqlalchemy_reads(engine: Engine) -> None:
    _add_satellites(engine)
    for tenants in (["t0"], ["t1", "t2"], ["t0", "t1", "t2"], []):
        params = {"tenants": tenants, "after": T0 + timedelta(seconds=30), "rows": 4}
        prepared = PreparedSQL(_STATEMENT, engine.dialect, {"tenants": len(tenants)})
        with autocommit_cursor(engine) as cur:
            rows = prepared.fetchall(cur, params)
        with engine.connect() as conn:
            expected = [tuple(r) for r in conn.execute(_STATEMENT, params)]
        assert rows == expected
        assert repr(rows) == repr(expected)  # aware UTC datetimes, floats, ints alike
        assert all(r[3].tzinfo is UTC for r in rows)
    with autocommit_cursor(engine) as cur:
        rows = PreparedSQL(_STATEMENT, engine.dialect, {"tenants": 3}).fetchall(
            cur, {"tenants": ["t0", "t1", "t2"], "after": T0, "rows": 10}
        )
    assert [r[0] for r in rows] == [40001, 40002, 40003, 40004, 40005]
    assert rows[1][3] == T0 + timedelta(minutes=2)


def test_connection_read_in_autocommit_goes_back_to_the_pool_transactional(
    engine: Engine,
) -> None:
    count = select(func.count()).select_from(Satellite.__table__)
    prepared = PreparedSQL(count, engine.dialect, {})
    for _ in range(3):
        with autocommit_cursor(engine) as cur:
            assert prepared.fetchall(cur, {}) == [(0,)]
    # The same pooled connection, through SQLAlchemy: a rolled-back insert
    # leaves nothing (it was not left in autocommit).
    with engine.connect() as conn:
        conn.execute(
            insert(Satellite),
            {"norad_id": 1, "name": "X", "tenant": "t", "downlink_freq_hz": 1.0, "created_at": T0},
        )
        conn.rollback()
    with autocommit_cursor(engine) as cur:
        assert prepared.fetchall(cur, {}) == [(0,)]


def test_sqlite_datetime_text_reads_as_sqlalchemy_reads_it(tmp_path: Path) -> None:
    """``UTCDateTime`` reads its own SQLite text in C (``fromisoformat``);
    every text, its own and any other, gives what SQLAlchemy's parse and
    ``process_result_value`` give."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    dialect = engine.dialect
    fast = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)
    impl = UTCDateTime().impl.dialect_impl(dialect).result_processor(dialect, None)
    assert fast is not None and impl is not None

    def reference(text: str | None) -> datetime | None:
        return UTCDateTime().process_result_value(impl(text), dialect)

    texts = [
        "2023-06-28 12:06:54.393743",  # as stored by this type
        "2023-06-28 12:06:54.000000",
        "1970-01-01 00:00:00.000001",
        "2023-06-28 12:06:54",  # written by other means
        "2023-06-28 12:06:54.5",
        "2023-06-28T12:06:54.393743",
        "2023-06-28",
        None,
    ]
    for text in texts:
        got = fast(text)
        assert got == reference(text) and repr(got) == repr(reference(text)), text
    stored = T0 + timedelta(microseconds=393743)
    bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert bind is not None
    read = fast(bind(stored))
    assert read == stored and read.tzinfo is UTC
