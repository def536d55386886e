"""Resource events (issue 15): ephemeris and station status changes are rows
of the one event history (``contact_transitions``), so that the SSE stream,
the webhook relay and ``Last-Event-ID`` see them in the same id and
transaction order as contact events. Such a row has no contact
(``contact_id`` null) and names its subject: ``subject_kind`` (``ephemeris``,
``station``, ``antenna``), ``subject_id``, the tenant who sees it (null:
every tenant) and the satellite, station and antenna it concerns;
``old_state``/``new_state`` hold the old and new status. A station agent's
last announced status (``station_agents.announced_status``) tells when it
goes online or offline; an ephemeris's (``ephemerides.announced_status``)
when its expiry has not been announced yet.

Revision ID: 0012a
Revises: 0012b
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012a"
down_revision = "0012b"
branch_labels = None
depends_on = None


def _columns() -> tuple[sa.Column[object], ...]:
    return (
        sa.Column("subject_kind", sa.String(length=12), nullable=True),
        sa.Column("subject_id", sa.String(length=80), nullable=True),
        sa.Column("subject_tenant", sa.String(length=120), nullable=True),
        sa.Column("subject_norad_id", sa.Integer(), nullable=True),
        sa.Column("subject_station_id", sa.String(length=80), nullable=True),
        sa.Column("subject_antenna_id", sa.String(length=80), nullable=True),
        sa.Column("subject_in_force", sa.Boolean(), nullable=True),
    )


def upgrade() -> None:
    for column in _columns():
        op.add_column("contact_transitions", column)
    for table in ("station_agents", "ephemerides"):
        op.add_column(table, sa.Column("announced_status", sa.String(length=12), nullable=True))
    # Expired before this revision: not announced again.
    op.execute(
        "UPDATE ephemerides SET announced_status = 'EXPIRED' "
        "WHERE expires_at IS NOT NULL AND expires_at <= CURRENT_TIMESTAMP"
    )
    # SQLite rebuilds the table (no ALTER COLUMN; it has no triggers and no
    # table references it); PostgreSQL drops the NOT NULL in place.
    with op.batch_alter_table("contact_transitions") as batch:
        batch.alter_column("contact_id", existing_type=sa.String(length=36), nullable=True)


def downgrade() -> None:
    for table in ("ephemerides", "station_agents"):
        op.drop_column(table, "announced_status")
    op.execute("DELETE FROM contact_transitions WHERE contact_id IS NULL")
    with op.batch_alter_table("contact_transitions") as batch:
        batch.alter_column("contact_id", existing_type=sa.String(length=36), nullable=False)
    for column in reversed(_columns()):
        op.drop_column("contact_transitions", column.name)
