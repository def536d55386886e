"""A pass's products written in a worker process (issue 17).

The products of a pass (``pass_dataset.write_products``: the image, the
quick-looks, the georeferenced products; matplotlib, PIL, h5py, xarray)
are about a second of CPU per pass that holds the GIL nearly all along
(py-spy ``--gil``: ~100 % of its samples, against ~15-20 % for the
simulated front end and the receiver, whose numba kernels release it).
Written in the contact's thread after its LOS, they held the GIL while
the other contacts were still streaming: each of those threads, back from
a kernel that had released the GIL, waited for it up to the interpreter's
switch interval, several times a chunk, and fell behind its clock (the
demo's NOAA 15 pass, whose last minutes overlap METEOR-M 2's products, had
9-10 % of its IQ undecoded at LOS; the other three 0-0.5 %).

``ProductsWorker`` runs ``write_products`` in a pool of spawned worker
processes at a lower priority (nice 10: on a machine short of cores the
passes still streaming go first; started by the executor's warm-up, or by
the first pass that needs them), into the dataset's staged ``products/`` folder
(``ingest.dataset.ProductFolder``: only a path crosses). The contact's
thread waits for the result without the GIL; the files are the ones the
thread would have written (the same function writes them), and the pass
still commits its dataset with them before it returns.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from groundstation.executor import ContactExecutionError, ContactRun
from groundstation.pass_dataset import PassFrames, PassOutputs, write_products
from ingest.dataset import ProductFolder

log = logging.getLogger(__name__)


class ProductsWorker:
    """``processes`` worker processes writing passes' products (thread-safe;
    the jobs of more concurrent passes than processes queue)."""

    def __init__(self, processes: int = 1) -> None:
        if processes < 1:
            raise ValueError(f"processes is {processes}, expected >= 1")
        self.processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: forking a process whose other threads hold locks is unsafe
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
            return self._pool

    def warm_up(self) -> None:
        """Start the worker processes and load what the products read (the
        land/sea mask) before the first pass ends."""
        pool = self._get_pool()
        for job in [pool.submit(_load_products_data) for _ in range(self.processes)]:
            job.result()

    def write(
        self,
        folder: ProductFolder,
        run: ContactRun,
        frames: PassFrames,
        outputs: PassOutputs,
        *,
        source_note: str,
    ) -> float | None:
        """``write_products`` in a worker process: the fraction of image rows
        received (None: no image). A worker that died is a
        ``ContactExecutionError`` (the next call starts new ones)."""
        pool = self._get_pool()
        try:
            job = pool.submit(write_products, folder, run, frames, outputs, source_note=source_note)
            return job.result()
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise ContactExecutionError(f"the products worker process died: {exc}") from exc

    def close(self) -> None:
        """Stop the worker processes (after the jobs already given)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def write_pass_products(
    worker: ProductsWorker | None,
    folder: ProductFolder,
    run: ContactRun,
    frames: PassFrames,
    outputs: PassOutputs,
    *,
    source_note: str,
) -> float | None:
    """``write_products`` by ``worker``, or in the calling thread without one."""
    if worker is None:
        return write_products(folder, run, frames, outputs, source_note=source_note)
    return worker.write(folder, run, frames, outputs, source_note=source_note)


#: The workers' niceness: the products take the cores the passes still
#: streaming leave idle (a pass is real time, its products are not).
WORKER_NICE = 10


#: How often a worker checks that the process that started it is alive.
PARENT_CHECK_S = 1.0


def _start_worker() -> None:
    """A worker's start: leave with its parent, lower its priority, then
    load what the products read."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        threading.Thread(
            target=_exit_when_orphaned,
            args=(parent.pid,),
            name="products-parent-watch",
            daemon=True,
        ).start()
    if hasattr(os, "nice"):
        os.nice(WORKER_NICE)
    _load_products_data()


def _exit_when_orphaned(parent_pid: int) -> None:
    """In a worker: exit once the process that started it is gone. A worker
    waits on its job queue, whose pipe it also holds open for writing, so a
    service killed with SIGKILL (no pool shutdown) would otherwise leave its
    workers running with nobody to serve."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _load_products_data() -> None:
    """In a worker: the land/sea mask the georeferenced products read and
    the plotting library, loaded once."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401

    from ingest.landmask import is_land

    is_land(np.zeros(1), np.zeros(1))
