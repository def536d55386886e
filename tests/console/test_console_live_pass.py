"""A pass watched live in the console (issue 16), in a real browser: a
predicted pass booked from the passes page runs to COMPLETED in compressed
time on its contact page (the live figures move during PASS, from the event
stream: the page never polls GET /contacts/{id}/progress while the pass
runs), then its frames table pages through frames.h5, its quick-looks show,
a dataset file downloads with a verified checksum, and the whole dataset as
a tar with every file checked against its manifest.

The service runs as ``serve`` runs it (``open_runtime`` + ``attach_runtime``:
the lifecycle and the simulated downlink executor) on SQLite, on a clock held
still while the test books and released at 20x afterwards, so the booking
never races the pass however loaded the machine is. The pass is short (NOAA
19's 18:14 pass above 45 deg, about 150 s); the link budget is raised 10 dB so
that it closes at UHF all along."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from api.app import attach_runtime, create_app
from groundstation.clock import SimulatedClock
from groundstation.db import make_session_factory
from groundstation.downlink import LinkModel
from groundstation.runtime import Runtime, open_runtime
from groundstation.settings import Settings
from tests.support.world import serve

from .conftest import NOAA19, NOW, Browser, Console, RequestLog, seed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SPEEDUP = 20.0
#: Service time the clock is held at while the test books: a few minutes
#: before NOAA 19's pass of 18:14 (above 45 deg) over Svalbard.
HELD_AT = NOW + timedelta(minutes=11)
MIN_ELEVATION_DEG = 45


class HeldClock(SimulatedClock):
    """A simulated clock that reads ``start`` until ``release()``, then runs
    ``speedup`` times the wall clock from ``start``."""

    def __init__(self, start: datetime, *, speedup: float) -> None:
        super().__init__(start, speedup=speedup)
        self.held = True

    def release(self) -> None:
        self.real_epoch = datetime.now(UTC)
        self.held = False

    def now(self) -> datetime:
        return self.service_epoch if self.held else super().now()

    def to_real(self, service_time: datetime) -> datetime:
        if self.held:
            self.real_epoch = datetime.now(UTC)
        return super().to_real(service_time)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Console, Runtime, HeldClock, RequestLog.State]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=HELD_AT,
        clock_speedup=SPEEDUP,
        downlink_max_lag_s=3600.0,  # a loaded machine may lag the clock: never fail for it
    )
    clock = HeldClock(HELD_AT, speedup=SPEEDUP)
    runtime = open_runtime(settings, clock=clock, link=LinkModel(eirp_dbw=1.5))
    try:
        app = create_app(settings, clock=clock)
        requests = RequestLog.State()
        app.add_middleware(RequestLog, log=requests)
        attach_runtime(app, runtime)
        engine = app.state.ctx.engine
        with make_session_factory(engine)() as session:
            keys = seed(session)
        with serve(app) as url:
            yield Console(url, app, engine, keys), runtime, clock, requests
    finally:
        runtime.close()
        app.state.ctx.engine.dispose()


@pytest.fixture
def console_url(live: tuple[Console, Runtime, HeldClock, RequestLog.State]) -> str:
    return live[0].url


def _book_from_the_passes_page(browser: Browser) -> str:
    browser.go("#/passes")
    browser.wait(lambda d: "pass" in browser.text("#ps-count"))
    Select(browser.driver.find_element(By.ID, "ps-satellite")).select_by_value(str(NOAA19))
    for field, value in (("ps-hours", 1), ("ps-min-el", MIN_ELEVATION_DEG)):
        box = browser.driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(str(value))
    browser.driver.find_element(By.CSS_SELECTOR, "#ps-form button[type=submit]").click()
    browser.wait(lambda d: browser.text("#ps-count") == "1 pass", timeout_s=60)
    assert "18:14" in browser.text("#ps-results")
    browser.screenshot("live-pass-predicted")
    browser.driver.find_element(By.CSS_SELECTOR, "button[data-antenna='sv-uhf']").click()
    link = browser.wait_css("#ps-results a.booked", timeout_s=60)
    booked = str(link.text)
    link.click()
    browser.wait_css("main[data-ready=true][data-page='contact']", timeout_s=60)
    return booked


def test_a_booked_pass_runs_live_to_completed_then_its_quicklooks_and_a_checked_download(
    live: tuple[Console, Runtime, HeldClock, RequestLog.State], browser: Browser
) -> None:
    console, runtime, clock, requests = live
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]", timeout_s=60)
    contact_id = _book_from_the_passes_page(browser)
    with console.api("acme") as client:
        contact = client.get(f"/contacts/{contact_id}").json()
    assert contact["state"] == "SCHEDULED"
    assert (
        120
        <= (
            datetime.fromisoformat(contact["los"]) - datetime.fromisoformat(contact["aos"])
        ).total_seconds()
        <= 200
    )
    browser.wait(lambda d: "SCHEDULED" in browser.text("#contact-state"))
    browser.wait(lambda d: "pass begins" in browser.text("#live-status"))

    assert "simulated" in browser.text("#contact-simulated")  # the page says so
    assert requests.count("/progress") == 0

    clock.release()
    runtime.start()
    frames_seen: list[int] = []
    sources: set[str | None] = set()
    polled_while_live = 0
    section = browser.driver.find_element(By.ID, "live-progress")
    deadline = time.monotonic() + 600
    shot = False
    while "COMPLETED" not in (state := browser.text("#contact-state")):
        assert time.monotonic() < deadline, f"not COMPLETED; seen frame counts {frames_seen}"
        assert "FAILED" not in state, browser.text("#contact-reason")
        if any(s in state for s in ("PREPASS", "PASS", "POSTPASS")):
            polled_while_live = requests.count("/progress")
        if section.get_attribute("data-status") == "running":
            sources.add(section.get_attribute("data-source"))
            count = int(section.get_attribute("data-frames") or 0)
            if not frames_seen or frames_seen[-1] != count:
                frames_seen.append(count)
            if not shot and count > 0:
                browser.screenshot("live-pass-running")
                shot = True
                assert "Simulated pass" in browser.text("#live-simulated")
                assert "kHz" in browser.text("#live-doppler")
                assert "Live:" in browser.text("#live-status")
                assert "from the event stream" in browser.text("#live-status")
        time.sleep(0.1)
    # The live numbers changed during PASS.
    assert len(set(frames_seen)) >= 2, (frames_seen, browser.text("#live-progress"))
    assert frames_seen == sorted(frames_seen)
    # The figures came from the event stream: not one GET /progress during the pass.
    assert sources == {"stream"}, sources
    assert polled_while_live == 0

    with console.api("acme") as client:
        done = client.get(f"/contacts/{contact_id}").json()
        (dataset,) = client.get("/datasets", params={"contact": contact_id}).json()["data"]
    browser.wait(lambda d: section.get_attribute("data-status") == "final", timeout_s=60)
    assert section.get_attribute("data-frames") == str(done["frames_ok"])
    assert "Pass ended" in browser.text("#live-status")
    assert f"{done['frames_ok']} of" in browser.text("#live-frames")

    # The dataset and its quick-looks replace "no dataset yet" without a reload.
    browser.wait_css(f"#contact-quicklooks [data-dataset='{dataset['id']}']", timeout_s=60)
    images = browser.driver.find_elements(By.CSS_SELECTOR, "#contact-quicklooks img")
    assert len(images) >= 2
    browser.wait(
        lambda d: all(img.get_attribute("data-loaded") == "true" for img in images), timeout_s=60
    )
    for img in images:
        assert browser.driver.execute_script("return arguments[0].naturalWidth", img) > 10
    browser.screenshot("live-pass-completed")
    # After the pass at most one read of /progress (its final figures), no polling.
    assert requests.count("/progress") <= 1, requests.count("/progress")

    # The frames table: frames.h5 a page of 50 at a time.
    with console.api("acme") as client:
        all_frames = client.get(f"/datasets/{dataset['id']}/frames", params={"limit": 500}).json()
    assert all_frames["count"] >= done["frames_ok"] > 50
    table = browser.wait_css(f"#contact-frames section.frames[data-dataset='{dataset['id']}']")
    browser.wait(lambda d: table.get_attribute("data-count") == str(all_frames["count"]))
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 50
    first = all_frames["data"][0]
    cells = [c.text for c in rows[0].find_elements(By.CSS_SELECTOR, "td")]
    assert cells[0] == str(first["sequence"]) and cells[2] == str(first["length_bytes"])
    assert cells[6] == first["head_hex"]
    assert f"frames 1–50 of {all_frames['count']}" in table.text
    assert "simulated pass" in table.text
    table.find_element(By.CSS_SELECTOR, "button[data-frames-next]").click()
    browser.wait(lambda d: table.get_attribute("data-offset") == "50")
    browser.wait(
        lambda d: (
            table.find_element(By.CSS_SELECTOR, "tbody tr td").text
            == str(all_frames["data"][50]["sequence"])
        )
    )
    assert "frames 51–" in table.text
    browser.driver.execute_script("arguments[0].scrollIntoView()", table)
    browser.screenshot("live-pass-frames")

    name = next(f["name"] for f in dataset["files"] if f["name"].endswith(".h5"))
    button = browser.driver.find_element(
        By.CSS_SELECTOR, f"#contact-datasets button[data-file='{name}']"
    )
    button.click()
    browser.wait(lambda d: "SHA-256" in browser.text("#contact-datasets"), timeout_s=60)
    entry = next(f for f in dataset["files"] if f["name"] == name)
    assert f"{entry['size_bytes']} bytes, SHA-256 verified" in browser.text("#contact-datasets")
    with httpx.Client(base_url=console.url, timeout=60) as http:
        r = http.get(
            f"/datasets/{dataset['id']}/files/{name}",
            headers={"Authorization": f"Bearer {console.keys['acme']}"},
        )
    assert (
        hashlib.sha256(r.content).hexdigest() == r.headers["X-Checksum-SHA256"] == entry["sha256"]
    )
    assert len(r.content) == entry["size_bytes"]
    # The whole dataset: a tar whose every file matches its manifest's SHA-256.
    browser.driver.find_element(
        By.CSS_SELECTOR, f"#contact-datasets button[data-archive='{dataset['id']}']"
    ).click()
    browser.wait(
        lambda d: "verified against the manifest" in browser.text("#contact-datasets"),
        timeout_s=120,
    )
    with httpx.Client(base_url=console.url, timeout=60) as http:
        tar = http.get(
            f"/datasets/{dataset['id']}/archive",
            headers={"Authorization": f"Bearer {console.keys['acme']}"},
        )
    files = len(dataset["files"])
    assert f"{len(tar.content)} bytes, {files} files, every SHA-256 verified" in browser.text(
        "#contact-datasets"
    )
    browser.screenshot("live-pass-download")
    assert browser.console_errors() == []
