"""`stations`, `antennas`, `satellites`, `profiles` and `ephemeris` subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sqlalchemy import select

from groundstation import ephemerides, inventory, maintenance
from groundstation.clock import iso_utc
from groundstation.commands._context import (
    Context,
    finite_float,
    int_in,
    load_input,
    norad_id,
    parse_band,
    parse_time,
    read_input,
    row_id,
    run,
)
from groundstation.errors import ValidationError
from groundstation.models import Antenna, GroundStation, MissionProfile, Satellite


def register(subparsers: Any) -> None:
    _register_stations(subparsers)
    _register_antennas(subparsers)
    _register_satellites(subparsers)
    _register_profiles(subparsers)
    _register_ephemerides(subparsers)


def _register_stations(subparsers: Any) -> None:
    stations = subparsers.add_parser("stations", help="ground stations")
    st = stations.add_subparsers(dest="action", required=True)
    p = st.add_parser("add", help="add one station")
    p.add_argument("--id", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--lat-deg", type=finite_float, required=True)
    p.add_argument("--lon-deg", type=finite_float, required=True)
    p.add_argument("--alt-m", type=finite_float, default=0.0)
    p.add_argument("--min-elevation-deg", type=finite_float, default=0.0)
    p.set_defaults(func=run(_station_add))
    p = st.add_parser("import", help="add the stations of a stations.yaml")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--antennas-per-station",
        type=int_in(0, 100),
        default=0,
        help="also add N antennas per station",
    )
    p.add_argument("--band", type=parse_band, action="append", default=None)
    p.add_argument("--setup-s", type=finite_float, default=60.0)
    p.add_argument("--teardown-s", type=finite_float, default=60.0)
    p.set_defaults(func=run(_station_import))
    p = st.add_parser("list")
    p.set_defaults(func=run(_station_list))


def _register_antennas(subparsers: Any) -> None:
    antennas = subparsers.add_parser("antennas", help="antennas")
    an = antennas.add_subparsers(dest="action", required=True)
    p = an.add_parser("add", help="add one antenna")
    p.add_argument("--id", required=True)
    p.add_argument("--station", required=True)
    p.add_argument("--band", type=parse_band, action="append", required=True, help="MIN:MAX Hz")
    p.add_argument("--min-elevation-deg", type=finite_float, default=0.0)
    p.add_argument("--max-az-slew-deg-s", type=finite_float, default=10.0)
    p.add_argument("--max-el-slew-deg-s", type=finite_float, default=10.0)
    p.add_argument("--setup-s", type=finite_float, default=60.0)
    p.add_argument("--teardown-s", type=finite_float, default=60.0)
    p.set_defaults(func=run(_antenna_add))
    p = an.add_parser("maintenance", help="add a maintenance window")
    p.add_argument("--id", required=True)
    p.add_argument("--start", type=parse_time, required=True)
    p.add_argument("--end", type=parse_time, required=True)
    p.add_argument("--reason", default="")
    p.set_defaults(func=run(_antenna_maintenance))
    p = an.add_parser("list")
    p.set_defaults(func=run(_antenna_list))


def _register_satellites(subparsers: Any) -> None:
    satellites = subparsers.add_parser("satellites", help="satellites")
    sa = satellites.add_subparsers(dest="action", required=True)
    p = sa.add_parser("add", help="register a satellite and its downlink")
    p.add_argument("--norad-id", type=norad_id, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--downlink-freq-hz", type=finite_float, required=True)
    p.add_argument("--bandwidth-hz", type=finite_float, default=0.0)
    p.add_argument("--modulation", default="bpsk")
    p.add_argument("--symbol-rate-baud", type=finite_float, default=0.0)
    p.add_argument(
        "--framing-profile",
        default="",
        help="a built-in framing profile, or 'catalogue': the catalogue's satellite of this NORAD id",
    )
    p.set_defaults(func=run(_satellite_add))
    p = sa.add_parser("list")
    p.set_defaults(func=run(_satellite_list))


def _register_profiles(subparsers: Any) -> None:
    profiles = subparsers.add_parser("profiles", help="mission profiles")
    pr = profiles.add_subparsers(dest="action", required=True)
    p = pr.add_parser("add")
    p.add_argument("--id", required=True)
    p.add_argument("--min-viable-duration-s", type=finite_float, default=60.0)
    p.add_argument("--prepass-s", type=finite_float, default=120.0)
    p.add_argument("--postpass-s", type=finite_float, default=60.0)
    p.add_argument("--min-elevation-deg", type=finite_float, default=10.0)
    p.add_argument("--kafka-topic", default="")
    p.add_argument(
        "--record-iq",
        "--keep-raw-iq",
        dest="record_iq",
        action="store_true",
        help="keep the raw IQ of each pass (SigMF) in its dataset",
    )
    p.add_argument(
        "--record-iq-max-s", type=float, default=None, help="at most this many seconds, around TCA"
    )
    p.add_argument(
        "--transmitter",
        default=None,
        help="the catalogue transmitter to decode (decode.transmitter; satellites registered "
        "with --framing-profile catalogue)",
    )
    p.add_argument(
        "--tenant", default=None, help="owning tenant (default: shared, read-only to operators)"
    )
    p.set_defaults(func=run(_profile_add))


def _register_ephemerides(subparsers: Any) -> None:
    ephemeris = subparsers.add_parser(
        "ephemeris", help="ephemerides (TLE/3LE, OMM, CCSDS OEM, az/el tables)"
    )
    ep = ephemeris.add_subparsers(dest="action", required=True)
    p = ep.add_parser("upload", help="store element sets of registered satellites")
    p.add_argument("file", type=Path)
    p.add_argument("--source", default="upload")
    p.add_argument("--priority", type=int_in(-(2**31), 2**31 - 1), default=0)
    p.add_argument("--disabled", action="store_true")
    p.add_argument("--expires", type=parse_time, default=None)
    p.add_argument("--norad-id", type=norad_id, action="append", default=None)
    p.set_defaults(func=run(_ephemeris_upload))
    p = ep.add_parser("list", help="a satellite's element-set history, newest first")
    p.add_argument("--norad-id", type=norad_id, required=True)
    p.set_defaults(func=run(_ephemeris_list))
    for action, enabled in (("enable", True), ("disable", False)):
        p = ep.add_parser(action, help=f"{action} one stored element set (re-predicts contacts)")
        p.add_argument("ephemeris_id", type=row_id)
        p.set_defaults(func=run(_ephemeris_enable), enabled=enabled)


def _station_add(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        st = inventory.add_station(
            s,
            station_id=args.id,
            name=args.name,
            lat_deg=args.lat_deg,
            lon_deg=args.lon_deg,
            alt_m=args.alt_m,
            min_elevation_deg=args.min_elevation_deg,
        )
        print(f"station {st.id} added")
    return 0


def _station_import(args: argparse.Namespace, ctx: Context) -> int:
    from orbital.stations import parse_stations

    stations = load_input(args.file, "stations file", parse_stations)
    bands = args.band or [(100e6, 3e9)]
    with ctx.session() as s:
        inventory.import_stations(
            s,
            stations=stations,
            antennas_per_station=args.antennas_per_station,
            bands_hz=bands,
            setup_s=args.setup_s,
            teardown_s=args.teardown_s,
        )
    for st in stations:
        print(f"station {st.id} added with {args.antennas_per_station} antennas")
    return 0


def _station_list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        for st in s.scalars(select(GroundStation).order_by(GroundStation.id)):
            print(
                f"{st.id}\t{st.name}\tlat {st.lat_deg:.4f}\tlon {st.lon_deg:.4f}\t"
                f"alt {st.alt_m:.0f} m\tmin el {st.min_elevation_deg:.1f} deg"
            )
    return 0


def _antenna_add(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        a = inventory.add_antenna(
            s,
            antenna_id=args.id,
            station_id=args.station,
            bands_hz=args.band,
            min_elevation_deg=args.min_elevation_deg,
            max_az_slew_deg_s=args.max_az_slew_deg_s,
            max_el_slew_deg_s=args.max_el_slew_deg_s,
            setup_s=args.setup_s,
            teardown_s=args.teardown_s,
        )
        print(f"antenna {a.id} added at {a.station_id}")
    return 0


def _antenna_maintenance(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        change = maintenance.add_window(
            s,
            antenna_id=args.id,
            start=args.start,
            end=args.end,
            reason=args.reason,
            now=ctx.clock.now(),
            by="the CLI",
        )
        m = change.window
        print(f"maintenance {m.id} on {m.antenna_id} {iso_utc(m.start)}..{iso_utc(m.end)}")
        for contact_id in change.contacts.failed:
            print(f"contact {contact_id}: PROVIDER_FAILED (in the maintenance window)")
        for contact_id in change.contacts.running:
            print(f"contact {contact_id}: in PASS, left running (in the maintenance window)")
    return 0


def _antenna_list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        for a in s.scalars(select(Antenna).order_by(Antenna.id)):
            bands = ",".join(f"{lo / 1e6:g}-{hi / 1e6:g}MHz" for lo, hi in a.bands)
            print(
                f"{a.id}\t{a.station_id}\t{bands}\tmin el {a.min_elevation_deg:.1f}\t"
                f"setup {a.setup_s:.0f} s\tteardown {a.teardown_s:.0f} s\t{a.status}"
            )
    return 0


def _satellite_add(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        sat = inventory.add_satellite(
            s,
            norad_id=args.norad_id,
            name=args.name,
            tenant=args.tenant,
            downlink_freq_hz=args.downlink_freq_hz,
            downlink_bandwidth_hz=args.bandwidth_hz,
            modulation=args.modulation,
            symbol_rate_baud=args.symbol_rate_baud,
            framing_profile=args.framing_profile,
        )
        print(f"satellite {sat.norad_id} ({sat.name}) added for {sat.tenant}")
    return 0


def _satellite_list(args: argparse.Namespace, ctx: Context) -> int:
    now = ctx.clock.now()
    with ctx.session() as s:
        for sat in s.scalars(select(Satellite).order_by(Satellite.norad_id)):
            eph = ephemerides.ephemeris_in_force(s, satellite_id=sat.id, now=now)
            epoch = iso_utc(eph.epoch) if eph is not None else "no ephemeris"
            print(
                f"{sat.norad_id}\t{sat.name}\t{sat.tenant}\t"
                f"{sat.downlink_freq_hz / 1e6:.3f} MHz\tepoch {epoch}"
            )
    return 0


def _profile_add(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        prof: MissionProfile = inventory.add_profile(
            s,
            profile_id=args.id,
            min_viable_duration_s=args.min_viable_duration_s,
            prepass_s=args.prepass_s,
            postpass_s=args.postpass_s,
            min_elevation_deg=args.min_elevation_deg,
            kafka_topic=args.kafka_topic,
            decode={} if args.transmitter is None else {"transmitter": args.transmitter},
            dataset_options={
                "record_iq": bool(args.record_iq),
                "record_iq_max_s": args.record_iq_max_s,
            },
            owner_tenant=args.tenant,
        )
        print(
            f"profile {prof.id} added ({f'tenant {prof.owner_tenant}' if prof.owner_tenant else 'shared'})"
        )
    return 0


def _ephemeris_upload(args: argparse.Namespace, ctx: Context) -> int:
    text = read_input(args.file, "element set file")
    with ctx.session() as s:
        result = ephemerides.upload_ephemerides(
            s,
            text=text,
            now=ctx.clock.now(),
            source=args.source,
            priority=args.priority,
            enabled=not args.disabled,
            expires_at=args.expires,
            norad_ids=args.norad_id,
        )
    if not result.stored:  # nothing was written
        reasons = "; ".join(result.rejected[:3]) or "it holds no TLE, 3LE, OMM, OEM or az/el record"
        more = f" (and {len(result.rejected) - 3} more)" if len(result.rejected) > 3 else ""
        raise ValidationError(f"no element set of {str(args.file)!r} was stored: {reasons}{more}")
    print(f"stored {len(result.stored)} element sets, {len(result.rejected)} not stored")
    for line in result.rejected[:20]:
        print(f"  not stored: {line}")
    for event in result.events:
        print(
            f"  contact {event.contact_id}: {event.old_state} -> {event.new_state}: {event.reason}"
        )
    return 0


def _ephemeris_list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        satellite = inventory.get_satellite(s, norad_id=args.norad_id)
        in_force = ephemerides.ephemeris_in_force(s, satellite_id=satellite.id, now=ctx.clock.now())
        for e in ephemerides.list_ephemerides(s, satellite_id=satellite.id):
            flags = "in force" if in_force is not None and e.id == in_force.id else ""
            flags = flags or ("enabled" if e.enabled else "disabled")
            expires = iso_utc(e.expires_at) if e.expires_at is not None else "-"
            print(
                f"{e.id}\tepoch {iso_utc(e.epoch)}\t{e.source_format}\tsource {e.source}\t"
                f"priority {e.priority}\texpires {expires}\t{flags}"
            )
    return 0


def _ephemeris_enable(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.session() as s:
        events = ephemerides.set_ephemeris_enabled(
            s,
            ephemeris_id=args.ephemeris_id,
            enabled=args.enabled,
            now=ctx.clock.now(),
        )
    print(f"ephemeris {args.ephemeris_id} {'enabled' if args.enabled else 'disabled'}")
    for event in events:
        print(
            f"  contact {event.contact_id}: {event.old_state} -> {event.new_state}: {event.reason}"
        )
    return 0
