"""``groundstation demo``: the whole service on one machine, in compressed time.

Loads the sample stations (two antennas each) and the weather satellites
shipped in the package (``groundstation.samples``: the repository's
``sample_tles/``; or ``--samples DIR``), books the next contacts through the
same service layer the API uses (``passes.availability`` and
``booking.reserve``), then runs the
lifecycle with the downlink executor on a simulated clock (``--speedup``
times real time): each pass is simulated, received, published frame by frame
and stored as a dataset with its rebuilt image. Prints progress, then a
summary per contact; exit code 1 if any contact failed.

Embedded defaults (SQLite, local object store, local topic log) under a
fresh ``var/demo`` of the current directory (``--data-dir``); with ``GS_DATA_DIR``/``GS_DATABASE_URL``/``GS_KAFKA_BOOTSTRAP``/
``GS_OBJECT_STORE=s3`` set it runs against those services instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from groundstation.clock import iso_utc
from groundstation.commands._context import finite_float, int_in
from groundstation.db import mask_url
from groundstation.memory import limit_malloc_arenas
from groundstation.states import TERMINAL_STATE_VALUES

if TYPE_CHECKING:
    from groundstation.models import Contact
    from groundstation.policy import BookingPolicy
    from groundstation.runtime import Runtime
    from groundstation.settings import Settings

#: The sample elements date from 2023-07-04; the demo's service clock starts there.
DEMO_CLOCK_START = datetime(2023, 7, 4, 18, 0, tzinfo=UTC)
DEMO_TENANT = "demo"
DEMO_PROFILE = "weather-imagery"
DEMO_FREQ_HZ = 137.9e6
DEMO_FRAMING = "ccsds-bpsk-conv-rs"
MAX_PASS_S = 25 * 60.0


#: The files the demo reads from its samples directory.
SAMPLE_FILES = ("weather.tle", "stations.yaml")


def find_samples(explicit: str | None) -> Traversable:
    """The directory given (``--samples DIR``), else the sample data shipped
    in the package (``groundstation.samples``: the files of the repository's
    ``sample_tles/``), so the demo runs from any directory once installed.
    A directory given without the files is refused, naming it and them."""
    if explicit is None:
        return files("groundstation.samples")
    directory = Path(explicit)
    missing = [name for name in SAMPLE_FILES if not (directory / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"--samples {explicit}: {', '.join(missing)} not found in {directory.resolve()}; "
            "leave --samples out to use the sample data shipped with groundstation"
        )
    return directory


@dataclass(frozen=True)
class Choice:
    norad_id: int
    name: str
    antenna_id: str
    station_id: str
    aos: datetime
    los: datetime
    max_elevation_deg: float


def load_inventory(session: Session, samples: Traversable, *, now: datetime) -> dict[int, str]:
    """Stations (2 antennas each), the weather satellites, their elements and
    the demo mission profile; returns NORAD id -> name. Existing rows are kept
    (a shared database)."""
    from groundstation.ephemerides import upload_ephemerides
    from groundstation.inventory import add_profile, add_satellite, import_stations
    from orbital.omm import parse_elements
    from orbital.stations import parse_stations

    import_stations(
        session,
        stations=parse_stations((samples / "stations.yaml").read_text()),
        antennas_per_station=2,
        bands_hz=[(130e6, 150e6)],
        setup_s=30.0,
        teardown_s=30.0,
        keep_existing=True,
    )
    _keep_existing(
        session,
        partial(
            add_profile,
            session,
            profile_id=DEMO_PROFILE,
            min_viable_duration_s=300.0,
            prepass_s=60.0,
            postpass_s=30.0,
            min_elevation_deg=10.0,
            dataset_options={"record_iq": True, "record_iq_max_s": 20.0},
        ),
    )
    text = (samples / "weather.tle").read_text()
    names: dict[int, str] = {}
    for element in parse_elements(text).elements:
        norad, name = element.norad_id, element.name or str(element.norad_id)
        names[norad] = name
        _keep_existing(
            session,
            partial(
                add_satellite,
                session,
                norad_id=norad,
                name=name,
                tenant=DEMO_TENANT,
                downlink_freq_hz=DEMO_FREQ_HZ,
                downlink_bandwidth_hz=30e3,
                modulation="bpsk",
                symbol_rate_baud=9600.0,
                framing_profile=DEMO_FRAMING,
            ),
        )
    upload_ephemerides(session, text=text, now=now, source="sample_tles/weather.tle")
    return names


def _keep_existing(session: Session, add: Callable[[], object]) -> None:
    """``add()``; a row that exists already (a shared database) is kept."""
    from groundstation.errors import AlreadyExistsError

    try:
        add()
    except AlreadyExistsError:
        session.rollback()


def free_windows(
    session: Session,
    names: dict[int, str],
    *,
    now: datetime,
    hours: float,
    min_elevation_deg: float,
) -> list[Choice]:
    """Free windows of whole LEO passes in the next ``hours`` whose highest
    elevation reaches ``min_elevation_deg``, by AOS (``passes.availability``)."""
    from groundstation.errors import GroundStationError
    from groundstation.passes import availability

    windows: list[Choice] = []
    for norad_id, name in names.items():
        try:
            found = availability(
                session,
                norad_id=norad_id,
                profile_id=DEMO_PROFILE,
                start=now,
                end=now + timedelta(hours=hours),
                now=now,
            )
        except GroundStationError:
            continue
        windows += [
            Choice(norad_id, name, w.antenna_id, w.station_id, w.aos, w.los, w.max_elevation_deg)
            for w in found
            # whole LEO passes only: not one in progress at ``now``, not a
            # geostationary satellite's endless window
            if w.free
            and w.max_elevation_deg >= min_elevation_deg
            and w.aos >= now + timedelta(minutes=5)
            and w.duration_s <= MAX_PASS_S
        ]
    windows.sort(key=lambda c: (c.aos, c.antenna_id))
    return windows


def choose_contacts(
    session: Session,
    names: dict[int, str],
    *,
    now: datetime,
    hours: float,
    count: int,
    span_s: float,
    min_elevation_deg: float,
) -> list[Choice]:
    """The earliest group of up to ``count`` free windows starting within
    ``span_s`` of each other, on distinct antennas, each above
    ``min_elevation_deg`` at its highest."""
    windows = free_windows(
        session, names, now=now, hours=hours, min_elevation_deg=min_elevation_deg
    )
    best: list[Choice] = []
    for i, first in enumerate(windows):
        group: list[Choice] = []
        for w in windows[i:]:
            if (w.aos - first.aos).total_seconds() > span_s or len(group) == count:
                break
            if not _clashes(group, w):
                group.append(w)
        if len(group) > len(best):
            best = group
        if len(best) == count:
            break
    return best


def reserve_choice(
    session: Session,
    w: Choice,
    *,
    now: datetime,
    profile_id: str = DEMO_PROFILE,
    policy: BookingPolicy | None = None,
) -> Contact:
    """Book the window ``w`` for the demo tenant (``booking.reserve``)."""
    from groundstation.booking import reserve

    return reserve(
        session,
        norad_id=w.norad_id,
        antenna_id=w.antenna_id,
        profile_id=profile_id,
        start=w.aos,
        end=w.los,
        tenant=DEMO_TENANT,
        now=now,
        policy=policy,
    )


def book_plan(
    session: Session, windows: list[Choice], *, now: datetime, profile_id: str = DEMO_PROFILE
) -> list[str]:
    """Book every window that is still free, in order (a full schedule, as
    the soak bench plays it); returns the contact ids."""
    from groundstation.errors import GroundStationError

    ids = []
    for w in windows:
        try:
            ids.append(reserve_choice(session, w, now=now, profile_id=profile_id).id)
        except GroundStationError:
            session.rollback()
    return ids


def _clashes(group: list[Choice], w: Choice) -> bool:
    """Whether ``w`` needs an antenna of ``group``, or repeats one of its
    satellite-station pairs."""
    return any(
        g.antenna_id == w.antenna_id or (g.norad_id == w.norad_id and g.station_id == w.station_id)
        for g in group
    )


def peak_windows(windows: list[Choice], size: int) -> tuple[datetime, list[Choice]]:
    """The instant covered by the most windows (distinct antennas, one per
    satellite and station) and up to ``size`` of those windows, longest first."""
    best: tuple[datetime, list[Choice]] = (windows[0].aos, [])
    for w in windows:
        at = w.aos + timedelta(seconds=1)
        group: list[Choice] = []
        for x in sorted(windows, key=lambda x: x.aos - x.los):
            if x.aos <= at <= x.los and not _clashes(group, x):
                group.append(x)
        if len(group) > len(best[1]):
            best = (at, group[:size])
    return best


def book_slices(
    session: Session,
    windows: list[Choice],
    *,
    peak: datetime,
    before_s: float,
    after_s: float,
    profile_id: str,
    now: datetime,
) -> list[str]:
    """Book each window, then narrow it to ``peak - before_s .. peak +
    after_s`` (a short slice of each pass around a common instant: many
    passes at once in little time, for tests and benches); returns the ids."""
    from groundstation.models import MissionProfile

    profile = session.get(MissionProfile, profile_id)
    if profile is None:
        raise ValueError(f"mission profile {profile_id!r} is not in the database")
    ids = []
    for w in windows:
        contact = reserve_choice(session, w, now=now, profile_id=profile_id)
        aos = max(w.aos, peak - timedelta(seconds=before_s))
        los = min(w.los, peak + timedelta(seconds=after_s))
        contact.aos, contact.los = aos, los
        contact.tca = min(max(contact.tca, aos), los)
        contact.booked_start = aos - timedelta(seconds=profile.prepass_s)
        contact.booked_end = los + timedelta(seconds=profile.postpass_s)
        session.commit()
        ids.append(contact.id)
    return ids


def run(args: argparse.Namespace) -> int:
    """Load, book, run the passes on the simulated clock, summarize; exit
    code 1 if any contact did not complete."""
    from groundstation.commands._context import finite, open_context

    if args.serve:  # refused before the passes run, not after
        finite(args.serve_speedup, "--serve-speedup", low=0.0)
    t_wall = time.monotonic()
    samples = _samples(args)
    settings = _demo_settings(args)
    ctx = open_context(settings)
    try:
        with ctx.session() as session:
            names = load_inventory(session, samples, now=DEMO_CLOCK_START)
            print(
                f"Loaded {len(names)} weather satellites and the sample stations "
                f"(2 antennas each) into {mask_url(settings.effective_database_url())}",
                flush=True,
            )
            print(simulated_banner(), flush=True)
            choices = choose_contacts(
                session,
                names,
                now=DEMO_CLOCK_START,
                hours=args.hours,
                count=args.contacts,
                span_s=args.span_minutes * 60.0,
                min_elevation_deg=args.min_elevation,
            )
        if not choices:
            print("groundstation demo: error: no free pass found to book", file=sys.stderr)
            return 1
        # Book from a service time just before the first pre-pass.
        clock_start = min(c.aos for c in choices) - timedelta(seconds=60 + 30 + 20)
        with ctx.session() as session:
            booked = _book_choices(session, choices, now=clock_start, policy=ctx.policy)
    finally:
        ctx.engine.dispose()
    if not booked:
        print("groundstation demo: error: no contact could be booked", file=sys.stderr)
        return 1
    runtime, states = _run_passes(settings, args, choices, booked, clock_start=clock_start)
    print(_summary(runtime, booked, states, choices, names))
    failed = [cid for cid in booked if states.get(cid, ("", ""))[0] != "COMPLETED"]
    print(
        f"\n{len(booked) - len(failed)} of {len(booked)} contacts completed in "
        f"{time.monotonic() - t_wall:.0f} s (simulated passes: no satellite was received)."
    )
    print(_consumer_hint(settings, booked[0], samples / "weather.tle"))
    _then_serve(settings, args, clock_start=runtime.clock.now())
    return 1 if failed else 0


def _then_serve(settings: Settings, args: argparse.Namespace, *, clock_start: datetime) -> None:
    """With ``--serve``, the service on the demo's data until Ctrl-C; else
    say how to see the contacts in the console."""
    if args.serve:
        serve_console(settings, args, clock_start=clock_start)
    else:
        print(
            "Look at these contacts in the web console: `groundstation demo --serve` runs the "
            "demo, then keeps the service (API and console) up on its data."
        )


def serve_console(settings: Settings, args: argparse.Namespace, *, clock_start: datetime) -> None:
    """After the passes: the service (API, console, scheduler) on the demo's
    data until Ctrl-C, its simulated clock going on from ``clock_start`` at
    ``--serve-speedup``; prints the console's address and an admin key made
    for it (the demo's data has no other)."""
    from groundstation import apikeys
    from groundstation.commands._context import open_context
    from groundstation.commands.serve import serve_until_stopped

    served = settings.model_copy(
        update={
            "clock": "simulated",
            "clock_start": clock_start,
            "clock_speedup": args.serve_speedup,
        }
    )
    ctx = open_context(served)
    try:
        with ctx.session() as session:
            row, key = apikeys.create_key(
                session, name="demo-console", role="admin", tenant="", now=clock_start
            )
            key_id = row.id
    finally:
        ctx.engine.dispose()

    def started(url: str) -> None:
        print(
            f"\nThe web console of this demo: {url}/ (Ctrl-C stops the service)\n"
            f"The service clock is simulated: it goes on from {iso_utc(clock_start)} at "
            f"x{args.serve_speedup:g}; every pass is worked by the RF simulator.\n"
            f"Sign in with the admin API key made for it (id {key_id}):\n  {key}",
            flush=True,
        )

    serve_until_stopped(served, host=args.host, port=args.port, on_started=started)


def _samples(args: argparse.Namespace) -> Traversable:
    from groundstation.errors import ValidationError

    try:
        return find_samples(args.samples)
    except FileNotFoundError as exc:
        raise ValidationError(str(exc)) from None


def _demo_settings(args: argparse.Namespace) -> Settings:
    """The settings (loaded once, here), logging set up: only warnings unless
    GS_LOG_LEVEL asks for more (the demo prints each contact's progress
    itself); the demo's own data directory, wiped so reruns start clean,
    unless GS_DATA_DIR (or a shared database) is configured: never wiped."""
    from groundstation.commands._context import load_settings
    from groundstation.logs import configure_logging

    settings = load_settings()
    configure_logging(settings, level=None if "GS_LOG_LEVEL" in os.environ else "WARNING")
    if "GS_DATA_DIR" not in os.environ:
        settings = settings.model_copy(update={"data_dir": Path(args.data_dir)})
        if args.fresh and not settings.database_url:
            shutil.rmtree(settings.data_dir, ignore_errors=True)
    return settings


def _book_choices(
    session: Session, choices: list[Choice], *, now: datetime, policy: BookingPolicy
) -> list[str]:
    """Book each chosen window, printing each booking or refusal; the ids."""
    from groundstation.errors import GroundStationError

    booked: list[str] = []
    for c in choices:
        try:
            contact = reserve_choice(session, c, now=now, policy=policy)
        except GroundStationError as exc:
            print(f"  could not book {c.name} on {c.antenna_id}: {exc}", file=sys.stderr)
            continue
        booked.append(contact.id)
        print(
            f"  booked {contact.id[:8]}  {c.name:<22} {c.antenna_id:<16} "
            f"AOS {iso_utc(c.aos)}  LOS {iso_utc(c.los)}  max el {c.max_elevation_deg:5.1f} deg",
            flush=True,
        )
    return booked


def _run_passes(
    settings: Settings,
    args: argparse.Namespace,
    choices: list[Choice],
    booked: list[str],
    *,
    clock_start: datetime,
) -> tuple[Runtime, dict[str, tuple[str, str]]]:
    """The service (lifecycle and downlink executor) on a simulated clock
    from ``clock_start``, until every booked contact ended or the passes'
    span (plus ``--grace-s``) is over; the runtime and each contact's
    (state, reason)."""
    from groundstation.clock import SimulatedClock
    from groundstation.runtime import open_runtime

    limit_malloc_arenas(settings.malloc_arena_max)  # before the passes' threads
    runtime = open_runtime(settings, clock=SimulatedClock(clock_start, speedup=args.speedup))
    span = max(c.los for c in choices) + timedelta(seconds=60) - clock_start
    print(
        f"Service clock starts at {iso_utc(clock_start)}, x{args.speedup:g}: "
        f"{span.total_seconds() / 60:.0f} min of passes in about "
        f"{span.total_seconds() / args.speedup:.0f} s",
        flush=True,
    )
    states: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + span.total_seconds() / args.speedup + args.grace_s
    try:
        runtime.start()
        last_print = 0.0
        while time.monotonic() < deadline:
            _read_states(runtime, booked, states)
            if all(states.get(cid, ("", ""))[0] in TERMINAL_STATE_VALUES for cid in booked):
                break
            if time.monotonic() - last_print >= args.progress_s:
                last_print = time.monotonic()
                print(_progress_line(runtime, booked, states), flush=True)
            time.sleep(0.2)
    finally:
        runtime.close(reason="the demo ended before the pass finished")
    _read_states(runtime, booked, states)
    return runtime, states


def _read_states(runtime: Runtime, booked: list[str], states: dict[str, tuple[str, str]]) -> None:
    """Each booked contact's (state, reason) into ``states``."""
    from groundstation.models import Contact

    with runtime.session_factory() as session:
        for cid in booked:
            row = session.get(Contact, cid)
            if row is not None:
                states[cid] = (row.state, row.state_reason)


def _consumer_hint(settings: Settings, contact_id: str, tle: Traversable) -> str:
    source = (
        f"--bootstrap {settings.kafka_bootstrap} --prefix {settings.kafka_topic_prefix}"
        if settings.kafka_bootstrap
        else f"--log-dir {settings.data_dir / 'topics'}"
    )
    return (
        "Rebuild a contact's image from the frame topic (the example consumer):\n"
        f"  groundstation consume frames {source} --contact {contact_id} "
        "--idle-timeout 2 --image image.png\n"
        "and its georeferenced products (CF swath NetCDF, map PNG and GeoTIFF; simulated):\n"
        f"  groundstation consume frames {source} --contact {contact_id} "
        f"--idle-timeout 2 --geo products --tle {tle}"
    )


def simulated_banner() -> str:
    """The line the demo prints before its passes: they are simulated."""
    from groundstation.downlink import SIMULATED_NOTE

    return (
        "SIMULATED: these passes run through the built-in RF simulator on a compressed "
        f"service clock ({SIMULATED_NOTE}); no antenna moves and no satellite is received."
    )


def _progress_line(runtime: Any, booked: list[str], states: dict[str, tuple[str, str]]) -> str:
    parts = [f"[{iso_utc(runtime.clock.now())} simulated]"]
    for cid in booked:
        state = states.get(cid, ("?", ""))[0]
        p = runtime.executor.progress.get(cid)
        if p is not None and state in ("PASS", "POSTPASS") and not p.done:
            parts.append(
                f"{cid[:8]} {state} {p.elapsed_s / max(p.duration_s, 1):4.0%} "
                f"{p.frames_ok}/{p.frames_sent} frames Eb/N0 {p.ebn0_db:4.1f} dB"
            )
        else:
            parts.append(f"{cid[:8]} {state}")
    return "  ".join(parts)


def _summary(
    runtime: Any,
    booked: list[str],
    states: dict[str, tuple[str, str]],
    choices: list[Choice],
    names: dict[int, str],
) -> str:
    lines = ["", "Contacts:"]
    for cid in booked:
        state, reason = states.get(cid, ("?", ""))
        r = runtime.executor.results.get(cid)
        lines.append(f"- {cid}  {state} (simulated)")
        if r is not None:
            lines += [
                f"    {names.get(r.norad_id, r.norad_id)} (NORAD {r.norad_id}) at "
                f"{r.station_id}/{r.antenna_id}",
                f"    AOS {iso_utc(r.aos)}  LOS {iso_utc(r.los)}  max elevation "
                f"{r.max_elevation_deg:.1f} deg",
                f"    frames decoded {r.frames_ok} / expected {r.frames_expected} "
                f"({r.frames_failed} failed), estimated Es/N0 {r.esn0_db:.1f} dB",
                f"    image rows received {r.image_rows_received:.1%}",
                f"    dataset {r.dataset_uri}",
                f"    image   {r.image_uri}",
            ]
        if state != "COMPLETED":
            lines.append(f"    reason: {reason}")
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="book and run the next contacts in compressed time (embedded defaults)"
    )
    p.add_argument(
        "--samples",
        default=None,
        help="directory of weather.tle and stations.yaml (default: those shipped with groundstation)",
    )
    p.add_argument(
        "--data-dir",
        default="var/demo",
        help="data directory, wiped at start (ignored when GS_DATA_DIR is set)",
    )
    p.add_argument("--no-fresh", dest="fresh", action="store_false", help="keep the data directory")
    p.add_argument("--contacts", type=int_in(1, 100), default=4, help="contacts to book")
    p.add_argument("--hours", type=finite_float, default=6.0, help="look-ahead for passes (hours)")
    p.add_argument(
        "--span-minutes",
        type=finite_float,
        default=25.0,
        help="booked AOS within this many minutes",
    )
    p.add_argument(
        "--min-elevation", type=finite_float, default=30.0, help="minimum max elevation (deg)"
    )
    # x30: the four overlapping passes keep up with the service clock on 2
    # cores (x60 did not: the DSP fell behind and passes were shed).
    p.add_argument("--speedup", type=finite_float, default=30.0, help="service clock speed-up")
    p.add_argument("--progress-s", type=finite_float, default=3.0, help="progress line every (s)")
    p.add_argument(
        "--grace-s", type=finite_float, default=90.0, help="extra wall seconds before giving up"
    )
    p.add_argument(
        "--serve",
        action="store_true",
        help="after the passes, keep the service (API and web console) up on the demo's data",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="--serve: listen address (default %(default)s)"
    )
    p.add_argument(
        "--port",
        type=int_in(0, 65535),
        default=8000,
        help="--serve: listen port (default %(default)s)",
    )
    p.add_argument(
        "--serve-speedup",
        type=finite_float,
        default=1.0,
        help="--serve: speed-up of the simulated clock while serving (default %(default)s)",
    )
    p.set_defaults(func=run)
