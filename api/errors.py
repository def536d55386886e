"""Errors as problem+json (RFC 9457): domain errors, validation errors and
HTTP errors all answer ``{"type", "title", "status", "detail", ...}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.inputs import too_deep_to_read
from groundstation import errors as gs
from ingest.errors import DatasetError, IngestError, ObjectNotFoundError

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

# Most specific first.
_DOMAIN_STATUS: list[tuple[type[Exception], int, str]] = [
    (gs.NotFoundError, 404, "not-found"),
    (gs.GoneError, 410, "gone"),
    (gs.AlreadyExistsError, 409, "already-exists"),
    (gs.PermissionDeniedError, 403, "forbidden"),
    (gs.IdempotencyKeyReusedError, 422, "idempotency-key-reused"),
    (gs.BookingConflictError, 409, "booking-conflict"),
    (gs.MaintenanceConflictError, 409, "maintenance-conflict"),
    (gs.AntennaOfflineError, 409, "antenna-offline"),
    (gs.BookingRefusedError, 422, "booking-refused"),
    (gs.CancelRefusedError, 409, "cancel-refused"),
    (gs.UpdateRefusedError, 409, "update-refused"),
    (gs.VersionMismatchError, 412, "version-mismatch"),
    (gs.VerdictRefusedError, 409, "verdict-refused"),
    (gs.IllegalTransitionError, 409, "illegal-transition"),
    (gs.TenantBucketError, 422, "tenant-bucket"),
    (gs.ValidationError, 422, "validation"),
    (ObjectNotFoundError, 404, "not-found"),
    (DatasetError, 404, "not-found"),
    (gs.GroundStationError, 400, "bad-request"),
    (IngestError, 502, "object-store"),
]

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Content too large",
    416: "Range not satisfiable",
    422: "Unprocessable content",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    kind: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://groundstation.dev/problems/{kind}" if kind else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def domain_status(exc: Exception) -> tuple[int, str]:
    for cls, status, kind in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            if isinstance(exc, gs.BookingRefusedError):
                return status, exc.rule
            return status, kind
    return 500, "internal"


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ()))
    msg = str(error.get("msg", "invalid"))
    if "input" in error and error.get("type") != "missing":
        value = error["input"]
        text = repr(value)
        if len(text) > 80:
            text = text[:77] + "..."
        return f"{loc}: {msg} (got {text})"
    return f"{loc}: {msg}"


def install(app: FastAPI) -> None:
    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        status, kind = domain_status(exc)
        if status >= 500:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(status, str(exc), kind=kind)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = list(exc.errors())
        details = [_describe(e) for e in errors]
        return problem(
            422,
            "; ".join(details) or "invalid request",
            kind="validation",
            errors=[
                {"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e["msg"])}
                for e in errors
            ],
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            # FastAPI could not parse a JSON body nested deeper than the reader allows.
            body = await request.body()
            return await on_validation(
                request, RequestValidationError([too_deep_to_read(len(body))])
            )
        headers = dict(exc.headers) if exc.headers else None
        kind = getattr(exc, "kind", "")
        return problem(exc.status_code, str(exc.detail), kind=kind, headers=headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, f"internal error ({type(exc).__name__}); see the server log")

    app.add_exception_handler(gs.GroundStationError, on_domain)
    app.add_exception_handler(IngestError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
