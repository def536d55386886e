"""Station agent bench: contacts worked by agents, end to end, with 1, 2 and
4 agents on this machine (issue 13).

Instance: the demo's inventory (sample stations, weather satellites, from
2023-07-04T18:00Z), ``n`` concurrent passes on distinct antennas (max
elevation >= 30 deg), booked and moved into PASS; one agent per station
holding a contact (``station`` keys), the central API served by uvicorn on
a loopback port, the central ``AgentExecutor`` of ``serve`` per contact
(publishing to the local topic log, datasets to the local object store),
embedded SQLite. The clock never makes anything wait (unpaced).

Each agent works its pass (``PassRunner``: simulated front end, the
in-process receiver, frames spooled) and uploads it (``StationAgent.flush``);
the central executor publishes the frames and builds the dataset.

Measured: wall time from the first pass start to the last dataset ready;
contacts/s and frames/s end to end; upload request latency (p50, p99 over
all batches of 40 frames); CPU of the central executor per contact (its
thread's CPU time: the API's request handling is in the same process and
not included). Reference, same run: the agents' DSP alone (``dsp_s``, the
longest pass), so ``overhead_ratio`` = end-to-end wall / DSP wall says what
the upload and central side add.

Last line: RESULT agent agents=.. contacts=.. contacts_per_s=.. frames_per_s=..
upload_p50_ms=.. upload_p99_ms=.. central_cpu_ms_per_contact=.. overhead_ratio=..
(one ``RESULT agent_n`` line per agent count before it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

# bench/dsp.py would shadow the dsp package: import from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from bench.demo_network import book_demo_contacts
from groundstation import apikeys
from groundstation.agent_executor import AgentExecutor
from groundstation.agents import station_runs
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import DEMO_CLOCK_START
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.runtime import open_runtime
from groundstation.settings import Settings
from groundstation.station.agent import CentralClient, PassRunner, StationAgent
from groundstation.station.spool import Spool
from tests.api.conftest import serve


class TimedClient(CentralClient):
    """Records the latency of every frame upload."""

    def __init__(self, *args: Any, latencies: list[float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies = latencies

    def upload_frames(self, contact_id: str, frames: list[dict[str, Any]]) -> Any:
        began = time.perf_counter()
        try:
            return super().upload_frames(contact_id, frames)
        finally:
            self.latencies.append(time.perf_counter() - began)


def _book(settings: Settings, n: int) -> tuple[list[str], dict[str, str]]:
    """``n`` contacts in PASS; returns their ids and a station key per station."""
    engine = make_engine(settings.effective_database_url())
    migrate(engine)
    with make_session_factory(engine)() as session:
        ids, keys = [], {}
        for contact in book_demo_contacts(session, count=n, hours=12.0, span_s=3600.0):
            ids.append(contact.id)
            antenna = contact.antenna
            if antenna.station_id not in keys:
                _, keys[antenna.station_id] = apikeys.create_key(
                    session,
                    name=f"bench-{antenna.station_id}",
                    role="station",
                    station_id=antenna.station_id,
                    now=DEMO_CLOCK_START,
                )
    engine.dispose()
    return ids, keys


def _contact(session: Any, contact_id: str) -> Contact:
    contact = session.get(Contact, contact_id)
    assert contact is not None
    return contact


def run_once(n: int, tmp: Path) -> dict[str, float]:
    settings = Settings(data_dir=tmp / "var", agent_offline_after_s=1e9)
    ids, keys = _book(settings, n)
    clock = SimulatedClock(DEMO_CLOCK_START, speedup=1000.0)  # the DSP is slower: unpaced
    runtime = open_runtime(settings, clock=clock)
    app = create_app(settings, clock=clock)

    latencies: list[float] = []
    cpu: list[float] = []
    dsp_s: list[float] = []
    frames = [0]
    errors: list[str] = []
    try:
        with serve(app) as url:
            agents = {}
            for station_id, key in keys.items():
                client = TimedClient(url, key=key, station_id=station_id, latencies=latencies)
                agents[station_id] = StationAgent(
                    client=client,
                    clock=clock,
                    spool=Spool(tmp / "spool" / station_id),
                    front_end="simulated",
                    software_version="bench",
                )
                agents[station_id].heartbeat()
            with runtime.session_factory() as session:
                docs = [
                    d
                    for station_id in keys
                    for d in station_runs(
                        session, station_id=station_id, now=DEMO_CLOCK_START, horizon_s=1e6
                    )
                ]
                runs = {d["run"]["contact_id"]: d for d in docs}
                central_runs = {c: contact_run(_contact(session, c)) for c in ids}
            executor = AgentExecutor(
                session_factory=runtime.session_factory,
                clock=clock,
                publisher=runtime.publisher,
                store=runtime.store,
                catalog=runtime.catalog,
                staging_root=settings.dataset_staging_dir(),
                offline_after_s=1e9,
                report_timeout_s=1e9,
                poll_s=0.05,
            )

            def central(contact_id: str) -> None:
                began = time.thread_time()
                try:
                    executor.execute(central_runs[contact_id])
                except Exception as exc:
                    errors.append(f"central: {exc}")
                cpu.append(time.thread_time() - began)

            def station(doc: dict[str, Any]) -> None:
                station_id = doc["station"]["id"]
                agent = agents[station_id]
                runner = PassRunner(
                    clock=clock,
                    spool=agent.spool,
                    front_end="simulated",
                    software_version="bench",
                    stop=threading.Event(),
                )
                began = time.perf_counter()
                outcome = runner.run(doc)
                dsp_s.append(time.perf_counter() - began)
                if not outcome.ok:
                    errors.append(f"agent: {outcome.reason}")
                frames[0] += outcome.frames_total
                agent.spool.put_report(outcome.contact_id, outcome.report())
                agent.flush()

            began = time.perf_counter()
            threads = [threading.Thread(target=central, args=(c,)) for c in ids]
            threads += [threading.Thread(target=station, args=(runs[c],)) for c in ids]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall_s = time.perf_counter() - began
    finally:
        runtime.close()
        app.state.ctx.engine.dispose()
    assert len(executor.outcomes) == len(ids), (
        f"{len(ids) - len(executor.outcomes)} of {len(ids)} contacts did not complete: {errors}"
    )
    assert sum(o.frames_published for o in executor.outcomes.values()) == frames[0]
    ms = np.array(latencies) * 1e3
    return {
        "agents": float(len(keys)),
        "contacts": float(len(ids)),
        "wall_s": wall_s,
        "contacts_per_s": len(ids) / wall_s,
        "frames_per_s": frames[0] / wall_s,
        "upload_p50_ms": float(np.percentile(ms, 50)),
        "upload_p99_ms": float(np.percentile(ms, 99)),
        "central_cpu_ms_per_contact": 1e3 * float(np.mean(cpu)),
        "dsp_s": max(dsp_s),
        "overhead_ratio": wall_s / max(dsp_s),
    }


def _line(name: str, r: dict[str, float]) -> str:
    return (
        f"RESULT {name} agents={r['agents']:.0f} contacts={r['contacts']:.0f} "
        f"contacts_per_s={r['contacts_per_s']:.3f} frames_per_s={r['frames_per_s']:.0f} "
        f"upload_p50_ms={r['upload_p50_ms']:.1f} upload_p99_ms={r['upload_p99_ms']:.1f} "
        f"central_cpu_ms_per_contact={r['central_cpu_ms_per_contact']:.0f} "
        f"dsp_s={r['dsp_s']:.1f} overhead_ratio={r['overhead_ratio']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", default="1,2,4", help="contacts (agents) per run")
    args = parser.parse_args()
    results = []
    for n in (int(x) for x in args.counts.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_once(n, Path(tmp))
        print(_line("agent_n", r), flush=True)
        results.append(r)
    print(_line("agent", results[-1]))


if __name__ == "__main__":
    main()
