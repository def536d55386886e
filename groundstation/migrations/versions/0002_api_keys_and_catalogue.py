"""API keys, and the dataset catalogue (ingest.catalog) in the service database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant", sa.String(length=120), nullable=False),
        sa.Column("granted_tenants", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'operator', 'scientist')", name="ck_api_keys_role"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "ingest_datasets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("norad_id", sa.Integer(), nullable=False),
        sa.Column("satellite", sa.String(length=128), nullable=False),
        sa.Column("station", sa.String(length=128), nullable=False),
        sa.Column("antenna", sa.String(length=128), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("store_uri", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("contact_id", "norad_id", "station", "start_time", "end_time", "state"):
        op.create_index(f"ix_ingest_datasets_{column}", "ingest_datasets", [column])
    op.create_table(
        "ingest_dataset_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["ingest_datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_dataset_files_dataset_id", "ingest_dataset_files", ["dataset_id"])


def downgrade() -> None:
    op.drop_index("ix_ingest_dataset_files_dataset_id", table_name="ingest_dataset_files")
    op.drop_table("ingest_dataset_files")
    for column in ("contact_id", "norad_id", "station", "start_time", "end_time", "state"):
        op.drop_index(f"ix_ingest_datasets_{column}", table_name="ingest_datasets")
    op.drop_table("ingest_datasets")
    op.drop_table("api_keys")
