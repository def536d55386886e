"""A version number on each contact (``PATCH /contacts/{id}`` with
``If-Match``): 1 when booked, one more at every change of the contact
(state change, window update, profile change); and CANCELLING (a pass being
stopped) holds its antenna like the other active states, in the database's
no-double-booking rule.

Revision ID: 0010c
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from groundstation.db import (
    ACTIVE_STATES_SQL,
    ACTIVE_STATES_SQL_0010C,
    pg_no_overlap,
    sqlite_no_overlap,
)

revision = "0010c"
down_revision = "0010b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "contacts", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    _no_overlap(ACTIVE_STATES_SQL_0010C)


def _no_overlap(states_sql: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE contacts DROP CONSTRAINT ex_contacts_antenna_no_overlap")
        op.execute(pg_no_overlap(states_sql))
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS tr_contacts_no_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS tr_contacts_no_overlap_update")
        for statement in sqlite_no_overlap(states_sql):
            op.execute(statement)


def downgrade() -> None:
    _no_overlap(ACTIVE_STATES_SQL)
    op.drop_column("contacts", "version")
