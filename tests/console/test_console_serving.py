"""The console is served by the API's own app from the package, and so are
Swagger UI and ReDoc: nothing they reference is on another host (no browser
needed: these run in ``make check``)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console import STATIC
from groundstation.db import make_session_factory
from groundstation.settings import Settings

from .conftest import NOW, REPO, seed

URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=60.0,
    )
    app = create_app(settings)
    with make_session_factory(app.state.ctx.engine)() as session:
        keys = seed(session)
    with TestClient(app) as c:
        yield c, keys
    app.state.ctx.engine.dispose()


def test_the_console_page_is_served_at_the_root_with_a_same_origin_policy(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, _ = client
    r = c.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    for ref in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', r.text):
        asset = c.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content


def test_every_module_the_console_imports_is_served(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, _ = client
    modules = sorted(p.name for p in (STATIC / "js").glob("*.js"))
    assert {"app.js", "api.js", "overview.js", "timeline.js", "contact.js", "datasets.js"} <= set(
        modules
    )
    for name in modules:
        text = c.get(f"/console/static/js/{name}").text
        for imported in re.findall(r'(?:from |import\()\s*"\./([^"]+)"', text):
            assert (STATIC / "js" / imported).is_file(), f"{name} imports missing {imported}"


def test_no_console_file_refers_to_another_host() -> None:
    for path in STATIC.rglob("*"):
        if path.is_file():
            text = path.read_text().replace(SVG_NS, "")
            # comments may name a host; code may not
            code = re.sub(r"^\s*//.*$", "", text, flags=re.M)
            assert URL.findall(code) == [], path


def test_swagger_ui_and_redoc_load_only_assets_served_from_the_package(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, _ = client
    for page in ("/docs", "/redoc"):
        r = c.get(page)
        assert r.status_code == 200
        assert "cdn." not in r.text and "googleapis" not in r.text
        assert URL.findall(r.text) == [], page
        assets = re.findall(r'(?:src|href)="(/[^"]+)"', r.text)
        assert assets
        for ref in assets:
            asset = c.get(ref)
            assert asset.status_code == 200, ref
            assert len(asset.content) > 0
    assert c.get("/openapi.json").status_code == 200


def test_the_session_route_tells_the_console_who_the_key_is_and_the_service_clock(
    client: tuple[TestClient, dict[str, str]],
) -> None:
    c, keys = client
    r = c.get("/console/session", headers={"Authorization": f"Bearer {keys['scientist']}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "scientist" and body["granted_tenants"] == ["acme"]
    assert body["clock"] == "simulated" and body["clock_speedup"] == 60.0
    assert body["now"].startswith("2023-07-04T18:0")
    r = c.get("/console/session", headers={"Authorization": f"Bearer {keys['acme']}"})
    assert (r.json()["role"], r.json()["tenant"]) == ("operator", "acme")
    r = c.get("/console/session")
    assert r.status_code == 401
    assert "missing API key" in r.json()["detail"]


def test_every_console_file_is_package_data() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["api.console"]
    for path in STATIC.rglob("*"):
        if path.is_file():
            relative = path.relative_to(STATIC.parent).as_posix()
            assert any(fnmatch(relative, p) for p in patterns), relative
