"""How far the central service has published each agent contact's frames
(``agent_published``): a service restarted during a station agent's pass
follows it again from there, publishing no frame twice.

Revision ID: 0011e
Revises: 0011a
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011e"
down_revision = "0011a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_published",
        sa.Column(
            "contact_id",
            sa.String(36),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_published")
