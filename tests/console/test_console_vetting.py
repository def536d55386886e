"""Vetting in the console (issues 15 and 16), in a real browser: the contact
page shows the verdict with its reason and the measured quality, and an
operator sets it (PUT /contacts/{id}/verdict with If-Match; a refusal shows
the API's reason); the timeline colours vetted contacts by verdict as well
as by state. Screenshots in build/screenshots/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from groundstation.models import Contact

from .conftest import Browser, Console

pytestmark = pytest.mark.timeout(300)

#: api/console/static/js/format.js VERDICT_COLOURS as RGB.
VERDICT_RGB = {"good": (0x4A, 0xC2, 0x6B), "partial": (0xD4, 0xA7, 0x2C), "bad": (0xFA, 0x45, 0x49)}


def _measure(console: Console, contact_id: str, frames_ok: int, verdict: str | None) -> None:
    """What the executor would have recorded and judged for a completed pass."""
    with console.session() as session:
        row = session.get(Contact, contact_id)
        assert row is not None
        row.frames_ok, row.frames_expected, row.esn0_db = frames_ok, 1000, 4.5
        if verdict is not None:
            row.verdict, row.verdict_source = verdict, "auto"
            row.verdict_reason = f"{frames_ok / 10:g} % of frames decoded ({frames_ok} of 1000)"
        session.commit()


def test_the_contact_page_shows_the_verdict_and_an_operator_sets_it(
    console: Console, browser: Browser
) -> None:
    cid = console.contacts["completed"]
    _measure(console, cid, 420, "partial")
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(f"#/contact/{cid}")
    assert browser.text("#contact-verdict") == "partial (auto)"
    assert "42 % of frames decoded" in browser.text("#contact-verdict-reason")
    measured = browser.text("#contact-quality")
    assert "420 of 1000 frames decoded (42.0 %)" in measured and "Es/N0 4.5 dB" in measured
    assert "simulated" in measured and "simulated" in browser.text("#contact-simulated")
    browser.wait(lambda d: "live" in browser.text("#live"))
    browser.screenshot("contact-verdict")

    Select(browser.driver.find_element(By.ID, "verdict-choice")).select_by_value("bad")
    browser.driver.find_element(By.ID, "verdict-reason").send_keys("image lost to interference")
    browser.driver.find_element(By.CSS_SELECTOR, "#verdict-form button[type=submit]").click()
    browser.wait(lambda d: browser.text("#contact-verdict") == "bad (manual)")
    assert "set by key acme" in browser.text("#contact-verdict-reason")
    assert "image lost to interference" in browser.text("#contact-verdict-reason")
    with console.api("acme") as client:
        out = client.get(f"/contacts/{cid}").json()
    assert (out["verdict"], out["verdict_source"], out["verdict_by"]) == (
        "bad",
        "manual",
        "key acme",
    )
    # The verdict event reaches the page's history through the event stream.
    browser.wait(lambda d: "verdict bad (manual)" in browser.text("#history"), timeout_s=30)
    assert "verdict bad" not in browser.text("#contact-reason")  # the state's reason stays
    browser.screenshot("contact-verdict-set")

    # The contact changes behind the page's back (a version it has not
    # seen, no event): the page's If-Match is stale, the API refuses (412)
    # and the page says why; the stored verdict is left as it was.
    with console.session() as session:
        row = session.get(Contact, cid)
        assert row is not None
        row.version += 1
        session.commit()
    Select(browser.driver.find_element(By.ID, "verdict-choice")).select_by_value("good")
    browser.driver.find_element(By.CSS_SELECTOR, "#verdict-form button[type=submit]").click()
    refusal = browser.wait_css("#verdict-note .refused").text
    assert refusal.startswith("Refused: 412") and "If-Match asked for version" in refusal
    with console.api("acme") as client:
        assert client.get(f"/contacts/{cid}").json()["verdict"] == "bad"
    browser.screenshot("contact-verdict-refused")
    # the refused PUT is the browser's only logged error
    assert [e for e in browser.console_errors() if "status of 412" not in e] == []


def test_a_contact_not_ended_has_no_verdict_form_and_says_not_vetted(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(f"#/contact/{console.contacts['running']}")
    assert browser.text("#contact-verdict") == "not vetted"
    assert browser.text("#contact-quality") == "not measured (simulated pass)"
    assert not browser.driver.find_elements(By.ID, "verdict-form")
    browser.go(f"#/contact/{console.contacts['failed']}")
    assert browser.driver.find_elements(By.ID, "verdict-form")  # ended: may be vetted


def test_the_timeline_colours_contacts_by_verdict_as_well_as_state(
    console: Console, browser: Browser
) -> None:
    _measure(console, console.contacts["completed"], 420, "partial")
    with console.api("acme") as client:
        r = client.put(
            f"/contacts/{console.contacts['failed']}/verdict",
            json={"verdict": "bad", "reason": "rotator stuck; nothing usable"},
        )
        assert r.status_code == 200, r.text
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/timeline/2023-07-04")
    canvas = browser.wait_css("#timeline[data-draw-ms]")
    assert canvas.get_attribute("data-vetted") == "2"
    legend = browser.text("#tl-legend-verdicts")
    assert "partial (1)" in legend and "bad (1)" in legend and "good (0)" in legend
    assert "not vetted (2)" in legend

    def has(rgb: tuple[int, int, int]) -> bool:
        return bool(
            browser.driver.execute_script(
                "const [r, g, b] = arguments[0];"
                "const c = document.getElementById('timeline');"
                "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                "for (let i = 0; i < d.length; i += 4)"
                "  if (d[i] === r && d[i+1] === g && d[i+2] === b) return true;"
                "return false;",
                list(rgb),
            )
        )

    assert has(VERDICT_RGB["partial"]) and has(VERDICT_RGB["bad"])
    assert not has(VERDICT_RGB["good"])  # no good contact: its colour is nowhere
    assert has((0x1A, 0x7F, 0x37))  # the COMPLETED bar keeps its state colour above
    browser.screenshot("timeline-verdicts")
    assert browser.console_errors() == []
