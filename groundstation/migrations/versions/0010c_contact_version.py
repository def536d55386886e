"""A version number on each contact (``PATCH /contacts/{id}`` with
``If-Match``): 1 when booked, one more at every change of the contact
(state change, window update, profile change).

Revision ID: 0010c
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010c"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "contacts", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )


def downgrade() -> None:
    op.drop_column("contacts", "version")
