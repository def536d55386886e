"""The station agent (``groundstation agent``): runs at a station, works the
passes the central service booked there, and reports back (issue 13).

- **Central link** (:class:`CentralClient`): the REST API with a ``station``
  key. A heartbeat every ``heartbeat_s`` registers the agent and says it is
  alive (software version, front end, rotator position, disk space, spool
  depth); the schedule (``/agent/contacts``) is read every ``poll_s``.
- **A pass** (:class:`PassRunner`): at AOS the contact's IQ comes from the
  front end (``simulated``: the simulated satellite and channel of
  ``groundstation.downlink``, labelled simulated in the report, the dataset
  and the log; ``replay:<path>``: a recording, labelled so too; live:
  ``tcp:<host>:<port>[:cf32|cs16]`` from SDR software at the station,
  ``rtltcp:<host>:<port>``, ``soapy:<device args>``), goes chunk by chunk through
  the same receiver the in-process executor uses, and every decoded frame
  goes to the durable spool (:mod:`.spool`). When the profile's
  ``dataset_options.record_iq`` is set, the IQ is recorded as SigMF into the
  spool too, as in-process (``IqRecording``: window rule, annotations,
  simulated/replay notes); the report's ``summary["raw_iq"]`` says where it
  is kept (publishing at the edge, it goes into the dataset). With a rotator (``rotctld``)
  the tracker pre-positions, follows the predicted track (pointing plan with
  limits, cable wrap and flip) and parks, in a thread beside the receiver.
- **Uploads** (:meth:`StationAgent.flush`): a thread sends the spooled frames
  in order and then the report; a central outage only delays them (the pass
  goes on), and a resend stores nothing twice. Publishing at the edge
  (``edge``, :mod:`.edge`), the frames go to Kafka and the dataset to the
  object store from here, and only the report goes to the central service.
- **Restart**: a pass found started in the spool without a report is
  reported FAILED "station agent stopped during the pass"; the schedule is
  read again and later contacts run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
from numpy.typing import NDArray

from groundstation.agents import STOPPED, run_from_document
from groundstation.clock import Clock, iso_utc
from groundstation.downlink import (
    SIMULATED_NOTE,
    IqRecording,
    LinkModel,
    catalogue_pass,
    ccsds_pass,
    contact_track,
    frame_meta,
)
from groundstation.errors import GroundStationError
from groundstation.executor import ContactExecutionError, ContactRun
from groundstation.pass_dataset import PASS_OUTPUTS, PassLooks, PassOutputs
from groundstation.profile_settings import CATALOGUE_FRAMING
from groundstation.station.errors import HardwareConnectionError, HardwareError
from groundstation.station.spool import Pruned, Spool
from ingest.sigmf import SigMFWriter
from ingest.topics import utc_iso
from orbital.stations import Station

if TYPE_CHECKING:
    from groundstation.station.edge import EdgePublishing

log = logging.getLogger(__name__)

#: Frames per upload request.
UPLOAD_BATCH = 40

#: The key of a pass's report ``summary`` (and so of ``receiver.json``'s
#: ``station_agent``) saying where its raw IQ (SigMF) is, when the mission
#: profile records it: kept at the station, or in the dataset (edge).
RAW_IQ = "raw_iq"


class CentralUnavailableError(Exception):
    """The central service did not answer (down, unreachable, 5xx)."""


class CentralRefusedError(Exception):
    """The central service answered with a 4xx: the request will not succeed as sent."""


class CentralClient:
    """The agent's calls to the central REST API, with its station key."""

    def __init__(
        self,
        base_url: str,
        *,
        key: str,
        station_id: str,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.station_id = station_id
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._base = f"/ground-stations/{station_id}/agent"

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, self._base + path, json=body)
        except httpx.HTTPError as exc:
            raise CentralUnavailableError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 500:
            raise CentralUnavailableError(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise CentralRefusedError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}"
            )
        return response.json()

    def heartbeat(self, *, software_version: str, front_end: str, status: dict[str, Any]) -> Any:
        body = {"software_version": software_version, "front_end": front_end, "status": status}
        return self._call("POST", "/heartbeat", body)

    def contacts(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self._call("GET", "/contacts")["data"]
        return data

    def upload_frames(self, contact_id: str, frames: list[dict[str, Any]]) -> Any:
        return self._call("POST", f"/contacts/{contact_id}/frames", {"frames": frames})

    def report(self, contact_id: str, report: dict[str, Any]) -> Any:
        return self._call("POST", f"/contacts/{contact_id}/report", report)


# ------------------------------------------------------------------ front ends


#: The IQ sources an agent takes (GS_AGENT_FRONT_END).
FRONT_END_FORMS = (
    "simulated",
    "replay:<path>",
    "tcp:<host>:<port>[:cf32|cs16]",
    "rtltcp:<host>:<port>",
    "soapy:<device args>",
)


@dataclass(frozen=True)
class FrontEndSpec:
    """A parsed GS_AGENT_FRONT_END: its kind and what the kind needs."""

    kind: str  # simulated, replay, tcp, rtltcp, soapy
    path: Path | None = None
    host: str = ""
    port: int = 0
    sample_format: str = "cf32"
    device: str = ""

    @property
    def live(self) -> bool:
        """True when the IQ comes from an antenna now (tcp, rtltcp, soapy)."""
        return self.kind in ("tcp", "rtltcp", "soapy")


def parse_front_end(spec: str) -> FrontEndSpec:
    """``spec`` parsed; ValueError naming it (and what is wrong) otherwise."""
    kind, _, rest = spec.partition(":")

    def bad(why: str) -> ValueError:
        forms = ", ".join(repr(f) for f in FRONT_END_FORMS)
        return ValueError(f"front end {spec!r} {why}; expected one of {forms} (GS_AGENT_FRONT_END)")

    if spec == "simulated":
        return FrontEndSpec("simulated")
    if kind == "replay":
        if not rest:
            raise bad("names no recording")
        return FrontEndSpec("replay", path=Path(rest))
    if kind == "soapy":
        if not rest:
            raise bad("names no SoapySDR device (e.g. 'soapy:driver=rtlsdr')")
        return FrontEndSpec("soapy", device=rest)
    if kind in ("tcp", "rtltcp"):
        return _network_front_end(kind, rest, bad)
    raise bad("is not a known front end")


def _network_front_end(kind: str, rest: str, bad: Callable[[str], ValueError]) -> FrontEndSpec:
    """``tcp:<host>:<port>[:cf32|cs16]`` or ``rtltcp:<host>:<port>`` parsed."""
    parts = rest.split(":")
    tcp = kind == "tcp"
    if len(parts) not in ((2, 3) if tcp else (2,)) or not parts[0]:
        raise bad("is not <host>:<port>" + ("[:cf32|cs16]" if tcp else ""))
    try:
        port = int(parts[1])
    except ValueError:
        raise bad(f"has port {parts[1]!r}, not a number") from None
    if not 1 <= port <= 65535:
        raise bad(f"has port {port}, not 1..65535")
    sample_format = parts[2] if len(parts) == 3 else "cf32"
    if sample_format not in ("cf32", "cs16"):
        raise bad(f"has sample format {sample_format!r}, not cf32 or cs16")
    return FrontEndSpec(kind, host=parts[0], port=port, sample_format=sample_format)


def open_front_end(
    spec: str, *, clock: Clock, fs_hz: float, center_hz: float, audio: bool = False
) -> Any:
    """The ``FrontEnd`` (groundstation.station.frontends) of a non-simulated
    ``spec``, at the receiver's rate ``fs_hz`` tuned to ``center_hz``;
    ``audio``: a replay may be of receiver audio."""
    fe = parse_front_end(spec)
    if fe.kind == "replay":
        from groundstation.station.frontends.replay import ReplayFrontEnd

        assert fe.path is not None
        return ReplayFrontEnd(fe.path, clock=clock, center_hz=center_hz, audio=audio)
    if fe.kind == "tcp":
        from groundstation.station.frontends.tcp import TcpFrontEnd

        return TcpFrontEnd(
            fe.host,
            fe.port,
            clock=clock,
            fs_hz=fs_hz,
            center_hz=center_hz,
            sample_format=fe.sample_format,
        )
    if fe.kind == "rtltcp":
        from groundstation.station.frontends.rtltcp import RtlTcpFrontEnd

        return RtlTcpFrontEnd(fe.host, fe.port, clock=clock, fs_hz=fs_hz, center_hz=center_hz)
    if fe.kind == "soapy":
        from groundstation.station.frontends.soapy import SoapyFrontEnd

        return SoapyFrontEnd(fe.device, clock=clock, fs_hz=fs_hz, center_hz=center_hz)
    raise ValueError(f"front end {spec!r} has no IQ source to open (the simulated one is built in)")


def replays_audio(spec: str) -> bool:
    """True when ``spec`` replays a recording of receiver audio (a mono WAV,
    as the amateur recordings are): its pass needs a receiver of audio. A
    recording that does not open is False here; opening it names the fault."""
    fe = parse_front_end(spec)
    if fe.kind != "replay" or fe.path is None:
        return False
    from groundstation.commands.dsp import guess_format, open_recording

    path = str(fe.path)
    try:
        recording = open_recording(
            argparse.Namespace(iq=path, format=guess_format(path), sample_rate=None)
        )
    except (GroundStationError, ValueError):
        return False
    return not recording.iq


def front_end_label(spec: str) -> str:
    """What the agent says of its IQ source (heartbeat, report, dataset)."""
    fe = parse_front_end(spec)
    if fe.kind == "simulated":
        return f"simulated: {SIMULATED_NOTE}"
    if fe.kind == "replay":
        return f"replay of the recording {fe.path} (not live from an antenna)"
    if fe.kind == "soapy":
        return f"live IQ from the SoapySDR device {fe.device!r}"
    if fe.kind == "rtltcp":
        return f"live IQ from the rtl_tcp server at {fe.host}:{fe.port}"
    return f"live IQ ({fe.sample_format}) streamed over TCP from {fe.host}:{fe.port}"


def source_note(spec: str) -> str:
    """How the IQ of front end ``spec`` came about when not live from an
    antenna (the dataset's and the log's "simulated"); "" when live."""
    fe = parse_front_end(spec)
    if fe.kind == "simulated":
        return SIMULATED_NOTE
    if fe.kind == "replay":
        return front_end_label(spec)
    return ""


def check_front_end(spec: str) -> str:
    """``spec`` if the agent knows it; else ValueError naming it."""
    parse_front_end(spec)
    return spec


# ------------------------------------------------------------------ one pass


class PassStop:
    """Ends one pass early: the contact stopped over the API (``reason``,
    read with the schedule), the agent stopping (no reason: its own
    ``stop`` event says so), or the contact gone from the schedule before
    its pass began (``dropped``)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self.dropped = False

    def request(self, reason: str) -> None:
        if not self.event.is_set():
            self.reason = reason
            self.event.set()

    def drop(self) -> None:
        self.dropped = True
        self.event.set()

    @property
    def requested(self) -> bool:
        """Stopped on request (over the API), not by the agent's own stop."""
        return self.event.is_set() and bool(self.reason)


class PassStoppedError(ContactExecutionError):
    """The pass was stopped on request before a frame was decoded."""


@dataclass
class PassOutcome:
    contact_id: str
    ok: bool
    reason: str
    frames_total: int
    frames_ok: int
    summary: dict[str, Any] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "frames_total": self.frames_total,
            "summary": self.summary,
        }


def station_from_document(doc: dict[str, Any]) -> Station:
    return Station(
        id=str(doc["id"]),
        name=str(doc.get("name", doc["id"])),
        lat_deg=float(doc["lat_deg"]),
        lon_deg=float(doc["lon_deg"]),
        alt_m=float(doc.get("alt_m", 0.0)),
        min_elevation_deg=0.0,
        horizon_mask=tuple((float(a), float(e)) for a, e in doc.get("horizon_mask") or ()),
    )


class PassRunner:
    """Works one pass at the station; see the module docstring.

    ``tracker_factory`` (optional) returns a callable that points the
    antenna along a ``orbital.track.Track`` until the pass ends (run in a
    thread) and returns its pointing summary.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        spool: Spool,
        front_end: str,
        software_version: str,
        stop: threading.Event,
        chunk_s: float = 1.0,
        samples_per_symbol: int = 4,
        tracker_factory: Callable[[dict[str, Any]], PointAlong | None] | None = None,
        halt: PassStop | None = None,
        iq_space: Callable[[Path], str | None] | None = None,
    ) -> None:
        self.clock = clock
        self.spool = spool
        # Why raw IQ must not be recorded into the spool (its file system
        # below the disk watermark), or None: ``housekeeping.check_raw_iq_space``.
        self.iq_space = iq_space
        self.front_end = check_front_end(front_end)
        self.software_version = software_version
        self.stop = stop
        self.chunk_s = chunk_s
        self.sps = samples_per_symbol
        self.tracker_factory = tracker_factory
        # This pass's stop; the agent's ``stop`` sets it too (StationAgent.stop).
        self.halt = halt or PassStop()
        self._audio = False  # the replay is of receiver audio (``replays_audio``)

    def _halted(self) -> bool:
        return self.stop.is_set() or self.halt.event.is_set()

    def run(self, doc: dict[str, Any]) -> PassOutcome:
        run = run_from_document(doc["run"])
        station = station_from_document(doc["station"])
        self.spool.start(
            run.contact_id, {"aos": iso_utc(run.aos), "los": iso_utc(run.los), "doc": doc}
        )
        summary: dict[str, Any] = {
            "front_end": front_end_label(self.front_end),
            "simulated": source_note(self.front_end),
            "software_version": self.software_version,
            "agent_station": station.id,
        }
        counts = {"total": 0, "ok": 0}
        try:
            self._work(run, station, doc, summary, counts)
        except PassStoppedError as exc:
            summary[STOPPED] = self.halt.reason
            return PassOutcome(
                run.contact_id, False, str(exc), counts["total"], counts["ok"], summary
            )
        except ContactExecutionError as exc:
            return PassOutcome(
                run.contact_id, False, str(exc), counts["total"], counts["ok"], summary
            )
        except Exception as exc:  # a broken part fails this pass only
            log.exception("pass %s failed", run.contact_id)
            reason = f"station agent error: {type(exc).__name__}: {exc}"
            return PassOutcome(
                run.contact_id, False, reason, counts["total"], counts["ok"], summary
            )
        return PassOutcome(run.contact_id, True, "", counts["total"], counts["ok"], summary)

    def _work(
        self,
        run: ContactRun,
        station: Station,
        doc: dict[str, Any],
        summary: dict[str, Any],
        counts: dict[str, int],
    ) -> None:
        if run.problems:
            raise ContactExecutionError(
                "the pass cannot be worked with these stored settings: " + "; ".join(run.problems)
            )
        pointing, (link, downlink, receiver) = self._point_then_chain(run, station, doc)
        summary["frame_length"] = link.frame_length
        summary["framing"] = link.framing
        fs_hz = downlink.fs_hz
        looks = PassLooks.start(run, link, fs_hz, downlink.total_samples, receiver)
        try:
            position = self._receive(run, link, downlink, receiver, looks, summary, counts)
        finally:
            if pointing is not None:
                # The antenna follows the whole pass and parks, even when the
                # IQ ended first (a recording shorter than the pass).
                summary["pointing"] = pointing.finish(timeout_s=self._wall_s_until(run.los) + 60.0)
        summary["samples"] = position
        esn0_db = float(receiver.esn0_db())
        # None, not NaN, when nothing was decoded: the report is sent as JSON.
        summary["esn0_db"] = esn0_db if np.isfinite(esn0_db) else None
        self._note_stop(summary, counts)
        if counts["ok"] == 0:
            raise ContactExecutionError(
                f"no frame decoded at the station: {counts['total']} frames out of the "
                f"receiver, estimated Es/N0 {esn0_db:.1f} dB"
            )
        outputs = PassOutputs.of(
            receiver,
            looks,
            link,
            # a recording's frames were not sent by this simulation
            frames_expected=downlink.n_frames if self.front_end == "simulated" else None,
            swath=downlink.swath,
        )
        summary[PASS_OUTPUTS] = outputs.to_document()

    def _receive(
        self,
        run: ContactRun,
        link: Any,
        downlink: Any,
        receiver: Any,
        looks: PassLooks,
        summary: dict[str, Any],
        counts: dict[str, int],
    ) -> int:
        """The pass's IQ through the receiver into the spool (its frames, and
        its SigMF recording when the profile records IQ); the number of
        samples received."""
        fs_hz = downlink.fs_hz
        chunk = max(int(round(self.chunk_s * fs_hz)), 1)
        position = 0
        seq = 0
        recording = self._recording(run, link, fs_hz, downlink.total_samples, summary)
        spool = functools.partial(
            self._spool,
            run,
            counts=counts,
            recording=recording,
            frame_samples=downlink.frame_samples,
        )
        try:
            for samples in self._iq(run, downlink.chunks(chunk), fs_hz):
                if recording is not None:
                    recording.write(samples, position)
                looks.waterfall.process(samples)
                position += samples.size
                seq = spool(receiver.process(samples), seq)
            spool(receiver.flush(), seq)
        finally:
            if recording is not None:
                recording.sigmf.close()
                summary[RAW_IQ] = self._raw_iq(recording)
        return position

    def _recording(
        self,
        run: ContactRun,
        link: Any,
        fs_hz: float,
        total_samples: int,
        summary: dict[str, Any],
    ) -> IqRecording | None:
        """The pass's SigMF recording into the spool when the profile's
        ``dataset_options.record_iq`` is set (the in-process window rule
        and annotations, ``IqRecording``); None when it is not, or when the
        front end replays receiver audio (no IQ to record: said in the
        summary), or when the spool's file system is below the disk
        watermark (``iq_space``: the pass runs and decodes, the summary and
        a WARNING say why)."""
        if not run.dataset_options.record_iq:
            return None
        if self._audio:
            summary[RAW_IQ] = {
                "recorded": False,
                "note": "raw IQ not recorded: the front end replays receiver audio, not IQ",
            }
            return None
        why = self.iq_space(self.spool.root) if self.iq_space is not None else None
        if why:
            log.warning("pass %s: %s", run.contact_id, why)
            summary[RAW_IQ] = {"recorded": False, "note": why}
            return None
        base = self.spool.iq_base(run.contact_id)
        return IqRecording.open(
            functools.partial(SigMFWriter, base),
            run,
            link,
            fs_hz,
            total_samples,
            note=source_note(self.front_end),
            station_agent=self.software_version,
        )

    def _raw_iq(self, recording: IqRecording) -> dict[str, Any]:
        """What the summary says of the pass's recording: where it is kept
        at the station (publishing at the edge puts it into the dataset and
        says so, ``EdgePublishing``)."""
        files = [recording.sigmf.data_path, recording.sigmf.meta_path]
        where = recording.sigmf.data_path.parent
        return {
            "recorded": True,
            "files": [f.name for f in files],
            "samples": recording.sigmf.n_samples,
            "pass_sample_start": recording.start,
            "sample_rate_hz": recording.sigmf.sample_rate_hz,
            "kept_at": str(where),
            "in_dataset": False,
            "note": (
                f"raw IQ kept at the station at {where} until GS_AGENT_SPOOL_RETENTION_H "
                "after the report is delivered, then removed"
            ),
        }

    def _point_then_chain(
        self, run: ContactRun, station: Station, doc: dict[str, Any]
    ) -> tuple[PointAlong | None, tuple[Any, Any, Any]]:
        """The antenna sets off for AOS (``contact_track``), then the
        receiver chain is built: on a busy machine building it took longer
        than the pre-positioning margin. A chain that cannot be built
        cancels the pointing (the rotator parks)."""
        pointing = self._start_pointing(doc, contact_track(run, station))
        try:
            return pointing, self._chain(run, station)
        except BaseException:
            if pointing is not None:
                pointing.cancel()
                pointing.finish(timeout_s=30.0)
            raise

    def _chain(self, run: ContactRun, station: Station) -> tuple[Any, Any, Any]:
        """The pass's link, simulated downlink and receiver (one of receiver
        audio for a replay of such a recording, ``replays_audio``)."""
        if run.framing_profile != CATALOGUE_FRAMING:
            return ccsds_pass(run, station, LinkModel(), self.sps)
        self._audio = replays_audio(self.front_end)
        return catalogue_pass(run, station, LinkModel(), iq=not self._audio)

    def _note_stop(self, summary: dict[str, Any], counts: dict[str, int]) -> None:
        """A pass stopped over the API keeps what it received (as in-process):
        the summary says when and why; ``PassStoppedError`` when nothing was."""
        if not self.halt.requested or self.stop.is_set():
            return
        summary[STOPPED] = self.halt.reason
        summary["stopped_at"] = iso_utc(self.clock.now())
        if counts["ok"] == 0:
            raise PassStoppedError(
                f"{self.halt.reason}; no frame was decoded before the stop "
                f"({counts['total']} frames out of the receiver)"
            )

    def _iq(
        self, run: ContactRun, simulated: Iterator[NDArray[np.complex64]], fs_hz: float
    ) -> Iterator[NDArray[np.complex64]]:
        """The pass's IQ paced by the clock (a chunk is handed on when the
        clock reaches the time of its last sample)."""
        if self.front_end != "simulated":
            yield from self._replay(run, fs_hz)
            return
        position = 0
        for samples in simulated:
            position += samples.size
            if not self._wait_until(run.aos + timedelta(seconds=position / fs_hz)):
                return  # stopped on request
            yield samples

    def _replay(self, run: ContactRun, fs_hz: float) -> Iterator[NDArray[np.complex64]]:
        """The pass's IQ from the front end (a recording, a TCP stream, an
        SDR) from AOS until LOS, the end of the source or the agent's stop.
        A live source that does not answer is tried again until LOS."""
        if not self._wait_until(run.aos):
            return
        try:
            source = open_front_end(
                self.front_end,
                clock=self.clock,
                fs_hz=fs_hz,
                center_hz=run.downlink_freq_hz,
                audio=self._audio,
            )
        except (GroundStationError, ValueError) as exc:
            raise ContactExecutionError(f"front end {self.front_end!r}: {exc}") from exc
        if source.recorded and abs(source.sample_rate_hz - fs_hz) > 1e-6 * fs_hz:
            raise ContactExecutionError(
                f"recording {source.path} is at {source.sample_rate_hz:g} Hz; the receiver of "
                f"this satellite's downlink takes {fs_hz:g} Hz"
            )
        if not self._start_source(source, run):
            return  # stopped on request while the source did not answer
        try:
            end = run.los
            for chunk in source.chunks(max(int(round(self.chunk_s * fs_hz)), 1)):
                if self._halted() or self.clock.now() > end:
                    break
                yield chunk.samples
        except HardwareError as exc:
            raise ContactExecutionError(f"front end {self.front_end!r}: {exc}") from exc
        finally:
            source.stop()

    def _start_source(self, source: Any, run: ContactRun) -> bool:
        """``source.start()``; a live source that refuses is tried again
        every half second until LOS (the SDR software may start late) or
        the pass is stopped on request (False)."""
        while True:
            try:
                source.start()
                return True
            except HardwareConnectionError as exc:
                if self.halt.requested and not self.stop.is_set():
                    return False
                if source.recorded or self._halted() or self.clock.now() >= run.los:
                    raise ContactExecutionError(f"front end {self.front_end!r}: {exc}") from exc
                log.warning("pass %s: %s; trying again", run.contact_id, exc)
                self.halt.event.wait(0.5)
            except HardwareError as exc:
                raise ContactExecutionError(f"front end {self.front_end!r}: {exc}") from exc

    def _wall_s_until(self, t: datetime) -> float:
        """Wall seconds until service time ``t`` (0 when past)."""
        return max((self.clock.to_real(t) - datetime.now(t.tzinfo)).total_seconds(), 0.0)

    def _wait_until(self, t: datetime) -> bool:
        """Wait for service time ``t``: True when reached, False when the
        pass was stopped on request first; raises when the agent stops."""
        wall_s = (self.clock.to_real(t) - datetime.now(t.tzinfo)).total_seconds()
        if wall_s > 0:
            self.halt.event.wait(wall_s)
        if self.stop.is_set():
            raise ContactExecutionError("station agent stopped during the pass")
        return not self.halt.event.is_set()

    def _spool(
        self,
        run: ContactRun,
        results: list[Any],
        seq: int,
        *,
        counts: dict[str, int],
        recording: IqRecording | None = None,
        frame_samples: int = 0,
    ) -> int:
        frames = []
        for r in results:
            seq += 1
            meta = frame_meta(run, r, seq)
            if recording is not None:
                recording.annotate(r.sample, frame_samples, r, seq)
            headers = {n: v.decode() for n, v in meta.headers() if n != meta.SCHEMA_FIELD}
            frames.append(
                {
                    "sequence": seq,
                    "frame_time": iso_utc(meta.frame_time),
                    "data": base64.b64encode(r.frame).decode(),
                    "meta": headers,
                    "quality": {
                        "ok": bool(r.ok),
                        "esn0_db": float(r.esn0_db) if np.isfinite(r.esn0_db) else None,
                    },
                }
            )
            counts["total"] += 1
            counts["ok"] += int(bool(r.ok))
        self.spool.add_frames(run.contact_id, frames)
        return seq

    def _start_pointing(self, doc: dict[str, Any], track: Any) -> PointAlong | None:
        if self.tracker_factory is None:
            return None
        pointing = self.tracker_factory(doc)
        if pointing is not None:
            pointing.start(track, self.halt.event)
        return pointing


class _EitherSet(threading.Event):
    """Set when ``own`` or ``other`` is: the tracker's stop (it polls
    ``is_set``), for a pass halted or its pointing cancelled."""

    def __init__(self, own: threading.Event, other: threading.Event) -> None:
        super().__init__()
        self.own, self.other = own, other

    def is_set(self) -> bool:
        return self.own.is_set() or self.other.is_set()


class PointAlong:
    """Points a rotator along a pass in a thread (``groundstation.station.tracker``)
    and summarises how closely it followed."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        clock: Clock,
        antenna: dict[str, Any],
        update_s: float = 1.0,
    ) -> None:
        self.host, self.port, self.clock, self.antenna = host, port, clock, antenna
        self.update_s = update_s
        self._thread: threading.Thread | None = None
        self._result: dict[str, Any] = {}
        self._cancel = threading.Event()

    def start(self, track: Any, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self._track,
            args=(track, _EitherSet(self._cancel, stop)),
            name="agent-tracker",
            daemon=True,
        )
        self._thread.start()

    def cancel(self) -> None:
        """End the tracking early (the pass could not be worked): the rotator parks."""
        self._cancel.set()

    def _track(self, track: Any, stop: threading.Event) -> None:
        from groundstation.station.pointing import RotatorConfig, plan_pointing
        from groundstation.station.rotator import Rotator
        from groundstation.station.tracker import Tracker

        try:
            with Rotator(self.host, self.port) as rotator:
                config = RotatorConfig.for_rotator(
                    rotator.limits(),
                    max_az_slew_deg_s=float(self.antenna.get("max_az_slew_deg_s", 10.0)),
                    max_el_slew_deg_s=float(self.antenna.get("max_el_slew_deg_s", 10.0)),
                    update_s=self.update_s,
                )
                plan = plan_pointing(track, config, current=rotator.position())
                report = Tracker(rotator, config, self.clock).track(plan, stop=stop)
            az = [abs(s.expected.azimuth_deg - s.reported.azimuth_deg) for s in report.samples]
            el = [abs(s.expected.elevation_deg - s.reported.elevation_deg) for s in report.samples]
            self._result = {
                "rotctld": f"{self.host}:{self.port}",
                "samples": len(report.samples),
                # the position read at each tick (before its command) vs the plan then
                "max_az_error_deg": max(az, default=0.0),
                "max_el_error_deg": max(el, default=0.0),
                "p95_az_error_deg": float(np.percentile(az, 95)) if az else 0.0,
                "p95_el_error_deg": float(np.percentile(el, 95)) if el else 0.0,
                "preposition_late_s": report.preposition_late_s,
                "flipped": plan.flipped,
                "errors": report.errors[:10],
            }
        except Exception as exc:
            log.exception("antenna control failed")
            self._result = {"rotctld": f"{self.host}:{self.port}", "error": str(exc)}

    def finish(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """The summary once the tracker has parked (empty if it has not
        within ``timeout_s`` wall seconds)."""
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        return dict(self._result)


# ------------------------------------------------------------------ the agent


class StationAgent:
    """The agent's loops: heartbeat, schedule, passes, uploads (module docstring)."""

    def __init__(
        self,
        *,
        client: CentralClient,
        clock: Clock,
        spool: Spool,
        front_end: str,
        software_version: str,
        heartbeat_s: float = 5.0,
        poll_s: float = 5.0,
        rotctld: str = "",
        disk_path: Path | None = None,
        edge: EdgePublishing | None = None,
        spool_retention_s: float = 24 * 3600.0,
        iq_space: Callable[[Path], str | None] | None = None,
    ) -> None:
        self.client = client
        # Seconds a delivered contact's spool directory is kept (``prune``).
        self.spool_retention_s = spool_retention_s
        self.iq_space = iq_space
        self.edge = edge
        self.clock = clock
        self.spool = spool
        self.front_end = check_front_end(front_end)
        self.software_version = software_version
        self.heartbeat_s = heartbeat_s
        self.poll_s = poll_s
        self.rotctld = rotctld
        self.disk_path = disk_path or spool.root
        self.stop_event = threading.Event()
        self._wake_uploads = threading.Event()
        self._passes: dict[str, threading.Thread] = {}
        self._halts: dict[str, PassStop] = {}
        self._lock = threading.Lock()
        self.outcomes: dict[str, PassOutcome] = {}
        self.central_online = False

    # -------------------------------------------------------- loops

    def run(self) -> None:
        """Until :meth:`stop`: heartbeats, schedule, passes and uploads."""
        self.recover()
        threads = [
            threading.Thread(
                target=self._loop, args=(self.heartbeat, self.heartbeat_s), daemon=True
            ),
            threading.Thread(target=self._loop, args=(self.sync, self.poll_s), daemon=True),
            threading.Thread(target=self._upload_loop, daemon=True),
        ]
        for t in threads:
            t.start()
        self.stop_event.wait()
        for t in threads:
            t.join(timeout=10.0)
        with self._lock:
            passes = list(self._passes.values())
        for t in passes:
            t.join(timeout=30.0)
        self.flush()

    def stop(self) -> None:
        self.stop_event.set()
        with self._lock:
            halts = list(self._halts.values())
        for halt in halts:
            halt.event.set()
        self._wake_uploads.set()

    def _loop(self, step: Callable[[], None], interval_s: float) -> None:
        while not self.stop_event.is_set():
            try:
                step()
            except CentralUnavailableError as exc:
                if self.central_online:
                    log.warning("central service unavailable: %s", exc)
                self.central_online = False
            except Exception:
                log.exception("agent step %s failed", getattr(step, "__name__", step))
            self.stop_event.wait(interval_s)

    def _upload_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.flush()
            except Exception:
                log.exception("upload failed")
            try:
                self.prune()
            except Exception:
                log.exception("spool pruning failed")
            self._wake_uploads.wait(1.0)
            self._wake_uploads.clear()

    # -------------------------------------------------------- steps

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spool_frames": self.spool.depth_frames()}
        with contextlib.suppress(OSError):
            out["disk_free_bytes"] = shutil.disk_usage(self.disk_path).free
        with self._lock:
            out["passes_running"] = sorted(c for c, t in self._passes.items() if t.is_alive())
        if self.rotctld:
            out["rotator"] = self._rotator_position()
        return out

    def _rotator_position(self) -> dict[str, Any]:
        from groundstation.station.rotator import Rotator

        host, port = _host_port(self.rotctld)
        try:
            with Rotator(host, port) as rotator:
                pos = rotator.position()
                read_at = self.clock.now()
            return {
                "azimuth_deg": pos.azimuth_deg,
                "elevation_deg": pos.elevation_deg,
                # service time of the reading, to the microsecond: the rotator
                # moves degrees a second, and whole seconds put it up to 1 s early
                "read_at": utc_iso(read_at),
            }
        except Exception as exc:
            return {"error": str(exc)}

    def heartbeat(self) -> None:
        self.client.heartbeat(
            software_version=self.software_version,
            front_end=front_end_label(self.front_end),
            status=self.status(),
        )
        if not self.central_online:
            log.info("central service reached: heartbeat accepted")
        self.central_online = True

    def sync(self) -> None:
        """Read the schedule; start a thread for each contact not yet started
        here; stop the passes of contacts stopped over the API (their
        ``stop_reason``), and drop those gone from it before their pass."""
        docs = self.client.contacts()
        listed = set()
        for doc in docs:
            contact_id = str(doc["run"]["contact_id"])
            listed.add(contact_id)
            stop_reason = str(doc.get("stop_reason") or "")
            with self._lock:
                if contact_id in self._passes or self.spool.started(contact_id):
                    halt = self._halts.get(contact_id)
                    if stop_reason and halt is not None and not halt.event.is_set():
                        log.info("pass %s: stop requested: %s", contact_id, stop_reason)
                        halt.request(stop_reason)
                    continue
                halt = PassStop()
                if stop_reason:
                    halt.request(stop_reason)  # the runner reports it stopped at once
                thread = threading.Thread(
                    target=self._work,
                    args=(doc, halt),
                    name=f"agent-pass-{contact_id[:8]}",
                    daemon=True,
                )
                self._passes[contact_id] = thread
                self._halts[contact_id] = halt
            thread.start()
        with self._lock:
            for contact_id, halt in self._halts.items():
                if contact_id not in listed and not self.spool.started(contact_id):
                    halt.drop()  # cancelled (or moved away) before its pass

    def _work(self, doc: dict[str, Any], halt: PassStop | None = None) -> None:
        run = run_from_document(doc["run"])
        halt = halt or PassStop()
        # Start early enough for the antenna to pre-position; the runner waits for AOS.
        lead = timedelta(seconds=60.0 if self.rotctld else 0.0)
        wall_s = (self.clock.to_real(run.aos - lead) - datetime.now(run.aos.tzinfo)).total_seconds()
        if wall_s > 0:
            halt.event.wait(wall_s)
        if self.stop_event.is_set() or halt.dropped:
            with self._lock:
                self._passes.pop(run.contact_id, None)
                self._halts.pop(run.contact_id, None)
            if halt.dropped:
                log.info("pass %s: no longer scheduled here; not worked", run.contact_id)
            return
        label = front_end_label(self.front_end)
        log.info("pass %s of %s: starting (%s)", run.contact_id, run.satellite_name, label)
        runner = PassRunner(
            clock=self.clock,
            spool=self.spool,
            front_end=self.front_end,
            software_version=self.software_version,
            stop=self.stop_event,
            tracker_factory=self._pointing if self.rotctld else None,
            halt=halt,
            iq_space=self.iq_space,
        )
        outcome = runner.run(doc)
        self.spool.put_report(run.contact_id, outcome.report())
        self.outcomes[run.contact_id] = outcome
        log.info(
            "pass %s: %s, %d frames (%d good)%s",
            run.contact_id,
            "completed" if outcome.ok else "FAILED",
            outcome.frames_total,
            outcome.frames_ok,
            f": {outcome.reason}" if outcome.reason else "",
        )
        self._wake_uploads.set()

    def _pointing(self, doc: dict[str, Any]) -> PointAlong:
        host, port = _host_port(self.rotctld)
        return PointAlong(host=host, port=port, clock=self.clock, antenna=dict(doc["antenna"]))

    def recover(self) -> None:
        """A pass started before a restart and never reported: FAILED with why."""
        for contact_id in self.spool.pending():
            if self.spool.started(contact_id) and self.spool.report(contact_id) is None:
                frames = self.spool.frames(contact_id)
                self.spool.put_report(
                    contact_id,
                    {
                        "ok": False,
                        "reason": "station agent stopped during the pass (restarted at "
                        f"{iso_utc(self.clock.now())})",
                        "frames_total": len(frames),
                        "summary": {"front_end": front_end_label(self.front_end)},
                    },
                )

    def flush(self) -> int:
        """Send what the central service does not have yet; returns frames sent.
        Stops at the first contact the central service cannot be reached for."""
        sent = 0
        for contact_id in self.spool.pending():
            try:
                sent += self._flush_contact(contact_id)
            except CentralUnavailableError as exc:
                log.debug("upload of %s deferred: %s", contact_id, exc)
                break
            except CentralRefusedError as exc:
                log.error("central service refused the uploads of %s: %s", contact_id, exc)
                self.spool.mark_done(contact_id)
        return sent

    def prune(self, *, now_s: float | None = None) -> list[Pruned]:
        """Remove the spool directories of contacts the central service has
        had the report of for longer than ``spool_retention_s`` (frames,
        report, edge dataset document, raw IQ); never one not yet delivered,
        nor one whose pass is still running here. One log line per contact."""
        with self._lock:
            running = {c for c, t in self._passes.items() if t.is_alive()}
        removed = self.spool.prune(
            retention_s=self.spool_retention_s,
            now_s=time.time() if now_s is None else now_s,
            keep=running,
        )
        for gone in removed:
            log.info(
                "spool: removed contact %s (delivered %.1f h ago, retention %.1f h): %.1f MB freed",
                gone.contact_id,
                gone.done_age_s / 3600.0,
                self.spool_retention_s / 3600.0,
                gone.size_bytes / 1e6,
            )
        return removed

    def _flush_contact(self, contact_id: str) -> int:
        # The report is read before the frames: a pass spools its last frames
        # before its report, so the frames read after seeing the report are
        # all of them (read the other way round, frames spooled between the
        # two reads were never uploaded, and the report went out without them).
        report = self.spool.report(contact_id)
        if self.edge is not None:
            sent = self.edge.publish_frames(contact_id, self.spool)
            sendable = None if report is None else self.edge.report(contact_id, self.spool, report)
            if sendable is not None:
                self.client.report(contact_id, sendable)
                self.spool.mark_done(contact_id)
            return sent
        frames = self.spool.frames(contact_id)
        acked = self.spool.acked(contact_id)
        todo = [f for f in frames if int(f["sequence"]) > acked]
        for i in range(0, len(todo), UPLOAD_BATCH):
            batch = todo[i : i + UPLOAD_BATCH]
            self.client.upload_frames(contact_id, batch)
            self.spool.set_acked(contact_id, int(batch[-1]["sequence"]))
        if report is not None:
            self.client.report(contact_id, report)
            self.spool.mark_done(contact_id)
        return len(todo)


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"rotctld {text!r} is not host:port (GS_AGENT_ROTCTLD)")
    return host, int(port)


def wait_for(predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.1) -> bool:
    """Poll ``predicate`` until true or ``timeout_s`` (tests and the CLI)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
