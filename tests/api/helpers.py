"""Helpers shared by the API tests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from groundstation.settings import Settings
from ingest.catalog import CatalogService, FileEntry
from ingest.dataset import Manifest, ManifestFile
from ingest.objectstore import ObjectStore

from .conftest import NOAA18, NOAA19, NOW, World, seed


def first_free_pass(world: World, antenna_id: str = "sv-uhf", skip: int = 0) -> dict[str, Any]:
    r = world.client.get(
        "/passes",
        params={
            "satellite": NOAA19,
            "start": NOW.isoformat(),
            "end": (NOW + timedelta(hours=24)).isoformat(),
            "min_elevation": 10,
        },
        headers=world.as_("acme"),
    )
    assert r.status_code == 200, r.text
    found = [
        p
        for p in r.json()["data"]
        if p["duration_s"] >= 300
        and any(a["antenna_id"] == antenna_id and a["free"] for a in p["antennas"])
    ]
    return dict(found[skip])


def contact_body(p: dict[str, Any], antenna_id: str = "sv-uhf") -> dict[str, Any]:
    return {
        "norad_id": NOAA19,
        "antenna_id": antenna_id,
        "profile_id": "leo",
        "start": p["aos"],
        "end": p["los"],
    }


def plan_body(
    *, hours: float, max_passes: int, antenna_ids: list[str] | None = None
) -> dict[str, Any]:
    """A plan request (``POST /plans``, profile ``leo``): up to ``max_passes``
    passes each of NOAA 19 and NOAA 18 in the ``hours`` from ``NOW``, on
    ``antenna_ids`` (None: any antenna)."""
    body: dict[str, Any] = {
        "profile_id": "leo",
        "requests": [
            {
                "norad_id": norad,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=hours)).isoformat(),
                "max_passes": max_passes,
            }
            for norad in (NOAA19, NOAA18)
        ],
    }
    if antenna_ids is not None:
        body["antenna_ids"] = antenna_ids
    return body


def add_dataset(
    engine: Engine,
    store: ObjectStore,
    *,
    dataset_id: str,
    norad_id: int,
    files: dict[str, bytes],
    contact_id: str = "c-1",
) -> None:
    """A ready dataset: objects in the store, rows in the catalogue."""
    prefix = f"{norad_id}/2023/07/04/{contact_id}"
    catalog = CatalogService(engine)
    catalog.begin(
        dataset_id=dataset_id,
        contact_id=contact_id,
        norad_id=norad_id,
        satellite=f"SAT {norad_id}",
        station="svalbard",
        antenna="sv-uhf",
        start_time=NOW + timedelta(hours=1),
        end_time=NOW + timedelta(hours=1, minutes=10),
        store_uri=store.uri(prefix),
        key_prefix=prefix,
        now=NOW,
    )
    entries = []
    for name, data in files.items():
        store.put_bytes(f"{prefix}/{name}", data)
        entries.append(
            FileEntry(
                name, store.uri(f"{prefix}/{name}"), len(data), hashlib.sha256(data).hexdigest()
            )
        )
    manifest = Manifest(
        info={"dataset_id": dataset_id, "contact_id": contact_id, "norad_id": norad_id},
        files=tuple(ManifestFile(e.name, e.size_bytes, e.sha256) for e in entries),
        created="2023-07-04T00:00:00Z",
    ).encode()
    store.put_bytes(f"{prefix}/manifest.json", manifest)
    catalog.mark_ready(
        dataset_id, files=entries, manifest_sha256=hashlib.sha256(manifest).hexdigest(), now=NOW
    )


@dataclass
class UvicornRun:
    url: str
    process: subprocess.Popen[bytes]  # the uvicorn master


@contextlib.contextmanager
def uvicorn_workers(settings: Settings, workers: int = 2) -> Iterator[UvicornRun]:
    """The API as deployed: ``uvicorn --factory api.app:app_from_env --workers N
    --http api.serving:HttpToolsWithHeaderLimit`` on the database and data
    directory of ``settings``, stopped by SIGTERM."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "GS_DATABASE_URL": settings.database_url,
        "GS_DATA_DIR": str(settings.data_dir),
        "GS_CLOCK": "simulated",
        "GS_CLOCK_START": NOW.isoformat(),
        "GS_METRICS_PUBLIC": str(settings.metrics_public).lower(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env"]
        + ["--workers", str(workers), "--host", "127.0.0.1", "--port", str(port)]
        + ["--log-level", "warning", "--timeout-graceful-shutdown", "2"]
        + ["--http", "api.serving:HttpToolsWithHeaderLimit"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "uvicorn exited"
            assert time.monotonic() < deadline, "uvicorn workers did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield UvicornRun(url, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def s3_settings(settings: Settings, endpoint: str, **extra: Any) -> Settings:
    """``settings`` with datasets in a fresh bucket of the S3 server at ``endpoint``."""
    import boto3

    bucket = f"gs-api-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return settings.model_copy(
        update={
            "object_store": "s3",
            "s3_bucket": bucket,
            "s3_prefix": "datasets",
            "s3_endpoint_url": endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "s3_secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
            **extra,
        }
    )


DATASET_BYTES = bytes(range(256)) * 1000 + b"tail"  # 256,004 bytes


@contextlib.contextmanager
def dataset_world(settings: Settings) -> Iterator[World]:
    """The seeded app (``conftest.seed``) with dataset ``ds-1`` of NOAA 19 in
    the object store ``settings`` select: ``frames.h5`` (``DATASET_BYTES``)
    and a small ``products/image.png``."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from groundstation.db import make_session_factory

    app = create_app(settings)
    engine = app.state.ctx.engine
    with make_session_factory(engine)() as session:
        keys = seed(session)
    add_dataset(
        engine,
        app.state.ctx.object_store(),
        dataset_id="ds-1",
        norad_id=NOAA19,
        files={"frames.h5": DATASET_BYTES, "products/image.png": b"\x89PNG-not-really"},
    )
    with TestClient(app) as client:
        yield World(app, client, engine, keys)
    engine.dispose()


def sse_events(
    url: str,
    headers: dict[str, str],
    want: int,
    *,
    kinds: tuple[str, ...] = ("contact",),
    last_event_id: int = 0,
) -> list[tuple[int, str, dict[str, Any]]]:
    """The first ``want`` events of the stream whose kind (``event:``) is one
    of ``kinds``, after ``last_event_id`` (0: from the start of history), as
    (id, kind, data)."""
    out: list[tuple[int, str, dict[str, Any]]] = []
    with (
        httpx.Client(base_url=url, timeout=30) as c,
        c.stream(
            "GET", "/contacts/events", headers={**headers, "Last-Event-ID": str(last_event_id)}
        ) as r,
    ):
        assert r.status_code == 200
        event_id, kind = 0, ""
        for line in r.iter_lines():
            if line.startswith("id:"):
                event_id = int(line[3:])
            elif line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind in kinds:
                out.append((event_id, kind, json.loads(line[5:])))
                if len(out) >= want:
                    break
    return out


def sse_contact_events(url: str, headers: dict[str, str], want: int) -> list[dict[str, Any]]:
    """The data of the first ``want`` contact events, from the start of history."""
    return [data for _, _, data in sse_events(url, headers, want)]
