"""OpenAPI response entries shared by the routers."""

from __future__ import annotations

from typing import Any

from api.errors import PROBLEM


def problems(**codes: str) -> dict[int | str, dict[str, Any]]:
    """``problems(_404="...", _409="...")`` -> problem+json responses."""
    return {
        int(code.lstrip("_")): {
            "description": desc,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code, desc in codes.items()
    }


EXPENSIVE_429 = (
    "this API key already has GS_MAX_EXPENSIVE_PER_KEY expensive requests (passes, plans, "
    "tracks, ephemeris uploads) running in this server process; retry after `Retry-After` s"
)
