"""Initial schema, with the no-double-booking guard of each engine.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from groundstation.db import PG_NO_OVERLAP, SQLITE_NO_OVERLAP

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ground_stations",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_deg", sa.Float(), nullable=False),
        sa.Column("alt_m", sa.Float(), nullable=False),
        sa.Column("min_elevation_deg", sa.Float(), nullable=False),
        sa.Column("horizon_mask", sa.JSON(), nullable=False),
        sa.CheckConstraint("lat_deg >= -90 AND lat_deg <= 90", name="ck_station_lat"),
        sa.CheckConstraint("lon_deg >= -180 AND lon_deg <= 360", name="ck_station_lon"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mission_profiles",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("min_viable_duration_s", sa.Float(), nullable=False),
        sa.Column("prepass_s", sa.Float(), nullable=False),
        sa.Column("postpass_s", sa.Float(), nullable=False),
        sa.Column("min_elevation_deg", sa.Float(), nullable=False),
        sa.Column("demod", sa.JSON(), nullable=False),
        sa.Column("decode", sa.JSON(), nullable=False),
        sa.Column("kafka_topic", sa.String(length=200), nullable=False),
        sa.Column("dataset_options", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "satellites",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("norad_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("tenant", sa.String(length=120), nullable=False),
        sa.Column("downlink_freq_hz", sa.Float(), nullable=False),
        sa.Column("downlink_bandwidth_hz", sa.Float(), nullable=False),
        sa.Column("modulation", sa.String(length=40), nullable=False),
        sa.Column("symbol_rate_baud", sa.Float(), nullable=False),
        sa.Column("framing_profile", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("norad_id"),
    )
    op.create_index(op.f("ix_satellites_tenant"), "satellites", ["tenant"], unique=False)

    op.create_table(
        "scheduler_instances",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "antennas",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("station_id", sa.String(length=80), nullable=False),
        sa.Column("bands", sa.JSON(), nullable=False),
        sa.Column("min_elevation_deg", sa.Float(), nullable=False),
        sa.Column("max_az_slew_deg_s", sa.Float(), nullable=False),
        sa.Column("max_el_slew_deg_s", sa.Float(), nullable=False),
        sa.Column("setup_s", sa.Float(), nullable=False),
        sa.Column("teardown_s", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["ground_stations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "ephemerides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("source_format", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["satellite_id"], ["satellites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_ephemerides_satellite_epoch", "ephemerides", ["satellite_id", "epoch"], unique=False
    )

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("satellite_id", sa.Integer(), nullable=False),
        sa.Column("antenna_id", sa.String(length=80), nullable=False),
        sa.Column("profile_id", sa.String(length=80), nullable=False),
        sa.Column("tenant", sa.String(length=120), nullable=False),
        sa.Column("booked_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("aos", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tca", sa.DateTime(timezone=True), nullable=False),
        sa.Column("los", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_elevation_deg", sa.Float(), nullable=False),
        sa.Column("ephemeris_id", sa.Integer(), nullable=True),
        sa.Column("ephemeris_epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ephemeris_text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("blocked_start < blocked_end", name="ck_contacts_window"),
        sa.ForeignKeyConstraint(
            ["antenna_id"],
            ["antennas.id"],
        ),
        sa.ForeignKeyConstraint(["ephemeris_id"], ["ephemerides.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["mission_profiles.id"],
        ),
        sa.ForeignKeyConstraint(
            ["satellite_id"],
            ["satellites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant", "idempotency_key", name="uq_contacts_tenant_idempotency"),
    )
    op.create_index(
        "ix_contacts_antenna_window",
        "contacts",
        ["antenna_id", "blocked_start", "blocked_end"],
        unique=False,
    )
    op.create_index(op.f("ix_contacts_satellite_id"), "contacts", ["satellite_id"], unique=False)
    op.create_index(
        "ix_contacts_state_booked_start", "contacts", ["state", "booked_start"], unique=False
    )

    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("antenna_id", sa.String(length=80), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["antenna_id"],
            ["antennas.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_maintenance_windows_antenna_id"),
        "maintenance_windows",
        ["antenna_id"],
        unique=False,
    )

    op.create_table(
        "contact_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("old_state", sa.String(length=24), nullable=False),
        sa.Column("new_state", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_contact_transitions_contact_id"),
        "contact_transitions",
        ["contact_id"],
        unique=False,
    )

    # No double booking, enforced by the database.
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(PG_NO_OVERLAP)
    elif dialect == "sqlite":
        for statement in SQLITE_NO_OVERLAP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS tr_contacts_no_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS tr_contacts_no_overlap_update")
    op.drop_index(op.f("ix_contact_transitions_contact_id"), table_name="contact_transitions")

    op.drop_table("contact_transitions")
    op.drop_index(op.f("ix_maintenance_windows_antenna_id"), table_name="maintenance_windows")

    op.drop_table("maintenance_windows")
    op.drop_index("ix_contacts_state_booked_start", table_name="contacts")
    op.drop_index(op.f("ix_contacts_satellite_id"), table_name="contacts")
    op.drop_index("ix_contacts_antenna_window", table_name="contacts")

    op.drop_table("contacts")
    op.drop_index("ix_ephemerides_satellite_epoch", table_name="ephemerides")

    op.drop_table("ephemerides")
    op.drop_table("antennas")
    op.drop_table("scheduler_instances")
    op.drop_index(op.f("ix_satellites_tenant"), table_name="satellites")

    op.drop_table("satellites")
    op.drop_table("mission_profiles")
    op.drop_table("ground_stations")
