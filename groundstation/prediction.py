"""Pass prediction for the service: the adapters from database rows to
``orbital`` (stations, element sets) and the cache of predicted passes.

Every caller that predicts (availability, booking, re-prediction, planning,
the downlink executor, a contact's track) builds its inputs here, so a
station or an element set means the same thing to all of them. ``orbital``
is imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from groundstation.ephemerides import UsableEphemeris
    from groundstation.models import Antenna, Ephemeris, GroundStation, MissionProfile
    from orbital.elements import ElementSet
    from orbital.passes import Pass
    from orbital.stations import Station

T = TypeVar("T")


def orbital_station(station: GroundStation, *, min_elevation_deg: float) -> Station:
    """The orbital ``Station`` for a DB station, its minimum raised to
    ``min_elevation_deg`` (the horizon mask still applies)."""
    from orbital.stations import Station

    return Station(
        id=station.id,
        name=station.name,
        lat_deg=station.lat_deg,
        lon_deg=station.lon_deg,
        alt_m=station.alt_m,
        min_elevation_deg=max(station.min_elevation_deg, min_elevation_deg),
        horizon_mask=tuple((float(az), float(el)) for az, el in station.horizon_mask),
    )


def required_elevation_deg(antenna: Antenna, profile: MissionProfile) -> float:
    """The elevation a pass must reach for ``antenna`` under ``profile``
    (the station's own minimum and horizon mask apply on top)."""
    return max(antenna.min_elevation_deg, profile.min_elevation_deg)


@functools.lru_cache(maxsize=4096)
def element_set_from_text(text: str) -> ElementSet:
    """The element set stored as ``text`` (parsed once per text: element sets
    are immutable, and every reservation of a satellite reads the same one)."""
    from orbital.omm import parse_element_set

    return parse_element_set(text)


def element_set(ephemeris: Ephemeris | UsableEphemeris) -> ElementSet:
    """The element set of a stored ephemeris."""
    return element_set_from_text(ephemeris.text)


def predict(
    elements: Sequence[ElementSet], stations: Sequence[Station], start: datetime, end: datetime
) -> list[Pass]:
    """Passes of ``elements`` over ``stations`` (ids unique; each station's
    own limits apply), in one vectorized prediction."""
    from orbital.passes import predict_passes

    return list(predict_passes(list(elements), list(stations), start, end).passes)


class PassCache:
    """Predicted passes keyed by (element-set text, orbital stations, start,
    end): the prediction is a pure function of that key, so an entry is never
    stale (a new ephemeris or an edited station is a new key). An entry is
    what ``compute`` returns (``passes.PassTable``: the passes sorted, with
    their times as arrays). Keeps the ``max_entries`` most recently used (one
    7-day, 50-station answer is about 1,800 passes, ~1 MB). Bookings are not
    part of it: availability is computed per request. Thread-safe; two
    concurrent misses both compute."""

    def __init__(self, max_entries: int = 32) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries is {max_entries}, expected >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        #: ``find`` calls answered from an entry
        self.found = 0

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                found: T = self._entries[key]
                return found
            self.misses += 1
        value = compute()
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def find(self, answer: Callable[[tuple[Any, ...], Any], T | None]) -> T | None:
        """The first ``answer(key, entry)`` that is not None, over the
        entries most recently used first (that entry becomes the most
        recent), or None. Computes and stores nothing: a narrower question
        (one station, a booking's window) reuses a wider prediction held
        here without filling the cache with its own. Not counted in
        ``hits``/``misses`` (in ``found``)."""
        with self._lock:
            entries = list(reversed(self._entries.items()))
        for key, entry in entries:
            found = answer(key, entry)
            if found is not None:
                with self._lock:
                    if key in self._entries:
                        self._entries.move_to_end(key)
                    self.found += 1
                return found
        return None

    def __len__(self) -> int:
        return len(self._entries)


# ------------------------------------------------ the keys of the pass cache


def profile_key(
    element_text: str, orbital: Sequence[Station], start: datetime, end: datetime
) -> tuple[Any, ...]:
    """The ``PassCache`` key of ``passes.predicted_passes`` under a profile
    (an entry: the passes over ``orbital``, a list)."""
    return (element_text, tuple(orbital), start, end)


def table_key(
    element_text: str, orbital: Sequence[Station], start: datetime, end: datetime
) -> tuple[Any, ...]:
    """The ``PassCache`` key of ``passes.pass_availability`` (an entry: a
    ``PassTable``)."""
    return ("table", element_text, tuple(orbital), start, end)


def cached_station_passes(
    cache: PassCache, element_text: str, station: Station, start: datetime, end: datetime
) -> list[Pass] | None:
    """The passes over ``station`` (equal: same site, elevation limit and
    mask) of a prediction ``cache`` holds for ``element_text`` over a range
    covering [start, end], e.g. the one ``GET /passes`` answered with just
    before a client books one of its windows; None when there is none.
    Passes cut by that range's ends are ``truncated`` as in a prediction
    over [start, end]. Nothing is predicted or stored."""

    def answer(key: tuple[Any, ...], entry: Any) -> list[Pass] | None:
        table = key[0] == "table"
        text, orbital, lo, hi = key[1:] if table else key
        if text != element_text or not (lo <= start and end <= hi) or station not in orbital:
            return None
        if not table:
            return [p for p in entry if p.station_id == station.id]
        return [entry.passes[k] for k in entry.by_station.get(station.id, ())]

    return cache.find(answer)
