"""GET /metrics reports the whole server, not the process that answers the
scrape: counters and histograms summed over every process of a uvicorn run
(exited and killed workers included), gauges over live processes only
(``api.metrics``: prometheus_client's multiprocess mode)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import ENDED_RUN_GRACE_S, Metrics, run_id
from groundstation.settings import Settings
from tests.metrics_processes import SPOOL, member
from tests.prometheus_page import request_counts, value

from .conftest import World
from .helpers import UvicornRun, uvicorn_workers


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with GET /metrics published (GS_METRICS_PUBLIC)."""
    return settings.model_copy(update={"metrics_public": True})


HEALTHZ = ("GET", "/healthz", "200")
Counts = dict[tuple[str, str, str], float]


def counts(page: str) -> Counts:
    return request_counts(page)


def scrape(url: str) -> str:
    r = httpx.get(f"{url}/metrics", timeout=30)  # a new connection: either worker
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def run_dir(settings: Settings) -> Path:
    """The directory of the (only) server run under the data dir."""
    (found,) = (settings.data_dir / "metrics").iterdir()
    return found


def worker_pids(settings: Settings) -> set[int]:
    """Every process that has been part of the run (each has a counter file)."""
    return {int(p.stem.rpartition("_")[2]) for p in run_dir(settings).glob("counter_*.db")}


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def live_workers(settings: Settings) -> set[int]:
    return {pid for pid in worker_pids(settings) if running(pid)}


def answered_by(settings: Settings, route: str) -> list[float]:
    """Requests to ``route`` each process of the run answered (its own file)."""
    answered = []
    for path in sorted(run_dir(settings).glob("histogram_*.db")):
        (family,) = MultiProcessCollector.merge([str(path)])
        answered.append(
            sum(
                s.value
                for s in family.samples
                if s.name.endswith("_count") and s.labels["route"] == route
            )
        )
    return answered


def assert_never_decreases(before: Counts, after: Counts) -> None:
    for labels, n in before.items():
        assert after.get(labels, 0.0) >= n, f"{labels} went from {n} to {after.get(labels)}"


def wait_for_workers(run: UvicornRun, settings: Settings, n: int, exclude: set[int]) -> None:
    """Until ``n`` live worker processes not in ``exclude`` have joined the run."""
    deadline = time.monotonic() + 60
    while True:
        live = live_workers(settings) - exclude
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
                assert page[HEALTHZ] == counts(first)[HEALTHZ] + n_requests
                previous = page
                scraped += 1
            answered = answered_by(settings, "/metrics")
            if len(answered) == 2 and min(answered) >= 2:
                break
        assert len(answered) == 2 and min(answered) >= 2, f"scrapes answered per worker: {answered}"
        served = answered_by(settings, "/healthz")
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
        previous: Counts = {}
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
def test_counters_of_workers_that_exited_or_were_killed_still_count(
    settings: Settings,
) -> None:
    with uvicorn_workers(settings) as run:
        for _ in range(20):
            httpx.get(f"{run.url}/healthz", timeout=10)
        before = counts(scrape(run.url))
        first_workers = live_workers(settings)
        assert len(first_workers) == 2

        # SIGHUP: uvicorn replaces every worker, gracefully.
        run.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while first_workers & live_workers(settings):
            assert time.monotonic() < deadline, "the workers were not replaced"
            time.sleep(0.2)
        wait_for_workers(run, settings, 2, exclude=first_workers)
        after_restart = counts(scrape(run.url))
        assert_never_decreases(before, after_restart)
        # The scrape before the restart and the probe after it, nothing lost.
        assert sum(after_restart.values()) == sum(before.values()) + 2

        # A worker killed outright, right after answering: nothing lost.
        (victim, _) = live_workers(settings)
        httpx.get(f"{run.url}/healthz", timeout=10)
        before_kill = counts(scrape(run.url))
        os.kill(victim, signal.SIGKILL)
        wait_for_workers(run, settings, 2, exclude=first_workers | {victim})
        after_kill = counts(scrape(run.url))
        assert_never_decreases(before_kill, after_kill)
        assert sum(after_kill.values()) == sum(before_kill.values()) + 2
        assert len(worker_pids(settings)) == 5  # 2 + their 2 replacements + the victim's


# ------------------------------------------------- processes of one run


class Members:
    """Processes of one run under ``root`` (``metrics_processes.member``),
    spawned as uvicorn spawns its workers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ctx = multiprocessing.get_context("spawn")
        self.started: list[BaseProcess] = []

    def start(
        self, *, decoded: int, spool: float, latency_s: float
    ) -> tuple[BaseProcess, Connection]:
        """A member that counted ``decoded`` frames (and one more published),
        reads ``spool`` as the spool depth and answered one request."""
        mine, theirs = self.ctx.Pipe()
        args = (str(self.root), decoded, decoded + 1, spool, latency_s, theirs)
        p = self.ctx.Process(target=member, args=args)
        p.start()
        self.started.append(p)
        assert mine.poll(60), "the process did not start"
        assert mine.recv() == "ready"
        return p, mine


@pytest.fixture
def members(tmp_path: Path) -> Iterator[Members]:
    run = Members(tmp_path / "metrics")
    yield run
    for p in run.started:
        p.kill()
        p.join()


def ask(conn: Connection, command: str) -> str:
    conn.send(command)
    assert conn.poll(30), f"no answer to {command}"
    answer: str = conn.recv()
    return answer


def test_processes_of_a_run_sum_counters_of_all_and_gauges_of_the_live_ones(
    members: Members,
) -> None:
    root = members.root
    exited, exited_conn = members.start(decoded=3, spool=100.0, latency_s=0.002)
    assert ask(exited_conn, "close") == "closed"
    exited.join(30)
    killed, _ = members.start(decoded=5, spool=1000.0, latency_s=0.002)
    scraper, conn = members.start(decoded=10, spool=7.0, latency_s=0.2)

    page = ask(conn, "render")
    assert value(page, "groundstation_frames_decoded_total") == 3 + 5 + 10
    assert value(page, "groundstation_frames_published_total") == 4 + 6 + 11
    assert value(page, SPOOL) == 1000 + 7  # not the exited process's 100
    assert request_counts(page) == {HEALTHZ: 3}
    bucket = "groundstation_http_request_duration_seconds_bucket"
    assert value(page, bucket, method="GET", route="/healthz", status="200", le="0.0025") == 2
    help_lines = [line for line in page.splitlines() if line.startswith("# HELP")]
    assert "# HELP groundstation_frames_decoded_total Frames decoded by the receiver." in help_lines

    killed.kill()  # SIGKILL: no shutdown at all
    killed.join(30)
    # An empty file, as a process killed while creating it leaves
    # (prometheus/client_python#1199), does not break the page.
    (root / run_id() / "counter_999999999.db").touch()
    page = ask(conn, "render")
    assert value(page, "groundstation_frames_decoded_total") == 18
    assert value(page, SPOOL) == 7
    assert request_counts(page) == {HEALTHZ: 3}

    assert ask(conn, "close") == "closed"
    scraper.join(30)
    assert [p.name for p in root.iterdir()] == [run_id()]  # one run: this process's children
    assert not list((root / run_id()).glob("*.lock"))  # the killed one's reaped at the scrape


def test_a_process_joining_removes_runs_with_no_live_process(members: Members) -> None:
    root = members.root
    old = time.time() - ENDED_RUN_GRACE_S - 60
    ended = root / "0000000000000001"  # its process's lock is free
    live = root / "0000000000000002"  # one held (by this test)
    fresh = root / "0000000000000003"  # ended, but too recent to be sure
    for run in (ended, live, fresh):
        run.mkdir(parents=True)
        (run / "123.lock").touch()
        (run / "counter_123.db").write_bytes(bytes(16))
    with open(live / "123.lock", "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        for run in (ended, live):
            os.utime(run, (old, old))
        _, conn = members.start(decoded=1, spool=0.0, latency_s=0.001)
        assert not ended.exists()
        assert live.exists() and fresh.exists()
        # Nothing of the other runs is counted.
        assert value(ask(conn, "render"), "groundstation_frames_decoded_total") == 1


def test_each_start_of_a_server_is_a_new_run_and_its_workers_share_it() -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:  # a worker spawned by this process: the same run
        assert pool.apply(run_id) == run_id()
    code = "from api.metrics import run_id; print(run_id())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() != run_id()  # another main process: another run


def test_a_shared_metrics_needs_prometheus_client_not_imported_before(tmp_path: Path) -> None:
    import prometheus_client  # noqa: F401  (as in this test process: in-memory mode)

    with pytest.raises(RuntimeError, match="imported before the metrics directory"):
        Metrics(shared_dir=tmp_path / "metrics")
    assert not (tmp_path / "metrics").exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


# ------------------------------------------------------ in one process


def test_large_counts_are_printed_exactly() -> None:
    metrics = Metrics()
    metrics.count_frames(decoded=123_456_789_012, published=0)
    page = metrics.render({})
    assert value(page, "groundstation_frames_decoded_total") == 123_456_789_012
    (family,) = (
        f for f in text_string_to_metric_families(page) if f.name == "groundstation_frames_decoded"
    )
    assert family.type == "counter"


def test_an_app_without_a_metrics_dir_writes_no_files(world: World, settings: Settings) -> None:
    for _ in range(3):
        world.client.get("/healthz")
    page = world.client.get("/metrics").text
    assert counts(page)[HEALTHZ] == 3
    assert not (settings.data_dir / "metrics").exists()


def test_a_scrape_counts_every_request_answered_before_it_but_not_itself(world: World) -> None:
    for i in range(1, 6):
        world.client.get("/healthz")
        page = world.client.get("/metrics").text
        assert counts(page)[HEALTHZ] == i
        assert counts(page).get(("GET", "/metrics", "200"), 0) == i - 1
