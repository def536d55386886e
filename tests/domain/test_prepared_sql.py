"""``db.PreparedSQL`` and ``db.autocommit_cursor``: the hot reads' way to a
statement (``contacts.contacts_page``) gives what SQLAlchemy's own execution
gives, and leaves the pooled connection as it found it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, bindparam, func, insert, select

from groundstation.db import PreparedSQL, autocommit_cursor
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
