"""Tenant buckets: a tenant's own dataset bucket (``tenant_buckets``), and
the bucket each catalogued dataset lives in (``ingest_datasets.bucket``;
null, as for every dataset stored before, is the default store).

Revision ID: 0011d
Revises: 0010c
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011d"
down_revision = "0010c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_buckets",
        sa.Column("tenant", sa.String(120), primary_key=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # A catalogue made by CatalogService.create_schema() may have it already.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("ingest_datasets")}
    if "bucket" not in columns:
        op.add_column("ingest_datasets", sa.Column("bucket", sa.String(63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_datasets") as batch:
        batch.drop_column("bucket")
    op.drop_table("tenant_buckets")
