"""Downlink bench: one whole contact through the downlink executor, unpaced.

Instance: the first pass the demo would book (sample stations and weather
satellites, from 2023-07-04T18:00Z, max elevation >= 30 deg), CCSDS BPSK
9600 baud conv+RS at 4 samples/symbol, embedded delivery (local topic log,
local object store), the whole pass's IQ recorded as SigMF.

Measured: wall time of ``DownlinkExecutor.run_pass`` with a clock that never
makes it wait (simulator + channel + receiver + publishing + frames.h5 +
SigMF + image product + dataset commit), as a real-time factor (pass
duration / wall time: how many such contacts one core keeps up with in real
time). Reference, same run: the DSP receiver alone over the recorded IQ.
Goal: real-time factor >= 20 (the demo runs 4 contacts at x60 on 2 cores).
Last line: RESULT downlink pass_s=.. wall_s=.. realtime_factor=.. receiver_only_s=.. overhead_ratio=..

``--satellite NORAD [--transmitter NAME]``: the same for a satellite of the
catalogue instead (its published elements from sample_tles/active.tle,
registered with ``framing_profile: catalogue`` at the transmitter's
frequency, on the sample stations with UHF antennas, first pass above 30
deg, a strong link); the reference is ``SatelliteReceiver`` alone. Its line:
RESULT downlink_catalogue satellite=.. transmitter=.. pass_s=.. ...
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

# bench/dsp.py would shadow the dsp package: import from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session

from bench.demo_network import ROOT, book_demo_contacts
from dsp.chain import SatelliteReceiver
from dsp.profile import builtin_profile
from dsp.receiver import Receiver, ReceiverConfig
from groundstation.booking import reserve
from groundstation.clock import SimulatedClock
from groundstation.commands.demo import DEMO_CLOCK_START
from groundstation.db import make_engine, make_session_factory, migrate
from groundstation.ephemerides import upload_ephemerides
from groundstation.executor import ContactRun
from groundstation.inventory import add_profile, add_satellite, import_stations
from groundstation.lifecycle import contact_run
from groundstation.models import Contact
from groundstation.passes import availability
from groundstation.profile_settings import DatasetOptions
from groundstation.runtime import open_runtime
from groundstation.satellites import catalogue_transmitter
from groundstation.settings import Settings
from groundstation.transitions import enter_pass
from ingest.dataset import DatasetReader
from orbital.stations import parse_stations

GOAL_REALTIME_FACTOR = 20.0


def bench_run(contact: Contact) -> ContactRun:
    """The run the service would make, recording the whole pass's IQ."""
    return dataclasses.replace(contact_run(contact), dataset_options=DatasetOptions(record_iq=True))


CATALOGUE_PROFILE = "catalogue-bench"


def book_catalogue_pass(
    session: Session, norad_id: int, transmitter: str | None, settings: Settings
) -> Contact:
    """The first pass above 30 deg of a catalogue satellite over the sample
    stations (UHF and VHF antennas), booked with a strong-link profile."""
    samples = ROOT / "sample_tles"  # the whole catalogue (the package ships two files)
    sat, tx = catalogue_transmitter(norad_id, transmitter)
    import_stations(
        session,
        stations=parse_stations((samples / "stations.yaml").read_text()),
        antennas_per_station=1,
        bands_hz=[(144e6, 146e6), (430e6, 440e6)],
    )
    add_satellite(
        session,
        norad_id=norad_id,
        name=sat.name,
        tenant="demo",
        downlink_freq_hz=tx.frequency_hz,
        modulation=tx.modulation,
        framing_profile="catalogue",
    )
    lines = (samples / "active.tle").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(f"1 {norad_id}U"))
    upload_ephemerides(session, text="\n".join(lines[k - 1 : k + 2]) + "\n", now=DEMO_CLOCK_START)
    add_profile(
        session,
        profile_id=CATALOGUE_PROFILE,
        min_viable_duration_s=120.0,
        demod={"eirp_dbw": 10.0, "g_over_t_db_k": -10.0, "atmosphere_zenith_db": 0.0},
        decode={"transmitter": tx.name},
    )
    window = next(
        w
        for w in availability(
            session,
            norad_id=norad_id,
            profile_id=CATALOGUE_PROFILE,
            start=DEMO_CLOCK_START,
            end=DEMO_CLOCK_START + timedelta(hours=24),
            now=DEMO_CLOCK_START,
        )
        if w.max_elevation_deg >= 30.0 and w.aos >= DEMO_CLOCK_START + timedelta(minutes=5)
    )
    return reserve(
        session,
        norad_id=norad_id,
        antenna_id=window.antenna_id,
        profile_id=CATALOGUE_PROFILE,
        start=window.aos,
        end=window.los,
        tenant="demo",
        now=DEMO_CLOCK_START,
    )


def catalogue_main(norad_id: int, transmitter: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "var", downlink_max_lag_s=1e12)
        engine = make_engine(settings.effective_database_url())
        migrate(engine)
        with make_session_factory(engine)() as session:
            contact = book_catalogue_pass(session, norad_id, transmitter, settings)
            enter_pass(session, contact, at=contact.aos, reason="bench")
            run = bench_run(contact)
        runtime = open_runtime(settings, clock=SimulatedClock(run.aos, speedup=1e9))
        try:
            began = time.perf_counter()
            result = runtime.executor.run_pass(run)
            wall_s = time.perf_counter() - began
        finally:
            runtime.close()
        (entry,) = runtime.catalog.find(contact_id=run.contact_id)
        reader = DatasetReader.for_entry(runtime.store, entry)
        iq = np.fromfile(reader.download("iq.sigmf-data", Path(tmp) / "iq"), dtype=np.complex64)
        sat, tx = catalogue_transmitter(norad_id, transmitter)
        fs_hz = 48_000.0 * int(np.ceil(iq.size / ((run.los - run.aos).total_seconds() * 48_000.0)))
        receiver = SatelliteReceiver(dataclasses.replace(sat, transmitters=(tx,)), fs_hz, iq=True)
        began = time.perf_counter()
        found = 0
        for i in range(0, iq.size, int(fs_hz)):
            found += len(receiver.process(iq[i : i + int(fs_hz)]))
        found += len(receiver.flush())
        receiver_s = time.perf_counter() - began
        engine.dispose()
    pass_s = (run.los - run.aos).total_seconds()
    factor = pass_s / wall_s
    print(
        f"pass {sat.name} ({tx.name}: {tx.modulation} {tx.baud_rate:g} Bd, {tx.framing}) over "
        f"{run.station_id}: {pass_s:.0f} s, {iq.size / 1e6:.1f} M samples at {fs_hz:.0f} Hz, "
        f"max elevation {result.max_elevation_deg:.1f} deg"
    )
    print(
        f"executor: {wall_s:.2f} s wall, {result.frames_ok}/{result.frames_expected} frames, "
        f"real-time factor {factor:.1f} (goal >= {GOAL_REALTIME_FACTOR:g}: "
        f"{'met' if factor >= GOAL_REALTIME_FACTOR else 'NOT met'})"
    )
    print(
        f"reference, SatelliteReceiver alone on the recorded IQ: {receiver_s:.2f} s "
        f"({found} frames); executor / receiver = {wall_s / receiver_s:.2f}"
    )
    print(
        f"RESULT downlink_catalogue satellite={norad_id} transmitter={tx.name.replace(' ', '_')} "
        f"pass_s={pass_s:.0f} wall_s={wall_s:.2f} realtime_factor={factor:.1f} "
        f"frames={result.frames_ok}/{result.frames_expected} receiver_only_s={receiver_s:.2f} "
        f"overhead_ratio={wall_s / receiver_s:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--satellite", type=int, help="NORAD id of a satellite of the catalogue")
    parser.add_argument("--transmitter", help="its transmitter (default: its only one)")
    args = parser.parse_args()
    if args.satellite is not None:
        catalogue_main(args.satellite, args.transmitter)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # Unpaced: the clock runs far ahead of the pass, which must not count
        # as the DSP falling behind (no lag limit).
        settings = Settings(data_dir=Path(tmp) / "var", downlink_max_lag_s=1e12)
        engine = make_engine(settings.effective_database_url())
        migrate(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            (contact,) = book_demo_contacts(session, count=1, hours=6.0, span_s=600.0)
            run = bench_run(contact)
        # A clock so fast that every chunk is already due: nothing waits.
        clock = SimulatedClock(run.aos, speedup=1e9)
        runtime = open_runtime(settings, clock=clock)
        try:
            began = time.perf_counter()
            result = runtime.executor.run_pass(run)
            wall_s = time.perf_counter() - began
        finally:
            runtime.close()
        pass_s = (run.los - run.aos).total_seconds()
        (entry,) = runtime.catalog.find(contact_id=run.contact_id)
        reader = DatasetReader.for_entry(runtime.store, entry)
        iq_path = reader.download("iq.sigmf-data", Path(tmp) / "iq.sigmf-data")
        iq = np.fromfile(iq_path, dtype=np.complex64)
        profile = builtin_profile(run.framing_profile)
        fs_hz = float(profile.symbol_rate) * 4
        # Reference: the receiver alone (no Doppler pre-compensation: it
        # acquires the residual itself) over the same samples in 1-s chunks.
        receiver = Receiver(profile, ReceiverConfig(fs_hz=fs_hz, max_rate_hz_s=80.0))
        began = time.perf_counter()
        chunk = int(fs_hz)
        for i in range(0, iq.size, chunk):
            receiver.process(iq[i : i + chunk])
        receiver.flush()
        receiver_s = time.perf_counter() - began
        ref_ok = receiver.summary().frames_ok
        engine.dispose()
    factor = pass_s / wall_s
    print(
        f"pass {run.satellite_name} over {run.station_id}: {pass_s:.0f} s, "
        f"{iq.size / 1e6:.1f} M samples at {fs_hz:.0f} Hz, max elevation "
        f"{result.max_elevation_deg:.1f} deg"
    )
    print(
        f"executor (simulate + receive + publish + dataset): {wall_s:.2f} s wall, "
        f"{result.frames_ok}/{result.frames_expected} frames, real-time factor {factor:.1f} "
        f"(goal >= {GOAL_REALTIME_FACTOR:g}: {'met' if factor >= GOAL_REALTIME_FACTOR else 'NOT met'})"
    )
    print(
        f"reference, receiver alone on the recorded IQ: {receiver_s:.2f} s "
        f"({ref_ok} frames); executor / receiver = {wall_s / receiver_s:.2f}"
    )
    print(
        f"RESULT downlink pass_s={pass_s:.0f} wall_s={wall_s:.2f} realtime_factor={factor:.1f} "
        f"receiver_only_s={receiver_s:.2f} overhead_ratio={wall_s / receiver_s:.2f}"
    )


if __name__ == "__main__":
    main()
