"""Raw IQ as a SigMF recording (``.sigmf-data`` + ``.sigmf-meta``).

Samples are streamed to the data file as they arrive (memory use does not grow
with the pass length); the SHA-512 of the data file is computed on the way
(SigMF's ``core:sha512``) and the metadata is written when the writer closes.

The metadata declares every extension namespace its keys use in
``core:extensions`` (``groundstation``: this service's fields), gives the
station as ``core:geolocation`` (a GeoJSON point, longitude first) and the
receiving equipment as ``core:hw``, and annotations carry structured fields
(``groundstation:sequence``, ``groundstation:frame_ok``, ...) instead of free text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ingest.errors import DatasetError
from ingest.topics import utc_iso

SIGMF_VERSION = "1.0.0"
_DATATYPES = {"cf32_le": np.dtype("<c8"), "ci16_le": np.dtype("<i2")}


#: This service's SigMF extension namespace (declared in ``core:extensions``).
EXTENSION = "groundstation"
EXTENSION_VERSION = "1.0.0"


@dataclass(frozen=True, slots=True)
class Annotation:
    """A span of samples: a short ``label`` and structured ``fields``
    (namespaced SigMF keys, e.g. ``groundstation:sequence``)."""

    sample_start: int
    sample_count: int
    label: str
    comment: str = ""
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Geolocation:
    """Where the recording was made (WGS-84): SigMF's ``core:geolocation``."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    def geojson(self) -> dict[str, Any]:
        return {"type": "Point", "coordinates": [self.lon_deg, self.lat_deg, self.alt_m]}


def declared_extensions(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """``core:extensions`` for every non-core namespace the keys of ``metadata`` use."""
    names: set[str] = set()
    for section in (metadata["global"], *metadata["captures"], *metadata["annotations"]):
        names.update(k.split(":", 1)[0] for k in section if ":" in k)
    names.discard("core")
    return [
        {"name": n, "version": EXTENSION_VERSION if n == EXTENSION else "1.0.0", "optional": True}
        for n in sorted(names)
    ]


class SigMFWriter:
    """Writes ``<base>.sigmf-data`` incrementally and ``<base>.sigmf-meta`` at close."""

    def __init__(
        self,
        base: Path,
        *,
        sample_rate_hz: float,
        center_freq_hz: float,
        capture_start: datetime,
        datatype: str = "cf32_le",
        description: str = "",
        recorder: str = "groundstation",
        extra_global: dict[str, Any] | None = None,
        geolocation: Geolocation | None = None,
        hw: str = "",
    ) -> None:
        if datatype not in _DATATYPES:
            raise DatasetError(f"SigMF datatype {datatype!r} not supported; use {list(_DATATYPES)}")
        if sample_rate_hz <= 0:
            raise DatasetError(f"sample_rate_hz={sample_rate_hz} must be > 0")
        self.base = Path(base)
        self.data_path = self.base.with_name(self.base.name + ".sigmf-data")
        self.meta_path = self.base.with_name(self.base.name + ".sigmf-meta")
        self.datatype = datatype
        self.sample_rate_hz = sample_rate_hz
        self.center_freq_hz = center_freq_hz
        self.capture_start = capture_start
        self.description = description
        self.recorder = recorder
        self.extra_global = dict(extra_global or {})
        self.geolocation = geolocation
        self.hw = hw
        self.n_samples = 0
        self.annotations: list[Annotation] = []
        self._sha512 = hashlib.sha512()
        self._f: BinaryIO | None = open(self.data_path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, samples: np.ndarray) -> None:
        """Append samples: complex (n,) for cf32_le, or int16 (n, 2) I/Q pairs for ci16_le."""
        if self._f is None:
            raise DatasetError(f"SigMF writer for {self.data_path} is closed")
        if self.datatype == "cf32_le":
            arr = np.ascontiguousarray(samples, dtype=np.complex64)
            n = arr.shape[0]
        else:
            arr = np.ascontiguousarray(samples, dtype="<i2")
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise DatasetError(f"ci16_le samples have shape {arr.shape}, expected (n, 2)")
            n = arr.shape[0]
        buf = arr.reshape(-1).view(np.uint8).data
        self._f.write(buf)
        self._sha512.update(buf)
        self.n_samples += n

    def annotate(
        self,
        sample_start: int,
        sample_count: int,
        label: str,
        comment: str = "",
        **fields: Any,
    ) -> None:
        """Mark a span of samples, e.g. where a decoded frame was received;
        ``fields`` become ``groundstation:<name>`` keys of the annotation."""
        self.annotations.append(
            Annotation(
                sample_start,
                sample_count,
                label,
                comment,
                tuple((f"{EXTENSION}:{k}", v) for k, v in fields.items()),
            )
        )

    def metadata(self) -> dict[str, Any]:
        g: dict[str, Any] = {
            "core:datatype": self.datatype,
            "core:sample_rate": self.sample_rate_hz,
            "core:version": SIGMF_VERSION,
            "core:num_channels": 1,
            "core:recorder": self.recorder,
            "core:description": self.description,
            "core:sha512": self._sha512.hexdigest(),
        }
        if self.geolocation is not None:
            g["core:geolocation"] = self.geolocation.geojson()
        if self.hw:
            g["core:hw"] = self.hw
        g.update(self.extra_global)
        meta = {
            "global": g,
            "captures": [
                {
                    "core:sample_start": 0,
                    "core:frequency": self.center_freq_hz,
                    "core:datetime": utc_iso(self.capture_start),
                }
            ],
            "annotations": [
                {
                    "core:sample_start": a.sample_start,
                    "core:sample_count": a.sample_count,
                    "core:label": a.label,
                    **({"core:comment": a.comment} if a.comment else {}),
                    **dict(a.fields),
                }
                for a in sorted(self.annotations, key=lambda a: a.sample_start)
            ],
        }
        extensions = declared_extensions(meta)
        if extensions:
            g["core:extensions"] = extensions
        return meta

    def close(self) -> None:
        if self._f is None:
            return
        self._f.close()
        self._f = None
        self.meta_path.write_text(json.dumps(self.metadata(), indent=2))
