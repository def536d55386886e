"""Bearer API keys and what each role may do.

``admin`` sees every tenant; an ``operator`` sees its own tenant; a
``scientist`` reads the datasets (and satellites) of its granted tenants.
Another tenant's contact, satellite or dataset answers 404, never its data.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException, status

ADMIN, OPERATOR, SCIENTIST = "admin", "operator", "scientist"


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str
    tenant: str
    granted_tenants: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def tenants(self) -> tuple[str, ...] | None:
        """Tenants whose data this key may read; None means every tenant."""
        if self.role == ADMIN:
            return None
        if self.role == OPERATOR:
            return (self.tenant,)
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
