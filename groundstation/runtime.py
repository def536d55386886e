"""The running service, wired from settings: database, clock, delivery,
downlink executor and contact lifecycle (used by ``serve``, ``demo`` and tests).

``open_runtime`` opens and migrates the database, creates the dataset
catalogue tables, opens the publisher and the object store, cleans up
datasets a crashed writer left behind (``ingest.dataset.recover``: resumed
only if the contact is still in PASS or POSTPASS), and builds the lifecycle
with contact events going to the events topic (``PublisherEventSink``), the
downlink executor at PASS and contacts completing only with a ready dataset.
``start`` warms the DSP up (in the background) and starts the scheduler;
``close`` stops it (a pass in progress ends FAILED with the reason given)
and closes the publisher.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from groundstation.agent_executor import AgentExecutor, StationRouter
from groundstation.clock import Clock, clock_from_settings
from groundstation.contact_datasets import accept_dataset
from groundstation.delivery import (
    open_dataset_stores,
    open_frame_publisher,
    open_object_store,
    spool_depth_bytes,
)
from groundstation.downlink import DownlinkExecutor, LinkModel
from groundstation.events import Event, EventSink
from groundstation.executor import parse_pause_points
from groundstation.housekeeping import check_recording_space
from groundstation.lifecycle import LifecycleService, ReconcileReport, lifecycle_from_settings
from groundstation.logs import contact_log_sink
from groundstation.models import Contact
from groundstation.products_worker import ProductsWorker
from groundstation.settings import Settings
from groundstation.tenant_buckets import DatasetStores
from groundstation.version import software_version
from ingest.catalog import CatalogService
from ingest.dataset import RecoveryReport, recover
from ingest.objectstore import ObjectStore, S3ObjectStore
from ingest.publisher import Publisher, PublisherEventSink

log = logging.getLogger(__name__)

#: Seconds ``Runtime.close`` waits for the frames spooled for the broker to be
#: delivered before closing the publisher (what is left stays in the spool).
FLUSH_ON_CLOSE_S = 30.0


class FanOutSink:
    """Publishes each contact event to every sink added (events topic, API hub);
    a failing sink is logged and never stops the others."""

    def __init__(self, *sinks: EventSink) -> None:
        self._sinks: list[EventSink] = list(sinks)

    def add(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def publish(self, event: Event) -> None:
        for sink in list(self._sinks):
            try:
                sink.publish(event)
            except Exception:
                log.exception("event sink %r failed on %s", sink, event)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    publisher: Publisher
    store: ObjectStore
    catalog: CatalogService
    executor: DownlinkExecutor
    lifecycle: LifecycleService
    # Contacts at stations with an agent (``groundstation.agent_executor``).
    agent_executor: AgentExecutor
    recovery: RecoveryReport
    events: FanOutSink
    # The default store and the tenants' buckets (``groundstation.tenant_buckets``).
    stores: DatasetStores
    reconcile: ReconcileReport | None = field(default=None)
    # Writes the passes' products in worker processes (None: in their threads).
    products_worker: ProductsWorker | None = field(default=None)
    _warm_up: threading.Thread | None = field(default=None, init=False, repr=False)

    def spool_depth_bytes(self) -> int:
        """Frame spool bytes not yet acknowledged by the broker (0 without Kafka)."""
        return spool_depth_bytes(self.publisher)

    def start(self) -> ReconcileReport:
        """Warm the DSP up (in the background) and start the lifecycle."""
        self._warm_up = threading.Thread(target=self._warm_dsp, name="dsp-warm-up", daemon=True)
        self._warm_up.start()
        self.reconcile = self.lifecycle.start()
        return self.reconcile

    def _warm_dsp(self) -> None:
        began = time.perf_counter()
        try:
            self.executor.warm_up()
        except Exception:
            log.exception("DSP warm-up failed (the first pass will load the kernels)")
            return
        log.info("DSP warmed up in %.1f s", time.perf_counter() - began)

    def close(self, *, reason: str = "service stopped during the pass") -> None:
        """Stop: running passes end FAILED with ``reason``; wait for them; flush."""
        self.executor.stop(reason)
        self.agent_executor.stop(reason)
        self.lifecycle.shutdown(wait=True)
        if self._warm_up is not None:
            self._warm_up.join()
        try:
            self.publisher.flush(timeout_s=FLUSH_ON_CLOSE_S)
        finally:
            if self.products_worker is not None:
                self.products_worker.close()
            self.publisher.close()
            self.engine.dispose()


def contact_details(
    session_factory: sessionmaker[Session],
) -> object:
    """(norad_id, station, antenna) of a contact, for the contact-event messages."""

    def details(contact_id: str) -> tuple[int | None, str | None, str | None]:
        with session_factory() as session:
            contact = session.get(Contact, contact_id)
            if contact is None:
                return None, None, None
            out = (contact.satellite.norad_id, contact.antenna.station_id, contact.antenna_id)
            session.rollback()
            return out

    return details


def open_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    clock_start: datetime | None = None,
    link: LinkModel | None = None,
    keep_sent: bool = False,
) -> Runtime:
    """Everything ``serve`` runs, from ``settings`` (see the module docstring)."""
    from groundstation.db import make_session_factory, open_database

    engine = open_database(settings)
    session_factory = make_session_factory(engine)
    catalog = CatalogService(engine)
    catalog.create_schema()
    if clock is None:
        clock = clock_from_settings(
            settings.clock,
            start=clock_start or settings.clock_start,
            speedup=settings.clock_speedup,
        )
    publisher = open_frame_publisher(settings)
    processes = settings.downlink_products_processes
    products_worker = ProductsWorker(processes) if processes else None
    try:
        store = open_object_store(settings)
        if isinstance(store, S3ObjectStore):
            store.ensure_bucket()
        stores = open_dataset_stores(settings, store)
        stores.check_configured()  # GS_TENANT_BUCKETS: each one writable, or no start
        staging = settings.dataset_staging_dir()
        recovery = recover(
            store=store,
            catalog=catalog,
            staging_root=staging,
            publisher=publisher,
            clock=clock.now,
            guard=accept_dataset,
            store_for=stores.store,
        )
        if recovery.resumed or recovery.cleaned:
            log.warning(
                "dataset recovery: resumed %s, cleaned %s", recovery.resumed, recovery.cleaned
            )
        executor = DownlinkExecutor(
            session_factory=session_factory,
            clock=clock,
            publisher=publisher,
            store=store,
            catalog=catalog,
            staging_root=staging,
            link=link,
            keep_sent=keep_sent,
            software_version=software_version(),
            max_lag_s=settings.downlink_max_lag_s,
            max_passes=settings.downlink_max_passes,
            pause_at=parse_pause_points(settings.test_pause_at),
            recording_space=lambda: check_recording_space(settings),
            stores=stores,
            products_worker=products_worker,
        )
        agent_executor = AgentExecutor(
            session_factory=session_factory,
            clock=clock,
            publisher=publisher,
            store=store,
            catalog=catalog,
            staging_root=staging,
            offline_after_s=settings.agent_offline_after_s,
            report_timeout_s=settings.agent_report_timeout_s,
            software_version=software_version(),
            stores=stores,
            link=link,
            products_worker=products_worker,
        )
        router = StationRouter(
            session_factory=session_factory, agent=agent_executor, local=executor
        )
        details = contact_details(session_factory)
        events = FanOutSink(
            PublisherEventSink(publisher, details=details),  # type: ignore[arg-type]
            contact_log_sink(clock=clock, details=details, executor=executor),  # type: ignore[arg-type]
        )
        lifecycle = lifecycle_from_settings(
            settings,
            session_factory=session_factory,
            clock=clock,
            events=events,
            executor=router,
            require_dataset=True,
        )
    except BaseException:
        publisher.close()
        raise
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        clock=clock,
        publisher=publisher,
        store=store,
        catalog=catalog,
        executor=executor,
        lifecycle=lifecycle,
        agent_executor=agent_executor,
        recovery=recovery,
        events=events,
        stores=stores,
        products_worker=products_worker,
    )
