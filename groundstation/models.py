"""SQLAlchemy 2.x models: the database is the source of truth for bookings and contact state.

Times are stored as UTC; ``UTCDateTime`` refuses naive datetimes on the way in
and returns aware UTC datetimes on the way out (SQLite keeps no zone).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from groundstation.states import ContactState


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetime on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; keep one format so string comparison is time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        """On SQLite, the text this type wrote (``YYYY-MM-DD HH:MM:SS.ffffff``)
        is read with ``datetime.fromisoformat`` (C) rather than SQLAlchemy's
        parse and then ``process_result_value``: 0.8 against 2.1 us a value,
        and a page of contacts holds ~170 of them (bench/api.py). Any other
        text takes SQLAlchemy's way, so every value reads as before."""
        chain = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or chain is None:
            return chain
        parse = datetime.fromisoformat

        def process(value: Any) -> Any:
            if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == ".":
                return parse(value).replace(tzinfo=UTC)
            return chain(value)

        return process


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Satellite(Base):
    __tablename__ = "satellites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    norad_id: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(120))
    tenant: Mapped[str] = mapped_column(String(120), index=True)
    # Downlink spec.
    downlink_freq_hz: Mapped[float] = mapped_column(Float)
    downlink_bandwidth_hz: Mapped[float] = mapped_column(Float, default=0.0)
    modulation: Mapped[str] = mapped_column(String(40), default="bpsk")
    symbol_rate_baud: Mapped[float] = mapped_column(Float, default=0.0)
    framing_profile: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ephemerides: Mapped[list[Ephemeris]] = relationship(
        back_populates="satellite", cascade="all, delete-orphan"
    )


class Ephemeris(Base):
    """One uploaded element set (TLE/3LE or OMM) in a satellite's history."""

    __tablename__ = "ephemerides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    satellite_id: Mapped[int] = mapped_column(ForeignKey("satellites.id", ondelete="CASCADE"))
    epoch: Mapped[datetime] = mapped_column()
    source: Mapped[str] = mapped_column(String(120), default="upload")
    source_format: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The status last announced by an ephemeris event (0012a): the sweep
    # announces an expiry once (``ephemerides.announce_expired``).
    announced_status: Mapped[str | None] = mapped_column(String(12), nullable=True)

    satellite: Mapped[Satellite] = relationship(back_populates="ephemerides")

    __table_args__ = (Index("ix_ephemerides_satellite_epoch", "satellite_id", "epoch"),)


class GroundStation(Base):
    __tablename__ = "ground_stations"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    lat_deg: Mapped[float] = mapped_column(Float)
    lon_deg: Mapped[float] = mapped_column(Float)
    alt_m: Mapped[float] = mapped_column(Float, default=0.0)
    min_elevation_deg: Mapped[float] = mapped_column(Float, default=0.0)
    # [[az_deg, el_deg], ...]
    horizon_mask: Mapped[list[Any]] = mapped_column(default=list)

    antennas: Mapped[list[Antenna]] = relationship(back_populates="station")

    __table_args__ = (
        CheckConstraint("lat_deg >= -90 AND lat_deg <= 90", name="ck_station_lat"),
        CheckConstraint("lon_deg >= -180 AND lon_deg <= 360", name="ck_station_lon"),
    )


class Antenna(Base):
    __tablename__ = "antennas"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("ground_stations.id"))
    # [[min_hz, max_hz], ...]
    bands: Mapped[list[Any]] = mapped_column(default=list)
    min_elevation_deg: Mapped[float] = mapped_column(Float, default=0.0)
    max_az_slew_deg_s: Mapped[float] = mapped_column(Float, default=10.0)
    max_el_slew_deg_s: Mapped[float] = mapped_column(Float, default=10.0)
    setup_s: Mapped[float] = mapped_column(Float, default=0.0)
    teardown_s: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="online")

    station: Mapped[GroundStation] = relationship(back_populates="antennas")


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    antenna_id: Mapped[str] = mapped_column(ForeignKey("antennas.id"), index=True)
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(String(200), default="")


class MissionProfile(Base):
    """A mission profile. ``owner_tenant`` null: shared (admin-owned), read by
    every operator, changed by admins only; else the tenant that owns it (no
    other tenant sees it). Settings are validated by
    ``groundstation.profile_settings.ProfileSettings`` when written."""

    __tablename__ = "mission_profiles"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner_tenant: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)
    min_viable_duration_s: Mapped[float] = mapped_column(Float, default=60.0)
    prepass_s: Mapped[float] = mapped_column(Float, default=120.0)
    postpass_s: Mapped[float] = mapped_column(Float, default=60.0)
    min_elevation_deg: Mapped[float] = mapped_column(Float, default=10.0)
    # Downlink demodulation/decoding settings (names from the dsp registry).
    demod: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decode: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Delivery: Kafka topic and dataset options (e.g. keep_raw_iq).
    kafka_topic: Mapped[str] = mapped_column(String(200), default="")
    dataset_options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Thresholds of the automatic verdict (groundstation.vetting; migration 0011a).
    vetting: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Contact(Base):
    """A booked contact. ``booked_*`` spans pre-pass start .. post-pass end;
    ``blocked_*`` adds the antenna's setup and teardown and is what may not
    overlap another active contact on the same antenna."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    satellite_id: Mapped[int] = mapped_column(ForeignKey("satellites.id"), index=True)
    antenna_id: Mapped[str] = mapped_column(ForeignKey("antennas.id"))
    profile_id: Mapped[str] = mapped_column(ForeignKey("mission_profiles.id"))
    tenant: Mapped[str] = mapped_column(String(120))
    booked_start: Mapped[datetime] = mapped_column()
    booked_end: Mapped[datetime] = mapped_column()
    blocked_start: Mapped[datetime] = mapped_column()
    blocked_end: Mapped[datetime] = mapped_column()
    aos: Mapped[datetime] = mapped_column()
    tca: Mapped[datetime] = mapped_column()
    los: Mapped[datetime] = mapped_column()
    max_elevation_deg: Mapped[float] = mapped_column(Float)
    # Snapshot of the ephemeris the window was predicted from.
    ephemeris_id: Mapped[int | None] = mapped_column(
        ForeignKey("ephemerides.id", ondelete="SET NULL"), nullable=True
    )
    ephemeris_epoch: Mapped[datetime] = mapped_column()
    ephemeris_text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(24), default=ContactState.SCHEDULED.value)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # SHA-256 of the reservation the key was first sent with (booking.request_fingerprint);
    # null for contacts booked before migration 0006.
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # 1 when booked, one more at every change (``transitions``): the ETag that
    # ``PATCH /contacts/{id}`` checks against ``If-Match`` (migration 0010c).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The pass's measured quality, recorded by the executor with its dataset
    # (groundstation.vetting.record_quality; null: not measured), and the
    # contact's verdict: good/partial/bad/failed, set automatically when the
    # contact ends or by an operator (migration 0011a).
    frames_ok: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frames_expected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    esn0_db: Mapped[float | None] = mapped_column(Float, nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    verdict_source: Mapped[str | None] = mapped_column(String(12), nullable=True)
    verdict_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    verdict_by: Mapped[str] = mapped_column(String(200), default="", server_default="")
    verdict_at: Mapped[datetime | None] = mapped_column(nullable=True)

    satellite: Mapped[Satellite] = relationship()
    antenna: Mapped[Antenna] = relationship()
    profile: Mapped[MissionProfile] = relationship()
    transitions: Mapped[list[ContactTransition]] = relationship(
        back_populates="contact", order_by="ContactTransition.id"
    )

    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_contacts_tenant_idempotency"),
        CheckConstraint("blocked_start < blocked_end", name="ck_contacts_window"),
        Index("ix_contacts_antenna_window", "antenna_id", "blocked_start", "blocked_end"),
        Index("ix_contacts_state_booked_start", "state", "booked_start"),
        Index("ix_contacts_antenna_booked_start", "antenna_id", "booked_start"),
    )


class ContactTransition(Base):
    """History of a contact's state changes with reasons; a window update that
    kept the state (re-prediction) is a row with ``old_state == new_state``.
    The one event history: a resource event (an ephemeris's or a station's
    status, migration 0012a) is a row without a contact naming its subject,
    its old and new status in ``old_state``/``new_state``."""

    __tablename__ = "contact_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id"), index=True, nullable=True
    )
    old_state: Mapped[str] = mapped_column(String(24))
    new_state: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[str] = mapped_column(String(80), default="")
    # PostgreSQL: the writing transaction's id, set by the database (migration
    # 0005); null on SQLite. Orders the event stream (groundstation.event_log).
    tx_id: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, server_default=FetchedValue()
    )
    # Set on the row that gave the contact a verdict (auto or manual; 0011a).
    verdict: Mapped[str | None] = mapped_column(String(12), nullable=True)
    verdict_source: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # A resource event's subject (0012a; null on a contact's row): ``ephemeris``,
    # ``station`` or ``antenna``, its id, the tenant who sees it (null: every
    # tenant), its satellite, station and antenna, an ephemeris's being in force.
    subject_kind: Mapped[str | None] = mapped_column(String(12), nullable=True)
    subject_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    subject_tenant: Mapped[str | None] = mapped_column(String(120), nullable=True)
    subject_norad_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject_station_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    subject_antenna_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    subject_in_force: Mapped[bool | None] = mapped_column(nullable=True)

    contact: Mapped[Contact] = relationship(back_populates="transitions")

    __table_args__ = (Index("ix_contact_transitions_tx_id_id", "tx_id", "id"),)


class PlanProposal(Base):
    """A proposed plan (``POST /plans``) awaiting commit: the chosen windows,
    who may commit it and whether it was. ``state`` goes proposed ->
    committing (one commit claimed it) -> committed, or back to proposed when
    the commit was refused. ``created_at`` is wall-clock time (plans expire
    after ``plan_proposals.PLAN_TTL``), not the service clock."""

    __tablename__ = "plan_proposals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(80))
    owner_tenant: Mapped[str] = mapped_column(String(120))
    # Tenants of the proposing key (null: an admin key, every tenant).
    tenants: Mapped[list[Any] | None] = mapped_column(nullable=True)
    # [{"norad_id", "antenna_id", "aos", "los"}] with ISO-8601 UTC times.
    contacts: Mapped[list[Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(12), default="proposed")
    committed_contact_ids: Mapped[list[Any] | None] = mapped_column(nullable=True)
    committed_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        CheckConstraint(
            "state IN ('proposed', 'committing', 'committed')", name="ck_plan_proposals_state"
        ),
    )


class SchedulerInstance(Base):
    """Heartbeats of lifecycle scheduler instances (for downtime reasons)."""

    __tablename__ = "scheduler_instances"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()


class ApiKey(Base):
    """An API key: only its SHA-256 is stored (keys are 256-bit random tokens,
    so a fast hash is enough). ``granted_tenants`` lists the tenants whose
    datasets a scientist key may read."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(120), default="")
    granted_tenants: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A ``station`` key (the station agent's) is limited to this station.
    station_id: Mapped[str] = mapped_column(String(80), default="")

    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'operator', 'scientist', 'station')", name="ck_api_keys_role"
        ),
    )


class HousekeepingMark(Base):
    """A figure housekeeping keeps between runs, e.g. the highest contact
    transition id pruned (``groundstation.event_log.PRUNED_THROUGH``)."""

    __tablename__ = "housekeeping_marks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column()


class StationAgent(Base):
    """The agent of a station (``groundstation agent``): registered by its
    first heartbeat; its contacts are executed there, not in-process."""

    __tablename__ = "station_agents"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("ground_stations.id", ondelete="CASCADE"), primary_key=True
    )
    registered_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    software_version: Mapped[str] = mapped_column(String(80), default="")
    front_end: Mapped[str] = mapped_column(String(200), default="")
    # The last heartbeat's status (rotator position, disk space, ...).
    status: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # ``online`` / ``offline`` as last announced by a station event (0012a).
    announced_status: Mapped[str | None] = mapped_column(String(12), nullable=True)


class AgentFrame(Base):
    """A frame an agent decoded, as uploaded (idempotent on contact + sequence)."""

    __tablename__ = "agent_frames"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    frame_time: Mapped[datetime] = mapped_column()
    data: Mapped[bytes] = mapped_column(LargeBinary)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column()


class AgentPublished(Base):
    """How far the central service has published an agent's frames of a
    contact to the frame topic (the last sequence handed to the publisher):
    a restarted service following the pass again goes on from there, so no
    frame reaches the topic twice (``AgentExecutor``)."""

    __tablename__ = "agent_published"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    sequence: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column()


class ContactProgress(Base):
    """The live figures of a contact's pass, written by its executor every
    few seconds while it runs (``groundstation.progress``) and marked
    ``final`` at LOS, so any API process sharing the database can show
    them."""

    __tablename__ = "contact_progress"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    updated_at: Mapped[datetime] = mapped_column()
    elapsed_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    frames_decoded: Mapped[int] = mapped_column(Integer)
    frames_sent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    esn0_db: Mapped[float | None] = mapped_column(Float, nullable=True)
    doppler_hz: Mapped[float | None] = mapped_column(Float, nullable=True)
    simulated: Mapped[bool] = mapped_column(Boolean)
    executed_by: Mapped[str] = mapped_column(String(200))
    final: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentReport(Base):
    """An agent's end-of-pass report on a contact (first one wins)."""

    __tablename__ = "agent_reports"

    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    frames_total: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reported_at: Mapped[datetime] = mapped_column()


class TenantBucket(Base):
    """A tenant's own dataset bucket, set by an admin (``PUT
    /tenants/{tenant}/bucket``) after the service wrote to it; it overrides
    ``GS_TENANT_BUCKETS`` for the tenant (``groundstation.tenant_buckets``)."""

    __tablename__ = "tenant_buckets"

    tenant: Mapped[str] = mapped_column(String(120), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63))
    updated_at: Mapped[datetime] = mapped_column()


class WebhookEndpoint(Base):
    """A tenant's outbound webhook (``groundstation.webhooks``): the URL its
    contact events are POSTed to, signed with ``secret`` (kept in clear: it
    signs every delivery). ``event_types`` empty means every type. Events
    from the history position ``(from_tx_id, from_event_id)`` on (the head
    of ``event_log`` when it was made) are delivered, none older."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(120), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[Any]] = mapped_column(default=list)
    secret: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column()
    from_tx_id: Mapped[int] = mapped_column(BigInteger, default=0)
    from_event_id: Mapped[int] = mapped_column(Integer, default=0)


class WebhookDelivery(Base):
    """One event for one endpoint (the outbox): ``pending`` until a 2xx
    answer (``delivered``) or ``webhook_max_attempts`` failures (``failed``).
    ``next_attempt_at`` (wall clock) is when it is due, or the end of the
    lease of the worker sending it; ``attempt_log`` one entry per attempt."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(120))
    event_id: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    attempt_log: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_state"
        ),
        Index("ix_webhook_deliveries_state_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )


class WebhookRelay(Base):
    """How far the webhook relay has read the contact history: the
    ``event_log`` position of the last event it turned into deliveries."""

    __tablename__ = "webhook_relay"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    tx_id: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column()
