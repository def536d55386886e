"""The station agent's durable outbox: what the central service has not
acknowledged yet survives a central outage and an agent restart.

One directory per contact under the spool root:

- ``frames.jsonl``: every decoded frame (one JSON object a line, sequence
  numbers from 1, appended and fsynced before it counts as sent);
- ``acked``: the highest sequence the central service has stored;
- ``started``: the pass began here, with its window and contact document (a
  restart finding it without a report reports the pass FAILED: the agent
  stopped during it);
- ``report.json``: the end-of-pass report, sent once every frame is acked;
- ``done``: the central service has the report; nothing left to send;
- ``iq.sigmf-data`` / ``iq.sigmf-meta``: the pass's raw IQ as SigMF, when
  the mission profile's ``dataset_options.record_iq`` is set (written
  during the pass; copied into the dataset when publishing at the edge,
  else kept here: ``iq_files``).

Publishing at the edge (``groundstation.station.edge``), ``acked`` is the
highest sequence handed to the Kafka publisher's own durable spool, and
``edge-dataset.json`` says where the pass's dataset was uploaded.

Uploads are idempotent on the central side (contact + sequence; first
report wins), so resending after a lost answer stores nothing twice.

Retention (:meth:`Spool.prune`, from the agent's upload loop): a contact's
directory is removed once it is ``done`` and its ``done`` marker is older
than ``GS_AGENT_SPOOL_RETENTION_H`` (wall clock); a contact not done is never
removed. The directory is first renamed to a hidden ``.<id>.removing`` (so a
crash half way through never leaves a contact that looks undelivered), then
deleted; a later prune finishes what a crash left.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_REMOVING = ".removing"


@dataclass(frozen=True)
class Pruned:
    """A contact directory removed by :meth:`Spool.prune`."""

    contact_id: str
    done_age_s: float
    size_bytes: int


def _size_bytes(path: Path) -> int:
    total = 0
    for f in path.rglob("*"):
        try:
            if f.is_file():
                total += f.stat().st_size
        except OSError:
            continue
    return total


def _last_byte(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _dir(self, contact_id: str) -> Path:
        if not contact_id or "/" in contact_id or contact_id.startswith("."):
            raise ValueError(f"contact id {contact_id!r} cannot name a spool directory")
        return self.root / contact_id

    @staticmethod
    def _write(path: Path, text: str) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def start(self, contact_id: str, info: dict[str, Any]) -> None:
        d = self._dir(contact_id)
        d.mkdir(parents=True, exist_ok=True)
        self._write(d / "started", json.dumps(info))

    def started(self, contact_id: str) -> bool:
        return (self._dir(contact_id) / "started").exists()

    def started_info(self, contact_id: str) -> dict[str, Any]:
        """What ``start`` recorded ({} when the pass did not start here)."""
        path = self._dir(contact_id) / "started"
        if not path.exists():
            return {}
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc

    def iq_base(self, contact_id: str) -> Path:
        """The base path of the pass's SigMF recording (``<base>.sigmf-data``
        and ``<base>.sigmf-meta``), its directory made."""
        d = self._dir(contact_id)
        d.mkdir(parents=True, exist_ok=True)
        return d / "iq"

    def iq_files(self, contact_id: str) -> list[Path]:
        """The pass's SigMF recording (data, then metadata), [] when none
        was completed (the metadata is written when the recording closes)."""
        d = self._dir(contact_id)
        files = [d / "iq.sigmf-data", d / "iq.sigmf-meta"]
        return files if all(f.exists() for f in files) else []

    def put_edge_dataset(self, contact_id: str, doc: dict[str, Any]) -> None:
        self._write(self._dir(contact_id) / "edge-dataset.json", json.dumps(doc))

    def edge_dataset(self, contact_id: str) -> dict[str, Any] | None:
        path = self._dir(contact_id) / "edge-dataset.json"
        if not path.exists():
            return None
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc

    def add_frames(self, contact_id: str, frames: list[dict[str, Any]]) -> None:
        if not frames:
            return
        d = self._dir(contact_id)
        d.mkdir(parents=True, exist_ok=True)
        path = d / "frames.jsonl"
        with self._lock, open(path, "a") as f:
            if f.tell() and _last_byte(path) != b"\n":
                f.write("\n")  # end a line cut by a crash: it stays unreadable alone
            for frame in frames:
                f.write(json.dumps(frame, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def frames(self, contact_id: str) -> list[dict[str, Any]]:
        path = self._dir(contact_id) / "frames.jsonl"
        if not path.exists():
            return []
        out = []
        with self._lock, open(path) as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a line cut by a crash is not a frame
                    continue
        return out

    def acked(self, contact_id: str) -> int:
        path = self._dir(contact_id) / "acked"
        return int(path.read_text()) if path.exists() else 0

    def set_acked(self, contact_id: str, sequence: int) -> None:
        self._write(self._dir(contact_id) / "acked", str(sequence))

    def put_report(self, contact_id: str, report: dict[str, Any]) -> None:
        d = self._dir(contact_id)
        d.mkdir(parents=True, exist_ok=True)
        self._write(d / "report.json", json.dumps(report))

    def report(self, contact_id: str) -> dict[str, Any] | None:
        path = self._dir(contact_id) / "report.json"
        if not path.exists():
            return None
        doc: dict[str, Any] = json.loads(path.read_text())
        return doc

    def mark_done(self, contact_id: str) -> None:
        self._write(self._dir(contact_id) / "done", "")

    def done(self, contact_id: str) -> bool:
        return (self._dir(contact_id) / "done").exists()

    def done_age_s(self, contact_id: str, *, now_s: float) -> float | None:
        """Seconds (wall clock, ``now_s`` as ``time.time()``) since the
        central service had the contact's report; None when not done."""
        try:
            return now_s - (self._dir(contact_id) / "done").stat().st_mtime
        except FileNotFoundError:
            return None

    def prune(
        self, *, retention_s: float, now_s: float, keep: Collection[str] = ()
    ) -> list[Pruned]:
        """Remove the directories of contacts done more than ``retention_s``
        ago (0: every done one), except those in ``keep`` (a pass still
        running). A contact not done is never removed. Returns what went."""
        if not self.root.exists():
            return []
        for leftover in self.root.glob("." + "*" + _REMOVING):  # cut by a crash
            shutil.rmtree(leftover, ignore_errors=True)
        removed: list[Pruned] = []
        for contact_id in self.contacts():
            if contact_id in keep:
                continue
            age_s = self.done_age_s(contact_id, now_s=now_s)
            if age_s is None or age_s < retention_s:
                continue
            d = self._dir(contact_id)
            size = _size_bytes(d)
            gone = self.root / f".{contact_id}{_REMOVING}"
            with self._lock:
                os.replace(d, gone)
            shutil.rmtree(gone, ignore_errors=True)
            removed.append(Pruned(contact_id, age_s, size))
        return removed

    def contacts(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def pending(self) -> list[str]:
        """Contacts with something the central service does not have yet."""
        return [c for c in self.contacts() if not self.done(c)]

    def depth_frames(self) -> int:
        return sum(max(len(self.frames(c)) - self.acked(c), 0) for c in self.pending())
