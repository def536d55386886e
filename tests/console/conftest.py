"""Fixtures of the console's browser tests: the real app (``create_app``) on
SQLite, seeded with stations, satellites of two tenants, one key per role,
contacts and a dataset, served by uvicorn on a loopback port, and Debian's
headless Chromium driven by Selenium through chromedriver.

Chromium and chromedriver come from ``scripts/services/browser.sh start``
(GS_TEST_CHROMIUM, GS_TEST_CHROMEDRIVER): without them the browser tests
skip locally and FAIL under CI=true. Screenshots of every page go to
``build/screenshots/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import functools
import hashlib
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from api.app import create_app
from groundstation.db import make_session_factory
from groundstation.models import Antenna, Contact
from groundstation.settings import Settings
from ingest.catalog import CatalogService, FileEntry
from tests.service_env import need_env
from tests.support.world import FUNCUBE, NOAA18, NOAA19, NOW, REPO, seed, serve

__all__ = ["FUNCUBE", "NOAA18", "NOAA19", "NOW", "REPO", "seed"]

SCREENSHOTS = REPO / "build" / "screenshots"


@functools.cache
def dataset_bytes() -> bytes:
    """The seeded dataset's ``frames.h5``: a real frames file (60 frames of
    64 bytes, written by ``FramesH5Writer``), as the contact page's frames
    table reads it."""
    import numpy as np

    from ingest.h5frames import ContactAttrs, FramesH5Writer

    attrs = ContactAttrs(
        satellite="NOAA 19",
        norad_id=NOAA19,
        station="svalbard",
        antenna="sv-uhf",
        contact_id="console",
        aos=NOW,
        los=NOW,
    )
    n = np.arange(60)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.h5"
        writer = FramesH5Writer(path, frame_length=64, attrs=attrs)
        writer.append(
            (n[:, None] + np.arange(64)[None, :]).astype(np.uint8),
            sequence=n,
            time_unix_s=NOW.timestamp() + 3600.0 + n,
            virtual_channel=np.zeros(60),
            frame_counter=n,
            rs_corrections=np.zeros(60),
            crc_ok=np.ones(60),
        )
        writer.close()
        return path.read_bytes()


@pytest.fixture(scope="session")
def browser_paths() -> tuple[str, str]:
    """(chromium, chromedriver) from scripts/services/browser.sh."""
    return (
        need_env("GS_TEST_CHROMIUM", "browser"),
        need_env("GS_TEST_CHROMEDRIVER", "browser"),
    )


@dataclass
class Console:
    """The served app: its base URL, keys by who, the engine, seeded ids."""

    url: str
    app: FastAPI
    engine: Engine
    keys: dict[str, str]
    contacts: dict[str, str] = field(default_factory=dict)

    def api(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=60
        )

    def session(self) -> Session:
        return make_session_factory(self.engine)()


def book_first_pass(console: Console, who: str, norad_id: int, antenna_id: str) -> str:
    """Book the first free pass of ``norad_id`` on ``antenna_id`` over the API."""
    with console.api(who) as client:
        r = client.get(
            "/passes",
            params={
                "satellite": norad_id,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(hours=24)).isoformat(),
                "min_elevation": 10,
            },
        )
        assert r.status_code == 200, r.text
        p = next(
            p
            for p in r.json()["data"]
            if p["duration_s"] >= 300
            and any(a["antenna_id"] == antenna_id and a["free"] for a in p["antennas"])
        )
        body = {
            "norad_id": norad_id,
            "antenna_id": antenna_id,
            "profile_id": "leo",
            "start": p["aos"],
            "end": p["los"],
        }
        r = client.post("/contacts", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def copy_contacts(engine: Engine, template_id: str, rows: list[dict[str, Any]]) -> None:
    """Bulk-insert contacts that are ``template_id``'s row with ``rows``'
    fields (id, antenna_id, times, state...) replaced: a timeline's worth in
    one statement per 2,000, as bench/api.py populates."""
    with engine.connect() as conn:
        template = dict(
            conn.execute(select(Contact.__table__).where(Contact.id == template_id))
            .mappings()
            .one()
        )
    template.update(idempotency_key=None, idempotency_fingerprint=None)
    full = [{**template, **row} for row in rows]
    with engine.begin() as conn:
        for k in range(0, len(full), 2000):
            conn.execute(insert(Contact), full[k : k + 2000])


def contact_row(
    antenna_id: str, start: datetime, minutes: float, state: str, reason: str = ""
) -> dict[str, Any]:
    end = start + timedelta(minutes=minutes)
    return {
        "id": str(uuid.uuid4()),
        "antenna_id": antenna_id,
        "booked_start": start,
        "booked_end": end,
        "blocked_start": start - timedelta(seconds=60),
        "blocked_end": end + timedelta(seconds=60),
        "aos": start + timedelta(seconds=120),
        "tca": start + (end - start) / 2,
        "los": end - timedelta(seconds=60),
        "state": state,
        "state_reason": reason,
    }


def png_bytes(width: int, height: int) -> bytes:
    """A real ``width`` x ``height`` PNG (a grey ramp), as a quick-look is."""
    import io

    from PIL import Image

    image = Image.linear_gradient("L").resize((width, height))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def add_dataset(app: FastAPI, *, dataset_id: str, contact_id: str, files: dict[str, bytes]) -> None:
    """A ready dataset of NOAA 19 from ``contact_id``: objects in the app's
    store, rows in the catalogue."""
    store = app.state.ctx.object_store()
    prefix = f"{NOAA19}/2023/07/04/{contact_id}"
    catalog = CatalogService(app.state.ctx.engine)
    catalog.begin(
        dataset_id=dataset_id,
        contact_id=contact_id,
        norad_id=NOAA19,
        satellite="NOAA 19",
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
        sha = hashlib.sha256(data).hexdigest()
        entries.append(FileEntry(name, store.uri(f"{prefix}/{name}"), len(data), sha))
    catalog.mark_ready(dataset_id, files=entries, manifest_sha256="0" * 64, now=NOW)


class RequestLog:
    """ASGI middleware that records every HTTP request's path (``paths``)
    and, while ``refuse_events`` is set, answers GET /contacts/events with
    503 (a proxy that breaks the event stream). Add it before serving:
    ``app.add_middleware(RequestLog, log=log)`` with ``log = RequestLog.State()``."""

    @dataclass
    class State:
        paths: list[str] = field(default_factory=list)
        refuse_events: bool = False

        def count(self, suffix: str) -> int:
            return sum(1 for p in list(self.paths) if p.endswith(suffix))

    def __init__(self, app: Any, log: RequestLog.State) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.log.paths.append(scope["path"])
            if self.log.refuse_events and scope["path"] == "/contacts/events":
                body = b'{"detail": "event stream refused by the test"}'
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def make_console(
    tmp_path: Path, populate: Callable[[Console], None]
) -> Generator[Console, None, None]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=1.0,
    )
    app = create_app(settings)
    engine = app.state.ctx.engine
    with make_session_factory(engine)() as session:
        keys = seed(
            session,
            horizon_mask=[(0.0, 3.0), (90.0, 8.0), (180.0, 4.0), (270.0, 6.0)],
            offline_antennas=["sv-s"],
        )
    with serve(app) as url:
        console = Console(url, app, engine, keys)
        populate(console)
        yield console
    engine.dispose()


def small_world(console: Console) -> None:
    """Contacts of both tenants: booked ones ahead, one running now, one
    failed and one completed in the last day; a dataset of acme's contact."""
    c = console.contacts
    c["noaa19"] = book_first_pass(console, "acme", NOAA19, "sv-uhf")
    c["running"], c["failed"], c["completed"] = (str(uuid.uuid4()) for _ in range(3))
    copy_contacts(
        console.engine,
        c["noaa19"],
        [
            {**contact_row("sv-uhf-2", NOW - timedelta(minutes=4), 12, "PASS"), "id": c["running"]},
            {
                **contact_row("sv-uhf-2", NOW - timedelta(hours=5), 10, "FAILED", "rotator stuck"),
                "id": c["failed"],
            },
            {
                **contact_row("sv-uhf", NOW - timedelta(hours=3), 10, "COMPLETED"),
                "id": c["completed"],
            },
        ],
    )
    c["funcube"] = book_first_pass(console, "globex", FUNCUBE, "sv-uhf-2")
    add_dataset(
        console.app,
        dataset_id="ds-noaa19",
        contact_id=c["completed"],
        files={
            "frames.h5": dataset_bytes(),
            "products/image.png": png_bytes(64, 32),
            "quicklooks/waterfall.png": png_bytes(120, 40),
        },
    )


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    yield from make_console(tmp_path, small_world)


def antenna_farm(n_antennas: int, per_antenna: int) -> Callable[[Console], None]:
    """A station with ``n_antennas`` antennas and ``per_antenna`` contacts on
    each in the day of NOW (states mixed as an operating day has them)."""

    def populate(console: Console) -> None:
        with console.engine.begin() as conn:
            conn.execute(
                insert(Antenna),
                [
                    {
                        "id": f"farm-{i:03d}",
                        "station_id": "svalbard",
                        "bands": [[400e6, 450e6]],
                        "min_elevation_deg": 0.0,
                        "max_az_slew_deg_s": 10.0,
                        "max_el_slew_deg_s": 10.0,
                        "setup_s": 60.0,
                        "teardown_s": 60.0,
                        "status": "online",
                    }
                    for i in range(n_antennas)
                ],
            )
        template = book_first_pass(console, "acme", NOAA19, "sv-uhf")
        day = NOW.replace(hour=0)
        step = timedelta(days=1) / per_antenna
        rows = []
        for i in range(n_antennas):
            for k in range(per_antenna):
                start = day + k * step + timedelta(seconds=30)
                state = "COMPLETED" if start < NOW else "SCHEDULED"
                if k % 17 == 5:
                    state = "FAILED" if start < NOW else "CANCELLED"
                rows.append(contact_row(f"farm-{i:03d}", start, step.total_seconds() / 90, state))
        copy_contacts(console.engine, template, rows)
        console.contacts["template"] = template

    return populate


@dataclass
class Browser:
    """A Selenium Chrome session with the console's helpers."""

    driver: Any
    base_url: str

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def sign_in(self, key: str) -> None:
        from selenium.webdriver.common.by import By

        self.open("/")
        self.wait_css("#api-key")
        box = self.driver.find_element(By.ID, "api-key")
        box.clear()
        box.send_keys(key)
        self.driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()

    def wait(self, condition: Callable[[Any], Any], timeout_s: float = 30.0) -> Any:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        try:
            return WebDriverWait(self.driver, timeout_s, poll_frequency=0.05).until(condition)
        except TimeoutException:
            self.screenshot("timeout")
            page = self.driver.execute_script("return document.body.innerText")
            raise AssertionError(
                f"timed out after {timeout_s} s on {self.driver.current_url}; page text:\n"
                f"{page}\nbrowser log: {self.driver.get_log('browser')}"
            ) from None

    def wait_css(self, css: str, timeout_s: float = 30.0) -> Any:
        from selenium.webdriver.common.by import By

        return self.wait(lambda d: d.find_element(By.CSS_SELECTOR, css), timeout_s)

    def go(self, hash_path: str, timeout_s: float = 60.0) -> None:
        """Navigate inside the console and wait until the page has rendered."""
        page = hash_path.lstrip("#/").split("/")[0]
        self.driver.execute_script("window.location.hash = arguments[0]", hash_path)
        self.wait_css(f"main[data-ready=true][data-page='{page}']", timeout_s)

    def text(self, css: str) -> str:
        """The visible text of ``css``; read again when the page replaced
        the element between finding and reading it (a list re-rendered)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        for _ in range(20):
            try:
                return str(self.driver.find_element(By.CSS_SELECTOR, css).text)
            except StaleElementReferenceException:
                time.sleep(0.05)
        return str(self.driver.find_element(By.CSS_SELECTOR, css).text)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def resources(self) -> list[str]:
        """Every URL this page loaded or fetched (performance entries)."""
        return list(
            self.driver.execute_script(
                "return [location.href, ...performance.getEntriesByType('resource')"
                ".map(e => e.name)]"
            )
        )

    def console_errors(self) -> list[str]:
        return [
            e["message"]
            for e in self.driver.get_log("browser")
            if e["level"] == "SEVERE" and "favicon" not in e["message"]
        ]


def chromium_driver(chromium: str, chromedriver: str, workdir: Path) -> Any:
    """Headless Chromium with the network closed but for 127.0.0.1 (every
    other host name resolves to nothing), driven through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={workdir / 'chromium-profile'}",
        "--window-size=1400,1000",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=Service(executable_path=chromedriver, log_output=str(workdir / "chromedriver.log")),
        options=options,
    )
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture
def browser(browser_paths: tuple[str, str], tmp_path: Path, console_url: str) -> Iterator[Browser]:
    driver = chromium_driver(*browser_paths, tmp_path)
    try:
        yield Browser(driver, console_url)
    finally:
        driver.quit()


@pytest.fixture
def console_url(console: Console) -> str:
    return console.url
