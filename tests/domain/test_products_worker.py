"""A pass's products written by a worker process (issue 17): the same files,
byte for byte, as written in the contact's thread, and the contact's thread
no longer spends the products' CPU (GIL-bound work that slowed the passes
still streaming beside it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from groundstation.booking import reserve
from groundstation.clock import SimulatedClock
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.delivery import open_frame_publisher, open_object_store
from groundstation.downlink import DownlinkExecutor, DownlinkResult
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.policy import BookingPolicy
from groundstation.products_worker import ProductsWorker
from groundstation.settings import Settings
from ingest.catalog import CatalogService
from ingest.dataset import DatasetReader
from tests.e2e.conftest import DEMO_PROFILE, next_contacts, seed

#: The pass goes as fast as the DSP can; its lag stops nothing.
SPEEDUP = 1e5
NO_LAG_LIMIT_S = 1e12


@pytest.fixture
def databases(tmp_path: Path) -> list[str]:
    """The same booked contact in two SQLite databases (one per way of writing)."""
    first = tmp_path / "a.db"
    engine = make_engine(f"sqlite:///{first}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        names = seed(session)
        (choice,) = next_contacts(session, names, 1)
        reserve(
            session,
            norad_id=choice.norad_id,
            antenna_id=choice.antenna_id,
            profile_id=DEMO_PROFILE,
            start=choice.aos,
            end=choice.los,
            tenant="demo",
            now=choice.aos - timedelta(hours=1),
            policy=BookingPolicy(),
        )
    engine.dispose()
    shutil.copy(first, tmp_path / "b.db")
    return [str(first), str(tmp_path / "b.db")]


@pytest.fixture
def worker() -> Iterator[ProductsWorker]:
    products = ProductsWorker(1)
    try:
        yield products
    finally:
        products.close()


def _work_pass(
    database: str, data_dir: Path, products_worker: ProductsWorker | None
) -> tuple[DownlinkResult, dict[str, bytes], list[float]]:
    """The contact's pass worked by an executor (the products by
    ``products_worker``, or in the thread): its result, its dataset's
    product files and the thread CPU seconds of its products step."""
    settings = Settings(database_url=f"sqlite:///{database}", data_dir=data_dir)
    engine = make_engine(settings.effective_database_url())
    sessions = make_session_factory(engine)
    catalog = CatalogService(engine)
    catalog.create_schema()
    with sessions() as s:
        (contact,) = s.query(Contact).all()
        contact.state = "PASS"  # the dataset is accepted in PASS
        s.commit()
        run = contact_run(contact)
    store = open_object_store(settings)
    publisher = open_frame_publisher(settings)
    executor = DownlinkExecutor(
        session_factory=sessions,
        clock=SimulatedClock(run.aos - timedelta(seconds=1), speedup=SPEEDUP),
        publisher=publisher,
        store=store,
        catalog=catalog,
        staging_root=settings.dataset_staging_dir(),
        max_lag_s=NO_LAG_LIMIT_S,
        products_worker=products_worker,
    )
    spent_s: list[float] = []
    executor._write_products = _thread_cpu(executor._write_products, spent_s)  # type: ignore[method-assign]
    try:
        result = executor.run_pass(run)
    finally:
        publisher.close()
    (entry,) = catalog.find(contact_id=run.contact_id)
    reader = DatasetReader.for_entry(store, entry)
    files = {
        f.name: reader.read_bytes(f.name)
        for f in reader.manifest.files
        if f.name.startswith("products/")
    }
    engine.dispose()
    return result, files, spent_s


def _thread_cpu(fn: Callable[..., Any], spent_s: list[float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent_s.append(time.thread_time() - began)

    return timed


def test_products_written_by_the_worker_process_are_the_thread_s_and_cost_its_thread_no_cpu(
    databases: list[str], tmp_path: Path, worker: ProductsWorker
) -> None:
    in_thread, thread_files, thread_cpu_s = _work_pass(databases[0], tmp_path / "a", None)
    by_worker, worker_files, worker_cpu_s = _work_pass(databases[1], tmp_path / "b", worker)
    # The products are there, and the same bytes whoever wrote them.
    assert "products/image.png" in thread_files
    assert "products/quicklook/waterfall.png" in thread_files
    assert any(name.endswith(".nc") for name in thread_files)
    assert sorted(worker_files) == sorted(thread_files)
    differ = [name for name in thread_files if worker_files[name] != thread_files[name]]
    assert differ == []
    assert by_worker.image_rows_received == in_thread.image_rows_received > 0.5
    assert by_worker.frames_ok == in_thread.frames_ok
    # Thread CPU (not wall time: it holds on a loaded machine): the contact's
    # thread hands the products over and waits; written in the thread they
    # cost it a large share of a second.
    (thread_s,) = thread_cpu_s
    (waited_s,) = worker_cpu_s
    assert thread_s > 0.3
    assert waited_s < 0.2 * thread_s, (waited_s, thread_s)


def test_a_products_worker_needs_at_least_one_process() -> None:
    with pytest.raises(ValueError, match="processes is 0"):
        ProductsWorker(0)


_ORPHAN_SCRIPT = """
import sys, time
from groundstation.products_worker import ProductsWorker
worker = ProductsWorker(1)
worker.warm_up()
print(*worker._pool._processes, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (an orphan's zombie waits for init)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_the_worker_processes_leave_when_the_service_is_killed() -> None:
    """A service killed with SIGKILL cannot shut its pool down: its products
    workers must not stay behind (they did, for many minutes, waiting on a
    job queue whose pipe they hold open themselves)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # after warm-up: the workers are up
        pids = [int(p) for p in line.split()]
        assert len(pids) == 1 and _running(pids[0]), line
    finally:
        proc.kill()
        proc.wait(30)
    deadline = time.monotonic() + 30.0
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in pids if _running(p)]
    for pid in left:  # do not leave it behind either way
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"products worker(s) {left} still running 30 s after the service died"
