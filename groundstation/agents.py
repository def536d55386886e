"""Station agents, central side: what ``groundstation agent`` (at a station)
registers, reads and reports, stored in the database (issue 13).

- An agent registers with its first heartbeat (``record_heartbeat``); from
  then on the contacts at its station are executed by it, not in-process
  (``groundstation.agent_executor``). Its last heartbeat says whether it is
  online (``agent_status``).
- It reads the upcoming contacts of its station (``station_runs``): each a
  ``ContactRun`` document (window, ephemeris in force, downlink, profile
  settings) with the station's site and the antenna's limits, and the
  ``stop_reason`` of a contact stopped during its pass (CANCELLING): the
  agent ends that pass, keeps what it received and reports it with
  ``summary["stopped"]``.
- It uploads the frames it decodes (``store_frames``, idempotent on contact
  and sequence: a batch sent again after a lost answer stores nothing twice)
  and an end-of-pass report (``store_report``; the first one wins).
- Publishing at the edge (``groundstation.station.edge``), it uploads no
  frames: its report's ``summary["edge"]`` (:class:`EdgeReport`) says how
  many frames it published to Kafka itself and where in the object store it
  uploaded the dataset, which must be the contact's own key prefix.

Every function here takes the caller's session and the service time; only
contacts of the agent's own station are ever read or written.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from groundstation.clock import iso_utc, require_utc
from groundstation.dataset_placement import dataset_info
from groundstation.errors import NotFoundError, ValidationError
from groundstation.events import EventSink, ResourceEvent, publish_committed
from groundstation.executor import ContactRun
from groundstation.lifecycle import contact_run
from groundstation.models import (
    AgentFrame,
    AgentPublished,
    AgentReport,
    Antenna,
    Contact,
    GroundStation,
    StationAgent,
)
from groundstation.resource_events import station_event
from groundstation.states import ACTIVE_STATE_VALUES, ContactState
from ingest.errors import ContractError
from ingest.topics import FrameMeta

_RUN = TypeAdapter(ContactRun)
CANCELLING = ContactState.CANCELLING.value

#: The key of an agent's report ``summary`` saying what it published at the
#: edge (:class:`EdgeReport`).
EDGE = "edge"

#: The key of an agent's report ``summary`` saying the pass was stopped on
#: request (``POST /contacts/{id}/stop``) and why.
STOPPED = "stopped"


def run_document(run: ContactRun) -> dict[str, Any]:
    """``run`` as JSON-ready values (the agent's contact document)."""
    out: dict[str, Any] = _RUN.dump_python(run, mode="json")
    return out


def run_from_document(doc: dict[str, Any]) -> ContactRun:
    """The ``ContactRun`` of a contact document; raises ``ValidationError``
    naming what does not validate."""
    try:
        return _RUN.validate_python(doc)
    except ValueError as exc:
        raise ValidationError(f"contact document does not validate: {exc}") from exc


@dataclass(frozen=True)
class AgentStatus:
    station_id: str
    registered: bool
    online: bool
    last_seen_at: datetime | None
    software_version: str = ""
    front_end: str = ""
    status: dict[str, Any] | None = None

    def offline_reason(self) -> str:
        if self.last_seen_at is None:
            return f"station {self.station_id} has no agent registered"
        return f"station {self.station_id} offline since {iso_utc(self.last_seen_at)}"


@dataclass(frozen=True)
class EdgeReport:
    """What an agent publishing at the edge did with a pass: frames handed
    to its own Kafka publisher (the central service publishes none of the
    pass's frames) and, for a pass that ended well, the dataset it uploaded
    (key prefix in the object store, SHA-256 of its manifest)."""

    frames_published: int
    frames_ok: int
    key_prefix: str = ""  # "": no dataset uploaded
    manifest_sha256: str = ""

    def to_document(self) -> dict[str, Any]:
        return {
            "frames_published": self.frames_published,
            "frames_ok": self.frames_ok,
            "dataset": {"key_prefix": self.key_prefix, "manifest_sha256": self.manifest_sha256}
            if self.key_prefix
            else None,
        }

    @classmethod
    def of(cls, summary: dict[str, Any]) -> EdgeReport | None:
        """The edge part of a report's ``summary`` (None when the pass was
        not published at the edge); ``ValidationError`` naming a bad field."""
        doc = summary.get(EDGE)
        if doc is None:
            return None
        try:
            published, ok = int(doc["frames_published"]), int(doc["frames_ok"])
            dataset = doc.get("dataset") or {}
            prefix, sha = (
                str(dataset.get("key_prefix", "")),
                str(dataset.get("manifest_sha256", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"summary.edge {doc!r:.200} does not validate: {exc!r}") from exc
        if published < 0 or not 0 <= ok <= published:
            raise ValidationError(
                f"summary.edge: frames_published {published}, frames_ok {ok}; "
                "expected 0 <= frames_ok <= frames_published"
            )
        if prefix and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise ValidationError(
                f"summary.edge.dataset.manifest_sha256 {sha!r} is not a hex SHA-256"
            )
        return cls(published, ok, prefix, sha)


def _check_edge(contact: Contact, summary: dict[str, Any]) -> None:
    """A report's edge dataset must lie under the contact's own key prefix
    (``dataset_info``): a station writes its own contacts' datasets only."""
    edge = EdgeReport.of(summary)
    if edge is None or not edge.key_prefix:
        return
    expected = dataset_info(contact_run(contact)).key_prefix
    if edge.key_prefix != expected:
        raise ValidationError(
            f"summary.edge.dataset.key_prefix {edge.key_prefix!r} is not the key prefix of "
            f"contact {contact.id} ({expected!r}); a station agent uploads only its own "
            "contacts' datasets, each under its contact's prefix"
        )


def _station(session: Session, station_id: str) -> GroundStation:
    station = session.get(GroundStation, station_id)
    if station is None:
        raise NotFoundError("station", station_id)
    return station


def record_heartbeat(
    session: Session,
    *,
    station_id: str,
    software_version: str,
    front_end: str,
    status: dict[str, Any],
    now: datetime,
    events: EventSink | None = None,
) -> StationAgent:
    """Register the agent of ``station_id`` or record that it is alive; commits.
    The first heartbeat after the station was announced offline (or ever)
    announces it online (a station event, published to ``events``)."""
    now = require_utc(now, "now")
    _station(session, station_id)
    row = session.get(StationAgent, station_id, with_for_update=True)
    if row is None:
        row = StationAgent(station_id=station_id, registered_at=now)
        session.add(row)
    row.last_seen_at = now
    row.software_version = software_version[:80]
    row.front_end = front_end[:200]
    row.status = dict(status)
    fired = _announce(session, row, ONLINE, now=now, reason=f"station {station_id} agent heartbeat")
    session.commit()
    publish_committed(events, [fired])
    return row


ONLINE, OFFLINE = "online", "offline"


def _is_online(last_seen_at: datetime, now: datetime, offline_after_s: float) -> bool:
    """The one rule: online while the last heartbeat is at most ``offline_after_s`` old."""
    return now - last_seen_at <= timedelta(seconds=offline_after_s)


def _announce(
    session: Session, row: StationAgent, status: str, *, now: datetime, reason: str
) -> ResourceEvent | None:
    """Record a station status event when ``status`` is not the one last announced."""
    if row.announced_status == status:
        return None
    old, row.announced_status = row.announced_status or OFFLINE, status
    return station_event(
        session, row.station_id, old_status=old, new_status=status, at=now, reason=reason
    )


def announce_offline(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    offline_after_s: float,
    events: EventSink | None = None,
) -> list[ResourceEvent]:
    """Announce every station whose agent was last announced online and has
    been silent longer than ``offline_after_s`` (``serve`` runs it
    periodically, ``AgentWatch``); one transaction, events published once
    committed."""
    now = require_utc(now, "now")
    fired: list[ResourceEvent] = []
    with session_factory() as session:
        rows = session.scalars(
            select(StationAgent)
            .where(StationAgent.announced_status == ONLINE)
            .order_by(StationAgent.station_id)
            .with_for_update()
        )
        for row in rows:
            if _is_online(row.last_seen_at, now, offline_after_s):
                continue
            reason = (
                f"station {row.station_id} offline: no heartbeat since {iso_utc(row.last_seen_at)}"
            )
            event = _announce(session, row, OFFLINE, now=now, reason=reason)
            if event is not None:
                fired.append(event)
        session.commit()
    publish_committed(events, fired)
    return fired


def agent_status(
    session: Session, *, station_id: str, now: datetime, offline_after_s: float
) -> AgentStatus:
    """Whether the agent of ``station_id`` is registered and online: its last
    heartbeat at most ``offline_after_s`` before ``now``."""
    row = session.get(StationAgent, station_id)
    if row is None:
        return AgentStatus(station_id, registered=False, online=False, last_seen_at=None)
    online = _is_online(row.last_seen_at, now, offline_after_s)
    return AgentStatus(
        station_id,
        registered=True,
        online=online,
        last_seen_at=row.last_seen_at,
        software_version=row.software_version,
        front_end=row.front_end,
        status=dict(row.status or {}),
    )


def station_runs(
    session: Session, *, station_id: str, now: datetime, horizon_s: float
) -> list[dict[str, Any]]:
    """The active contacts of ``station_id`` whose pass ends after ``now``
    and starts within ``horizon_s``: each its ``ContactRun`` document with
    its ``state``, the station's site and the antenna's limits."""
    station = _station(session, station_id)
    contacts = session.scalars(
        select(Contact)
        .join(Antenna, Contact.antenna_id == Antenna.id)
        .where(
            Antenna.station_id == station_id,
            Contact.state.in_(ACTIVE_STATE_VALUES),
            Contact.los > now,
            Contact.aos <= now + timedelta(seconds=horizon_s),
        )
        .order_by(Contact.aos, Contact.id)
    ).all()
    site = {
        "id": station.id,
        "name": station.name,
        "lat_deg": station.lat_deg,
        "lon_deg": station.lon_deg,
        "alt_m": station.alt_m,
        "min_elevation_deg": station.min_elevation_deg,
        "horizon_mask": list(station.horizon_mask or []),
    }
    out = []
    for contact in contacts:
        antenna = contact.antenna
        out.append(
            {
                "state": contact.state,
                # A contact stopped over the API during its pass (CANCELLING):
                # why; the agent ends the pass and keeps what it received.
                "stop_reason": contact.state_reason if contact.state == CANCELLING else "",
                "run": run_document(contact_run(contact)),
                "station": site,
                "antenna": {
                    "id": antenna.id,
                    "min_elevation_deg": antenna.min_elevation_deg,
                    "max_az_slew_deg_s": antenna.max_az_slew_deg_s,
                    "max_el_slew_deg_s": antenna.max_el_slew_deg_s,
                },
            }
        )
    return out


def _own_contact(session: Session, station_id: str, contact_id: str) -> Contact:
    """The contact, if it is at ``station_id``: another station's contact
    answers not found, as one that does not exist."""
    contact = session.get(Contact, contact_id)
    if contact is None or contact.antenna.station_id != station_id:
        raise NotFoundError("contact", contact_id)
    return contact


#: The key of a stored frame's ``meta`` holding its quality at the station
#: (``{"ok": bool, "esn0_db": float | None}``), beside its headers.
QUALITY = "quality"


@dataclass(frozen=True)
class UploadedFrame:
    sequence: int
    frame_time: datetime
    data: bytes
    meta: dict[str, Any]
    #: passed its integrity check at the station, and the receiver's Es/N0 (dB)
    ok: bool = True
    esn0_db: float | None = None

    def stored_meta(self) -> dict[str, Any]:
        return {**self.meta, QUALITY: {"ok": self.ok, "esn0_db": self.esn0_db}}


def published_meta(contact_id: str, sequence: int, meta: dict[str, Any]) -> FrameMeta:
    """The ``FrameMeta`` a frame is published with: the agent's headers
    (``meta``, header name -> text), the contact and sequence as stored.
    ``ValidationError`` names what does not validate."""
    texts = {str(k): str(v) for k, v in meta.items() if k not in (FrameMeta.SCHEMA_FIELD, QUALITY)}
    texts["contact-id"] = contact_id
    texts["seq"] = str(sequence)
    headers = [(FrameMeta.SCHEMA_FIELD, FrameMeta.SCHEMA_ID.encode())]
    headers += [(k, v.encode()) for k, v in texts.items()]
    try:
        return FrameMeta.from_headers(headers)
    except (ContractError, ValueError) as exc:
        raise ValidationError(f"frame {sequence} metadata does not validate: {exc}") from exc


def decode_frame(item: dict[str, Any]) -> UploadedFrame:
    """One frame of an upload (``sequence``, ``frame_time``, base64 ``data``,
    ``meta``, optional ``quality``) -> ``UploadedFrame``; ``ValidationError``
    names a bad field."""
    try:
        sequence = int(item["sequence"])
        frame_time = require_utc(datetime.fromisoformat(str(item["frame_time"])), "frame_time")
        data = base64.b64decode(str(item["data"]), validate=True)
        quality = dict(item.get("quality") or {})
        ok = bool(quality.get("ok", True))
        esn0 = quality.get("esn0_db")
        esn0_db = None if esn0 is None else float(esn0)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValidationError(f"frame {item!r:.120} does not validate: {exc}") from exc
    if sequence < 1:
        raise ValidationError(f"frame sequence is {sequence}, expected >= 1")
    meta = dict(item.get("meta") or {})
    meta.pop(QUALITY, None)
    published_meta("-", sequence, meta)  # refused here, not when published
    return UploadedFrame(sequence, frame_time, data, meta, ok, esn0_db)


def store_frames(
    session: Session,
    *,
    station_id: str,
    contact_id: str,
    frames: Sequence[UploadedFrame],
    now: datetime,
) -> int:
    """Store the frames not stored yet (by sequence); returns how many were
    new. Commits."""
    _own_contact(session, station_id, contact_id)
    sequences = [f.sequence for f in frames]
    have = set(
        session.scalars(
            select(AgentFrame.sequence).where(
                AgentFrame.contact_id == contact_id, AgentFrame.sequence.in_(sequences)
            )
        )
    )
    new = 0
    for frame in frames:
        if frame.sequence in have:
            continue
        have.add(frame.sequence)
        session.add(
            AgentFrame(
                contact_id=contact_id,
                sequence=frame.sequence,
                frame_time=frame.frame_time,
                data=frame.data,
                meta=frame.stored_meta(),
                received_at=now,
            )
        )
        new += 1
    session.commit()
    return new


def store_report(
    session: Session,
    *,
    station_id: str,
    contact_id: str,
    ok: bool,
    reason: str,
    frames_total: int,
    summary: dict[str, Any],
    now: datetime,
) -> AgentReport:
    """Record the agent's end-of-pass report; a report sent again returns the
    first one unchanged. An edge report (``summary["edge"]``) whose dataset is
    not under the contact's key prefix is refused (``ValidationError``). Commits."""
    contact = _own_contact(session, station_id, contact_id)
    _check_edge(contact, summary)
    row = session.get(AgentReport, contact_id)
    if row is not None:
        return row
    if frames_total < 0:
        raise ValidationError(f"frames_total is {frames_total}, expected >= 0")
    row = AgentReport(
        contact_id=contact_id,
        ok=ok,
        reason=reason,
        frames_total=frames_total,
        summary=dict(summary),
        reported_at=now,
    )
    session.add(row)
    session.commit()
    return row


def frames_after(session: Session, *, contact_id: str, after: int) -> list[AgentFrame]:
    """The stored frames of ``contact_id`` with a sequence above ``after``, in order."""
    return list(
        session.scalars(
            select(AgentFrame)
            .where(AgentFrame.contact_id == contact_id, AgentFrame.sequence > after)
            .order_by(AgentFrame.sequence)
        )
    )


def published_up_to(session: Session, *, contact_id: str) -> int:
    """The last sequence of ``contact_id``'s agent frames already handed to
    the frame topic's publisher (0: none)."""
    row = session.get(AgentPublished, contact_id)
    return 0 if row is None else row.sequence


def mark_published(session: Session, *, contact_id: str, sequence: int, now: datetime) -> None:
    """Record that frames up to ``sequence`` were handed to the publisher
    (the caller commits)."""
    row = session.get(AgentPublished, contact_id)
    if row is None:
        session.add(AgentPublished(contact_id=contact_id, sequence=sequence, updated_at=now))
    elif sequence > row.sequence:
        row.sequence, row.updated_at = sequence, now


def frames_stored(session: Session, *, contact_id: str) -> int:
    return int(session.scalar(select(func.count()).where(AgentFrame.contact_id == contact_id)) or 0)
