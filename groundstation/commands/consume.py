"""``groundstation consume frames|contact-events|datasets``: follow a delivery topic.

Reads a Kafka broker (``--bootstrap``) or the embedded local topic log
(``--log-dir``). ``frames`` prints one JSON line per frame (metadata + hex
bytes) or a summary, keeps only the frames that decoded with
``--good-only``, and can rebuild the payload the frames carry (``--rebuild
FILE``); ``contact-events`` and ``datasets`` print one JSON line per
message (its wire form, checked against its contract, with topic,
partition and offset). With ``--group`` offsets are committed once a
record is printed (at least once, ``ingest.consumer``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from groundstation.commands._context import finite_float, int_in, norad_id
from groundstation.errors import ValidationError
from ingest.consumer import (
    KafkaSource,
    LocalLogSource,
    ReceivedFrame,
    RecordSource,
    follow_frames,
    follow_messages,
)
from ingest.rebuild import rebuild_payload
from ingest.topics import ContactEventMessage, DatasetReadyMessage, TopicNames, utc_iso

#: The message topics: subcommand -> (contract, its TopicNames attribute, help).
MESSAGE_TOPICS: dict[
    str, tuple[type[ContactEventMessage] | type[DatasetReadyMessage], str, str]
] = {
    "contact-events": (
        ContactEventMessage,
        "contact_events",
        "contact state changes and verdicts, ephemeris and station status",
    ),
    "datasets": (DatasetReadyMessage, "datasets", "dataset-ready notices"),
}


def _source_arguments(p: Any, what: str) -> None:
    """The options every topic's subcommand takes: where to read, the group,
    where to start, filters and when to stop."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bootstrap", help="Kafka bootstrap servers, host:port")
    src.add_argument("--log-dir", type=Path, help="local topic log directory (no broker)")
    p.add_argument(
        "--connect-timeout", type=finite_float, default=30.0, help="seconds to reach the broker"
    )
    p.add_argument("--prefix", default="groundstation", help="topic prefix (default %(default)s)")
    p.add_argument(
        "--group",
        default=None,
        help="consumer group id: offsets committed once a record is handled, at least once "
        "(default: none, no commits)",
    )
    p.add_argument("--latest", action="store_true", help=f"only {what} published from now on")
    p.add_argument("--contact", default=None, help="only this contact id")
    p.add_argument("--norad", type=norad_id, default=None, help="only this NORAD id")
    p.add_argument(
        "--max", type=int_in(1, 2**63 - 1), default=None, help=f"stop after this many {what}"
    )
    p.add_argument(
        "--idle-timeout",
        type=finite_float,
        default=None,
        help=f"stop after this many seconds without one of the {what} (default: follow forever)",
    )


def register(subparsers: Any) -> None:
    consume = subparsers.add_parser("consume", help="follow a delivery topic")
    sub = consume.add_subparsers(dest="what", metavar="TOPIC")
    sub.required = True
    p = sub.add_parser("frames", help="decoded frames with their metadata")
    _source_arguments(p, "frames")
    p.add_argument(
        "--good-only",
        action="store_true",
        help="only frames that decoded (Reed-Solomon did not give up, the CRC if any matched)",
    )
    p.add_argument("--keep-duplicates", action="store_true", help="do not drop repeats")
    p.add_argument("--summary", action="store_true", help="print only counts at the end")
    p.add_argument("--rebuild", type=Path, default=None, help="write the rebuilt payload here")
    p.add_argument(
        "--image",
        type=Path,
        default=None,
        help="rebuild the imaging payload's picture (PNG) from one contact's frames",
    )
    p.add_argument(
        "--geo",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the imaging payload's georeferenced products (CF swath NetCDF, map PNG "
        "and GeoTIFF) of one contact into DIR; needs --tle",
    )
    p.add_argument(
        "--tle",
        type=Path,
        default=None,
        help="element sets (TLE file) holding the satellite's (by --norad or the frames' NORAD id)",
    )
    p.add_argument(
        "--framing",
        default=None,
        help="built-in framing profile whose imager the satellite carries (field of view; "
        "default: the receiver's default framing)",
    )
    p.add_argument(
        "--header-bytes", type=int_in(0, 65535), default=6, help="frame header length to strip"
    )
    p.add_argument(
        "--trailer-bytes", type=int_in(0, 65535), default=0, help="frame trailer length to strip"
    )
    p.set_defaults(func=run_frames)
    for name, (_, _, help_text) in MESSAGE_TOPICS.items():
        m = sub.add_parser(name, help=help_text)
        _source_arguments(m, "messages")
        m.set_defaults(func=run_messages)


def frame_json(fr: ReceivedFrame) -> dict[str, Any]:
    m = fr.meta
    return {
        "topic": fr.topic,
        "partition": fr.partition,
        "offset": fr.offset,
        "contact_id": m.contact_id,
        "norad_id": m.norad_id,
        "station": m.station,
        "antenna": m.antenna,
        "frame_time": utc_iso(m.frame_time),
        "vc": m.virtual_channel,
        "frame_counter": m.frame_counter,
        "rs_corrections": m.rs_corrections,
        "crc_ok": m.crc_ok,
        "seq": m.sequence,
        "length": len(fr.data),
        "data_hex": fr.data.hex(),
    }


def _frame_source(args: argparse.Namespace, topic: str) -> RecordSource | None:
    """``topic`` on Kafka (``--bootstrap``) or in the local topic log
    (``--log-dir``); None, with the reason printed, when Kafka is unreachable."""
    if args.bootstrap:
        from kafka.errors import KafkaError

        try:
            return KafkaSource(
                args.bootstrap,
                topic,
                group_id=args.group,
                from_beginning=not args.latest,
                connect_timeout_s=args.connect_timeout,
            )
        except KafkaError as exc:
            print(
                f"groundstation consume: cannot reach Kafka at {args.bootstrap!r}: {exc}",
                file=sys.stderr,
            )
            return None
    if not args.log_dir.is_dir():
        state = "is not a directory" if args.log_dir.exists() else "does not exist"
        raise ValidationError(f"--log-dir {str(args.log_dir)!r} {state}")
    return LocalLogSource(args.log_dir, topic, from_beginning=not args.latest)


def run_frames(args: argparse.Namespace) -> int:
    if args.geo is not None and args.tle is None:
        raise ValidationError("--geo needs --tle (the satellite's element set)")
    topic = TopicNames(args.prefix).frames
    source = _frame_source(args, topic)
    if source is None:
        return 2
    kept: list[ReceivedFrame] = []
    count = 0
    try:
        for fr in follow_frames(
            source,
            norad_id=args.norad,
            contact_id=args.contact,
            deduplicate=not args.keep_duplicates,
            good_only=args.good_only,
            idle_timeout_s=args.idle_timeout,
            max_frames=args.max,
        ):
            count += 1
            if args.rebuild is not None or args.image is not None or args.geo is not None:
                kept.append(fr)
            elif not args.summary:
                sys.stdout.write(json.dumps(frame_json(fr)) + "\n")
                sys.stdout.flush()
    finally:
        source.close()
    return _output(args, kept, count, topic)


def run_messages(args: argparse.Namespace) -> int:
    """One JSON line per contact event or dataset-ready notice."""
    kind, attribute, _ = MESSAGE_TOPICS[args.what]
    topic = getattr(TopicNames(args.prefix), attribute)
    source = _frame_source(args, topic)
    if source is None:
        return 2
    try:
        for got in follow_messages(
            source,
            kind,
            norad_id=args.norad,
            contact_id=args.contact,
            idle_timeout_s=args.idle_timeout,
            max_messages=args.max,
        ):
            doc = {"topic": got.topic, "partition": got.partition, "offset": got.offset}
            sys.stdout.write(json.dumps({**doc, **got.message.to_json()}) + "\n")
            sys.stdout.flush()
    finally:
        source.close()
    return 0


def _output(args: argparse.Namespace, kept: list[ReceivedFrame], count: int, topic: str) -> int:
    """What the frames make once followed: georeferenced products, an image,
    a rebuilt payload or a summary."""
    if args.geo is not None:
        return write_geoproducts(args, kept)
    if args.image is not None:
        from PIL import Image

        from ingest.rebuild import rebuild_contact_image

        rebuilt = rebuild_contact_image(kept, contact_id=args.contact)
        if rebuilt is None:
            print(f"no image rows in {count} frames", file=sys.stderr)
            return 1
        Image.fromarray(rebuilt.rgb()).save(args.image, format="PNG")
        print(
            f"rebuilt a {rebuilt.image.shape[0]} x {rebuilt.image.shape[1]} image "
            f"({rebuilt.fraction_received:.1%} of rows) from {count} frames into {args.image}"
        )
    elif args.rebuild is not None:
        payload = rebuild_payload(
            kept,
            contact_id=args.contact,
            header_bytes=args.header_bytes,
            trailer_bytes=args.trailer_bytes,
        )
        args.rebuild.write_bytes(payload)
        print(f"rebuilt {len(payload)} bytes from {count} frames into {args.rebuild}")
    elif args.summary:
        print(f"{count} frames from {topic}")
    return 0


def _swath_geometry(args: argparse.Namespace, norad: int) -> Any:
    """The satellite's element set from ``--tle`` and its imager's field of
    view from ``--framing``'s profile."""
    from dsp.profile import ImagerSpec, ProfileError, builtin_profile
    from groundstation.profile_settings import DEFAULT_FRAMING
    from ingest.geoproducts import SwathGeometry
    from orbital.tle import parse_tle

    try:
        profile = builtin_profile(args.framing or DEFAULT_FRAMING)
        lines = args.tle.read_text().splitlines()
    except (ProfileError, OSError) as exc:
        raise ValidationError(str(exc)) from exc
    found = [e for e in parse_tle(lines).elements if e.norad_id == norad]
    if not found:
        raise ValidationError(f"--tle {str(args.tle)!r} holds no element set of NORAD {norad}")
    element = found[0]
    fov_deg = (profile.imager or ImagerSpec()).fov_deg
    return SwathGeometry(element.name or str(norad), norad, element.text(), fov_deg)


def write_geoproducts(args: argparse.Namespace, kept: list[ReceivedFrame]) -> int:
    """``--geo DIR``: the georeferenced products of one contact's frames."""
    from ingest.rebuild import rebuild_contact_geoproducts

    norads = {fr.meta.norad_id for fr in kept}
    norad = args.norad if args.norad is not None else (min(norads) if norads else None)
    if norad is None:
        print("no frames to geolocate", file=sys.stderr)
        return 1
    geometry = _swath_geometry(args, norad)
    products = rebuild_contact_geoproducts(kept, geometry, contact_id=args.contact)
    if products is None:
        print(f"no scan lines in {len(kept)} frames", file=sys.stderr)
        return 1
    args.geo.mkdir(parents=True, exist_ok=True)
    for name, data in products.files().items():
        (args.geo / name).write_bytes(data)
    print(f"wrote {', '.join(products.files())} (SIMULATED imager) into {args.geo}")
    return 0
