"""The console in a real browser (headless Chromium): sign-in per role,
overview, timeline, contact page with its sky plot and live state, datasets
with a checked download; screenshots in build/screenshots/."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By

from groundstation.agents import record_heartbeat
from tests.support.progress import store_progress

from .conftest import NOW, Browser, Console, dataset_bytes

pytestmark = pytest.mark.timeout(300)


OPERATOR_PAGES = ["overview", "timeline", "passes", "satellites", "datasets", "usage", "docs"]


def nav_pages(browser: Browser) -> list[str]:
    browser.wait_css("#nav a")
    return [
        a.get_attribute("data-page")
        for a in browser.driver.find_elements(By.CSS_SELECTOR, "#nav a")
    ]


def test_an_operator_signs_in_and_sees_the_overview_of_its_tenant(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.wait_css("#running table")
    assert nav_pages(browser) == OPERATOR_PAGES
    assert "acme (operator, tenant acme)" in browser.text("#who")
    assert "Simulated clock" in browser.text("#clock")
    main = browser.text("main")
    assert "SvalSat (svalbard)" in main
    assert "sv-s: offline" in main
    # on the world map, svalbard is partly online (sv-s is offline)
    marker = browser.driver.find_element(By.CSS_SELECTOR, "#stations-map g.station")
    assert marker.get_attribute("data-station") == "svalbard"
    assert marker.get_attribute("data-status") == "partly online"
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#stations-map path.land")) > 100
    running = browser.text("#running")
    assert "NOAA 19" in running and "PASS" in running
    # the running contact's satellite is on the map where the API says it is now
    sat = browser.wait_css("#stations-map g.running-satellite")
    assert sat.get_attribute("data-contact") == console.contacts["running"]
    with console.api("acme") as http:
        contact = http.get(f"/contacts/{console.contacts['running']}").json()
        now = http.get("/console/session").json()["now"]
        track = http.get(
            f"/satellites/{contact['norad_id']}/ground-track",
            params={"start": now, "end": contact["los"], "step_s": 15},
        ).json()
    assert sat.get_attribute("data-norad") == str(contact["norad_id"])
    assert "NOAA 19" in sat.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    lat, lon = (math.radians(float(sat.get_attribute(k))) for k in ("data-lat", "data-lon"))
    want_lat, want_lon = (math.radians(track["data"][0][k]) for k in ("lat_deg", "lon_deg"))
    apart_deg = math.degrees(
        math.acos(
            min(
                1.0,
                math.sin(lat) * math.sin(want_lat)
                + math.cos(lat) * math.cos(want_lat) * math.cos(lon - want_lon),
            )
        )
    )
    assert apart_deg < 2.0  # seconds apart at 1x: the satellite moves ~0.06 deg/s
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#stations-map path.running-track")
    assert "NOAA 19" in browser.text("#next")
    assert "FUNCUBE-1" not in main  # globex's contact is not acme's to see
    assert "rotator stuck" in browser.text("#failed")
    browser.screenshot("overview-operator")
    assert browser.console_errors() == []


@pytest.mark.parametrize(
    ("who", "pages", "home"),
    [
        ("admin", [*OPERATOR_PAGES[:-1], "keys", "docs"], "overview"),
        ("globex", OPERATOR_PAGES, "overview"),
        ("scientist", ["datasets", "docs"], "datasets"),
    ],
)
def test_each_role_sees_only_its_pages(
    console: Console, browser: Browser, who: str, pages: list[str], home: str
) -> None:
    browser.sign_in(console.keys[who])
    browser.wait_css(f"main[data-ready=true][data-page={home}]")
    assert nav_pages(browser) == pages
    browser.screenshot(f"home-{who}")
    if who == "scientist":
        # the operator pages are refused by name, and the API refuses them too
        for page in (
            "overview",
            "timeline",
            f"contact/{console.contacts['completed']}",
            "satellites",
            "usage",
            "keys",
        ):
            browser.go(f"#/{page}")
            assert "not available to role scientist" in browser.text("main")
        browser.go("#/datasets")
        browser.wait_css("#ds-results table")
        assert "ds-noaa19" in browser.text("#ds-results")
        assert console.contacts["completed"] in browser.text("#ds-results")
    if who == "globex":
        browser.wait_css("#next table")
        assert "FUNCUBE-1" in browser.text("#next")
        assert "NOAA 19" not in browser.text("main")  # acme's contacts stay acme's
        browser.go("#/datasets")
        assert "0 datasets" in browser.text("#ds-results")
    if who == "admin":
        browser.wait_css("#next table")
        assert "NOAA 19" in browser.text("#next")
        assert "FUNCUBE-1" in browser.text("#next")
    assert browser.console_errors() == []


def test_a_wrong_key_is_refused_with_the_reason_and_sign_out_forgets_the_key(
    console: Console, browser: Browser
) -> None:
    browser.sign_in("gs_not-a-key")
    browser.wait_css("#signin .error")
    assert "API key is unknown or revoked" in browser.text("#signin .error")
    assert browser.driver.execute_script("return sessionStorage.length") == 0
    browser.screenshot("sign-in-refused")
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    key = browser.driver.execute_script("return sessionStorage.getItem('groundstation.apiKey')")
    assert key == console.keys["acme"]
    browser.driver.refresh()  # kept for the browser session
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.driver.find_element(By.ID, "sign-out").click()
    browser.wait_css("#signin")
    assert browser.driver.execute_script("return sessionStorage.length") == 0


def test_the_overview_shows_the_frames_a_running_contact_has_decoded_as_they_grow(
    console: Console, browser: Browser
) -> None:
    def store(frames: int) -> None:
        with console.session() as session:
            store_progress(
                session,
                console.contacts["running"],
                frames_decoded=frames,
                frames_sent=frames + 3,
                updated_at=NOW,
                elapsed_s=120.0,
                duration_s=540.0,
                esn0_db=7.25,
                doppler_hz=-2500.0,
            )

    store(17)
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    cell = f"#running span.figures[data-contact='{console.contacts['running']}']"
    browser.wait(lambda d: browser.text(cell) == "17 frames, Es/N0 7.3 dB (simulated)")
    store(40)  # as the executor stores it a moment later: shown without a reload
    browser.wait(lambda d: browser.text(cell).startswith("40 frames"), timeout_s=30)
    browser.screenshot("overview-running-figures")
    assert browser.console_errors() == []


def test_the_overview_shows_each_stations_agent_and_its_last_heartbeat(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    cell = "#stations span.agent[data-station='svalbard']"
    assert "no agent: passes simulated by the central service" in browser.text(cell)
    with console.session() as session:
        record_heartbeat(
            session,
            station_id="svalbard",
            software_version="1.2.3",
            front_end="simulated (RF simulator)",
            status={},
            now=NOW,
        )
    browser.go("#/timeline")
    browser.go("#/overview")
    assert browser.text(cell) == (
        "online, last heartbeat 2023-07-04 18:00:00Z, simulated (RF simulator)"
    )
    browser.screenshot("overview-agent")


def test_the_timeline_draws_every_contact_of_the_day_and_opens_one_by_keyboard(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/timeline/2023-07-04")
    canvas = browser.wait_css("#timeline[data-draw-ms]")
    with console.api("acme") as client:
        r = client.get(
            "/contacts",
            params={"start": "2023-07-04T00:00:00Z", "end": "2023-07-05T00:00:00Z", "limit": 1000},
        )
    assert int(canvas.get_attribute("data-contacts")) == r.json()["count"] == 4
    assert int(canvas.get_attribute("data-rows")) == 3  # the station's antennas
    # the canvas is not blank: it has the colour of a COMPLETED bar
    has_green = browser.driver.execute_script(
        "const c = document.getElementById('timeline');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "for (let i = 0; i < d.length; i += 4)"
        "  if (d[i] === 0x1a && d[i+1] === 0x7f && d[i+2] === 0x37) return true;"
        "return false;"
    )
    assert has_green
    browser.screenshot("timeline")
    canvas.send_keys("\ue014")  # ArrowRight: the first contact of the first row
    assert "Selected contact" in browser.text("#tl-selected")
    selected = browser.text("#tl-selected").split()[2].rstrip(":")
    canvas.send_keys("\ue007")  # Enter
    browser.wait_css("main[data-ready=true][data-page=contact]")
    assert selected in browser.text("main")


def test_the_timeline_shows_maintenance_windows_hatched_on_their_antenna_and_listed(
    console: Console, browser: Browser
) -> None:
    with console.api("admin") as client:
        r = client.post(
            "/ground-stations/svalbard/antennas/sv-s/maintenance",
            json={
                "start": "2023-07-04T20:00:00Z",
                "end": "2023-07-04T23:00:00Z",
                "reason": "feed swap",
            },
        )
        assert r.status_code == 201, r.text
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/timeline/2023-07-04")
    canvas = browser.wait_css("#timeline[data-draw-ms]")
    assert canvas.get_attribute("data-maintenance") == "1"
    assert "1 maintenance window" in canvas.get_attribute("aria-label")
    assert "maintenance (1)" in browser.text("#tl-legend-maintenance")
    listed = browser.text("#tl-maintenance")
    assert "sv-s" in listed and "2023-07-04 20:00:00Z" in listed and "feed swap" in listed
    row = canvas.get_attribute("data-antennas").split(",").index("sv-s")

    def hatched_pixels(hour: float) -> int:
        """Pixels of the hatching's dark grey in sv-s's row, 10 px around ``hour``."""
        return int(
            browser.driver.execute_script(
                "const [row, hour] = arguments;"
                "const c = document.getElementById('timeline');"
                "const r = window.devicePixelRatio || 1, w = c.width / r;"
                "const x = 150 + (w - 150) * hour / 24, y = 22 + row * 14;"
                "const d = c.getContext('2d').getImageData((x - 5) * r, y * r, 10 * r, 14 * r).data;"
                "let n = 0;"
                "for (let i = 0; i < d.length; i += 4)"
                "  if (Math.abs(d[i] - 0x6e) < 24 && Math.abs(d[i+1] - 0x77) < 24"
                "      && Math.abs(d[i+2] - 0x81) < 24) n += 1;"
                "return n;",
                row,
                hour,
            )
        )

    assert hatched_pixels(21.5) > 5
    assert hatched_pixels(5.0) == 0
    browser.screenshot("timeline-maintenance")


def test_the_contact_page_shows_the_sky_plot_and_follows_its_state_live(
    console: Console, browser: Browser
) -> None:
    contact_id = console.contacts["noaa19"]
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(f"#/contact/{contact_id}")
    figure = browser.wait_css("#skyplot")
    assert int(figure.get_attribute("data-segments")) >= 1
    assert int(figure.get_attribute("data-points")) > 50  # a 10-minute pass every 5 s
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#skyplot svg polyline.track")
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#skyplot svg path.horizon-mask")
    assert "SCHEDULED" in browser.text("#contact-state")
    assert "Highest" in browser.text("#track") and "°" in browser.text("#track-max-el")
    # its ground track on the world map, over the station's footprint only
    browser.wait_css("#contact-map path.track")
    footprints = browser.driver.find_elements(By.CSS_SELECTOR, "#contact-map path.footprint")
    assert footprints and {f.get_attribute("data-station") for f in footprints} == {"svalbard"}
    assert "elements in force now" in browser.text("#contact-map figcaption")
    browser.wait(lambda d: "live" in browser.text("#live"))
    browser.screenshot("contact")
    with console.api("acme") as client:
        r = client.post(f"/contacts/{contact_id}/cancel", json={"reason": "console test"})
        assert r.status_code == 200, r.text
    browser.wait(lambda d: "CANCELLED" in browser.text("#contact-state"), timeout_s=30)
    assert "console test" in browser.text("#contact-reason")
    assert "SCHEDULED → CANCELLED" in browser.text("#history")
    browser.screenshot("contact-cancelled-live")
    assert browser.console_errors() == []


def test_datasets_filter_and_a_download_checks_its_sha256(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["scientist"])
    browser.wait_css("main[data-ready=true][data-page=datasets]")
    browser.wait_css("#ds-results table")
    assert "1 dataset" in browser.text("#ds-count")
    # a filter that matches nothing, then one that matches
    from selenium.webdriver.support.ui import Select

    Select(browser.driver.find_element(By.ID, "ds-satellite")).select_by_value("28654")
    browser.driver.find_element(By.CSS_SELECTOR, "#ds-filters button[type=submit]").click()
    browser.wait(lambda d: "0 datasets" in browser.text("#ds-results"))
    Select(browser.driver.find_element(By.ID, "ds-satellite")).select_by_value("33591")
    browser.driver.find_element(By.CSS_SELECTOR, "#ds-filters button[type=submit]").click()
    browser.wait(lambda d: "1 dataset" in browser.text("#ds-results"))
    browser.driver.find_element(By.CSS_SELECTOR, "button[data-file='frames.h5']").click()
    browser.wait(lambda d: "SHA-256" in browser.text("#ds-results"))
    assert f"{len(dataset_bytes())} bytes, SHA-256 verified" in browser.text("#ds-results")
    with httpx.Client(base_url=console.url) as client:
        r = client.get(
            "/datasets/ds-noaa19/files/frames.h5",
            headers={"Authorization": f"Bearer {console.keys['scientist']}"},
        )
    assert r.headers["X-Checksum-SHA256"] == hashlib.sha256(dataset_bytes()).hexdigest()
    browser.screenshot("datasets")


def test_a_predicted_pass_is_booked_with_a_click_and_a_refusal_shows_its_reason(
    console: Console, browser: Browser
) -> None:
    from selenium.webdriver.support.ui import Select

    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/passes")
    Select(browser.driver.find_element(By.ID, "ps-satellite")).select_by_value("33591")
    browser.driver.find_element(By.CSS_SELECTOR, "#ps-form button[type=submit]").click()
    browser.wait(lambda d: "passes" in browser.text("#ps-count"))
    assert "busy" in browser.text("#ps-results")  # the pass acme booked before
    rows = [
        r
        for r in browser.driver.find_elements(By.CSS_SELECTOR, "#ps-results tbody tr")
        if r.find_elements(By.CSS_SELECTOR, "button[data-antenna]")
    ]
    assert len(rows) >= 3
    # the last passes of the day: far from every seeded contact
    first = rows[-2].find_element(By.CSS_SELECTOR, "button[data-antenna]")
    second = rows[-1].find_element(By.CSS_SELECTOR, "button[data-antenna]")
    # Someone books the second window over the API while the page shows it free.
    with console.api("acme") as client:
        los = browser.driver.execute_script(
            "return arguments[0].closest('tr').children[2].textContent", second
        )
        r = client.post(
            "/contacts",
            json={
                "norad_id": 33591,
                "antenna_id": second.get_attribute("data-antenna"),
                "profile_id": "leo",
                "start": second.get_attribute("data-aos"),
                "end": los.replace(" ", "T"),
            },
        )
        assert r.status_code == 201, r.text
        taken = r.json()["id"]
    second.click()
    refused = browser.wait(lambda d: rows[-1].find_element(By.CSS_SELECTOR, ".refused"))
    refusal = refused.text
    assert refusal.startswith("Refused: 409")
    assert taken in refusal  # the reason names the contact in the way
    browser.screenshot("passes-refused")
    first.click()
    link = browser.wait_css("#ps-results a.booked")
    booked = link.text
    with console.api("acme") as client:
        assert client.get(f"/contacts/{booked}").json()["state"] == "SCHEDULED"
    link.click()
    browser.wait_css("main[data-ready=true][data-page=contact]")
    assert booked in browser.text("main")
    assert "SCHEDULED" in browser.text("#contact-state")


def test_a_contact_is_cancelled_from_its_page_and_a_refused_cancel_shows_why(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    # a running contact may not be cancelled: the API's reason is shown
    browser.go(f"#/contact/{console.contacts['running']}")
    browser.driver.find_element(By.CSS_SELECTOR, "#cancel-form button[type=submit]").click()
    refusal = browser.wait_css("#cancel-note .refused").text
    assert refusal.startswith("Refused: 409") and "PASS" in refusal
    browser.screenshot("contact-cancel-refused")
    # a scheduled one is cancelled, with the reason typed
    browser.go(f"#/contact/{console.contacts['noaa19']}")
    box = browser.driver.find_element(By.ID, "cancel-reason")
    box.clear()
    box.send_keys("weather hold")
    browser.driver.find_element(By.CSS_SELECTOR, "#cancel-form button[type=submit]").click()
    browser.wait(lambda d: "CANCELLED" in browser.text("#contact-state"))
    assert "weather hold" in browser.text("#contact-reason")
    with console.api("acme") as client:
        assert client.get(f"/contacts/{console.contacts['noaa19']}").json()["state"] == "CANCELLED"


def test_the_contact_and_datasets_pages_show_every_image_file_of_a_dataset(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go(f"#/contact/{console.contacts['completed']}")
    section = browser.wait_css("#contact-quicklooks")
    assert "Simulated pass" in section.text
    assert "the RF simulator" in browser.text("#contact-simulated")
    sizes = browser.wait(
        lambda d: (
            len(got := d.find_elements(By.CSS_SELECTOR, "#contact-quicklooks img[data-loaded]"))
            == 2
            and {
                img.get_attribute("data-file"): (
                    int(img.get_property("naturalWidth")),
                    int(img.get_property("naturalHeight")),
                )
                for img in got
            }
        )
    )
    assert sizes == {"products/image.png": (64, 32), "quicklooks/waterfall.png": (120, 40)}
    assert "frames.h5" not in section.text  # images only
    frames = browser.wait_css("#contact-frames section.frames[data-dataset='ds-noaa19']")
    browser.wait(lambda d: frames.get_attribute("data-count") == "60")
    rows = frames.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 50
    assert [c.text for c in rows[1].find_elements(By.CSS_SELECTOR, "td")][6] == bytes(
        range(1, 17)
    ).hex()  # frame 1's first 16 bytes
    # an optional part left out is not written as "null" (the cancel form of a
    # finished contact, the scientists' note on the datasets page)
    assert "null" not in browser.text("main").split()
    browser.screenshot("contact-quicklooks")
    browser.go("#/datasets")
    browser.wait(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#ds-results img.thumb[data-loaded]")) == 2
    )
    browser.screenshot("datasets-quicklooks")
    assert "null" not in browser.text("main").split()
    # a contact whose dataset has no image says so
    browser.go(f"#/contact/{console.contacts['noaa19']}")
    assert "No quick-look image" in browser.wait_css("#contact-quicklooks").text
    assert browser.console_errors() == []


CLICK_AT = """
const [time, row] = arguments;
const c = document.getElementById('timeline');
const b = c.getBoundingClientRect();
const from = Date.parse(c.dataset.viewStart), span = Number(c.dataset.viewSpanMs);
const x = b.left + 150 + (Date.parse(time) - from) * (b.width - 150) / span;
c.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: b.top + 22 + row * 14 + 7, bubbles: true}));
"""


def test_the_timeline_zooms_and_pans_within_its_day_and_opens_a_contact_of_the_zoomed_view(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/timeline/2023-07-04")
    canvas = browser.wait_css("#timeline[data-draw-ms]")

    def view() -> tuple[str, int]:
        return canvas.get_attribute("data-view-start"), int(
            canvas.get_attribute("data-view-span-ms")
        )

    assert view() == ("2023-07-04T00:00:00.000Z", 86_400_000)
    for _ in range(2):
        browser.driver.find_element(By.ID, "tl-zoom-in").click()
    assert view() == ("2023-07-04T09:00:00.000Z", 6 * 3_600_000)  # about noon
    browser.driver.find_element(By.ID, "tl-later").click()
    assert view() == ("2023-07-04T12:00:00.000Z", 6 * 3_600_000)
    assert "showing 2023-07-04 12:00:00Z to 2023-07-04 18:00:00Z" in browser.text("#tl-status")
    browser.screenshot("timeline-zoomed")
    for _ in range(3):  # never past the fetched day
        browser.driver.find_element(By.ID, "tl-later").click()
    assert view() == ("2023-07-04T18:00:00.000Z", 6 * 3_600_000)
    browser.driver.find_element(By.ID, "tl-zoom-reset").click()
    assert view() == ("2023-07-04T00:00:00.000Z", 86_400_000)
    canvas.send_keys("+")  # the keyboard zooms too
    assert view()[1] == 12 * 3_600_000
    for _ in range(8):  # down to 15 minutes at most
        canvas.send_keys("+")
    assert view()[1] == 15 * 60_000
    # in a zoomed view a click hits the contact under it: the completed one,
    # 14:59-15:11 on sv-uhf
    browser.driver.find_element(By.ID, "tl-zoom-reset").click()
    for _ in range(2):
        browser.driver.find_element(By.ID, "tl-zoom-in").click()
    browser.driver.find_element(By.ID, "tl-later").click()
    row = canvas.get_attribute("data-antennas").split(",").index("sv-uhf")
    browser.driver.execute_script(CLICK_AT, "2023-07-04T15:05:00Z", row)
    browser.wait_css("main[data-ready=true][data-page=contact]")
    assert console.contacts["completed"] in browser.text("main")


def test_a_batch_plan_is_proposed_then_booked_all_at_once_and_a_taken_window_refuses_it(
    console: Console, browser: Browser
) -> None:
    browser.sign_in(console.keys["acme"])
    browser.wait_css("main[data-ready=true][data-page=overview]")
    browser.go("#/passes")
    browser.wait(lambda d: "pass" in browser.text("#ps-count"))
    hours = browser.driver.find_element(By.ID, "ps-hours")
    hours.clear()
    hours.send_keys("6")
    for norad in ("33591", "28654"):  # NOAA 19 and NOAA 18 (acme's)
        browser.driver.find_element(By.ID, f"plan-sat-{norad}").click()

    def propose(before: str = "") -> tuple[str, list[dict[str, Any]]]:
        browser.driver.find_element(By.CSS_SELECTOR, "#plan-form button[type=submit]").click()
        browser.wait(
            lambda d: (
                "proposed" in browser.text("#plan-result")
                and browser.text("#plan-summary").split()[1].rstrip(":") != before
            ),
            timeout_s=120,
        )
        plan_id = browser.text("#plan-summary").split()[1].rstrip(":")
        with console.api("acme") as client:
            plan = client.get(f"/plans/{plan_id}").json()
        assert plan["state"] == "proposed"
        return plan_id, plan["proposed"]

    plan_id, proposed = propose()
    assert len(proposed) >= 2
    assert {p["norad_id"] for p in proposed} == {33591, 28654}
    assert f"Book these {len(proposed)} contacts" in browser.text("#plan-commit")
    # Someone books one of the proposed windows meanwhile: the commit books none.
    first = proposed[0]
    with console.api("acme") as client:
        before = client.get("/contacts", params={"limit": 1000}).json()["count"]
        r = client.post(
            "/contacts",
            json={
                "norad_id": first["norad_id"],
                "antenna_id": first["antenna_id"],
                "profile_id": "leo",
                "start": first["aos"],
                "end": first["los"],
            },
        )
        assert r.status_code == 201, r.text
    browser.driver.find_element(By.ID, "plan-commit").click()
    browser.wait(lambda d: "Refused: 409" in browser.text("#plan-note"), timeout_s=60)
    browser.screenshot("plan-refused")
    with console.api("acme") as client:
        assert client.get("/contacts", params={"limit": 1000}).json()["count"] == before + 1
    # A new proposal plans around the taken window, and books all its contacts.
    plan_id, proposed = propose(before=plan_id)
    assert (first["antenna_id"], first["aos"]) not in {
        (p["antenna_id"], p["aos"]) for p in proposed
    }
    browser.driver.find_element(By.ID, "plan-commit").click()
    browser.wait(lambda d: browser.text("#plan-note").startswith("booked"), timeout_s=60)
    links = browser.driver.find_elements(By.CSS_SELECTOR, "#plan-note a.plan-booked")
    assert len(links) == len(proposed)
    with console.api("acme") as client:
        plan = client.get(f"/plans/{plan_id}").json()
        assert plan["state"] == "committed"
        assert sorted(c["id"] for c in plan["booked"]) == sorted(a.text for a in links)
        assert {c["state"] for c in plan["booked"]} == {"SCHEDULED"}
    browser.screenshot("plan-booked")
