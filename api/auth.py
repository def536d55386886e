"""Bearer API keys and what each role may do.

``admin`` sees every tenant; an ``operator`` sees its own tenant; a
``scientist`` reads the datasets (and satellites) of its granted tenants.
Another tenant's contact, satellite or dataset answers 404, never its data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, status

ADMIN, OPERATOR, SCIENTIST, STATION = "admin", "operator", "scientist", "station"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    tenant: str
    granted_tenants: tuple[str, ...]
    # A ``station`` key's station (empty for the other roles).
    station_id: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def tenants(self) -> tuple[str, ...] | None:
        """Tenants whose data this key may read; None means every tenant."""
        if self.role == ADMIN:
            return None
        if self.role == OPERATOR:
            return (self.tenant,)
        if self.role == STATION:
            return ()
        return self.granted_tenants

    def sees(self, tenant: str) -> bool:
        allowed = self.tenants()
        return allowed is None or tenant in allowed

    def require(self, *roles: str) -> None:
        """403 unless this key has one of ``roles``."""
        if self.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"API key {self.name!r} has role {self.role!r}; this needs one of "
                f"{', '.join(roles)}",
            )


class KeyCache:
    """Keys this process verified in the last ``ttl_s`` seconds, by the
    SHA-256 of the key (``apikeys.hash_key``), so a burst of requests with one
    key looks it up once: a revoked key keeps working here for at most
    ``ttl_s`` (``GS_API_KEY_CACHE_S``; 0 turns the cache off). Unknown keys
    are not remembered. Holds at most ``max_entries`` keys.

    Used from the event loop only (no lock): the look-up of a miss runs in a
    thread, its answer is stored back on the loop."""

    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 10_000,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.monotonic_s = monotonic_s
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        """The principal verified for ``key_hash`` less than ``ttl_s`` ago."""
        found = self._entries.get(key_hash)
        if found is None:
            return None
        if self.monotonic_s() >= found[0]:
            del self._entries[key_hash]
            return None
        return found[1]

    def forget(self, key_id: str) -> None:
        """Drop the key with id ``key_id`` (revoked): looked up again next time."""
        self._entries = {k: v for k, v in self._entries.items() if v[1].key_id != key_id}

    def put(self, key_hash: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        now_s = self.monotonic_s()
        if len(self._entries) >= self.max_entries:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now_s}
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
        self._entries[key_hash] = (now_s + self.ttl_s, principal)

    def __len__(self) -> int:
        return len(self._entries)
