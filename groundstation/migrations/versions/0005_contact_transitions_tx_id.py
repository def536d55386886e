"""Contact transitions carry the id of the transaction that wrote them
(PostgreSQL), so the event stream can read them in an order no later commit
can insert into (see ``groundstation.event_log``).

On PostgreSQL ``tx_id`` defaults to ``pg_current_xact_id()``; rows written
before this revision get 0. SQLite serializes writers, so there the
transition ids are already in commit order and ``tx_id`` stays null.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact_transitions", sa.Column("tx_id", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE contact_transitions SET tx_id = 0")
        op.execute(
            "ALTER TABLE contact_transitions ALTER COLUMN tx_id "
            "SET DEFAULT (pg_current_xact_id()::text)::bigint"
        )
    op.create_index(
        "ix_contact_transitions_tx_id_id", "contact_transitions", ["tx_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_contact_transitions_tx_id_id", table_name="contact_transitions")
    op.drop_column("contact_transitions", "tx_id")
