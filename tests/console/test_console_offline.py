"""The console and the API docs work with the network closed: the browser
resolves no host but 127.0.0.1 (``--host-resolver-rules``), and every URL a
page loaded or fetched is on the console's own origin. Every control is
labelled and reachable with the keyboard."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .conftest import NOAA19, Browser, Console

pytestmark = pytest.mark.timeout(300)


#: (who signs in, page) of every page of the console.
PAGES = [
    *(
        ("acme", page)
        for page in (
            "#/overview",
            "#/timeline/2023-07-04",
            "#/passes",
            "#/datasets",
            "#/contact/{noaa19}",
            "#/contact/{completed}",  # with its dataset's frames table and quick-looks
            "#/satellites",
            f"#/satellites/{NOAA19}",
            "#/usage",
        )
    ),
    ("admin", "#/keys"),
]


def off_origin(browser: Browser) -> list[str]:
    return [u for u in browser.resources() if not u.startswith(browser.base_url + "/")]


def test_no_page_of_the_console_or_the_docs_requests_another_host(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["admin"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    for page in (
        "#/overview",
        "#/timeline/2023-07-04",
        "#/passes",
        "#/datasets",
        "#/satellites",
        f"#/satellites/{NOAA19}",
        "#/usage",
        "#/keys",
    ):
        browser.go(page)
    browser.go(f"#/contact/{console.contacts['noaa19']}")
    browser.wait_css("#skyplot")
    loaded = browser.resources()
    assert any("/contacts/" in u and "/track" in u for u in loaded)
    assert off_origin(browser) == []
    assert browser.console_errors() == []

    browser.open("/docs")
    browser.wait_css(".swagger-ui .opblock", timeout_s=60)
    operations = browser.driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock")
    assert len(operations) > 20  # every operation of the API, rendered offline
    browser.screenshot("docs-swagger-ui")
    assert off_origin(browser) == []

    browser.open("/redoc")
    browser.wait(
        lambda d: "Authenticate with" in d.execute_script("return document.body.innerText"), 60
    )
    browser.screenshot("docs-redoc")
    # ReDoc's bundle asks for its attribution logo on a CDN; the page's
    # Content-Security-Policy refuses it before any request is made.
    logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
    assert set(off_origin(browser)) <= {logo}
    if off_origin(browser):
        refused = [m for m in browser.console_errors() if "Content Security Policy" in m]
        assert any(logo in m for m in refused), browser.console_errors()


def accessible_name(browser: Browser, element: object) -> str:
    return str(
        browser.driver.execute_script(
            """
            const el = arguments[0];
            if (el.getAttribute('aria-label')) return el.getAttribute('aria-label');
            if (el.labels && el.labels.length) return el.labels[0].innerText;
            const by = el.getAttribute('aria-labelledby');
            if (by) return document.getElementById(by).textContent;
            return el.innerText || el.value || '';
            """,
            element,
        )
    ).strip()


@pytest.mark.parametrize(("who", "page"), PAGES)
def test_every_control_is_labelled_and_reachable_with_the_tab_key(
    console: Console, browser: Browser, who: str, page: str
) -> None:
    browser.sign_in(console.keys[who])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(page.format(**console.contacts))
    controls = browser.driver.find_elements(
        By.CSS_SELECTOR, "a[href], button, input, select, textarea, [tabindex='0']"
    )
    unnamed = [
        c.get_attribute("outerHTML")[:120] for c in controls if not accessible_name(browser, c)
    ]
    assert unnamed == []
    # From the first control (the skip link, the first tab stop of the
    # document), Tab visits every control in turn.
    browser.driver.execute_script("document.querySelector('a.skip').focus()")
    reached = []
    for _ in range(6 * len(controls)):  # date inputs take a Tab per field
        reached.append(browser.driver.switch_to.active_element)
        if reached[-1] == controls[-1]:
            break
        reached[-1].send_keys(Keys.TAB)
    missing = [c.get_attribute("outerHTML")[:120] for c in controls if c not in reached]
    assert missing == []


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script (scripts/services/browser.sh installs it from npm)."""
    from pathlib import Path

    from tests.service_env import need_env

    return Path(need_env("GS_TEST_AXE", "browser")).read_text()


@pytest.mark.parametrize(("who", "page"), PAGES)
def test_axe_finds_no_serious_accessibility_violation(
    console: Console, browser: Browser, axe_source: str, who: str, page: str
) -> None:
    browser.sign_in(console.keys[who])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(page.format(**console.contacts))
    browser.driver.execute_script(axe_source)
    result = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.html)}))), e => done(String(e)));"
    )
    assert isinstance(result, list), result
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == []
