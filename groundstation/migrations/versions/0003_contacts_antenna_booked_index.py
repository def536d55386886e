"""Index contacts by (antenna, booked start): ``GET /contacts?station=..&start=..``
lists one station's antennas over a time range (see ``contacts.contacts_page``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_contacts_antenna_booked_start", "contacts", ["antenna_id", "booked_start"])


def downgrade() -> None:
    op.drop_index("ix_contacts_antenna_booked_start", table_name="contacts")
