"""One set of mean orbital elements (from a TLE or an OMM) and its SGP4 model.

Parsing lives above this module (``orbital.tle``, ``orbital.omm``; any text:
``orbital.omm.parse_elements``), so nothing here imports a parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sgp4.api import Satrec
from sgp4.omm import initialize as omm_initialize

SourceFormat = Literal["tle", "omm", "oem", "azel"]


@dataclass(frozen=True)
class ElementSet:
    """Mean elements of one satellite at one epoch.

    ``line1``/``line2`` hold the TLE lines for ``source_format == "tle"``;
    ``omm`` holds the OMM keyword/value pairs (as strings) for ``"omm"``.
    """

    norad_id: int
    name: str | None
    epoch: datetime
    source_format: SourceFormat
    line1: str | None = None
    line2: str | None = None
    omm: dict[str, str] | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """Human label: ``NAME (12345)`` or ``12345``."""
        return f"{self.name} ({self.norad_id})" if self.name else str(self.norad_id)

    @property
    def usable_span(self) -> tuple[datetime, datetime] | None:
        """The times the set may be used at: None (mean elements propagate
        anywhere, less accurately far from their epoch); an OEM's span."""
        return None

    @property
    def mean_motion_rev_per_day(self) -> float:
        return float(self.satrec().no_kozai) * 1440.0 / (2.0 * 3.141592653589793)

    def satrec(self) -> Satrec:
        """A fresh SGP4 model (WGS72, improved mode, as the verification vectors use)."""
        if self.source_format == "tle":
            assert self.line1 is not None and self.line2 is not None
            return Satrec.twoline2rv(self.line1, self.line2)
        assert self.omm is not None
        sat = Satrec()
        omm_initialize(sat, self.omm)
        return sat

    def age_days(self, when: datetime) -> float:
        """Days from the epoch to ``when`` (negative before the epoch)."""
        return (when - self.epoch) / timedelta(days=1)

    def text(self) -> str:
        """Canonical text: a 3LE (or 2LE without a name) or one OMM JSON object."""
        if self.source_format == "tle":
            lines = [self.line1 or "", self.line2 or ""]
            if self.name:
                lines.insert(0, self.name)
            return "\n".join(lines) + "\n"
        return json.dumps(self.omm, sort_keys=True)


def epoch_from_satrec(sat: Satrec) -> datetime:
    """The element epoch as an aware UTC datetime (microsecond resolution)."""
    jd = float(sat.jdsatepoch) + float(sat.jdsatepochF)
    unix_s = (jd - 2440587.5) * 86400.0
    return datetime.fromtimestamp(round(unix_s, 6), tz=UTC)
