"""What the routes share, built once by ``create_app`` and kept on ``app.state.ctx``."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth import KeyCache
from api.events import ContactEventHub
from api.limits import RequestLimits
from api.metrics import Metrics
from groundstation.clock import Clock
from groundstation.policy import BookingPolicy
from groundstation.prediction import PassCache
from groundstation.settings import Settings
from groundstation.tenant_buckets import DatasetStores
from ingest.objectstore import ObjectStore


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock
    events: ContactEventHub
    metrics: Metrics
    policy: BookingPolicy
    limits: RequestLimits
    max_upload_bytes: int = 1 << 20
    # Pass predictions reused across GET /passes requests (pure in their key).
    pass_cache: PassCache = field(default_factory=PassCache)
    # Free space of a path (``shutil.disk_usage``; tests inject their own).
    disk_usage: Callable[[Path], Any] = shutil.disk_usage
    # Keys verified in the last GS_API_KEY_CACHE_S seconds (``deps.get_principal``).
    key_cache: KeyCache = field(init=False)
    _store: ObjectStore | None = None
    _stores: DatasetStores | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.key_cache = KeyCache(self.settings.api_key_cache_s)

    def object_store(self) -> ObjectStore:
        """The dataset store the settings select, opened on first use."""
        with self._lock:
            if self._store is None:
                from groundstation.delivery import open_object_store

                self._store = open_object_store(self.settings)
            return self._store

    def dataset_stores(self) -> DatasetStores:
        """The default store and the tenants' buckets, opened on first use."""
        default = self.object_store()
        with self._lock:
            if self._stores is None:
                from groundstation.delivery import open_dataset_stores

                self._stores = open_dataset_stores(self.settings, default)
            return self._stores
