"""Mission profiles get an owner tenant; idempotency keys get the fingerprint
of the request they were first sent with.

- ``mission_profiles.owner_tenant`` (null = shared, admin-owned). Every
  profile that exists before this revision becomes shared: nothing recorded
  who made it, every tenant's contacts may be booked with it, and sharing it
  keeps each of them working. Operators can still read and book with these
  profiles but no longer change them (an admin can, or can give one to a
  tenant by creating a copy with ``tenant``).
- ``contacts.idempotency_fingerprint``: SHA-256 of the reservation
  (``booking.request_fingerprint``). Contacts booked before have none; a key
  of theirs sent again returns the contact as before (there is no request to
  compare with).
- ``dataset_options.keep_raw_iq``, which ``groundstation profiles add``
  wrote but no code ever read, becomes the key the executor reads,
  ``record_iq`` (true stays true, false is the default and is dropped), so
  those profiles validate and record what their creator asked for.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_profiles = sa.table(
    "mission_profiles", sa.column("id", sa.String()), sa.column("dataset_options", sa.JSON())
)


def upgrade() -> None:
    op.add_column(
        "mission_profiles", sa.Column("owner_tenant", sa.String(length=120), nullable=True)
    )
    op.create_index(
        "ix_mission_profiles_owner_tenant", "mission_profiles", ["owner_tenant"], unique=False
    )
    op.add_column(
        "contacts", sa.Column("idempotency_fingerprint", sa.String(length=64), nullable=True)
    )
    _rename_keep_raw_iq()


def _rename_keep_raw_iq() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, CAST(dataset_options AS TEXT) FROM mission_profiles "
            "WHERE CAST(dataset_options AS TEXT) LIKE '%keep_raw_iq%'"
        )
    ).all()
    for profile_id, text in rows:
        try:
            options = json.loads(text)
        except (ValueError, RecursionError):
            continue  # unreadable: listed with its problem, fixed by PUT/PATCH
        if not isinstance(options, dict) or not isinstance(options.get("keep_raw_iq"), bool):
            continue
        keep = options.pop("keep_raw_iq")
        if keep and "record_iq" not in options:
            options["record_iq"] = True
        bind.execute(
            _profiles.update().where(_profiles.c.id == profile_id).values(dataset_options=options)
        )


def downgrade() -> None:
    op.drop_column("contacts", "idempotency_fingerprint")
    op.drop_index("ix_mission_profiles_owner_tenant", table_name="mission_profiles")
    op.drop_column("mission_profiles", "owner_tenant")
