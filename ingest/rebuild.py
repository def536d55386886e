"""Example consumer: rebuild a payload (e.g. an image file) from frames.

The frames of one contact carry consecutive slices of a file in their data
fields. Sorting by the per-contact sequence number, dropping duplicates and
concatenating the data fields (each frame minus ``header_bytes`` at the front
and ``trailer_bytes`` at the end) gives the file back, followed by idle fill;
a PNG is cut after its ``IEND`` chunk.

    groundstation consume frames --bootstrap 127.0.0.1:9092 --contact c-1 \
        --rebuild image.png --header-bytes 6 --trailer-bytes 2

``rebuild_contact_image`` does the same for the demo's imaging payload (one
image row and band per frame, see ``ingest.imagery``):

    groundstation consume frames --log-dir var/demo/topics --contact <id> \
        --idle-timeout 2 --image image.png

``rebuild_contact_geoproducts`` makes the georeferenced products from them
(given the satellite's element set and the imager's field of view):

    groundstation consume frames --bootstrap 127.0.0.1:9092 --contact <id> \
        --idle-timeout 5 --geo products/ --tle weather.tle --norad 25338
"""

from __future__ import annotations

from collections.abc import Iterable

from ingest.consumer import ReceivedFrame
from ingest.errors import IngestError
from ingest.geoproducts import GeoProducts, SwathGeometry, products_of_image
from ingest.imagery import RebuiltImage, rebuild_image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rebuild_payload(
    frames: Iterable[ReceivedFrame],
    *,
    contact_id: str | None = None,
    header_bytes: int = 6,
    trailer_bytes: int = 0,
) -> bytes:
    """Concatenate the data fields of one contact's frames in sequence order."""
    by_seq: dict[int, bytes] = {}
    contacts: set[str] = set()
    for fr in frames:
        if contact_id is not None and fr.meta.contact_id != contact_id:
            continue
        contacts.add(fr.meta.contact_id)
        by_seq.setdefault(fr.meta.sequence, fr.data)
    if len(contacts) > 1:
        raise IngestError(
            f"frames of several contacts {sorted(contacts)}; pass contact_id to choose one"
        )
    if not by_seq:
        return b""
    seqs = sorted(by_seq)
    missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
    if missing:
        raise IngestError(
            f"{len(missing)} frames missing from the sequence (first: {missing[:5]}); "
            "the payload would be corrupt"
        )
    end = -trailer_bytes if trailer_bytes else None
    payload = b"".join(by_seq[s][header_bytes:end] for s in seqs)
    return trim_fill(payload)


def trim_fill(payload: bytes) -> bytes:
    """Cut idle fill after a file whose format marks its own end (PNG)."""
    if payload.startswith(PNG_SIGNATURE):
        i = payload.find(b"IEND")
        if i >= 0:
            return payload[: i + 8]  # chunk type + CRC
    return payload


def rebuild_contact_image(
    frames: Iterable[ReceivedFrame], *, contact_id: str | None = None, fecf: bool = True
) -> RebuiltImage | None:
    """The imaging payload's picture from one contact's frames (the weather
    satellite of ``groundstation demo``): frames that failed their CRC or
    Reed-Solomon are skipped, repeats are harmless, lost rows stay gaps
    (``ingest.imagery``)."""
    return rebuild_image(_good_frames(frames, contact_id), fecf=fecf)


def rebuild_contact_geoproducts(
    frames: Iterable[ReceivedFrame],
    geometry: SwathGeometry,
    *,
    contact_id: str | None = None,
    fecf: bool = True,
) -> GeoProducts | None:
    """The georeferenced products (``ingest.geoproducts``: the CF swath, the
    map as PNG and GeoTIFF) from one contact's frames, as the dataset's
    product step makes them; None when no frame carries a scan line."""
    rebuilt = rebuild_contact_image(frames, contact_id=contact_id, fecf=fecf)
    return None if rebuilt is None else products_of_image(rebuilt, geometry)


def _good_frames(frames: Iterable[ReceivedFrame], contact_id: str | None) -> list[bytes]:
    """The data of one contact's frames that decoded (CRC and Reed-Solomon)."""
    contacts: set[str] = set()
    good: list[bytes] = []
    for fr in frames:
        if contact_id is not None and fr.meta.contact_id != contact_id:
            continue
        contacts.add(fr.meta.contact_id)
        if not fr.meta.decoded_ok:
            continue
        good.append(fr.data)
    if len(contacts) > 1:
        raise IngestError(
            f"frames of several contacts {sorted(contacts)}; pass contact_id to choose one"
        )
    return good
