"""The dataset of one pass, written the same way whoever worked it (issue 13).

A pass worked in-process (``groundstation.downlink``) and one worked by a
station agent (``groundstation.agent_executor`` builds its dataset from what
the agent uploaded) leave the same files and fields:

- ``frames.h5`` (:func:`open_frames_h5`): the contact attributes, the
  predicted track, and per frame (:meth:`PassRecord.add`) the bytes, the
  metadata published, good/failed, the receiver's and the link budget's
  Es/N0 and the predicted Doppler;
- the products (:func:`write_products`): the image and ``bands.h5`` (when
  the satellite has the imaging payload), ``receiver.json``, the
  quick-looks (waterfall, Es/N0 and frequency, constellation) and the
  georeferenced products.

What the receiver leaves for the products besides the frames is a
:class:`PassOutputs`; an agent sends it in its report
(:meth:`PassOutputs.to_document`), compact enough for one request.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session, sessionmaker

from dsp.quicklook import SymbolSnapshot, Waterfall
from groundstation.dataset_placement import place_dataset
from groundstation.executor import ContactExecutionError, ContactRun
from groundstation.profile_settings import CATALOGUE_FRAMING
from groundstation.tenant_buckets import DatasetStores
from ingest.bands import row_times_unix_s, write_bands_h5
from ingest.catalog import CatalogService
from ingest.dataset import DatasetWriter, ProductFolder
from ingest.geoproducts import SwathGeometry, add_georeferenced_products
from ingest.h5frames import ContactAttrs, FramesH5Writer
from ingest.imagery import rebuild_image
from ingest.publisher import Publisher
from ingest.quicklook import PassSeries, write_constellation, write_esn0_frequency, write_waterfall
from ingest.topics import FrameMeta
from orbital.stations import Station
from orbital.track import Track

#: The key of an agent's report summary holding its ``PassOutputs`` document.
PASS_OUTPUTS = "pass_outputs"

#: Symbols of the constellation quick-look (around TCA).
QUICKLOOK_SYMBOLS = 4000


@dataclass(frozen=True)
class PassLink:
    """One pass as the simulator and the receiver see it: the framing (its
    name, frame length, samples per symbol), the link budget, the track (1-s
    steps from AOS) and along it the Doppler shift, Eb/N0 and Es/N0 (dB),
    each of shape ``(n_times,)``."""

    framing: str
    frame_length: int
    samples_per_symbol: float
    model: Any  # groundstation.downlink.LinkModel
    station: Station
    track: Track
    duration_s: float
    doppler_hz: NDArray[np.float64]
    ebn0_db: NDArray[np.float64]
    esn0_db: NDArray[np.float64]


# ------------------------------------------------------------------ the writer


def pass_dataset_writer(
    run: ContactRun,
    *,
    stores: DatasetStores,
    session_factory: sessionmaker[Session],
    catalog: CatalogService,
    staging_root: Path,
    publisher: Publisher,
    clock: Callable[[], datetime],
    stage_hook: Callable[[str], None] | None = None,
) -> DatasetWriter:
    """The contact's dataset writer (``ds-<contact id>``), in its tenant's
    bucket with the profile's key layout (``groundstation.dataset_placement``)."""
    info, store = place_dataset(run, stores, session_factory)
    return DatasetWriter(
        info=info,
        store=store,
        catalog=catalog,
        staging_root=staging_root,
        publisher=publisher,
        clock=clock,
        stage_hook=stage_hook,
    )


@dataclass
class PassFrames:
    """What the products of a pass need of its frames (``PassRecord.frames``):
    the good ones, their times and the per-frame series; picklable, for a
    worker process."""

    link: PassLink
    total: int
    ok: list[bytes]
    ok_time_unix_s: list[float]
    series: PassSeries


@dataclass
class PassRecord:
    """``frames.h5`` of a pass being written, and what its products need of
    the frames: the good ones (and their times) and the per-frame series."""

    h5: FramesH5Writer
    link: PassLink
    total: int = 0
    failed: int = 0
    ok: list[bytes] = field(default_factory=list)
    ok_time_unix_s: list[float] = field(default_factory=list)
    series: PassSeries = field(default_factory=PassSeries)

    def add(
        self,
        frames: Sequence[bytes],
        metas: Sequence[FrameMeta],
        *,
        frame_ok: Sequence[bool],
        esn0_db: Sequence[float],
    ) -> None:
        """Append frames (as published) with good/failed and the receiver's
        Es/N0; the link's predicted Es/N0 and Doppler at each frame time."""
        link = self.link
        aos_s = link.track.times_utc[0].timestamp()
        time_unix_s = [m.frame_time.timestamp() for m in metas]
        t_s = np.asarray(time_unix_s, dtype=np.float64) - aos_s
        predicted = np.interp(t_s, link.track.t_s, link.esn0_db).tolist()
        self.h5.append_frames(
            frames,
            metas,
            frame_ok=list(frame_ok),
            esn0_db=list(esn0_db),
            esn0_predicted_db=predicted,
            doppler_hz=np.interp(t_s, link.track.t_s, link.doppler_hz).tolist(),
        )
        for frame, good, at in zip(frames, frame_ok, time_unix_s, strict=True):
            self.total += 1
            if good:
                self.ok.append(frame)
                self.ok_time_unix_s.append(at)
            else:
                self.failed += 1
        series = self.series
        series.frame_time_unix_s += time_unix_s
        series.frame_esn0_db += list(esn0_db)
        series.frame_esn0_predicted_db += predicted
        series.frame_ok += list(frame_ok)

    def frames(self) -> PassFrames:
        """What the products need of the frames recorded so far."""
        return PassFrames(self.link, self.total, self.ok, self.ok_time_unix_s, self.series)


def open_frames_h5(
    writer: DatasetWriter,
    run: ContactRun,
    link: PassLink,
    *,
    software_version: str,
    source_note: str,
    executed_by: str,
) -> PassRecord:
    """The dataset's ``frames.h5`` with its contact attributes and the
    predicted track. ``source_note``: how the IQ came about when it was not
    live from an antenna (simulated, a replayed recording; "" when live);
    ``executed_by``: who worked the pass."""
    h5 = writer.frames_h5(
        frame_length=link.frame_length,
        variable_length=run.framing_profile == CATALOGUE_FRAMING,
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
                "framing": link.framing,
                "mission_profile": run.profile_id,
                "downlink_freq_hz": run.downlink_freq_hz,
                "samples_per_symbol": link.samples_per_symbol,
                "link": link.model.__dict__,
                "executed_by": executed_by,
                "simulated": source_note,
            },
            software_version=software_version,
            simulated=source_note,
        ),
    )
    track = link.track
    h5.write_track(
        time_unix_s=run.aos.timestamp() + track.t_s,
        azimuth_deg=track.azimuth_deg,
        elevation_deg=track.elevation_deg,
        range_km=track.range_km,
        range_rate_km_s=track.range_rate_km_s,
    )
    return PassRecord(h5, link)


# ------------------------------------------------------------------ what the receiver leaves


class QuickLookReceiver(Protocol):
    """What the quick-looks take from a pass's receiver."""

    @property
    def image_fecf(self) -> bool | None: ...

    def summary(self) -> dict[str, Any]: ...

    def frequency_track(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

    def tap_symbols(self, snapshot: SymbolSnapshot) -> None: ...


@dataclass
class PassLooks:
    """What the quick-looks of a pass gather while it streams: the decimated
    waterfall of its IQ and a snapshot of the symbols near TCA."""

    waterfall: Waterfall
    symbols: SymbolSnapshot

    @classmethod
    def start(
        cls,
        run: ContactRun,
        link: PassLink,
        fs_hz: float,
        total_samples: int,
        receiver: QuickLookReceiver,
    ) -> PassLooks:
        tca_sample = (run.tca - run.aos).total_seconds() * fs_hz
        half = QUICKLOOK_SYMBOLS / 2 * link.samples_per_symbol
        snapshot = SymbolSnapshot(
            start_sample=tca_sample - half,
            stop_sample=tca_sample + half,
            max_symbols=QUICKLOOK_SYMBOLS,
        )
        receiver.tap_symbols(snapshot)
        return cls(Waterfall(fs_hz=fs_hz, n_samples=total_samples), snapshot)


@dataclass
class PassOutputs:
    """What a pass's receiver leaves for the products besides the frames."""

    receiver_summary: dict[str, Any]
    #: the imaging payload's frames carry a FECF (None: no imaging payload)
    image_fecf: bool | None
    #: frames the satellite sent (None: not known, e.g. a recording)
    frames_expected: int | None
    #: the imager's field of view (None: no imager)
    fov_deg: float | None
    samples_per_symbol: float
    waterfall: Waterfall
    symbols: NDArray[np.complex64]
    measured_t_s: NDArray[np.float64]
    measured_freq_hz: NDArray[np.float64]

    @classmethod
    def of(
        cls,
        receiver: QuickLookReceiver,
        looks: PassLooks,
        link: PassLink,
        *,
        frames_expected: int | None,
        swath: SwathGeometry | None,
    ) -> PassOutputs:
        looks.waterfall.finish()
        t_s, f_hz = receiver.frequency_track()
        return cls(
            receiver_summary=receiver.summary(),
            image_fecf=receiver.image_fecf,
            frames_expected=frames_expected,
            fov_deg=None if swath is None else swath.fov_deg,
            samples_per_symbol=link.samples_per_symbol,
            waterfall=looks.waterfall,
            symbols=looks.symbols.symbols,
            measured_t_s=np.asarray(t_s, dtype=np.float64),
            measured_freq_hz=np.asarray(f_hz, dtype=np.float64),
        )

    def swath(self, run: ContactRun) -> SwathGeometry | None:
        if self.fov_deg is None:
            return None
        return SwathGeometry(
            satellite=run.satellite_name,
            norad_id=run.norad_id,
            tle=run.ephemeris_text,
            fov_deg=self.fov_deg,
        )

    def to_document(self) -> dict[str, Any]:
        """JSON-ready and compact (the waterfall as 8-bit dB levels, as its
        colour map draws it; well under 1 MiB for any pass length)."""
        wf = self.waterfall
        return {
            "receiver_summary": _finite(self.receiver_summary),
            "image_fecf": self.image_fecf,
            "frames_expected": self.frames_expected,
            "fov_deg": self.fov_deg,
            "samples_per_symbol": self.samples_per_symbol,
            "waterfall": {
                "fs_hz": wf.fs_hz,
                "n_samples": wf.n_samples,
                "nfft": wf.nfft,
                **_levels(wf.power_db()),
            },
            "symbols": _packed(self.symbols.astype(np.complex64)),
            "measured_t_s": _packed(self.measured_t_s.astype(np.float32)),
            "measured_freq_hz": _packed(self.measured_freq_hz.astype(np.float32)),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> PassOutputs:
        """The outputs of an agent's report; ``ContactExecutionError`` naming
        what is missing or malformed."""
        try:
            wf_doc = doc["waterfall"]
            waterfall = Waterfall(
                fs_hz=float(wf_doc["fs_hz"]),
                n_samples=int(wf_doc["n_samples"]),
                nfft=int(wf_doc["nfft"]),
            )
            power_db = _unlevel(wf_doc, waterfall.power.shape)
            with np.errstate(over="ignore"):
                waterfall.power = np.power(10.0, power_db / 10.0).astype(np.float32)
            fecf = doc["image_fecf"]
            expected = doc["frames_expected"]
            fov = doc["fov_deg"]
            return cls(
                receiver_summary=dict(doc["receiver_summary"]),
                image_fecf=None if fecf is None else bool(fecf),
                frames_expected=None if expected is None else int(expected),
                fov_deg=None if fov is None else float(fov),
                samples_per_symbol=float(doc["samples_per_symbol"]),
                waterfall=waterfall,
                symbols=_unpacked(doc["symbols"], np.complex64),
                measured_t_s=_unpacked(doc["measured_t_s"], np.float32).astype(np.float64),
                measured_freq_hz=_unpacked(doc["measured_freq_hz"], np.float32).astype(np.float64),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContactExecutionError(
                f"the station agent's report has no valid pass outputs: {type(exc).__name__}: {exc}"
            ) from exc


#: Levels of the waterfall's dB values below its maximum (0.3 dB steps).
_WATERFALL_SPAN_DB = 76.5
_NO_SAMPLES = 255


def _levels(power_db: NDArray[np.float32]) -> dict[str, Any]:
    finite = np.isfinite(power_db)
    top = float(np.max(power_db[finite])) if finite.any() else 0.0
    step = _WATERFALL_SPAN_DB / (_NO_SAMPLES - 1)
    level = np.clip(np.round((top - np.where(finite, power_db, top)) / step), 0, _NO_SAMPLES - 1)
    out = level.astype(np.uint8)
    out[~finite] = _NO_SAMPLES
    return {"top_db": top, "step_db": step, "levels": _packed(out)}


def _unlevel(doc: dict[str, Any], shape: tuple[int, ...]) -> NDArray[np.float64]:
    levels = _unpacked(doc["levels"], np.uint8).reshape(shape)
    db = float(doc["top_db"]) - levels.astype(np.float64) * float(doc["step_db"])
    return np.where(levels == _NO_SAMPLES, np.nan, db)


def _packed(a: NDArray[Any]) -> str:
    return base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 6)).decode()


def _unpacked(text: str, dtype: Any) -> NDArray[Any]:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype).copy()


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinite floats as None (JSON has neither)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


# ------------------------------------------------------------------ the products


def write_products(
    writer: ProductFolder,
    run: ContactRun,
    record: PassFrames,
    outputs: PassOutputs,
    *,
    source_note: str,
) -> float | None:
    """The pass's products from its good frames and the receiver's outputs:
    the image, ``bands.h5`` and ``receiver.json``, the quick-looks and the
    georeferenced products. Returns the fraction of image rows received
    (None: no image could be rebuilt)."""
    image_rows = _image_and_summary(writer, record, outputs, source_note)
    _quicklooks(writer, run, record, outputs, source_note)
    add_georeferenced_products(writer, record.ok, outputs.swath(run), outputs.image_fecf)
    return image_rows


def _image_and_summary(
    writer: ProductFolder, record: PassFrames, outputs: PassOutputs, source_note: str
) -> float | None:
    """The image rebuilt from the good frames (PNG and ``bands.h5``; when
    the satellite has the imaging payload) and the receiver's summary
    (``receiver.json``)."""
    fecf = outputs.image_fecf
    rebuilt = None if fecf is None else rebuild_image(record.ok, fecf=fecf)
    image_rows = None
    if rebuilt is not None and fecf is not None:
        writer.add_image_products(rebuilt.rgb(), name="image")
        write_bands_h5(
            writer.product_path("bands.h5"),
            rebuilt.image,
            rebuilt.received,
            row_time_unix_s=row_times_unix_s(
                record.ok, record.ok_time_unix_s, rebuilt.image.shape[0], fecf=fecf
            ),
            simulated=source_note,
        )
        image_rows = rebuilt.fraction_received
    writer.add_product_bytes(
        "receiver.json",
        json.dumps(
            {
                "frames_expected": outputs.frames_expected,
                "frames_published": record.total,
                "simulated": source_note,
                **outputs.receiver_summary,
            },
            indent=2,
        ).encode(),
    )
    return image_rows


def _quicklooks(
    writer: ProductFolder,
    run: ContactRun,
    record: PassFrames,
    outputs: PassOutputs,
    source_note: str,
) -> None:
    """The pass's quick-looks (``ingest.quicklook``) into ``products/quicklook/``."""
    link = record.link
    folder = writer.product_folder("quicklook")
    aos_s = run.aos.timestamp()
    series = record.series
    series.track_time_unix_s = aos_s + link.track.t_s
    series.track_doppler_hz = np.asarray(link.doppler_hz, dtype=np.float64)
    series.measured_time_unix_s = aos_s + outputs.measured_t_s
    series.measured_freq_hz = outputs.measured_freq_hz
    title = f"{run.satellite_name} (NORAD {run.norad_id}) over {run.station_id}/{run.antenna_id}"
    catalogue = run.framing_profile == CATALOGUE_FRAMING
    write_waterfall(
        folder / "waterfall.png",
        outputs.waterfall,
        start_unix_s=aos_s,
        series=series,
        title=f"{title}: waterfall",
        simulated=source_note,
        # catalogue passes: the front end tunes the predicted Doppler out
        overlay_doppler=not catalogue,
    )
    write_esn0_frequency(
        folder / "esn0_frequency.png",
        series,
        title=f"{title}: Es/N0, frequency",
        simulated=source_note,
        doppler_label="predicted Doppler (tuned out by the front end)"
        if catalogue
        else "predicted Doppler",
    )
    if outputs.symbols.size:
        write_constellation(
            folder / "constellation.png",
            outputs.symbols,
            title=f"{title}: constellation",
            simulated=source_note,
        )
