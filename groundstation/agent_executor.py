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
  reason (``ContactStopped`` when the pass was stopped over the API before
  a frame was decoded); on success (a stopped pass's partial one too) builds the dataset from the uploaded frames and the
  pass outputs in the report (quick-look data, receiver summary) with the
  writer of in-process passes (``groundstation.pass_dataset``: the same
  files and fields; the predicted track and link computed here), committed
  under the contact row's guard, and returns;
- fails the contact when no report came ``report_timeout_s`` after LOS.

An agent publishing at the edge (``groundstation.station.edge``) uploads no
frames: its report says how many it published to Kafka itself (none is
published here, whatever was uploaded) and where it uploaded the dataset,
which is checked from its manifest and catalogued without reading or
writing its files (``ingest.dataset.catalogue_uploaded``).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session, sessionmaker

from groundstation.agents import (
    QUALITY,
    STOPPED,
    EdgeReport,
    UploadedFrame,
    agent_status,
    frames_after,
    mark_published,
    published_meta,
    published_up_to,
)
from groundstation.clock import Clock, iso_utc
from groundstation.contact_datasets import accept_dataset_with
from groundstation.dataset_placement import place_dataset
from groundstation.downlink import LinkModel, pass_link_of
from groundstation.executor import (
    ContactExecutionError,
    ContactExecutor,
    ContactHandedOver,
    ContactRun,
    ContactStopped,
    StoppableExecutor,
)
from groundstation.models import AgentFrame, AgentReport, GroundStation
from groundstation.pass_dataset import (
    PASS_OUTPUTS,
    PassOutputs,
    open_frames_h5,
    pass_dataset_writer,
)
from groundstation.prediction import orbital_station
from groundstation.products_worker import ProductsWorker, write_pass_products
from groundstation.progress import DEFAULT_INTERVAL_S, ProgressReporter, read_progress
from groundstation.tenant_buckets import DatasetStores, no_tenant_buckets
from groundstation.vetting import PassQuality
from ingest.catalog import CatalogService
from ingest.dataset import DatasetWriter, catalogue_uploaded
from ingest.errors import IngestError
from ingest.objectstore import ObjectStore
from ingest.publisher import Publisher
from ingest.topics import FrameMeta
from orbital.stations import Station

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
        stores: DatasetStores | None = None,
        link: LinkModel | None = None,
        progress_interval_s: float = DEFAULT_INTERVAL_S,
        products_worker: ProductsWorker | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.publisher = publisher
        self.store = store
        self.stores = stores or DatasetStores(default=store, open_bucket=no_tenant_buckets)
        self.catalog = catalog
        self.staging_root = Path(staging_root)
        self.offline_after_s = offline_after_s
        self.report_timeout_s = report_timeout_s
        self.poll_s = poll_s
        self.software_version = software_version
        self.link = link or LinkModel()
        self._stop = threading.Event()
        self._stop_reason = ""
        self.outcomes: dict[str, AgentPassOutcome] = {}
        self.progress_interval_s = progress_interval_s
        # Writes the datasets' products in a worker process (None: in the
        # contact's thread), as the in-process executor's (issue 17).
        self.products_worker = products_worker

    def stop(self, reason: str) -> None:
        self._stop_reason = reason
        self._stop.set()

    def execute(self, run: ContactRun) -> None:
        """Publish the agent's frames of the pass as they are uploaded, then
        build the dataset from its report. Followed again after a restart of
        the service, it goes on from the last frame published."""
        began = self.clock.now()
        with self.session_factory() as session:
            published = published_up_to(session, contact_id=run.contact_id)
            session.rollback()
        live = self._live(run)
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
                    PassFrame.of(f)
                    for f in frames_after(session, contact_id=run.contact_id, after=published)
                ]
                session.rollback()
            live.simulated = "simulated" in status.front_end.lower()
            if report is None or report.edge is None:
                published = live.count(new, self._publish_new(run.contact_id, new, published))
            else:  # published at the edge: on Kafka already; the report counts them
                live.decoded, live.esn0_db = report.edge.frames_ok, _esn0(report)
            if report is not None:
                live.report(final=True)
                self._finish(run, report, published)
                return
            # An agent silent at the start of this follow-up (the service
            # itself was down, e.g. restarted mid-pass) gets the offline
            # delay again to be heard from.
            if not status.online and (now - began).total_seconds() >= self.offline_after_s:
                raise ContactExecutionError(status.offline_reason())
            if now > deadline:
                raise ContactExecutionError(
                    f"station agent of {run.station_id} sent no report on the pass by "
                    f"{iso_utc(deadline)} (LOS + {self.report_timeout_s:g} s; last heartbeat "
                    f"{iso_utc(status.last_seen_at) if status.last_seen_at else 'never'})"
                )
            if live.reporter.due():
                live.report()
            if self._stop.wait(self.poll_s):
                raise ContactHandedOver(
                    f"{self._stop_reason or 'the executor was stopped'}; the station agent of "
                    f"{run.station_id} goes on with the pass and the service follows it again "
                    "when it starts"
                )

    def _finish(self, run: ContactRun, report: _Report, published: int) -> None:
        """The pass's end from the agent's ``report``: its dataset and
        outcome; ContactStopped or ContactExecutionError when it did not
        end well."""
        if not report.ok and report.summary.get(STOPPED):
            # Stopped over the API before a frame was decoded:
            # cancelled, not failed (as an in-process pass).
            raise ContactStopped(f"station agent: {report.reason}")
        if not report.ok:
            raise ContactExecutionError(f"station agent: {report.reason}")
        if report.edge is not None:
            dataset_id = self._edge_dataset(run, report, report.edge)
            published = report.edge.frames_published
        else:
            dataset_id = self._dataset(run, report)
        self.outcomes[run.contact_id] = AgentPassOutcome(run.contact_id, published, dataset_id)

    def _edge_dataset(self, run: ContactRun, report: _Report, edge: EdgeReport) -> str:
        """The dataset the agent uploaded at the edge, checked from its
        manifest (in the contact's store, under its prefix) and catalogued
        under the contact row's guard; its bytes are not read or rewritten."""
        if not edge.key_prefix:
            raise ContactExecutionError(
                "station agent reported success published at the edge, but no dataset"
            )
        info, store = place_dataset(run, self.stores, self.session_factory)
        if edge.key_prefix != info.key_prefix:
            raise ContactExecutionError(
                f"station agent uploaded the dataset under {edge.key_prefix!r}; "
                f"contact {run.contact_id}'s key prefix is {info.key_prefix!r}"
            )
        quality = PassQuality(
            frames_ok=edge.frames_ok,
            frames_expected=max(report.frames_total, edge.frames_published),
            esn0_db=_esn0(report),
        )
        try:
            entry = catalogue_uploaded(
                info=info,
                store=store,
                catalog=self.catalog,
                manifest_sha256=edge.manifest_sha256,
                publisher=self.publisher,
                clock=self.clock.now,
                guard=accept_dataset_with(quality),
            )
        except IngestError as exc:
            raise ContactExecutionError(f"dataset uploaded by the station agent: {exc}") from exc
        return entry.id

    def _live(self, run: ContactRun) -> _AgentLive:
        """The live figures of ``run``'s pass, from what was stored before
        (a pass followed again after a restart) and its predicted Doppler."""
        with self.session_factory() as session:
            before = read_progress(session, contact_id=run.contact_id)
            station = session.get(GroundStation, run.station_id)
            site = None if station is None else orbital_station(station, min_elevation_deg=0.0)
            session.rollback()
        doppler = None
        if site is not None:
            try:
                link = pass_link_of(run, site, self.link, 1.0)
                doppler = (link.track.t_s, link.doppler_hz)
            except Exception as exc:  # the figures are shown without Doppler
                log.warning("no predicted Doppler for contact %s: %s", run.contact_id, exc)
        duration_s = (run.los - run.aos).total_seconds()
        reporter = ProgressReporter(
            self.session_factory,
            clock=self.clock,
            contact_id=run.contact_id,
            duration_s=duration_s,
            simulated=False,
            executed_by=f"station agent of {run.station_id}",
            interval_s=self.progress_interval_s,
        )
        live = _AgentLive(reporter, run.aos, doppler)
        if before is not None:
            live.decoded, live.esn0_db = before.frames_decoded, before.esn0_db
        return live

    def _publish_new(self, contact_id: str, frames: list[PassFrame], published: int) -> int:
        """Publish ``frames`` after sequence ``published`` in order, stopping
        at a gap (a frame still in flight is waited for), and record how far
        (``agent_published``); returns the last sequence published."""
        before = published
        for frame in frames:
            if frame.sequence != published + 1:
                break
            self.publisher.publish_frame(frame.data, frame.meta)
            published = frame.sequence
        if published > before:
            with self.session_factory() as session:
                mark_published(
                    session, contact_id=contact_id, sequence=published, now=self.clock.now()
                )
                session.commit()
        return published

    def _dataset(self, run: ContactRun, report: _Report) -> str:
        """The contact's dataset from the uploaded frames and the agent's
        pass outputs, written as an in-process pass's is
        (``groundstation.pass_dataset``), committed under the contact guard."""
        with self.session_factory() as session:
            frames = [
                PassFrame.of(f) for f in frames_after(session, contact_id=run.contact_id, after=0)
            ]
            station = session.get(GroundStation, run.station_id)
            site = None if station is None else orbital_station(station, min_elevation_deg=0.0)
            session.rollback()
        if not frames:
            raise ContactExecutionError(
                f"station agent reported success with {report.frames_total} frames, "
                "but none was uploaded"
            )
        if site is None:
            raise ContactExecutionError(f"station {run.station_id!r} is not in the database")
        writer = pass_dataset_writer(
            run,
            stores=self.stores,
            session_factory=self.session_factory,
            catalog=self.catalog,
            staging_root=self.staging_root,
            publisher=self.publisher,
            clock=self.clock.now,
        )
        writer.begin()
        try:
            write_station_dataset(
                writer, run, site, frames, report.summary, self.link, self.products_worker
            )
            entry = writer.commit(guard=accept_dataset_with(_quality(frames, report)))
        except BaseException as exc:
            try:
                writer.abort(str(exc) or type(exc).__name__)
            except Exception:
                log.exception("abort of dataset %s failed", writer.info.dataset_id)
            if isinstance(exc, ContactExecutionError):
                raise
            raise ContactExecutionError(f"dataset of the agent's frames: {exc}") from exc
        return entry.id


def write_station_dataset(
    writer: DatasetWriter,
    run: ContactRun,
    site: Station,
    frames: list[PassFrame],
    summary: dict[str, Any],
    link_model: LinkModel,
    products_worker: ProductsWorker | None = None,
) -> None:
    """Write a station agent's pass into ``writer`` (begun) as an in-process
    pass's is (``groundstation.pass_dataset``): ``frames.h5`` from its
    ``frames``, the products from the pass outputs in its report
    ``summary``; the predicted track and link computed for ``site``. Used by
    the central service (frames uploaded) and by an agent publishing at the
    edge (``groundstation.station.edge``); the products by
    ``products_worker`` (a process of its own) or, without one, here."""
    summary = dict(summary)
    outputs = PassOutputs.from_document(summary.pop(PASS_OUTPUTS, None) or {})
    link = pass_link_of(run, site, link_model, outputs.samples_per_symbol)
    note = str(summary.get("simulated", ""))
    outputs.receiver_summary["station_agent"] = summary
    record = open_frames_h5(
        writer,
        run,
        link,
        software_version=str(summary.get("software_version", "")),
        source_note=note,
        executed_by=f"station agent of {run.station_id}",
    )
    record.add(
        [f.data for f in frames],
        [f.meta for f in frames],
        frame_ok=[f.ok for f in frames],
        esn0_db=[f.esn0_db for f in frames],
    )
    write_pass_products(
        products_worker, writer.products(), run, record.frames(), outputs, source_note=note
    )


def _esn0(report: _Report) -> float | None:
    esn0 = report.summary.get("esn0_db")
    return float(esn0) if isinstance(esn0, int | float) else None


def _quality(frames: list[PassFrame], report: _Report) -> PassQuality:
    """What the station measured: the frames that passed their checks out
    of every frame its receiver found and uploaded (a station cannot know
    how many the satellite sent), and its Es/N0 estimate."""
    return PassQuality(
        frames_ok=sum(f.meta.decoded_ok for f in frames),
        frames_expected=max(report.frames_total, len(frames)),
        esn0_db=_esn0(report),
    )


@dataclass
class _AgentLive:
    """The live figures of an agent's pass: frames decoded among those
    published so far, the last Es/N0 the agent measured on a frame, the
    Doppler predicted along the track (the agent reports none during the pass)."""

    reporter: ProgressReporter
    aos: datetime
    doppler: tuple[NDArray[np.float64], NDArray[np.float64]] | None
    decoded: int = 0
    esn0_db: float | None = None
    simulated: bool = False
    last_sequence: int = 0

    def count(self, frames: list[PassFrame], published: int) -> int:
        """Count the frames up to ``published`` not counted yet; returns ``published``."""
        for f in frames:
            if self.last_sequence < f.sequence <= published:
                self.decoded += int(f.ok)
                if f.ok and math.isfinite(f.esn0_db):
                    self.esn0_db = f.esn0_db
        self.last_sequence = max(self.last_sequence, published)
        return published

    def report(self, *, final: bool = False) -> None:
        elapsed_s = (self.reporter.clock.now() - self.aos).total_seconds()
        doppler_hz = None
        if self.doppler is not None and 0 <= elapsed_s <= self.reporter.duration_s:
            doppler_hz = float(np.interp(elapsed_s, *self.doppler))
        self.reporter.simulated = self.simulated
        self.reporter.report(
            elapsed_s=self.reporter.duration_s if final else elapsed_s,
            frames_decoded=self.decoded,
            esn0_db=self.esn0_db,
            doppler_hz=doppler_hz,
            final=final,
        )


@dataclass(frozen=True)
class PassFrame:
    """One frame of a station agent's pass: as published, and its quality."""

    sequence: int
    data: bytes
    meta: FrameMeta
    ok: bool
    esn0_db: float

    @classmethod
    def of_upload(cls, contact_id: str, frame: UploadedFrame) -> PassFrame:
        """An uploaded (or spooled, at the edge) frame as it is published."""
        return cls(
            frame.sequence,
            frame.data,
            published_meta(contact_id, frame.sequence, frame.meta),
            frame.ok,
            float("nan") if frame.esn0_db is None else frame.esn0_db,
        )

    @classmethod
    def of(cls, row: AgentFrame) -> PassFrame:
        quality = dict((row.meta or {}).get(QUALITY) or {})
        esn0 = quality.get("esn0_db")
        return cls(
            row.sequence,
            bytes(row.data),
            _meta(row),
            bool(quality.get("ok", True)),
            float("nan") if esn0 is None else float(esn0),
        )


@dataclass(frozen=True)
class _Report:
    ok: bool
    reason: str
    frames_total: int
    summary: dict[str, Any]
    #: published at the edge (``summary["edge"]``, checked when it was stored)
    edge: EdgeReport | None = None

    @classmethod
    def of(cls, row: AgentReport | None) -> _Report | None:
        if row is None:
            return None
        summary = dict(row.summary or {})
        return cls(row.ok, row.reason, row.frames_total, summary, EdgeReport.of(summary))


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
        self._lock = threading.Lock()
        self._local_runs: set[str] = set()

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
            return
        with self._lock:
            self._local_runs.add(run.contact_id)
        try:
            self.local.execute(run)
        finally:
            with self._lock:
                self._local_runs.discard(run.contact_id)

    def resumes(self, run: ContactRun) -> bool:
        """``ResumableExecutor``: a station agent's pass outlives the service."""
        return self.agent_runs(run.station_id)

    def stop_contact(self, contact_id: str, reason: str) -> None:
        """``StoppableExecutor``: a pass worked in-process ends at its next
        chunk, keeping what it received. A station agent's pass is stopped
        at the station: the agent reads the stop (the contact CANCELLING,
        its ``stop_reason``) with its schedule, ends the pass and reports
        what it received, which ``AgentExecutor.execute`` keeps."""
        with self._lock:
            local = contact_id in self._local_runs
        if local and isinstance(self.local, StoppableExecutor):
            self.local.stop_contact(contact_id, reason)
