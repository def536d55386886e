"""Plan proposals in the database: ``POST /plans`` and ``POST /plans/{id}/commit``
may be served by different API processes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_proposals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=80), nullable=False),
        sa.Column("owner_tenant", sa.String(length=120), nullable=False),
        sa.Column("tenants", sa.JSON(), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("committed_contact_ids", sa.JSON(), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('proposed', 'committing', 'committed')", name="ck_plan_proposals_state"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_plan_proposals_created_at"), "plan_proposals", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_proposals_created_at"), table_name="plan_proposals")
    op.drop_table("plan_proposals")
