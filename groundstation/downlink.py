"""The downlink contact executor: works one pass from AOS to LOS.

A simulated RF front end stands in for the antenna and radio: the satellite's
imaging payload (``groundstation.payload``) is coded and modulated by the DSP
simulator for the satellite's framing profile, through a channel driven by
the contact's predicted track (Doppler from range rate, Eb/N0 from the link
budget over the changing range and elevation, so SNR rises toward TCA), and
handed out in chunks paced by the service clock. The DSP receiver consumes
each chunk as it comes; every decoded frame is published at once (per-contact
sequence numbers, headers per docs/topics.md) and recorded for the dataset
(``frames.h5`` with the track and quality summary; raw IQ as SigMF when the
mission profile's ``dataset_options.record_iq`` is true). After LOS the
product step rebuilds the image from the decoded packets (gaps where frames
were lost), the dataset is finalized, checksummed, catalogued and announced.

The dataset becomes ``ready`` only if its contact is still in PASS or
POSTPASS, decided under the contact row's lock in the catalogue transaction
(``contact_datasets.accept_dataset``). No frame decoded, a receiver error, a
stop request (service shutdown), a refused publication or a pass the machine
cannot keep up with (``capacity.PassCapacity``: the DSP fell too far behind
the service clock) raise ``ContactExecutionError``: the partial dataset is
deleted and the lifecycle marks the contact FAILED with the message.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session, sessionmaker

from dsp.amateur_tx import CatalogueTransmitter, frame_bytes, random_frames
from dsp.chain import DecodedFrame, SatelliteReceiver
from dsp.channel import Channel, ChannelConfig, ebn0_from_link_budget
from dsp.profile import DownlinkProfile, builtin_profile
from dsp.quicklook import SymbolSnapshot
from dsp.receiver import FrameResult, Receiver, ReceiverConfig
from dsp.simulate import esn0_db_for
from dsp.transmitter import Transmitter
from groundstation.capacity import PassCapacity
from groundstation.clock import Clock
from groundstation.contact_datasets import accept_dataset_with
from groundstation.errors import NotFoundError
from groundstation.executor import ContactExecutionError, ContactRun, ContactStopped
from groundstation.models import GroundStation
from groundstation.pass_dataset import (
    PassLink,
    PassLooks,
    PassOutputs,
    PassRecord,
    open_frames_h5,
    pass_dataset_writer,
)
from groundstation.payload import (
    ImageFrameSource,
    cloud_scene,
    line_ready_frames,
    radiometer_scene,
    rows_for_frames,
)
from groundstation.prediction import element_set_from_text, orbital_station
from groundstation.products_worker import ProductsWorker, write_pass_products
from groundstation.profile_settings import CATALOGUE_FRAMING, DEFAULT_FRAMING, DemodSettings
from groundstation.progress import DEFAULT_INTERVAL_S, ProgressReporter
from groundstation.satellites import SatelliteSpecError, builtin_catalogue, catalogue_transmitter
from groundstation.tenant_buckets import DatasetStores, no_tenant_buckets
from groundstation.vetting import PassQuality
from ingest.catalog import CatalogService
from ingest.dataset import DatasetWriter
from ingest.geoproducts import SwathGeometry
from ingest.imagery import image_width_for
from ingest.landmask import is_land
from ingest.objectstore import ObjectStore
from ingest.publisher import Publisher
from ingest.sigmf import Geolocation, SigMFWriter
from ingest.topics import FrameMeta
from orbital.stations import Station
from orbital.track import Track, compute_track

log = logging.getLogger(__name__)

#: What the dataset says of how its pass was worked (frames.h5's profile,
#: receiver.json, the SigMF recording's global).
SIMULATED_NOTE = "simulated RF front end: synthetic satellite signal and channel"

#: Who worked a pass run by this executor (frames.h5's ``executed_by``).
IN_PROCESS = "in-process (the central service)"

__all__ = ["DEFAULT_FRAMING", "DownlinkExecutor", "LinkModel"]


@dataclass(frozen=True)
class LinkModel:
    """Link budget of the simulated downlink (VHF weather satellite, small
    station): Eb/N0 = EIRP - FSPL(range) - losses - atmosphere/sin(el) + G/T
    - k - 10 log10(data rate). With the defaults a polar LEO pass at 137 MHz
    gives about 0.5 dB at 10 deg elevation (frames lost near AOS and LOS) and 12 dB overhead."""

    eirp_dbw: float = -8.5
    g_over_t_db_k: float = -34.0
    losses_db: float = 3.5
    atmosphere_zenith_db: float = 0.5
    oscillator_offset_hz: float = 350.0

    def ebn0_db(self, track: Track, freq_hz: float, data_rate_bps: float) -> NDArray[np.float64]:
        """Eb/N0 per transfer-frame bit along ``track`` (dB, shape (n_times,))."""
        sin_el = np.sin(np.radians(np.clip(track.elevation_deg, 2.0, 90.0)))
        return (
            ebn0_from_link_budget(
                eirp_dbw=self.eirp_dbw,
                range_km=track.range_km,
                freq_hz=freq_hz,
                g_over_t_db_k=self.g_over_t_db_k,
                data_rate_bps=data_rate_bps,
                losses_db=self.losses_db,
            )
            - self.atmosphere_zenith_db / sin_el
        )

    def with_settings(self, demod: DemodSettings) -> LinkModel:
        """This link budget with a mission profile's ``demod`` overrides (the
        settings it sets; same names)."""
        return dataclasses.replace(self, **demod.model_dump(exclude_none=True))


class FrameCounter(Protocol):
    """Told the executor's frame counts as each receiver batch is published
    (``serve`` passes the API's metrics; groundstation never imports api)."""

    def count_frames(self, *, decoded: int, published: int) -> None: ...


@dataclass(frozen=True)
class SentFrame:
    """What the simulated satellite sent: frame bytes, time from AOS, Eb/N0."""

    frame: bytes
    time_s: float
    ebn0_db: float


@dataclass
class DownlinkProgress:
    """Live figures of a pass (read by the demo's progress line)."""

    contact_id: str
    elapsed_s: float = 0.0
    duration_s: float = 0.0
    frames_sent: int = 0
    frames_ok: int = 0
    ebn0_db: float = float("nan")
    esn0_db: float = float("nan")
    doppler_hz: float = float("nan")
    done: bool = False


@dataclass
class DownlinkResult:
    contact_id: str
    norad_id: int
    station_id: str
    antenna_id: str
    aos: datetime
    los: datetime
    max_elevation_deg: float
    frames_expected: int
    frames_ok: int
    frames_failed: int
    frames_published: int
    esn0_db: float
    dataset_id: str
    dataset_uri: str
    image_uri: str
    image_rows_received: float
    sent: list[SentFrame] = field(default_factory=list, repr=False)
    scene: NDArray[np.uint8] | None = field(default=None, repr=False)


class DownlinkExecutor:
    """``ContactExecutor`` running the simulated downlink of each contact.

    Thread-safe: the lifecycle calls ``execute`` from a thread per contact in
    PASS, so contacts on different antennas run at once. ``max_lag_s`` and
    ``max_passes`` configure the ``PassCapacity`` shared by the passes.
    ``pause_at`` ({contact id or "*": point}, ``GS_TEST_PAUSE_AT``) is a test
    hook: the pass waits at that point until the executor is stopped.
    ``keep_sent`` keeps what the simulator sent in the result (tests).
    ``frame_counters`` (and ``add_frame_counter``) are told, after every
    receiver batch, how many frames were decoded (CRC/RS good) and how many
    were handed to the publisher; a failing counter is logged, never fails a pass.
    Each pass's live figures go to the database (``groundstation.progress``)
    every ``progress_interval_s`` wall seconds, and once more at its end.
    ``products_worker``: writes each pass's products in a worker process, so
    they do not hold the GIL while other passes stream (``groundstation.
    products_worker``; None: in the contact's thread). The executor does not
    own it: whoever made it closes it.
    """

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        clock: Clock,
        publisher: Publisher,
        store: ObjectStore,
        catalog: CatalogService,
        staging_root: Path,
        link: LinkModel | None = None,
        samples_per_symbol: int = 4,
        chunk_s: float = 1.0,
        keep_sent: bool = False,
        software_version: str = "",
        frame_counters: tuple[FrameCounter, ...] = (),
        max_lag_s: float = 60.0,
        max_passes: int = 0,
        pause_at: dict[str, str] | None = None,
        recording_space: Callable[[], str | None] | None = None,
        stores: DatasetStores | None = None,
        progress_interval_s: float = DEFAULT_INTERVAL_S,
        products_worker: ProductsWorker | None = None,
    ) -> None:
        if samples_per_symbol < 2:
            raise ValueError(f"samples_per_symbol is {samples_per_symbol}, expected >= 2")
        if not chunk_s > 0:
            raise ValueError(f"chunk_s is {chunk_s}, expected > 0")
        self.session_factory = session_factory
        self.clock = clock
        self.publisher = publisher
        self.store = store
        # The default store and the tenants' buckets (only the default one
        # without ``stores``).
        self.stores = stores or DatasetStores(default=store, open_bucket=no_tenant_buckets)
        self.catalog = catalog
        self.staging_root = Path(staging_root)
        self.link = link or LinkModel()
        self.sps = samples_per_symbol
        self.chunk_s = chunk_s
        self.keep_sent = keep_sent
        self.software_version = software_version
        self._stop = threading.Event()
        self._stop_reason = ""
        # Passes asked to stop early ({contact id: reason}, stop_contact).
        self._stopped: dict[str, str] = {}
        self._lock = threading.Lock()
        self.results: dict[str, DownlinkResult] = {}
        self.progress: dict[str, DownlinkProgress] = {}
        self._frame_counters: list[FrameCounter] = list(frame_counters)
        self.capacity = PassCapacity(
            max_lag_s=max_lag_s, max_passes=max_passes, speedup=clock.speedup
        )
        self.pause_at = dict(pause_at or {})
        # Why a new recording must be refused (disk below its watermark), or
        # None: asked at the start of every pass.
        self.recording_space = recording_space
        # Wall seconds between two stored progress rows of a pass.
        self.progress_interval_s = progress_interval_s
        self.products_worker = products_worker

    def add_frame_counter(self, counter: FrameCounter) -> None:
        """Also tell ``counter`` the frame counts of every later batch."""
        with self._lock:
            self._frame_counters.append(counter)

    def _count_frames(self, *, decoded: int, published: int) -> None:
        with self._lock:
            counters = list(self._frame_counters)
        for counter in counters:
            try:
                counter.count_frames(decoded=decoded, published=published)
            except Exception:
                log.exception("frame counter %r failed", counter)

    def stop(self, reason: str) -> None:
        """Make every running (and later) pass end with ``reason`` (shutdown)."""
        self._stop_reason = reason
        self._stop.set()

    def stop_contact(self, contact_id: str, reason: str) -> None:
        """End the pass of ``contact_id`` at its next chunk (at most
        ``chunk_s`` of service time later) and keep what it received as its
        dataset (``StoppableExecutor``)."""
        with self._lock:
            self._stopped[contact_id] = reason

    def warm_up(self) -> None:
        """Load the DSP's compiled kernels (numba's on-disk cache) before the
        first pass, so that pass does not start a second behind the service
        clock (nor ten, loading the imager's land/sea mask): a few frames of the default framing through the simulated
        front end and the receiver."""
        profile = builtin_profile(DEFAULT_FRAMING)
        width = image_width_for(profile.frame_length, fecf=profile.fecf)
        source = ImageFrameSource(profile, cloud_scene(rows_for_frames(6), width))
        tx = Transmitter(profile, self.sps)
        frames = [source.next_frame() for _ in range(6)]
        channel = Channel(ChannelConfig(fs_hz=tx.fs_hz, esn0_db=20.0))
        receiver = Receiver(profile, ReceiverConfig(fs_hz=tx.fs_hz))
        receiver.process(channel.process(tx.process(frames, final=True)))
        receiver.flush()
        builtin_catalogue()  # the satellite catalogue's files, read once per process
        is_land(np.zeros(1), np.zeros(1))  # the imager's land/sea mask, loaded once per process
        if self.products_worker is not None:
            self.products_worker.warm_up()

    # ------------------------------------------------------------ executor

    def execute(self, run: ContactRun) -> None:
        result = self.run_pass(run)
        with self._lock:
            self.results[run.contact_id] = result

    def _station(self, station_id: str, min_elevation_deg: float) -> Any:
        with self.session_factory() as session:
            station = session.get(GroundStation, station_id)
            if station is None:
                raise ContactExecutionError(f"station {station_id!r} is not in the database")
            out = orbital_station(station, min_elevation_deg=min_elevation_deg)
            session.rollback()
        return out

    def _wait_until(self, service_time: datetime, contact_id: str) -> None:
        """Wait for the service clock to reach ``service_time``; a pass already
        behind it reports its lag to the capacity (which may stop it)."""
        wall_s = (self.clock.to_real(service_time) - datetime.now(UTC)).total_seconds()
        now = self.clock.now()
        lag_s = max((now - service_time).total_seconds(), 0.0)
        self.capacity.check(contact_id, lag_s=lag_s, now=now)
        if wall_s > 0:
            self._stop.wait(wall_s)
        self._check_stop()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise ContactExecutionError(self._stop_reason or "the executor was stopped")

    def _pause(self, run: ContactRun, point: str) -> None:
        """Test hook: wait at ``point`` until stopped if ``pause_at`` says so."""
        if self.pause_at.get(run.contact_id, self.pause_at.get("*")) != point:
            return
        log.warning("test hook: contact %s paused at %s", run.contact_id, point)
        self._stop.wait()
        self._check_stop()

    def run_pass(self, run: ContactRun) -> DownlinkResult:
        """Work the pass of ``run`` from AOS to LOS; see the module docstring."""
        self._check_stop()
        if run.problems:
            raise ContactExecutionError(
                "the pass cannot be worked with these stored settings: " + "; ".join(run.problems)
            )
        if self.recording_space is not None and (refused := self.recording_space()):
            raise ContactExecutionError(refused)
        self.capacity.admit(run.contact_id, self.clock.now())
        try:
            return self._run_admitted(run)
        finally:
            self.capacity.release(run.contact_id)
            with self._lock:
                self._stopped.pop(run.contact_id, None)

    def _run_admitted(self, run: ContactRun) -> DownlinkResult:
        """The pass once admitted: its link along the predicted track, the
        simulated downlink, the receiver and the dataset; streamed from AOS
        to LOS. Any failure aborts the dataset and is a ContactExecutionError."""
        if run.framing_profile == CATALOGUE_FRAMING:
            link, downlink, receiver = self._catalogue_pass(run)
        else:
            link, downlink, receiver = self._ccsds_pass(run)
        writer = self._dataset_writer(run)
        writer.begin()
        progress = DownlinkProgress(run.contact_id, duration_s=link.duration_s)
        reporter = ProgressReporter(
            self.session_factory,
            clock=self.clock,
            contact_id=run.contact_id,
            duration_s=link.duration_s,
            simulated=True,
            executed_by=IN_PROCESS,
            interval_s=self.progress_interval_s,
        )
        with self._lock:
            self.progress[run.contact_id] = progress
        try:
            return self._stream(run, link, downlink, receiver, writer, (progress, reporter))
        except BaseException as exc:
            reason = str(exc) or type(exc).__name__
            try:
                writer.abort(reason)
            except Exception:
                log.exception("abort of dataset %s failed", writer.info.dataset_id)
            if isinstance(exc, ContactExecutionError):
                raise
            raise ContactExecutionError(f"receiver error: {reason}") from exc
        finally:
            progress.done = True
            _report(reporter, progress, final=True)

    def _ccsds_pass(self, run: ContactRun) -> tuple[PassLink, _SimulatedDownlink, _PassReceiver]:
        station = self._station(run.station_id, 0.0)
        return ccsds_pass(run, station, self.link, self.sps, keep_sent=self.keep_sent)

    def _catalogue_pass(
        self, run: ContactRun
    ) -> tuple[PassLink, _SimulatedDownlink, _PassReceiver]:
        station = self._station(run.station_id, 0.0)
        return catalogue_pass(run, station, self.link, keep_sent=self.keep_sent)

    def _dataset_writer(self, run: ContactRun) -> DatasetWriter:
        return pass_dataset_writer(
            run,
            stores=self.stores,
            session_factory=self.session_factory,
            catalog=self.catalog,
            staging_root=self.staging_root,
            publisher=self.publisher,
            clock=self.clock.now,
            stage_hook=(lambda stage: self._pause(run, stage)) if self.pause_at else None,
        )

    def _stream(
        self,
        run: ContactRun,
        link: PassLink,
        downlink: _SimulatedDownlink,
        receiver: _PassReceiver,
        writer: DatasetWriter,
        live: tuple[DownlinkProgress, ProgressReporter],
    ) -> DownlinkResult:
        """Hand the pass's IQ to the receiver chunk by chunk, paced by the
        service clock; publish and record every frame; then the products and
        the dataset commit."""
        fs_hz = downlink.fs_hz
        iq = IqRecording.open(writer.sigmf, run, link, fs_hz, downlink.total_samples)
        record = open_frames_h5(
            writer,
            run,
            link,
            software_version=self.software_version,
            source_note=SIMULATED_NOTE,
            executed_by=IN_PROCESS,
        )
        frames = _FrameOutput(
            run, self.publisher, record, iq, downlink.frame_samples, count=self._count_frames
        )
        looks = PassLooks.start(run, link, fs_hz, downlink.total_samples, receiver)
        stopped = self._receive(run, link, downlink, receiver, iq, frames, live, looks)
        self.capacity.release(run.contact_id)  # streaming done: no more lag to report
        frames.publish(receiver.flush())
        progress = live[0]
        progress.frames_ok = len(record.ok)
        esn0_db = receiver.esn0_db()
        progress.esn0_db = esn0_db
        if stopped is not None and not record.ok:
            raise ContactStopped(f"{stopped}; no frame was decoded before the stop")
        if not record.ok:
            raise ContactExecutionError(
                f"no frame decoded: {downlink.n_frames} frames sent, {record.failed} failed to "
                f"decode, estimated Es/N0 {esn0_db:.1f} dB (link budget Eb/N0 "
                f"{float(np.min(link.ebn0_db)):.1f}..{float(np.max(link.ebn0_db)):.1f} dB)"
            )
        outputs = PassOutputs.of(
            receiver, looks, link, frames_expected=downlink.n_frames, swath=downlink.swath
        )
        image_rows = self._write_products(writer, run, record, outputs)
        self._pause(run, "before-commit")
        quality = PassQuality(
            frames_ok=len(record.ok), frames_expected=downlink.n_frames, esn0_db=esn0_db
        )
        entry = writer.commit(guard=accept_dataset_with(quality))
        self._pause(run, "after-ready")
        prefix = writer.info.key_prefix
        return DownlinkResult(
            contact_id=run.contact_id,
            norad_id=run.norad_id,
            station_id=run.station_id,
            antenna_id=run.antenna_id,
            aos=run.aos,
            los=run.los,
            max_elevation_deg=float(np.nanmax(link.track.elevation_deg)),
            frames_expected=downlink.n_frames,
            frames_ok=len(record.ok),
            frames_failed=record.failed,
            frames_published=frames.seq,
            esn0_db=esn0_db,
            dataset_id=entry.id,
            dataset_uri=writer.store.uri(prefix),
            image_uri=writer.store.uri(f"{prefix}/products/image.png")
            if image_rows is not None
            else "",
            image_rows_received=image_rows or 0.0,
            sent=downlink.sent,
            scene=downlink.scene if self.keep_sent else None,
        )

    def _write_products(
        self, writer: DatasetWriter, run: ContactRun, record: PassRecord, outputs: PassOutputs
    ) -> float | None:
        """The pass's products in its staged dataset, by the products worker
        when there is one; the fraction of image rows received (None: no image)."""
        return write_pass_products(
            self.products_worker,
            writer.products(),
            run,
            record.frames(),
            outputs,
            source_note=SIMULATED_NOTE,
        )

    def _receive(
        self,
        run: ContactRun,
        link: PassLink,
        downlink: _SimulatedDownlink,
        receiver: _PassReceiver,
        iq: IqRecording | None,
        frames: _FrameOutput,
        live: tuple[DownlinkProgress, ProgressReporter],
        looks: PassLooks,
    ) -> str | None:
        """The chunks of the pass through the receiver, paced by the service
        clock, until LOS, or until the pass is asked to stop (``stop_contact``):
        then the reason of the stop. The live figures are kept up to date
        (and stored every ``progress_interval_s``)."""
        progress, reporter = live
        fs_hz = downlink.fs_hz
        position = 0
        for chunk in downlink.chunks(max(int(round(self.chunk_s * fs_hz)), 1)):
            if (stopped := self._stopped.get(run.contact_id)) is not None:
                return stopped
            end_s = (position + chunk.size) / fs_hz
            self._wait_until(run.aos + timedelta(seconds=end_s), run.contact_id)
            if iq is not None:
                iq.write(chunk, position)
            looks.waterfall.process(chunk)
            position += chunk.size
            frames.publish(receiver.process(chunk))
            progress.elapsed_s = end_s
            progress.frames_sent = min(downlink.frames_pushed, int(end_s / downlink.frame_s))
            progress.frames_ok = len(frames.record.ok)
            progress.ebn0_db = float(np.interp(end_s, link.track.t_s, link.ebn0_db))
            progress.doppler_hz = float(np.interp(end_s, link.track.t_s, link.doppler_hz))
            if reporter.due():
                progress.esn0_db = receiver.esn0_db()
                _report(reporter, progress)
        return None


def _report(reporter: ProgressReporter, progress: DownlinkProgress, *, final: bool = False) -> None:
    """Store the live figures of an in-process (simulated) pass."""
    reporter.report(
        elapsed_s=progress.elapsed_s,
        frames_decoded=progress.frames_ok,
        frames_sent=progress.frames_sent,
        esn0_db=progress.esn0_db,
        doppler_hz=progress.doppler_hz,
        final=final,
    )


def ccsds_pass(
    run: ContactRun,
    station: Station,
    link_model: LinkModel,
    sps: int,
    *,
    keep_sent: bool = False,
) -> tuple[PassLink, _SimulatedDownlink, _PassReceiver]:
    """A pass of a satellite with a built-in framing profile: the imaging
    payload's TM frames through ``dsp.transmitter``, the ``dsp.receiver``
    told the predicted Doppler."""
    profile = _framing_profile(run)
    link = _ccsds_link(run, station, link_model, profile, sps)
    downlink = _SimulatedDownlink.for_pass(run, link, profile, sps, keep_sent=keep_sent)
    receiver = Receiver(
        profile,
        ReceiverConfig(
            fs_hz=downlink.fs_hz,
            doppler_time_s=link.track.t_s,
            doppler_freq_hz=link.doppler_hz,
            max_rate_hz_s=5.0,
        ),
    )
    return link, downlink, _CcsdsReceiver(receiver, profile)


def _ccsds_link(
    run: ContactRun, station: Station, link_model: LinkModel, profile: DownlinkProfile, sps: float
) -> PassLink:
    data_rate_bps = (
        float(profile.symbol_rate) * profile.bits_per_symbol * profile.info_bits_per_channel_bit
    )
    return pass_link(
        run,
        station,
        link_model,
        framing=profile.name,
        frame_length=profile.frame_length,
        data_rate_bps=data_rate_bps,
        esn0_minus_ebn0_db=esn0_db_for(profile, 0.0),
        samples_per_symbol=sps,
    )


def catalogue_pass(
    run: ContactRun,
    station: Station,
    link_model: LinkModel,
    *,
    keep_sent: bool = False,
    iq: bool = True,
) -> tuple[PassLink, _SimulatedDownlink, _PassReceiver]:
    """A pass of a satellite linked to the catalogue: random frames of its
    transmitter (``decode.transmitter``) through ``dsp.amateur_tx``,
    decoded by the ``SatelliteReceiver`` that ``groundstation decode``
    uses, on that transmitter only. ``iq=False``: the receiver takes real
    receiver audio instead (a station agent replaying such a recording)."""
    sat, tx = _catalogue_transmitter(run)
    sender = CatalogueTransmitter(tx, seed=_seed(run))
    link = _catalogue_link(run, station, link_model, sat.name, sender)
    downlink = _SimulatedDownlink.for_catalogue(run, link, sender, keep_sent=keep_sent)
    one = dataclasses.replace(sat, transmitters=(tx,))
    receiver = SatelliteReceiver(one, sender.fs_hz, iq=iq)
    return link, downlink, _CatalogueReceiver(receiver, sender.fs_hz, tx.framing)


def _catalogue_transmitter(run: ContactRun) -> tuple[Any, Any]:
    try:
        return catalogue_transmitter(run.norad_id, run.decode.transmitter)
    except (NotFoundError, SatelliteSpecError) as exc:
        raise ContactExecutionError(f"satellite NORAD {run.norad_id}: {exc}") from exc


def _catalogue_link(
    run: ContactRun,
    station: Station,
    link_model: LinkModel,
    sat_name: str,
    sender: CatalogueTransmitter,
) -> PassLink:
    tx = sender.tx
    # Eb/N0 per channel bit (binary modulations: Es/N0), as dsp.sweep defines it
    return pass_link(
        run,
        station,
        link_model,
        framing=f"catalogue: {sat_name} / {tx.name} ({tx.modulation} {tx.baud_rate:g} Bd, "
        f"{tx.framing})",
        frame_length=frame_bytes(tx),
        data_rate_bps=float(tx.baud_rate),
        esn0_minus_ebn0_db=0.0,
        samples_per_symbol=sender.fs_hz / float(tx.baud_rate),
    )


def pass_link_of(
    run: ContactRun, station: Station, link_model: LinkModel, samples_per_symbol: float
) -> PassLink:
    """The link of ``run``'s pass as ``ccsds_pass`` or ``catalogue_pass``
    computes it, without the simulated downlink (the dataset of a pass
    worked elsewhere: ``samples_per_symbol`` as the receiver there used)."""
    if run.framing_profile == CATALOGUE_FRAMING:
        sat, tx = _catalogue_transmitter(run)
        sender = CatalogueTransmitter(tx, seed=_seed(run))
        return _catalogue_link(run, station, link_model, sat.name, sender)
    return _ccsds_link(run, station, link_model, _framing_profile(run), samples_per_symbol)


def contact_track(run: ContactRun, station: Station) -> Track:
    """The contact's track: 1-s steps from AOS to LOS, what the link and the
    antenna follow."""
    element = element_set_from_text(run.ephemeris_text)
    if run.los <= run.aos:
        raise ContactExecutionError(f"contact window {run.aos}..{run.los} is empty")
    track = compute_track(element, station, start=run.aos, end=run.los, step_s=1.0)
    if np.any(track.error_code != 0):
        raise ContactExecutionError(
            f"SGP4 failed on {int(np.count_nonzero(track.error_code))} track samples"
        )
    return track


def pass_link(
    run: ContactRun,
    station: Station,
    link_model: LinkModel,
    *,
    framing: str,
    frame_length: int,
    data_rate_bps: float,
    esn0_minus_ebn0_db: float,
    samples_per_symbol: float,
) -> PassLink:
    """The contact's track (``contact_track``) and the link along it."""
    track = contact_track(run, station)
    duration_s = (run.los - run.aos).total_seconds()
    link = link_model.with_settings(run.demod)
    ebn0_db = link.ebn0_db(track, run.downlink_freq_hz, data_rate_bps)
    return PassLink(
        framing=framing,
        frame_length=frame_length,
        samples_per_symbol=samples_per_symbol,
        model=link,
        station=station,
        track=track,
        duration_s=duration_s,
        doppler_hz=track.doppler_hz(run.downlink_freq_hz),
        ebn0_db=ebn0_db,
        esn0_db=esn0_minus_ebn0_db + ebn0_db,
    )


def _seed(run: ContactRun) -> int:
    """The seed of a contact's simulated downlink (deterministic per contact)."""
    return zlib.crc32(run.contact_id.encode())


def _pass_channel(link: PassLink, *, fs_hz: float, seed: int, doppler: bool) -> Channel:
    """The simulated channel of a pass: a carrier phase drawn from ``seed``,
    the satellite's oscillator offset, Es/N0 along the track, and the
    predicted Doppler when ``doppler`` (False: the front end tunes it out,
    as an amateur station's rig control does). Noise seeded by ``seed``."""
    rng = np.random.default_rng(seed)
    return Channel(
        ChannelConfig(
            fs_hz=fs_hz,
            phase_rad=float(rng.uniform(0, 2 * np.pi)),
            freq_offset_hz=link.model.oscillator_offset_hz,
            doppler_time_s=link.track.t_s if doppler else None,
            doppler_freq_hz=link.doppler_hz if doppler else None,
            esn0_time_s=link.track.t_s,
            esn0_profile_db=link.esn0_db,
            seed=seed,
        )
    )


class _FrameSource(Protocol):
    def next_frame(self) -> bytes: ...


class _Modulator(Protocol):
    @property
    def fs_hz(self) -> float: ...

    def process(self, frames: list[bytes], final: bool = False) -> NDArray[np.complex64]: ...


@dataclass
class _FrameList:
    """The frames a catalogue satellite sends, in order."""

    frames: list[bytes]
    position: int = 0

    def next_frame(self) -> bytes:
        self.position += 1
        return self.frames[self.position - 1]


def _framing_profile(run: ContactRun) -> DownlinkProfile:
    try:
        return builtin_profile(run.framing_profile or DEFAULT_FRAMING)
    except Exception as exc:
        raise ContactExecutionError(
            f"framing profile {run.framing_profile!r} of NORAD {run.norad_id}: {exc}"
        ) from exc


@dataclass
class _SimulatedDownlink:
    """The simulated satellite and RF front end of one pass: the payload's
    frames, coded and modulated, through the channel (Doppler, SNR along the
    track), handed out as IQ chunks (``chunks``): ``lead_samples`` before
    the first frame, then ``frame_samples`` per frame. Deterministic per
    contact (seeded by its id); ``sent`` keeps what was sent when asked."""

    source: _FrameSource
    tx: _Modulator
    channel: Channel
    scene: NDArray[np.uint8] | None
    link: PassLink
    n_frames: int
    frame_samples: int
    keep_sent: bool
    lead_samples: int = 0
    #: how the imaging payload's pixels are geolocated (None: no imager)
    swath: SwathGeometry | None = None
    frames_pushed: int = 0
    sent: list[SentFrame] = field(default_factory=list)

    @classmethod
    def for_pass(
        cls,
        run: ContactRun,
        link: PassLink,
        profile: DownlinkProfile,
        sps: int,
        *,
        keep_sent: bool,
    ) -> _SimulatedDownlink:
        tx = Transmitter(profile, sps)
        fs_hz = tx.fs_hz
        frame_samples = profile.channel_bits_per_frame // profile.bits_per_symbol * sps
        n_frames = int(link.duration_s // (frame_samples / fs_hz))
        seed = _seed(run)
        element = element_set_from_text(run.ephemeris_text)
        frame_s = frame_samples / fs_hz
        try:
            seen = radiometer_scene(
                profile,
                element,
                run.aos,
                n_frames=n_frames,
                duration_s=link.duration_s,
                frame_s=frame_s,
                seed=seed,
            )
        except ValueError as exc:
            raise ContactExecutionError(f"imaging payload of NORAD {run.norad_id}: {exc}") from exc
        scene = seen.scene
        channel = _pass_channel(link, fs_hz=fs_hz, seed=seed, doppler=True)
        source = ImageFrameSource(
            profile, scene, seen.line_time_unix_us, line_ready_frames(seen.plan, frame_s)
        )
        swath = SwathGeometry(
            satellite=run.satellite_name,
            norad_id=run.norad_id,
            tle=run.ephemeris_text,
            fov_deg=seen.plan.fov_deg,
        )
        return cls(
            source, tx, channel, scene, link, n_frames, frame_samples, keep_sent, swath=swath
        )

    @classmethod
    def for_catalogue(
        cls, run: ContactRun, link: PassLink, tx: CatalogueTransmitter, *, keep_sent: bool
    ) -> _SimulatedDownlink:
        """The satellite sends random frames of its transmitter back to back
        (one slot each); the front end tunes out the predicted Doppler (as an
        amateur station's rig control does), so the receiver sees the
        satellite's oscillator offset, and the SNR along the track."""
        fs_hz = tx.fs_hz
        n_frames = max(int((link.duration_s * fs_hz - tx.lead_samples) // tx.slot_samples), 0)
        seed = _seed(run)
        channel = _pass_channel(link, fs_hz=fs_hz, seed=seed, doppler=False)
        source = _FrameList(random_frames(tx.tx, n_frames, seed))
        return cls(
            source,
            tx,
            channel,
            None,
            link,
            n_frames,
            tx.slot_samples,
            keep_sent,
            lead_samples=tx.lead_samples,
        )

    @property
    def fs_hz(self) -> float:
        return self.tx.fs_hz

    @property
    def frame_s(self) -> float:
        return self.frame_samples / self.fs_hz

    @property
    def total_samples(self) -> int:
        return self.lead_samples + self.n_frames * self.frame_samples

    def chunks(self, chunk_samples: int) -> Iterator[NDArray[np.complex64]]:
        """The pass's IQ in chunks of ``chunk_samples`` (the last shorter)."""
        buffer: list[NDArray[np.complex64]] = []
        buffered = 0
        flushed = False
        position = 0
        while position < self.total_samples or not flushed:
            while buffered < chunk_samples and not flushed:
                iq, flushed = self._next_iq()
                buffer.append(iq)
                buffered += iq.size
            joined = np.concatenate(buffer) if buffer else np.zeros(0, dtype=np.complex64)
            chunk, rest = joined[:chunk_samples], joined[chunk_samples:]
            buffer, buffered = [rest], rest.size
            if chunk.size == 0:
                return
            yield chunk
            position += chunk.size
            if buffered == 0 and flushed:
                return

    def _next_iq(self) -> tuple[NDArray[np.complex64], bool]:
        """The IQ of the next frame (empty once all are sent), and whether
        the transmitter has been flushed."""
        if self.frames_pushed >= self.n_frames:
            return np.zeros(0, dtype=np.complex64), True
        frame = self.source.next_frame()
        if self.keep_sent:
            t_s = (self.lead_samples + (self.frames_pushed + 0.5) * self.frame_samples) / self.fs_hz
            level = float(np.interp(t_s, self.link.track.t_s, self.link.ebn0_db))
            self.sent.append(SentFrame(frame, t_s, level))
        last = self.frames_pushed + 1 == self.n_frames
        iq = self.channel.process(self.tx.process([frame], final=last))
        self.frames_pushed += 1
        return iq, last


@dataclass
class IqRecording:
    """The SigMF recording of a pass: the whole pass, or the profile's
    ``record_iq_max_s`` seconds centred on TCA (samples ``start .. stop``).
    One place for the window rule and the annotations, used in-process
    (into the staged dataset) and by a station agent (into its spool)."""

    sigmf: SigMFWriter
    start: int
    stop: int

    @staticmethod
    def window(run: ContactRun, fs_hz: float, total_samples: int) -> tuple[int, int]:
        """The samples ``start .. stop`` of a pass of ``total_samples``
        samples that are recorded: all of them, or ``record_iq_max_s``
        seconds centred on TCA (clipped to the pass)."""
        start, stop = 0, total_samples
        max_iq_s = run.dataset_options.record_iq_max_s
        if max_iq_s is not None:
            tca_sample = int((run.tca - run.aos).total_seconds() * fs_hz)
            half = int(max_iq_s * fs_hz / 2)
            start = min(max(tca_sample - half, 0), total_samples)
            stop = min(start + 2 * half, total_samples)
        return start, stop

    @classmethod
    def open(
        cls,
        open_sigmf: Callable[..., SigMFWriter],
        run: ContactRun,
        link: PassLink,
        fs_hz: float,
        total_samples: int,
        *,
        note: str = SIMULATED_NOTE,
        station_agent: str = "",
    ) -> IqRecording | None:
        """The recording (``open_sigmf`` takes ``SigMFWriter``'s keyword
        arguments: ``DatasetWriter.sigmf``, or a writer into a station's
        spool), or None when the profile does not record IQ. ``note``: why
        the IQ is not live from an antenna (simulated, a replay; "" when
        live), carried into the description, ``core:hw`` and
        ``groundstation:simulated``."""
        if not run.dataset_options.record_iq:
            return None
        start, stop = cls.window(run, fs_hz, total_samples)
        where = f"station {run.station_id}, antenna {run.antenna_id}"
        if station_agent:
            where += f", worked by the station agent ({station_agent})"
        extra: dict[str, Any] = {
            "groundstation:contact_id": run.contact_id,
            "groundstation:norad_id": run.norad_id,
            "groundstation:framing_profile": link.framing,
        }
        if note:
            extra["groundstation:simulated"] = note
        sigmf = open_sigmf(
            sample_rate_hz=fs_hz,
            center_freq_hz=run.downlink_freq_hz,
            capture_start=run.aos + timedelta(seconds=start / fs_hz),
            description=(
                f"{'SIMULATED: ' if note else ''}{run.satellite_name} over "
                f"{run.station_id}/{run.antenna_id}"
            ),
            geolocation=Geolocation(
                lat_deg=link.station.lat_deg, lon_deg=link.station.lon_deg, alt_m=link.station.alt_m
            ),
            hw=f"{note}; {where}" if note else where,
            extra_global=extra,
        )
        return cls(sigmf, start, stop)

    def write(self, chunk: NDArray[np.complex64], position: int) -> None:
        """The part of ``chunk`` (starting at sample ``position``) recorded."""
        a = max(self.start - position, 0)
        b = min(self.stop - position, chunk.size)
        if b > a:
            self.sigmf.write(chunk[a:b])

    def annotate(self, sample: float, length: int, decoded: _Decoded, sequence: int) -> None:
        """A frame starting at ``sample``, if it starts inside the recording,
        with its sequence number and checks as structured fields."""
        if self.start <= sample < self.stop:
            first = int(sample)
            self.sigmf.annotate(
                first - self.start,
                min(length, self.stop - first),
                "frame" if decoded.ok else "frame (failed)",
                sequence=sequence,
                frame_ok=decoded.ok,
                crc_ok=decoded.crc_ok,
                rs_corrections=decoded.rs_corrections,
                virtual_channel=decoded.virtual_channel,
                frame_counter=decoded.frame_counter,
                frame_bytes=len(decoded.frame),
            )


@dataclass(frozen=True)
class _Decoded:
    """One frame out of a pass's receiver, as the outputs take it: bytes, its
    integrity check passed (``ok``), where it starts (sample and seconds from
    the first sample) and the header fields of its ``FrameMeta``."""

    frame: bytes
    ok: bool
    sample: float
    time_s: float
    virtual_channel: int
    frame_counter: int
    rs_corrections: int
    crc_ok: bool | None
    esn0_db: float = float("nan")


class _PassReceiver(Protocol):
    """The receiver of a pass: IQ chunks in, decoded frames out; its summary
    (``receiver.json``, with ``esn0_db``); ``image_fecf``: the FECF setting
    to rebuild the imaging payload's picture with, None when the satellite
    has no imaging payload."""

    image_fecf: bool | None

    def process(self, chunk: NDArray[np.complex64]) -> list[_Decoded]: ...

    def flush(self) -> list[_Decoded]: ...

    def summary(self) -> dict[str, Any]: ...

    def esn0_db(self) -> float: ...

    def frequency_track(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(time from the first sample in s, carrier frequency removed in Hz)."""
        ...

    def tap_symbols(self, snapshot: SymbolSnapshot) -> None:
        """Give ``snapshot`` the demodulated symbols (if the receiver has them)."""
        ...


class _CcsdsReceiver:
    """``dsp.receiver.Receiver`` (built-in framing profiles)."""

    def __init__(self, receiver: Receiver, profile: DownlinkProfile) -> None:
        self.receiver = receiver
        self.image_fecf: bool | None = profile.fecf

    @staticmethod
    def _out(results: list[FrameResult]) -> list[_Decoded]:
        return [
            _Decoded(
                frame=r.frame,
                ok=r.ok,
                sample=r.asm_sample,
                time_s=r.asm_time_s,
                virtual_channel=r.header.virtual_channel_id if r.header else 0,
                frame_counter=r.header.virtual_channel_frame_count if r.header else 0,
                rs_corrections=(
                    -1 if any(c < 0 for c in r.rs_corrections) else sum(r.rs_corrections)
                ),
                crc_ok=r.crc_ok,
            )
            for r in results
        ]

    def process(self, chunk: NDArray[np.complex64]) -> list[_Decoded]:
        return self._out(self.receiver.process(chunk))

    def flush(self) -> list[_Decoded]:
        return self._out(self.receiver.flush())

    def summary(self) -> dict[str, Any]:
        out = self.receiver.summary().to_dict()
        out.pop("frequency_track")
        return out

    def esn0_db(self) -> float:
        return self.receiver.summary().esn0_db

    def frequency_track(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        summary = self.receiver.summary()
        return summary.freq_time_s, summary.freq_hz

    def tap_symbols(self, snapshot: SymbolSnapshot) -> None:
        self.receiver.symbol_tap = snapshot


#: Catalogue framings whose frames end in a CRC the deframer checks (AX.25's
#: FCS); the others are checked by their Reed-Solomon code.
_CRC_FRAMINGS = frozenset({"ax25", "ax25-g3ruh"})


class _CatalogueReceiver:
    """``dsp.chain.SatelliteReceiver`` on one catalogue transmitter: every
    frame it gives passed its CRC or Reed-Solomon check."""

    image_fecf: bool | None = None

    def __init__(self, receiver: SatelliteReceiver, fs_hz: float, framing: str) -> None:
        self.receiver = receiver
        self.fs_hz = fs_hz
        self.crc_ok: bool | None = True if framing in _CRC_FRAMINGS else None
        self.snr_db: list[float] = []

    def _out(self, frames: list[DecodedFrame]) -> list[_Decoded]:
        out = []
        for d in sorted(frames, key=lambda d: d.time_s):
            self.snr_db.append(d.snr_db)
            out.append(
                _Decoded(
                    frame=d.frame,
                    ok=True,
                    sample=d.time_s * self.fs_hz,
                    time_s=d.time_s,
                    virtual_channel=0,
                    frame_counter=0,
                    rs_corrections=dict(d.corrections).get("rs", 0),
                    crc_ok=self.crc_ok,
                    esn0_db=d.snr_db,
                )
            )
        return out

    def process(self, chunk: NDArray[np.complex64]) -> list[_Decoded]:
        return self._out(self.receiver.process(chunk))

    def flush(self) -> list[_Decoded]:
        return self._out(self.receiver.flush())

    def summary(self) -> dict[str, Any]:
        snr = np.asarray([x for x in self.snr_db if np.isfinite(x)], dtype=np.float64)
        return {
            "frames_ok": len(self.snr_db),
            "esn0_db": round(self.esn0_db(), 3) if snr.size else None,
            "esn0_db_min": round(float(np.min(snr)), 3) if snr.size else None,
            "transmitter": self.receiver.chains[0].tx.name,
        }

    def esn0_db(self) -> float:
        """Median of the decoded frames' Es/N0 estimates (NaN: none)."""
        snr = [x for x in self.snr_db if np.isfinite(x)]
        return float(np.median(snr)) if snr else float("nan")

    def frequency_track(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return np.zeros(0), np.zeros(0)  # the front end tunes out the Doppler

    def tap_symbols(self, snapshot: SymbolSnapshot) -> None:
        return None  # the catalogue's decoders give frames, not symbols


@dataclass
class _FrameOutput:
    """Where every received frame goes, in order: the frame topic (with a
    per-contact sequence number), the dataset's record (``frames.h5``, the
    good frames for the products), an annotation of the IQ recording, and
    the frame counters."""

    run: ContactRun
    publisher: Publisher
    record: PassRecord
    iq: IqRecording | None
    frame_samples: int
    count: Callable[..., None]
    seq: int = 0

    def publish(self, results: list[_Decoded]) -> None:
        frames: list[bytes] = []
        metas: list[FrameMeta] = []
        decoded = 0
        try:
            for r in results:
                meta = self._meta(r)
                self.seq += 1
                self.publisher.publish_frame(r.frame, meta, self.run.kafka_topic or None)
                frames.append(r.frame)
                metas.append(meta)
                decoded += int(r.ok)
                if self.iq is not None:
                    self.iq.annotate(r.sample, self.frame_samples, r, meta.sequence)
        finally:  # what reached the publisher counts, even if a later frame failed
            if frames:
                self.count(decoded=decoded, published=len(frames))
        rs = results[: len(frames)]
        self.record.add(frames, metas, frame_ok=[r.ok for r in rs], esn0_db=[r.esn0_db for r in rs])

    def _meta(self, r: _Decoded) -> FrameMeta:
        return frame_meta(self.run, r, self.seq)


def frame_meta(run: ContactRun, r: _Decoded, sequence: int) -> FrameMeta:
    """The published metadata of decoded frame ``r`` of ``run``'s pass."""
    return FrameMeta(
        contact_id=run.contact_id,
        norad_id=run.norad_id,
        station=run.station_id,
        antenna=run.antenna_id,
        frame_time=run.aos + timedelta(seconds=r.time_s),
        virtual_channel=r.virtual_channel,
        frame_counter=r.frame_counter,
        rs_corrections=r.rs_corrections,
        crc_ok=r.crc_ok,
        sequence=sequence,
    )
