"""Liveness, readiness (database, broker, object store) and Prometheus metrics
(opt-in: GS_METRICS_PUBLIC)."""

from __future__ import annotations

import socket
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select, text

from api import schemas
from api.deps import CtxDep
from api.routes._responses import problems
from api.routing import api_router
from groundstation.db import redact
from groundstation.housekeeping import disk_checks, disk_summary
from groundstation.models import Contact
from groundstation.version import package_version

router = api_router(tags=["health"])


@router.get("/healthz", response_model=schemas.Health)
def healthz() -> schemas.Health:
    """The process answers, with the version it runs."""
    return schemas.Health(status="ok", version=package_version())


def _check_broker(bootstrap: str) -> str:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2.0):
                return "ok"
        except (OSError, ValueError) as exc:
            last = f"{server}: {exc}"
    return f"unreachable ({last})"


def _check_disk(settings: Any, usage: Any) -> str:
    """Free space against the watermarks (``groundstation.housekeeping``):
    "ok (...)", "ok, but low: ..." (warn) or "full: ..." (recordings refused)."""
    try:
        level, text = disk_summary(disk_checks(settings, usage=usage), settings)
    except OSError as exc:
        return f"ok (free space not checked: {exc})"[:300]
    return {"ok": f"ok ({text})", "warn": f"ok, but {text}"}.get(level, text)


@router.get(
    "/readyz",
    response_model=schemas.Readiness,
    responses={
        503: {
            "model": schemas.Readiness,
            "description": "a dependency is unreachable, or the disk is below the refuse watermark",
        }
    },
)
def readyz(ctx: CtxDep) -> Any:
    """Database, Kafka broker (when configured) and object store reachable, and
    free disk space above `GS_DISK_REFUSE_FREE` (below `GS_DISK_WARN_FREE` the
    `disk` check says so but the service stays ready)."""
    checks: dict[str, str] = {}
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        reason = redact(str(exc), url=ctx.settings.effective_database_url())
        checks["database"] = f"unreachable ({type(exc).__name__}: {reason})"[:300]
    if ctx.settings.kafka_bootstrap:
        checks["broker"] = _check_broker(ctx.settings.kafka_bootstrap)
    else:
        checks["broker"] = "ok (local topic log)"
    try:
        store = ctx.object_store()
        store.exists("readyz-probe")
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"] = f"unreachable ({type(exc).__name__}: {redact(str(exc))})"[:300]
    checks["disk"] = _check_disk(ctx.settings, ctx.disk_usage)
    ready = all(v.startswith("ok") for v in checks.values())
    body = schemas.Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4"},
        **problems(_404="not published: GS_METRICS_PUBLIC is false (the default)"),
    },
)
def metrics(ctx: CtxDep) -> PlainTextResponse:
    """Prometheus metrics of the server, without a key, when
    GS_METRICS_PUBLIC is true; else 404 (they show every tenant's contact
    counts and request rates)."""
    if not ctx.settings.metrics_public:
        raise HTTPException(
            404,
            "GET /metrics is not published: set GS_METRICS_PUBLIC=true to serve it (without "
            "a key: expose it only where the scraper alone can reach it)",
        )
    with ctx.session_factory() as session:
        by_state = {
            state: int(n)
            for state, n in session.execute(
                select(Contact.state, func.count()).group_by(Contact.state)
            )
        }
        session.rollback()
    return PlainTextResponse(
        ctx.metrics.render(by_state), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
