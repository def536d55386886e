"""The live figures of a running pass (``contact_progress``): written by the
executor every few seconds, read by the API and the console.

Revision ID: 0012b
Revises: 0011e
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012b"
down_revision = "0011e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_progress",
        sa.Column(
            "contact_id",
            sa.String(36),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("frames_decoded", sa.Integer(), nullable=False),
        sa.Column("frames_sent", sa.Integer(), nullable=True),
        sa.Column("esn0_db", sa.Float(), nullable=True),
        sa.Column("doppler_hz", sa.Float(), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("executed_by", sa.String(200), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact_progress")
