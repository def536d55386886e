"""The satellite catalogue: one YAML file per satellite with its transmitters
(package data in ``groundstation/satellites/data/``), read here and validated
by ``dsp.satellite`` (the one validator), with errors naming the file, the
transmitter, the field and the value.

``load_catalogue()`` reads the built-in files (and any extra directories);
``Catalogue.find`` looks a satellite up by NORAD id or by name.

A satellite registered with ``framing_profile: catalogue`` is linked to the
entry of the built-in catalogue with its NORAD id (``builtin_catalogue``,
read once per process): its contacts decode the transmitter the mission
profile's ``decode.transmitter`` names, or the satellite's only one
(``catalogue_transmitter``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from dsp.satellite import SatelliteSpec, SatelliteSpecError, TransmitterSpec, satellite_from_mapping
from groundstation.errors import NotFoundError

__all__ = [
    "Catalogue",
    "SatelliteSpecError",
    "UnknownSatelliteError",
    "builtin_catalogue",
    "catalogue_transmitter",
    "load_catalogue",
    "parse_satellite_file",
]


class UnknownSatelliteError(NotFoundError):
    """No satellite of the catalogue has that NORAD id or name; the message
    names the closest ones (or all when none is close)."""

    def __init__(self, key: str, known: list[str], close: list[str] | None = None) -> None:
        super().__init__("satellite", key)
        self.close = close or []
        if self.close:
            text = f"did you mean {' or '.join(self.close)}? (NORAD id or name)"
        else:
            text = "give a NORAD id or one of: " + ", ".join(known)
        self.args = (f"satellite {key!r} is not in the catalogue; {text}",)


def parse_satellite_file(text: str, source: str) -> SatelliteSpec:
    """One satellite file's YAML text -> validated spec; ``source`` names the file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SatelliteSpecError(f"{source}: not valid YAML: {exc}") from exc
    return satellite_from_mapping(data, source)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class Catalogue:
    satellites: tuple[SatelliteSpec, ...]

    def find(self, key: str | int) -> SatelliteSpec:
        """The satellite with NORAD id ``key`` or named ``key`` (case, spaces and
        punctuation ignored; alternative names count)."""
        text = str(key).strip()
        for sat in self.satellites:
            if text.isdigit() and int(text) == sat.norad_id:
                return sat
            if _key(text) in {_key(n) for n in (sat.name, *sat.alternative_names)}:
                return sat
        raise UnknownSatelliteError(
            text, [_label(s) for s in self.satellites], [_label(s) for s in self.close_to(text)]
        )

    def close_to(self, key: str, n: int = 5) -> list[SatelliteSpec]:
        """Up to ``n`` satellites whose NORAD id or a name is close to ``key``
        (one contains the other, or they are similar as difflib measures), closest first."""
        text = _key(key)
        if not text:
            return []
        names: dict[str, SatelliteSpec] = {}
        for sat in self.satellites:
            for name in (str(sat.norad_id), sat.name, *sat.alternative_names):
                names.setdefault(_key(name), sat)
        if text.isdigit():  # a NORAD id: one digit wrong or missing
            ids = [k for k in names if k.isdigit()]
            ranked = difflib.get_close_matches(text, ids, n=n, cutoff=0.8)
        else:
            ranked = [k for k in names if len(text) >= 3 and (text in k or k in text)]
            ranked += difflib.get_close_matches(text, list(names), n=n, cutoff=0.6)
        out: list[SatelliteSpec] = []
        for k in ranked:
            if names[k] not in out:
                out.append(names[k])
        return out[:n]


def _label(sat: SatelliteSpec) -> str:
    return f"{sat.name} ({sat.norad_id})"


def _builtin_files() -> list[tuple[str, str]]:
    root = resources.files("groundstation.satellites.data")
    files = sorted((p for p in root.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name)
    return [
        (f"groundstation/satellites/data/{p.name}", p.read_text(encoding="utf-8")) for p in files
    ]


def load_catalogue(extra_dirs: Iterable[Path] = ()) -> Catalogue:
    """The built-in satellites plus the ``*.yaml`` files of ``extra_dirs``.
    Raises SatelliteSpecError on the first bad file or on a NORAD id or name
    that two files claim."""
    sources = _builtin_files()
    for directory in extra_dirs:
        for path in sorted(Path(directory).glob("*.yaml")):
            sources.append((str(path), path.read_text(encoding="utf-8")))
    satellites: list[SatelliteSpec] = []
    owner: dict[object, str] = {}
    for source, text in sources:
        sat = parse_satellite_file(text, source)
        for key in (sat.norad_id, *(_key(n) for n in (sat.name, *sat.alternative_names))):
            if key in owner:
                what = "NORAD id" if isinstance(key, int) else "name"
                raise SatelliteSpecError(
                    f"{source}: {what} {key!r} is already used by {owner[key]}"
                )
            owner[key] = source
        satellites.append(sat)
    return Catalogue(tuple(satellites))


@functools.cache
def builtin_catalogue() -> Catalogue:
    """The built-in catalogue, read once per process (the files are package data)."""
    return load_catalogue()


def catalogue_transmitter(norad_id: int, name: str | None) -> tuple[SatelliteSpec, TransmitterSpec]:
    """The built-in catalogue's satellite with NORAD ``norad_id`` and its
    transmitter called ``name`` (None: its only one). ``UnknownSatelliteError``
    when the NORAD id is not catalogued, ``SatelliteSpecError`` naming the
    transmitters when ``name`` is not one of them or is needed to choose."""
    sat = builtin_catalogue().find(norad_id)
    if name is not None:
        return sat, sat.transmitter(name)
    if len(sat.transmitters) == 1:
        return sat, sat.transmitters[0]
    names = ", ".join(repr(t.name) for t in sat.transmitters)
    raise SatelliteSpecError(
        f"satellite {sat.name!r} has {len(sat.transmitters)} transmitters ({names}); "
        "name one in the mission profile's decode.transmitter"
    )
