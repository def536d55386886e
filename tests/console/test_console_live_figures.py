"""The contact page's live figures when the event stream fails (issue 16),
in a real browser: the page reads GET /contacts/{id}/progress every second
while the stream is refused, and stops reading it once the stream is back,
taking the figures from its `event: progress` events instead.

A contact is put in PASS with stored figures as its executor stores them
(``write_progress``); a thread moves them on every 0.2 s. The stream is
broken by the test's ``RequestLog`` middleware (503), as a proxy that does
not pass Server-Sent Events would."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from api.app import create_app
from groundstation.db import make_session_factory
from groundstation.models import Contact
from groundstation.settings import Settings
from groundstation.states import ContactState
from tests.support.progress import store_progress
from tests.support.world import serve

from .conftest import NOAA19, NOW, Browser, Console, RequestLog, book_first_pass, seed

pytestmark = [pytest.mark.timeout(600)]


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Console, RequestLog.State, str]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gs.db'}",
        data_dir=tmp_path / "var",
        clock="simulated",
        clock_start=NOW,
        clock_speedup=1.0,
    )
    app = create_app(settings)
    requests = RequestLog.State(refuse_events=True)
    app.add_middleware(RequestLog, log=requests)
    engine = app.state.ctx.engine
    with make_session_factory(engine)() as session:
        keys = seed(session)
    stop = threading.Event()
    with serve(app) as url:
        console = Console(url, app, engine, keys)
        cid = book_first_pass(console, "acme", NOAA19, "sv-uhf")
        with console.session() as session:
            contact = session.get(Contact, cid)
            assert contact is not None
            contact.state = ContactState.PASS.value
            session.commit()

        def executor() -> None:
            frames = 0
            while not stop.wait(0.2):
                frames += 1
                with console.session() as session:
                    store_progress(
                        session,
                        cid,
                        frames_decoded=frames,
                        frames_sent=frames,
                        updated_at=NOW + timedelta(seconds=frames),
                        elapsed_s=float(frames),
                        duration_s=3600.0,
                        esn0_db=6.0,
                        doppler_hz=-2500.0,
                    )

        thread = threading.Thread(target=executor, daemon=True)
        thread.start()
        try:
            yield console, requests, cid
        finally:
            stop.set()
            thread.join(10)
    engine.dispose()


@pytest.fixture
def console_url(running: tuple[Console, RequestLog.State, str]) -> str:
    return running[0].url


def test_without_the_stream_the_page_reads_the_figures_and_stops_once_the_stream_is_back(
    running: tuple[Console, RequestLog.State, str], browser: Browser
) -> None:
    console, requests, cid = running
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]", timeout_s=60)
    browser.go(f"#/contact/{cid}")
    section = browser.driver.find_element(By.ID, "live-progress")
    browser.wait(lambda d: section.get_attribute("data-source") == "request", timeout_s=60)
    assert "reconnecting" in browser.text("#live")
    assert "event stream down" in browser.text("#live-status")
    assert "Simulated pass" in browser.text("#live-simulated")
    first = int(section.get_attribute("data-frames") or 0)
    browser.wait(lambda d: int(section.get_attribute("data-frames") or 0) > first, timeout_s=60)
    assert requests.count("/progress") >= 2  # read again and again: the fallback
    browser.screenshot("live-figures-fallback")

    requests.refuse_events = False  # the stream is back (the page retries every 2 s)
    browser.wait(lambda d: section.get_attribute("data-source") == "stream", timeout_s=60)
    assert "from the event stream" in browser.text("#live-status")
    time.sleep(1.5)  # a read already under way may still end
    reads = requests.count("/progress")
    frames = int(section.get_attribute("data-frames") or 0)
    time.sleep(4.0)
    assert requests.count("/progress") == reads  # no more polling
    assert int(section.get_attribute("data-frames") or 0) > frames  # the stream moves them
    assert section.get_attribute("data-source") == "stream"
