"""Publishing at the edge (issue 13): a station agent configured with Kafka
(``GS_KAFKA_BOOTSTRAP``) and an S3 object store (``GS_OBJECT_STORE=s3``,
``GS_S3_*``), the same settings ``serve`` takes, sends no frame bytes to the
central service.

- **Frames**: every frame the pass spooled (``groundstation.station.spool``)
  goes, in sequence order, to ingest's ``KafkaPublisher`` (its own durable
  spool and idempotent producer: a broker that is down only delays them),
  with the key, headers and topic the central service would publish them
  with (``groundstation.agents.published_meta``). The agent spool's
  ``acked`` is the last sequence handed over.
- **Dataset**: a pass that ended well is written at the station as the
  central service writes an agent's pass
  (``groundstation.agent_executor.write_station_dataset``: ``frames.h5``,
  products, quick-looks, the pass's SigMF recording from the spool when the
  profile records IQ, ``manifest.json`` with every file's size and
  SHA-256), under the contact's key prefix (``dataset_info``), uploaded
  manifest last (``ingest.dataset.DatasetWriter.upload``). Where it went
  is kept in the spool, so a retried report does not upload it again.
- **Report**: the end-of-pass report over HTTP, its ``summary["edge"]``
  (``groundstation.agents.EdgeReport``) saying how many frames were
  published and where the dataset is; the central service checks the
  manifest and catalogues it without touching its bytes, and publishes none
  of the pass's frames.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from groundstation.agent_executor import PassFrame, write_station_dataset
from groundstation.agents import EDGE, EdgeReport, decode_frame, run_from_document
from groundstation.dataset_placement import dataset_info
from groundstation.downlink import LinkModel
from groundstation.executor import ContactExecutionError
from groundstation.pass_dataset import PASS_OUTPUTS
from groundstation.station.agent import RAW_IQ, UPLOAD_BATCH, station_from_document
from groundstation.station.spool import Spool
from ingest.dataset import DatasetWriter
from ingest.errors import DatasetError
from ingest.objectstore import ObjectStore
from ingest.publisher import Publisher

log = logging.getLogger(__name__)


@dataclass
class EdgePublishing:
    """The station's own frame publisher and dataset store (module docstring)."""

    publisher: Publisher
    store: ObjectStore
    staging_root: Path
    clock: Callable[[], datetime]
    link_model: LinkModel = field(default_factory=LinkModel)

    def publish_frames(self, contact_id: str, spool: Spool) -> int:
        """Hand the spooled frames not handed over yet to the publisher, in
        order; returns how many."""
        frames = spool.frames(contact_id)
        acked = spool.acked(contact_id)
        todo = [f for f in frames if int(f["sequence"]) > acked]
        for i in range(0, len(todo), UPLOAD_BATCH):
            batch = todo[i : i + UPLOAD_BATCH]
            for item in batch:
                frame = PassFrame.of_upload(contact_id, decode_frame(item))
                self.publisher.publish_frame(frame.data, frame.meta)
            spool.set_acked(contact_id, int(batch[-1]["sequence"]))
        return len(todo)

    def report(
        self, contact_id: str, spool: Spool, report: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The end-of-pass ``report`` to send: for a pass that ended well its
        dataset uploaded (once), the pass outputs left out (they are in the
        products), and ``summary["edge"]``. A dataset that cannot be written
        from what the pass left fails the pass with the reason; None when
        the object store did not take it (logged; tried again at the next
        flush, the report is sent then)."""
        try:
            return self._report(contact_id, spool, report)
        except Exception as exc:  # the object store is unreachable, refuses, times out
            log.warning(
                "pass %s: dataset upload deferred: %s: %s", contact_id, type(exc).__name__, exc
            )
            return None

    def _report(self, contact_id: str, spool: Spool, report: dict[str, Any]) -> dict[str, Any]:
        out = dict(report)
        summary = dict(report.get("summary") or {})
        frames = spool.frames(contact_id)
        ok_frames = sum(bool((f.get("quality") or {}).get("ok", True)) for f in frames)
        dataset: dict[str, Any] = {}
        if report.get("ok"):
            try:
                dataset = self._dataset(contact_id, spool, summary)
                if RAW_IQ in dataset:  # also when uploaded by an earlier flush
                    summary[RAW_IQ] = dataset[RAW_IQ]
            except (ContactExecutionError, DatasetError) as exc:
                log.error("pass %s: dataset not written at the station: %s", contact_id, exc)
                out["ok"] = False
                out["reason"] = f"dataset of the pass at the station: {exc}"
        summary.pop(PASS_OUTPUTS, None)
        summary[EDGE] = EdgeReport(
            frames_published=len(frames),
            frames_ok=ok_frames,
            key_prefix=str(dataset.get("key_prefix", "")),
            manifest_sha256=str(dataset.get("manifest_sha256", "")),
        ).to_document()
        out["summary"] = summary
        return out

    def _dataset(self, contact_id: str, spool: Spool, summary: dict[str, Any]) -> dict[str, Any]:
        """Where the pass's dataset is, written and uploaded if not yet."""
        done = spool.edge_dataset(contact_id)
        if done is not None:
            return done
        doc = spool.started_info(contact_id).get("doc")
        if not isinstance(doc, dict):
            raise ContactExecutionError(
                "the spool holds no contact document for the pass (started by an older agent)"
            )
        run = run_from_document(doc["run"])
        frames = [
            PassFrame.of_upload(contact_id, decode_frame(f)) for f in spool.frames(contact_id)
        ]
        writer = DatasetWriter(
            info=dataset_info(run),
            store=self.store,
            catalog=None,
            staging_root=self.staging_root,
            clock=self.clock,
        )
        writer.begin()
        try:
            self._add_raw_iq(contact_id, spool, writer, summary)
            write_station_dataset(
                writer, run, station_from_document(doc["station"]), frames, summary, self.link_model
            )
            uploaded = writer.upload()
        finally:
            shutil.rmtree(writer.staging, ignore_errors=True)
        result = {
            "key_prefix": uploaded.key_prefix,
            "manifest_uri": uploaded.manifest_uri,
            "manifest_sha256": uploaded.manifest_sha256,
        }
        if RAW_IQ in summary:
            result[RAW_IQ] = summary[RAW_IQ]
        spool.put_edge_dataset(contact_id, result)
        log.info("pass %s: dataset uploaded to %s", contact_id, uploaded.manifest_uri)
        return result

    @staticmethod
    def _add_raw_iq(
        contact_id: str, spool: Spool, writer: DatasetWriter, summary: dict[str, Any]
    ) -> None:
        """The pass's SigMF recording (``PassRunner``, when the profile
        records IQ) staged into the dataset as ``iq.sigmf-data`` and
        ``iq.sigmf-meta``, as an in-process pass writes it, so the manifest
        lists them with size and SHA-256; the summary says so. The spool
        keeps its copy until the spool retention removes the contact
        (``Spool.prune``)."""
        files = spool.iq_files(contact_id)
        raw = summary.get(RAW_IQ)
        if not files or not isinstance(raw, dict) or not raw.get("recorded"):
            return
        for path in files:
            shutil.copyfile(path, writer.staging / path.name)
        summary[RAW_IQ] = {
            **raw,
            "in_dataset": True,
            "note": "raw IQ in the dataset: " + ", ".join(p.name for p in files),
        }
