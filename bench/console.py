"""Console bench: the timeline of many contacts in Debian's headless Chromium.

Instance: the console tests' world (tests/console/conftest.py) on SQLite with
a station of ``--antennas`` antennas (default 100) and ``--per-antenna``
contacts on each (default 120) in the day of 2023-07-04, plus one booked
contact: 12,001 contacts, served by uvicorn on a loopback port; Chromium
(GS_TEST_CHROMIUM, default /usr/bin/chromium, and GS_TEST_CHROMEDRIVER;
``scripts/services/browser.sh start`` installs them) signs in as admin.

Measured, ``--repeats`` times each: the first page (overview) from the HTML
request to ready; the timeline of that day and of the week around it (every
contact fetched with GET /contacts, 1,000 a page, then drawn on one canvas):
fetch ms, draw ms, and page-ready seconds. Reference in the same run: the
fetch (the API's share) against the draw (the console's).

Goals (issue 16): first page usable in under 1 s with the 12,000-contact data
set; a week of contacts drawn without visible lag (here: drawn in under
100 ms, which reads as immediate).
Last line: RESULT console contacts=.. first_page_s=.. day_fetch_ms=.. day_draw_ms=.. week_draw_ms=.. day_page_s=..
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--antennas", type=int, default=100)
    parser.add_argument("--per-antenna", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    # The repository, not bench/ (whose ingest.py would shadow the package),
    # for tests.console.conftest: the console tests' world.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))
    from tests.console.conftest import Browser, antenna_farm, chromium_driver, make_console

    chromium = os.environ.get("GS_TEST_CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("GS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
    with tempfile.TemporaryDirectory() as tmp:
        world = make_console(Path(tmp), antenna_farm(args.antennas, args.per_antenna))
        console = next(world)
        driver = chromium_driver(chromium, chromedriver, Path(tmp))
        try:
            browser = Browser(driver, console.url)
            browser.sign_in(console.keys["admin"])
            browser.wait_css("main[data-ready=true][data-page=overview]")
            first: list[float] = []
            views: dict[str, dict[str, list[float]]] = {
                v: {"fetch_ms": [], "draw_ms": [], "page_s": []} for v in ("day", "week")
            }
            contacts = 0
            for _ in range(args.repeats):
                started = time.monotonic()
                browser.open("/")
                browser.wait_css("main[data-ready=true][data-page=overview] #failed table")
                first.append(time.monotonic() - started)
                for view, where in (
                    ("day", "#/timeline/2023-07-04//1"),
                    ("week", "#/timeline/2023-07-01//7"),
                ):
                    started = time.monotonic()
                    browser.go(where, timeout_s=120)
                    canvas = browser.wait_css("#timeline[data-draw-ms]")
                    views[view]["page_s"].append(time.monotonic() - started)
                    views[view]["fetch_ms"].append(float(canvas.get_attribute("data-fetch-ms")))
                    views[view]["draw_ms"].append(float(canvas.get_attribute("data-draw-ms")))
                    contacts = int(canvas.get_attribute("data-contacts"))
        finally:
            driver.quit()
            world.close()

    med = statistics.median
    print(
        f"contacts drawn: {contacts} on {args.antennas + 3} antennas; medians of {args.repeats} runs"
    )
    print(f"first page (overview): {med(first):.2f} s (goal < 1 s)")
    for view, m in views.items():
        fetch, draw = med(m["fetch_ms"]), med(m["draw_ms"])
        print(
            f"timeline {view}: fetch {fetch:.0f} ms, draw {draw:.1f} ms "
            f"(draw/fetch {draw / fetch:.3f}), page ready {med(m['page_s']):.2f} s"
        )
    print(
        f"RESULT console contacts={contacts} first_page_s={med(first):.2f} "
        f"day_fetch_ms={med(views['day']['fetch_ms']):.0f} "
        f"day_draw_ms={med(views['day']['draw_ms']):.1f} "
        f"week_draw_ms={med(views['week']['draw_ms']):.1f} "
        f"day_page_s={med(views['day']['page_s']):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
