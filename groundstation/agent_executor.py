"""The central side of contacts executed by station agents (issue 13).

``StationRouter`` is the lifecycle's ``ContactExecutor`` under ``serve``: a
contact at a station whose agent has registered (``groundstation.agents``)
goes to ``AgentExecutor``; any other runs in-process as before (the
simulated ``DownlinkExecutor``).

``AgentExecutor.execute`` does no per-sample work. It runs while the contact
is in PASS and, once a second (service polling, ``poll_s`` real seconds):

- fails the contact ``station X offline since T`` when the agent's last
  heartbeat is older than ``offline_after_s`` (at AOS, and an agent lost
  mid-pass);
- publishes the frames the agent has uploaded since (to the frame topic,
  each once, with the agent's sequence numbers and metadata);
- when the agent's end-of-pass report is in: on failure raises with its
  reason; on success builds the dataset from the uploaded frames
  (``frames.h5`` and manifest, the usual layout, committed under the contact
  row's guard) and returns;
- fails the contact when no report came ``report_timeout_s`` after LOS.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from groundstation.agents import agent_status, frames_after, published_meta
from groundstation.clock import Clock, iso_utc
from groundstation.contact_datasets import accept_dataset_with
from groundstation.executor import ContactExecutionError, ContactExecutor, ContactRun
from groundstation.models import AgentFrame, AgentReport
from groundstation.vetting import PassQuality
from ingest.catalog import CatalogService
from ingest.dataset import DatasetInfo, DatasetWriter
from ingest.h5frames import ContactAttrs
from ingest.objectstore import ObjectStore
from ingest.publisher import Publisher
from ingest.topics import FrameMeta

log = logging.getLogger(__name__)


@dataclass
class AgentPassOutcome:
    contact_id: str
    frames_published: int
    dataset_id: str = ""


class AgentExecutor:
    """Waits on the agent of a contact's station; see the module docstring."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        clock: Clock,
        publisher: Publisher,
        store: ObjectStore,
        catalog: CatalogService,
        staging_root: Path,
        offline_after_s: float,
        report_timeout_s: float,
        poll_s: float = 0.5,
        software_version: str = "",
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.publisher = publisher
        self.store = store
        self.catalog = catalog
        self.staging_root = Path(staging_root)
        self.offline_after_s = offline_after_s
        self.report_timeout_s = report_timeout_s
        self.poll_s = poll_s
        self.software_version = software_version
        self._stop = threading.Event()
        self._stop_reason = ""
        self.outcomes: dict[str, AgentPassOutcome] = {}

    def stop(self, reason: str) -> None:
        self._stop_reason = reason
        self._stop.set()

    def execute(self, run: ContactRun) -> None:
        published = 0
        deadline = run.los + timedelta(seconds=self.report_timeout_s)
        while True:
            now = self.clock.now()
            # Plain values out of one short transaction: on SQLite a
            # transaction holds the write lock, which the dataset commit needs.
            # The report is read before the frames: the agent sends it after
            # its last upload, so frames read after seeing it are all of them
            # (on PostgreSQL each statement sees what is committed when it
            # runs; read the other way round, a last batch and the report
            # landing between the two reads were left off the topic).
            with self.session_factory() as session:
                status = agent_status(
                    session,
                    station_id=run.station_id,
                    now=now,
                    offline_after_s=self.offline_after_s,
                )
                report = _Report.of(session.get(AgentReport, run.contact_id))
                new = [
                    _Uploaded.of(f)
                    for f in frames_after(session, contact_id=run.contact_id, after=published)
                ]
                session.rollback()
            published = self._publish_new(new, published)
            if report is not None:
                if not report.ok:
                    raise ContactExecutionError(f"station agent: {report.reason}")
                dataset_id = self._dataset(run, report)
                self.outcomes[run.contact_id] = AgentPassOutcome(
                    run.contact_id, published, dataset_id
                )
                return
            if not status.online:
                raise ContactExecutionError(status.offline_reason())
            if now > deadline:
                raise ContactExecutionError(
                    f"station agent of {run.station_id} sent no report on the pass by "
                    f"{iso_utc(deadline)} (LOS + {self.report_timeout_s:g} s; last heartbeat "
                    f"{iso_utc(status.last_seen_at) if status.last_seen_at else 'never'})"
                )
            if self._stop.wait(self.poll_s):
                raise ContactExecutionError(self._stop_reason or "the executor was stopped")

    def _publish_new(self, frames: list[_Uploaded], published: int) -> int:
        """Publish ``frames`` after sequence ``published`` in order, stopping
        at a gap (a frame still in flight is waited for); returns the last
        sequence published."""
        for frame in frames:
            if frame.sequence != published + 1:
                break
            self.publisher.publish_frame(frame.data, frame.meta)
            published = frame.sequence
        return published

    def _dataset(self, run: ContactRun, report: _Report) -> str:
        """The contact's dataset from the uploaded frames (``frames.h5``, the
        agent's summary as ``agent.json``), committed under the contact guard."""
        with self.session_factory() as session:
            frames = [
                _Uploaded.of(f) for f in frames_after(session, contact_id=run.contact_id, after=0)
            ]
            session.rollback()
        if not frames:
            raise ContactExecutionError(
                f"station agent reported success with {report.frames_total} frames, "
                "but none was uploaded"
            )
        info = DatasetInfo(
            dataset_id=f"ds-{run.contact_id}",
            contact_id=run.contact_id,
            norad_id=run.norad_id,
            satellite=run.satellite_name,
            station=run.station_id,
            antenna=run.antenna_id,
            start=run.aos,
            end=run.los,
        )
        writer = DatasetWriter(
            info=info,
            store=self.store,
            catalog=self.catalog,
            staging_root=self.staging_root,
            publisher=self.publisher,
            clock=self.clock.now,
        )
        writer.begin()
        try:
            summary = dict(report.summary)
            h5 = writer.frames_h5(
                frame_length=max(len(f.data) for f in frames),
                attrs=ContactAttrs(
                    satellite=run.satellite_name,
                    norad_id=run.norad_id,
                    station=run.station_id,
                    antenna=run.antenna_id,
                    contact_id=run.contact_id,
                    aos=run.aos,
                    los=run.los,
                    tle=run.ephemeris_text,
                    profile={
                        "mission_profile": run.profile_id,
                        "downlink_freq_hz": run.downlink_freq_hz,
                        "executed_by": f"station agent of {run.station_id}",
                        "front_end": str(summary.get("front_end", "")),
                        "simulated": str(summary.get("simulated", "")),
                    },
                    software_version=str(summary.get("software_version", "")),
                ),
            )
            length = h5.frame_length
            h5.append_frames(
                [f.data.ljust(length, b"\0") for f in frames], [f.meta for f in frames]
            )
            writer.add_product_bytes(
                "agent.json", json.dumps(summary, indent=2, sort_keys=True).encode()
            )
            entry = writer.commit(guard=accept_dataset_with(_quality(frames, report)))
        except BaseException as exc:
            try:
                writer.abort(str(exc) or type(exc).__name__)
            except Exception:
                log.exception("abort of dataset %s failed", info.dataset_id)
            if isinstance(exc, ContactExecutionError):
                raise
            raise ContactExecutionError(f"dataset of the agent's frames: {exc}") from exc
        return entry.id


def _quality(frames: list[_Uploaded], report: _Report) -> PassQuality:
    """What the station measured: the frames that passed their checks out
    of every frame its receiver found and uploaded (a station cannot know
    how many the satellite sent), and its Es/N0 estimate."""
    esn0 = report.summary.get("esn0_db")
    return PassQuality(
        frames_ok=sum(f.meta.decoded_ok for f in frames),
        frames_expected=max(report.frames_total, len(frames)),
        esn0_db=float(esn0) if isinstance(esn0, int | float) else None,
    )


@dataclass(frozen=True)
class _Uploaded:
    sequence: int
    data: bytes
    meta: FrameMeta

    @classmethod
    def of(cls, row: AgentFrame) -> _Uploaded:
        return cls(row.sequence, bytes(row.data), _meta(row))


@dataclass(frozen=True)
class _Report:
    ok: bool
    reason: str
    frames_total: int
    summary: dict[str, Any]

    @classmethod
    def of(cls, row: AgentReport | None) -> _Report | None:
        if row is None:
            return None
        return cls(row.ok, row.reason, row.frames_total, dict(row.summary or {}))


def _meta(frame: AgentFrame) -> FrameMeta:
    return published_meta(frame.contact_id, frame.sequence, dict(frame.meta or {}))


class StationRouter:
    """``ContactExecutor``: contacts at stations with a registered agent go to
    ``agent``, the others to ``local`` (see the module docstring)."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        agent: AgentExecutor,
        local: ContactExecutor,
    ) -> None:
        self.session_factory = session_factory
        self.agent = agent
        self.local = local

    def agent_runs(self, station_id: str) -> bool:
        with self.session_factory() as session:
            status = agent_status(
                session,
                station_id=station_id,
                now=datetime.now(UTC),
                offline_after_s=0.0,
            )
            session.rollback()
        return status.registered

    def execute(self, run: ContactRun) -> None:
        if self.agent_runs(run.station_id):
            self.agent.execute(run)
        else:
            self.local.execute(run)
