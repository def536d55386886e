"""Vetting (issue 15): each contact's measured pass quality (frames decoded
and expected, Es/N0) and verdict (good, partial, bad, failed; automatic or
an operator's, who, when, why), the verdict on the history row that set it,
and the verdict thresholds of each mission profile (``vetting``).

Revision ID: 0011a
Revises: 0011b
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011a"
down_revision = "0011b"
branch_labels = None
depends_on = None


def _contact_columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("frames_ok", sa.Integer(), nullable=True),
        sa.Column("frames_expected", sa.Integer(), nullable=True),
        sa.Column("esn0_db", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(length=12), nullable=True),
        sa.Column("verdict_source", sa.String(length=12), nullable=True),
        sa.Column("verdict_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("verdict_by", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
    )


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild: SQLite's no-overlap triggers stay).
    for column in _contact_columns():
        op.add_column("contacts", column)
    op.create_index("ix_contacts_verdict", "contacts", ["verdict"])
    op.add_column("contact_transitions", sa.Column("verdict", sa.String(length=12), nullable=True))
    op.add_column(
        "contact_transitions", sa.Column("verdict_source", sa.String(length=12), nullable=True)
    )
    op.add_column(
        "mission_profiles", sa.Column("vetting", sa.JSON(), nullable=False, server_default="{}")
    )


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite >= 3.35): a batch rebuild of a table that
    # others reference fails on SQLite's foreign keys, and would drop triggers.
    op.drop_column("mission_profiles", "vetting")
    op.drop_column("contact_transitions", "verdict_source")
    op.drop_column("contact_transitions", "verdict")
    op.drop_index("ix_contacts_verdict", table_name="contacts")
    for column in reversed(_contact_columns()):
        op.drop_column("contacts", column.name)
