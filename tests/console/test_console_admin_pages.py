"""The satellites, usage and API-keys pages in a real browser, each role
seeing only what it may."""

from __future__ import annotations

import re

import httpx
import pytest
from selenium.webdriver.common.by import By

from .conftest import FUNCUBE, Browser, Console

pytestmark = pytest.mark.timeout(300)


def test_an_operator_sees_its_satellites_with_elements_in_force_and_next_passes(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/satellites")
    assert browser.text("#sat-count") == "2 satellites"
    main = browser.text("main")
    assert "NOAA 19" in main and "NOAA 18" in main and "FUNCUBE-1" not in main
    assert "437.500 MHz, bpsk" in main
    browser.screenshot("satellites")
    browser.driver.find_element(By.LINK_TEXT, "NOAA 19").click()
    browser.wait_css("#sat-passes table")
    # elements of 2023-07-04T16:11Z, on the service clock at 18:00Z
    in_force = browser.text("#sat-in-force")
    assert "In force: epoch 2023-07-04 16:11" in in_force
    assert re.search(r"1 h 4\d min old on the service clock", in_force), in_force
    # the world map: land from the package, the ground track, svalbard's footprint
    css = browser.driver.find_elements
    assert len(css(By.CSS_SELECTOR, "#sat-map path.land")) > 100
    assert css(By.CSS_SELECTOR, "#sat-map path.track")
    assert css(By.CSS_SELECTOR, "#sat-map circle.subpoint")
    assert css(By.CSS_SELECTOR, "#sat-map path.footprint[data-station=svalbard]")
    assert css(By.CSS_SELECTOR, "#sat-map g.station[data-station=svalbard]")
    assert "mean height 8" in browser.text("#sat-map-section")  # NOAA 19: about 850 km
    passes = browser.text("#sat-passes")
    assert "svalbard" in passes and "2023-07-04" in passes
    # NOAA 19 is not in the built-in satellite catalogue
    assert "Not in the built-in satellite catalogue" in browser.text("#sat-catalogue")
    browser.screenshot("satellite-noaa19")
    # another tenant's satellite is not found, not shown
    browser.go(f"#/satellites/{FUNCUBE}")
    assert "404" in browser.text("main") and "FUNCUBE" not in browser.text("main")
    assert [e for e in browser.console_errors() if "404" not in e] == []


def test_usage_shows_an_operator_its_tenant_and_an_admin_every_tenant(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/usage")
    browser.wait_css("#usage-results table")
    usage = browser.text("#usage-results")
    assert "2023-07" in usage and "acme" in usage and "globex" not in usage
    with console.api("acme") as client:
        (row,) = client.get("/usage", params={"month": "2023-07"}).json()["data"]
    assert f"{row['booked_minutes']:.1f}" in usage
    browser.screenshot("usage-operator")
    browser.driver.execute_script("sessionStorage.clear()")
    browser.sign_in(console.keys["admin"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/usage")
    browser.wait_css("#usage-results table")
    usage = browser.text("#usage-results")
    assert "acme" in usage and "globex" in usage and "All tenants" in usage
    # another month: nothing booked
    month = browser.driver.find_element(By.ID, "usage-month")
    browser.driver.execute_script("arguments[0].value = '2023-09'", month)
    browser.driver.find_element(By.CSS_SELECTOR, "#usage-form button[type=submit]").click()
    browser.wait(lambda d: "No contact in 2023-09" in browser.text("#usage-results"))


def test_an_admin_creates_a_key_shown_once_and_revokes_it(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["admin"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/keys")
    browser.wait_css("#keys-list table")
    before = browser.text("#keys-count")
    browser.driver.find_element(By.ID, "key-name").send_keys("night shift")
    browser.driver.find_element(By.CSS_SELECTOR, "#key-role option[value=operator]").click()
    browser.driver.find_element(By.ID, "key-tenant").send_keys("acme")
    browser.driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    key = browser.wait_css("#key-value").get_attribute("value")
    assert key.startswith("gs_")
    browser.wait(lambda d: browser.text("#keys-count") != before)
    assert "night shift" in browser.text("#keys-list")
    browser.screenshot("keys-admin")
    with httpx.Client(
        base_url=console.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        assert client.get("/console/session").json()["tenant"] == "acme"
        with console.api("admin") as admin:
            (new,) = [
                k for k in admin.get("/api-keys").json()["data"] if k["name"] == "night shift"
            ]
        browser.driver.find_element(By.CSS_SELECTOR, f"button[data-key='{new['id']}']").click()
        browser.wait(lambda d: "night shift" not in browser.text("#keys-list"))
        assert client.get("/console/session").status_code == 401
    # a refused key shows the API's reason
    browser.driver.find_element(By.ID, "key-name").send_keys("no tenant")
    browser.driver.find_element(By.CSS_SELECTOR, "#key-role option[value=operator]").click()
    browser.driver.find_element(By.CSS_SELECTOR, "#key-form button[type=submit]").click()
    browser.wait(lambda d: "needs a tenant" in browser.text("#key-created"))
    assert "Refused" in browser.text("#key-created")


def test_an_operator_has_no_keys_page_and_the_api_refuses_it_too(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    assert "keys" not in [
        a.get_attribute("data-page")
        for a in browser.driver.find_elements(By.CSS_SELECTOR, "#nav a")
    ]
    browser.go("#/keys")
    assert "not available to role operator" in browser.text("main")
    with console.api("acme") as client:
        assert client.get("/api-keys").status_code == 403


def test_a_catalogued_satellite_shows_its_catalogue_transmitters(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["globex"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(f"#/satellites/{FUNCUBE}")
    browser.wait_css("#sat-catalogue table")
    with console.api("globex") as client:
        found = client.get(f"/satellites/{FUNCUBE}/transmitters").json()
    assert found["catalogued"] and found["count"] >= 1
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#sat-catalogue tbody tr")
    assert len(rows) == found["count"]
    text = browser.text("#sat-catalogue")
    for t in found["data"]:
        assert t["name"] in text and f"{t['frequency_hz'] / 1e6:.3f} MHz" in text
        assert t["framing"] in text
    browser.screenshot("satellite-funcube-catalogue")
    assert browser.console_errors() == []
