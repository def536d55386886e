"""Station agents: station keys, agents' heartbeats, uploaded frames and
end-of-pass reports (issue 13).

Revision ID: 0010b
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010b"
down_revision = "0009"
branch_labels = None
depends_on = None


ROLES_BEFORE = "role IN ('admin', 'operator', 'scientist')"
ROLES_AFTER = "role IN ('admin', 'operator', 'scientist', 'station')"


def _roles(check: str) -> None:
    with op.batch_alter_table("api_keys", recreate="always") as batch:
        batch.drop_constraint("ck_api_keys_role", type_="check")
        batch.create_check_constraint("ck_api_keys_role", check)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("station_id", sa.String(length=80), nullable=False, server_default="")
        )
    _roles(ROLES_AFTER)
    op.create_table(
        "station_agents",
        sa.Column("station_id", sa.String(length=80), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("software_version", sa.String(length=80), nullable=False),
        sa.Column("front_end", sa.String(length=200), nullable=False),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["ground_stations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("station_id"),
    )
    op.create_table(
        "agent_frames",
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("frame_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "sequence"),
    )
    op.create_table(
        "agent_reports",
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("frames_total", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id"),
    )


def downgrade() -> None:
    op.drop_table("agent_reports")
    op.drop_table("agent_frames")
    op.drop_table("station_agents")
    op.execute("DELETE FROM api_keys WHERE role = 'station'")
    _roles(ROLES_BEFORE)
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("station_id")
