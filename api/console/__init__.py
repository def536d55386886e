"""The web console, served by the API's own app (``install(app)``).

Static HTML, CSS and one small vanilla-JavaScript module per page under
``api/console/static/`` (no build step, no CDN): the page at ``/`` signs in
with an API key kept in the browser session (``sessionStorage``) and talks to
the public REST API only, with ``Authorization: Bearer``. ``GET
/console/session`` tells it who the key is (role, tenant, granted tenants)
and the service clock's now, so the pages can be role-aware and say when the
clock is simulated.

Swagger UI (``/docs``) and ReDoc (``/redoc``) are served from the assets
that the ``fastapi-offline`` package ships, replacing FastAPI's pages (which
load from a CDN and are blank on a station without internet).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AwareDatetime, BaseModel
from starlette.routing import BaseRoute, Route

from api.deps import CtxDep, NowDep, PrincipalDep
from api.routing import api_router

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/console/static"
DOCS_ASSETS_URL = "/console/docs-assets"

#: The console page may load and connect to this origin only: nothing it
#: does can reach another host, whatever an API answer holds.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


#: Swagger UI and ReDoc: their own scripts and the OpenAPI document only
#: (ReDoc would load its logo from a CDN; Swagger UI starts from an inline
#: script, ReDoc styles inline).
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'"
)


class ConsoleSession(BaseModel):
    """The key's identity and the service clock, for the console."""

    name: str
    role: str
    tenant: str
    granted_tenants: list[str]
    now: AwareDatetime
    clock: str
    clock_speedup: float


router = api_router(tags=["console"])


@router.get("/", include_in_schema=False)
def console_page() -> FileResponse:
    """The console's single HTML page (its pages are modules under /console/static/js)."""
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": "no-cache"},
    )


@router.get("/console/session", response_model=ConsoleSession)
def console_session(principal: PrincipalDep, ctx: CtxDep, now: NowDep) -> ConsoleSession:
    """Who this API key is (name, role, tenant, granted tenants) and the
    service clock's now (`clock` is `simulated` when it is not wall time)."""
    return ConsoleSession(
        name=principal.name,
        role=principal.role,
        tenant=principal.tenant,
        granted_tenants=list(principal.granted_tenants),
        now=now,
        clock=ctx.settings.clock,
        clock_speedup=ctx.settings.clock_speedup if ctx.settings.clock == "simulated" else 1.0,
    )


def docs_assets_dir() -> Path:
    """Swagger UI and ReDoc as the ``fastapi-offline`` package ships them."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def _offline_docs(app: FastAPI) -> list[BaseRoute]:
    """``/docs`` and ``/redoc`` over the packaged assets (no CDN)."""
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    return [
        Route("/docs", swagger, methods=["GET"], include_in_schema=False),
        Route("/redoc", redoc, methods=["GET"], include_in_schema=False),
    ]


def install(app: FastAPI) -> None:
    """Serve the console at ``/`` (assets under ``/console/static``), and
    Swagger UI and ReDoc from the package instead of FastAPI's CDN pages."""
    app.include_router(router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="console-static")
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    replaced = {"/docs", "/redoc"}
    kept = [r for r in app.router.routes if getattr(r, "path", None) not in replaced]
    app.router.routes[:] = _offline_docs(app) + kept
