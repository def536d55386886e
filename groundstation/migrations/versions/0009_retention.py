"""Retention: when and why a dataset expired, and the marks housekeeping keeps
(the highest contact transition id pruned, for the event stream).

The catalogue columns are added only when missing: a catalogue made by
``CatalogService.create_schema()`` has them already.

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("ingest_datasets")}
    with op.batch_alter_table("ingest_datasets") as batch:
        if "expired_at" not in columns:
            batch.add_column(sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
        if "expired_reason" not in columns:
            batch.add_column(sa.Column("expired_reason", sa.Text(), nullable=True))
    op.create_table(
        "housekeeping_marks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("housekeeping_marks")
    with op.batch_alter_table("ingest_datasets") as batch:
        batch.drop_column("expired_reason")
        batch.drop_column("expired_at")
