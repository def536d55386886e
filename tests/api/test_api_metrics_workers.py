"""GET /metrics reports the whole server, not the process that answers the
scrape: counters and histograms summed over every process of a uvicorn run
(exited workers included), gauges over live processes only (``api.metrics``)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.metrics import FLUSH_INTERVAL_S, FOREIGN_RUN_MAX_AGE_S, Metrics, _process_name, run_id
from groundstation.settings import Settings

from .conftest import World
from .helpers import UvicornRun, uvicorn_workers


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with GET /metrics published (GS_METRICS_PUBLIC)."""
    return settings.model_copy(update={"metrics_public": True})


COUNT = re.compile(
    r"^groundstation_http_request_duration_seconds_count(\{[^}]*\}) (\S+)$", re.MULTILINE
)
SPOOL = "groundstation_spool_depth_bytes"


def counts(page: str) -> dict[str, float]:
    """Request count per (method, route, status) label set of a metrics page."""
    return {labels: float(n) for labels, n in COUNT.findall(page)}


def series(page: str, name: str) -> float:
    (value,) = re.findall(rf"^{re.escape(name)} (\S+)$", page, flags=re.MULTILINE)
    return float(value)


def scrape(url: str) -> str:
    r = httpx.get(f"{url}/metrics", timeout=30)  # a new connection: either worker
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def snapshots(settings: Settings) -> list[dict[str, Any]]:
    """The per-process snapshot files of the (only) run under the data dir."""
    (run_dir,) = (settings.data_dir / "metrics").iterdir()
    return [json.loads(p.read_text()) for p in sorted(run_dir.glob("*.json"))]


def scrapes_answered(snapshot: dict[str, Any]) -> float:
    return sum(row[-2] for _, route, _, row in snapshot["latency"] if route == "/metrics")


def assert_never_decreases(before: dict[str, float], after: dict[str, float]) -> None:
    for labels, n in before.items():
        assert after.get(labels, 0.0) >= n, f"{labels} went from {n} to {after.get(labels)}"


def wait_for_workers(run: UvicornRun, settings: Settings, n: int, exclude: set[int]) -> None:
    """Until ``n`` live worker processes not in ``exclude`` have a snapshot."""
    deadline = time.monotonic() + 60
    while True:
        live = {s["pid"] for s in snapshots(settings) if not s["exited"]} - exclude
        if len(live) >= n:
            try:
                httpx.get(f"{run.url}/healthz", timeout=5)  # counted, like any request
                return
            except httpx.TransportError:
                pass
        assert time.monotonic() < deadline, f"live workers {live}, wanted {n}"
        time.sleep(0.2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_request_counts_are_the_whole_servers_whichever_of_two_workers_answers(
    settings: Settings,
) -> None:
    n_requests = 40
    with uvicorn_workers(settings) as run:
        first = scrape(run.url)  # after the start-up probes; counted by later scrapes
        base = sum(counts(first).values())
        for _ in range(n_requests):
            assert httpx.get(f"{run.url}/healthz", timeout=10).status_code == 200
        previous = counts(first)
        scraped = 1
        for _ in range(10):  # batches of scrapes until both workers answered some
            for _ in range(8):
                page = counts(scrape(run.url))
                # Every request answered before this scrape: the start-up
                # probes, the n requests and the scrapes before this one.
                assert sum(page.values()) == base + n_requests + scraped
                assert_never_decreases(previous, page)
                healthz = page['{method="GET",route="/healthz",status="200"}']
                assert healthz == counts(first)['{method="GET",route="/healthz",status="200"}'] + (
                    n_requests
                )
                previous = page
                scraped += 1
            # A process's own file lags its own count by the scrape it answered last.
            answered = [scrapes_answered(s) for s in snapshots(settings)]
            if len(answered) == 2 and min(answered) >= 2:
                break
        assert len(answered) == 2 and min(answered) >= 2, f"scrapes answered per worker: {answered}"
        served = [
            sum(row[-2] for _, route, _, row in s["latency"] if route == "/healthz")
            for s in snapshots(settings)
        ]
        assert min(served) >= 1, f"/healthz answered per worker: {served}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_scrapes_during_load_never_go_backwards_and_end_on_the_exact_count(
    settings: Settings,
) -> None:
    per_thread = 60
    with uvicorn_workers(settings) as run:
        base = sum(counts(scrape(run.url)).values()) + 1  # and that scrape

        statuses: list[int] = []

        def hammer() -> None:  # one connection: stays with the worker that took it
            with httpx.Client(base_url=run.url, timeout=30) as client:
                statuses.extend(client.get("/healthz").status_code for _ in range(per_thread))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        previous: dict[str, float] = {}
        scraped = 0
        while any(t.is_alive() for t in threads):
            page = counts(scrape(run.url))
            scraped += 1
            assert_never_decreases(previous, page)
            assert sum(page.values()) <= base + 4 * per_thread + scraped - 1
            previous = page
        for t in threads:
            t.join()
        assert statuses == [200] * 4 * per_thread
        page = counts(scrape(run.url))
        assert_never_decreases(previous, page)
        assert sum(page.values()) == base + 4 * per_thread + scraped
    assert scraped >= 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_counters_of_workers_that_exited_still_count_and_never_go_backwards(
    settings: Settings,
) -> None:
    with uvicorn_workers(settings) as run:
        for _ in range(20):
            httpx.get(f"{run.url}/healthz", timeout=10)
        before = counts(scrape(run.url))
        first_workers = {s["pid"] for s in snapshots(settings) if not s["exited"]}
        assert len(first_workers) == 2

        # SIGHUP: uvicorn replaces every worker, gracefully (final snapshots).
        run.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while not all(s["exited"] for s in snapshots(settings) if s["pid"] in first_workers):
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.2)
        wait_for_workers(run, settings, 2, exclude=first_workers)
        after_restart = counts(scrape(run.url))
        assert_never_decreases(before, after_restart)
        # The scrape before the restart and the probe after it, nothing lost.
        assert sum(after_restart.values()) == sum(before.values()) + 2

        # A worker killed outright loses nothing older than FLUSH_INTERVAL_S.
        victim = next(s["pid"] for s in snapshots(settings) if not s["exited"])
        httpx.get(f"{run.url}/healthz", timeout=10)
        before_kill = counts(scrape(run.url))
        time.sleep(FLUSH_INTERVAL_S * 2.5)
        os.kill(victim, signal.SIGKILL)
        wait_for_workers(run, settings, 2, exclude=first_workers | {victim})
        after_kill = counts(scrape(run.url))
        assert_never_decreases(before_kill, after_kill)
        assert sum(after_kill.values()) == sum(before_kill.values()) + 2
        exited = [s for s in snapshots(settings) if s["exited"] or s["pid"] == victim]
        assert len(exited) == 3


# ------------------------------------------------------ in one process


def test_two_shared_metrics_sum_counters_and_only_live_gauges(tmp_path: Path) -> None:
    """Two Metrics of one run (as two workers): the exited one's counters stay,
    its gauge goes; a run directory of a server no longer running is removed
    and not counted; one of a running server, or of another host, is neither."""
    root = tmp_path / "metrics"
    host = socket.gethostname()
    stale = root / f"999999999-1@{host}"  # no such process
    stale.mkdir(parents=True)
    (stale / "1-2-3.json").write_text('{"version":1,"counters":{"x_total":["x",5]}}')
    other_run = root / f"{_process_name(os.getppid())}@{host}"  # a server that is running
    other_host = root / "999999999-1@elsewhere"  # pids of another host mean nothing here
    other_host.mkdir()
    (other_host / "1-2-3.json").write_text("{}")
    gone_host = root / "5-1@gone"  # another host's, silent for longer than a week
    gone_host.mkdir()
    (gone_host / "5-1-2.json").write_text("{}")
    week_ago = time.time() - FOREIGN_RUN_MAX_AGE_S - 60
    os.utime(gone_host / "5-1-2.json", (week_ago, week_ago))
    other_run.mkdir()

    a, b = Metrics(shared_dir=root), Metrics(shared_dir=root)
    a.open()
    b.open()
    try:
        a.count_frames(decoded=3, published=4)
        b.count_frames(decoded=10, published=10)
        a.inc("x_total", 2, "X things.")
        a.set_gauge(SPOOL, 100)
        b.gauge_source(SPOOL, lambda: 7.0)
        a.observe_request("GET", "/healthz", 200, 0.002)
        b.observe_request("GET", "/healthz", 200, 0.2)
        page = b.render({})
        assert series(page, "groundstation_frames_decoded_total") == 13
        assert series(page, "groundstation_frames_published_total") == 14
        assert series(page, "x_total") == 2  # not 7: the stale run is not counted
        assert "# HELP x_total X things." in page
        assert series(page, SPOOL) == 107
        assert counts(page) == {'{method="GET",route="/healthz",status="200"}': 2}
        assert (
            'groundstation_http_request_duration_seconds_bucket{method="GET",route="/healthz",'
            'status="200",le="0.0025"} 1' in page
        )
        assert not stale.exists()
        assert other_run.exists() and other_host.exists()
        assert not gone_host.exists()

        a.count_frames(decoded=1, published=1)
        a.set_gauge(SPOOL, 50)
        a.close()  # exits: its counters keep counting, its gauge no longer
        page = b.render({})
        assert series(page, "groundstation_frames_decoded_total") == 14
        assert series(page, SPOOL) == 7
        assert series(a.render({}), "groundstation_frames_decoded_total") == 4  # its own only
    finally:
        a.close()
        b.close()
    # A closed share leaves its final snapshot and no FIFO behind.
    files = sorted(p.suffix for p in (root / run_id()).iterdir())
    assert files == [".json", ".json"]


def test_counters_print_large_integers_in_full() -> None:
    metrics = Metrics()
    metrics.count_frames(decoded=12_345_678, published=0)
    page = metrics.render({})
    assert "\ngroundstation_frames_decoded_total 12345678\n" in page


def test_an_app_without_a_metrics_dir_writes_no_files(world: World, settings: Settings) -> None:
    for _ in range(3):
        world.client.get("/healthz")
    page = world.client.get("/metrics").text
    assert counts(page)['{method="GET",route="/healthz",status="200"}'] == 3
    assert not (settings.data_dir / "metrics").exists()


def test_a_scrape_counts_every_request_answered_before_it_but_not_itself(world: World) -> None:
    for i in range(1, 6):
        world.client.get("/healthz")
        page = world.client.get("/metrics").text
        assert counts(page)['{method="GET",route="/healthz",status="200"}'] == i
        assert counts(page).get('{method="GET",route="/metrics",status="200"}', 0) == i - 1


def test_an_app_with_a_metrics_dir_shares_while_it_runs(settings: Settings) -> None:
    from api.app import create_app

    app = create_app(settings, metrics_dir=settings.data_dir / "metrics")
    try:
        with TestClient(app) as client:
            client.get("/healthz")
            assert counts(client.get("/metrics").text) == {
                '{method="GET",route="/healthz",status="200"}': 1
            }
            (snapshot,) = snapshots(settings)
            assert snapshot["pid"] == os.getpid() and not snapshot["exited"]
        (snapshot,) = snapshots(settings)
        assert snapshot["exited"]
        assert sum(row[-2] for *_, row in snapshot["latency"]) == 2
    finally:
        app.state.ctx.engine.dispose()
