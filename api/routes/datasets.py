"""Datasets of completed contacts: catalogue search, one with its files, and
file download with HTTP Range support and the SHA-256 in headers (streamed,
or for S3 optionally a 307 to a pre-signed URL); ``manifest.json`` too; a
whole dataset as one streamed tar archive; the contact a dataset was
recorded in; a page of its decoded frames (``frames.h5``)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Header, Query, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from api import schemas
from api.convert import contact_public, dataset_public
from api.deps import CtxDep, ReaderDep, SessionDep
from api.download import (
    ByteRange,
    RangeNotSatisfiable,
    parse_range,
    read_verified,
    stream_verified,
)
from api.errors import problem
from api.routes._responses import problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation import datasets
from groundstation.errors import NotFoundError
from ingest.archive import TarMember, tar_size, tar_stream
from ingest.catalog import FileEntry
from ingest.errors import CorruptObjectError
from ingest.objectstore import ObjectStore, S3ObjectStore

router = api_router(tags=["datasets"])
_OCTETS = "application/octet-stream"
_404 = problems(
    _404="no such dataset (or one of a tenant this key may not read)",
    _410="the dataset was removed by retention; the detail says when and why",
)


@router.get("/datasets", response_model=schemas.DatasetsPublic)
def list_datasets(
    session: SessionDep,
    principal: ReaderDep,
    satellite: Annotated[int | None, Query(gt=0, lt=1_000_000_000, description="NORAD id")] = None,
    station: Annotated[str | None, Query(max_length=128)] = None,
    contact: Annotated[str | None, Query(max_length=64)] = None,
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> schemas.DatasetsPublic:
    """Ready datasets overlapping start..end, oldest first."""
    rows, count = datasets.list_datasets(
        session,
        tenants=principal.tenants(),
        norad_id=satellite,
        station=station,
        contact_id=contact,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
    )
    return schemas.DatasetsPublic(data=[dataset_public(d) for d in rows], count=count)


@router.get("/datasets/{dataset_id}", response_model=schemas.DatasetPublic, responses=_404)
def get_dataset(
    dataset_id: str, session: SessionDep, principal: ReaderDep
) -> schemas.DatasetPublic:
    """One dataset: its contact, files with sizes and checksums, and quality summary."""
    entry = datasets.get_dataset_for(session, dataset_id=dataset_id, tenants=principal.tenants())
    return dataset_public(entry)


_CHECKSUM_HEADERS: dict[str, Any] = {
    "X-Checksum-SHA256": {
        "description": "the whole file's SHA-256 (hex) from the dataset manifest",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
    "Repr-Digest": {
        "description": "the same SHA-256 as an RFC 9530 digest: `sha-256=:<base64>:`",
        "schema": {"type": "string"},
    },
}


@router.get(
    "/datasets/{dataset_id}/files/{name:path}",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/octet-stream": {}},
            "description": "the whole file",
            "headers": _CHECKSUM_HEADERS,
        },
        206: {
            "content": {"application/octet-stream": {}},
            "description": "the requested range",
            "headers": _CHECKSUM_HEADERS,
        },
        307: {
            "description": (
                "only with GS_S3_PRESIGNED_DOWNLOADS on an S3 store: the file is at the "
                "pre-signed URL in `Location` (no credentials needed; `Range` works there "
                "too) until it expires after GS_S3_PRESIGNED_EXPIRY_S seconds"
            ),
            "headers": {
                "Location": {
                    "description": "pre-signed S3 GET URL of the file",
                    "schema": {"type": "string", "format": "uri"},
                },
                **_CHECKSUM_HEADERS,
            },
        },
        **problems(
            _416="range outside the file",
            _500=(
                "the stored file does not match its manifest SHA-256 (checked before "
                "sending for files up to GS_DOWNLOAD_VERIFY_FIRST_BYTES; a larger one is "
                "broken off before its last chunk instead)"
            ),
        ),
        **_404,
    },
)
def download_file(
    dataset_id: str,
    name: str,
    session: SessionDep,
    ctx: CtxDep,
    principal: ReaderDep,
    range: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """The file's bytes (or one `Range: bytes=a-b`); `name` is a file of the
    dataset or `manifest.json` (its SHA-256 is the dataset's `manifest_sha256`).
    `X-Checksum-SHA256` and
    `Repr-Digest` carry the whole file's SHA-256 from the manifest. The bytes
    sent are checked against it: a corrupt file is never a clean success. With
    pre-signed downloads configured on an S3 store: 307 to the file's
    pre-signed URL, with the same checksum headers."""
    stores = ctx.dataset_stores()
    entry, file = datasets.dataset_file(
        session, dataset_id=dataset_id, name=name, tenants=principal.tenants(), stores=stores
    )
    filename = name.rsplit("/", 1)[-1]
    digest_b64 = base64.b64encode(bytes.fromhex(file.sha256)).decode()
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{file.sha256}"',
        "X-Checksum-SHA256": file.sha256,
        "Repr-Digest": f"sha-256=:{digest_b64}:",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    try:
        byte_range = parse_range(range, file.size_bytes)
    except RangeNotSatisfiable as exc:
        return problem(
            416,
            str(exc),
            kind="range",
            headers={"Content-Range": f"bytes */{file.size_bytes}"},
        )
    store = stores.of(entry)
    key = f"{entry.key_prefix.rstrip('/')}/{name}"
    if not store.exists(key):
        raise NotFoundError(f"stored object of dataset {dataset_id!r}", name)
    if ctx.settings.s3_presigned_downloads and isinstance(store, S3ObjectStore):
        url = store.presigned_get_url(
            key, expires_s=ctx.settings.s3_presigned_expiry_s, filename=filename
        )
        return RedirectResponse(
            url,
            status_code=307,
            headers={
                "X-Checksum-SHA256": headers["X-Checksum-SHA256"],
                "Repr-Digest": headers["Repr-Digest"],
                # The URL expires: neither the answer nor the URL may be reused later.
                "Cache-Control": "no-store",
            },
        )
    label = f"dataset {dataset_id!r} file {name!r}"
    whole = byte_range is None
    if byte_range is None:
        byte_range = ByteRange(0, file.size_bytes - 1)
        status = 200
    else:
        headers["Content-Range"] = f"bytes {byte_range.first}-{byte_range.last}/{file.size_bytes}"
        status = 206
    if file.size_bytes <= ctx.settings.download_verify_first_bytes:
        try:
            data = read_verified(store, key, sha256=file.sha256, label=label)
        except CorruptObjectError:
            return problem(
                500,
                f"{label}: the stored copy does not match the SHA-256 of its manifest, so it "
                "was not sent; the operators find the digests in the server log",
                kind="corrupt-object",
            )
        body = data if whole else data[byte_range.first : byte_range.last + 1]
        return Response(body, status_code=status, media_type=_OCTETS, headers=headers)
    headers["Content-Length"] = str(byte_range.length)
    return StreamingResponse(
        stream_verified(store, key, byte_range, sha256=file.sha256, label=label),
        status_code=status,
        media_type=_OCTETS,
        headers=headers,
    )


@router.get(
    "/datasets/{dataset_id}/archive",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/x-tar": {}},
            "description": (
                "the whole dataset as one POSIX tar archive, streamed: `<dataset id>/manifest.json` "
                "first, then every file of the manifest under `<dataset id>/`. Each file is "
                "checked against its manifest SHA-256 on the way; a corrupt one breaks the "
                "transfer off short of its Content-Length"
            ),
        },
        **_404,
    },
)
def download_archive(
    dataset_id: str, session: SessionDep, ctx: CtxDep, principal: ReaderDep
) -> StreamingResponse:
    """The whole dataset, manifest included, as one streamed tar archive
    (never built in memory; `Content-Length` given up front)."""
    stores = ctx.dataset_stores()
    entry, files = datasets.archive_members(
        session, dataset_id=dataset_id, stores=stores, tenants=principal.tenants()
    )
    store = stores.of(entry)
    mtime_s = (entry.ready_at or entry.created_at).timestamp()
    members = {TarMember(f"{entry.id}/{f.name}", f.size_bytes, mtime_s): f for f in files}
    prefix = entry.key_prefix.rstrip("/")

    def chunks(member: TarMember) -> Any:
        return _verified_chunks(
            store, f"{prefix}/{members[member].name}", members[member], entry.id
        )

    return StreamingResponse(
        tar_stream(list(members), chunks),
        media_type="application/x-tar",
        headers={
            "Content-Length": str(tar_size(members)),
            "Content-Disposition": f'attachment; filename="{entry.id}.tar"',
        },
    )


def _verified_chunks(store: ObjectStore, key: str, file: FileEntry, dataset_id: str) -> Any:
    """The file's bytes from the store, checked against its SHA-256."""
    if file.size_bytes == 0:
        return iter(())
    return stream_verified(
        store,
        key,
        ByteRange(0, file.size_bytes - 1),
        sha256=file.sha256,
        label=f"dataset {dataset_id!r} file {file.name!r} (archive)",
    )


@router.get(
    "/datasets/{dataset_id}/contact",
    response_model=schemas.DatasetContactPublic,
    responses=_404,
)
def get_dataset_contact(
    dataset_id: str, session: SessionDep, ctx: CtxDep, principal: ReaderDep
) -> schemas.DatasetContactPublic:
    """The contact the dataset was recorded in (any key that may read the
    dataset, scientists too): geometry, state and failure reason, and the
    receiver's quality summary of the pass."""
    found = datasets.dataset_contact(
        session, dataset_id=dataset_id, stores=ctx.dataset_stores(), tenants=principal.tenants()
    )
    return schemas.DatasetContactPublic(
        **contact_public(found.contact).model_dump(),
        dataset_id=found.dataset.id,
        quality=found.quality,
    )


@router.get(
    "/datasets/{dataset_id}/frames",
    response_model=schemas.FramesPublic,
    responses=problems(
        _404=(
            "no such dataset (or one of a tenant this key may not read), or it has no "
            "readable frames.h5 (the detail says which)"
        ),
        _410="the dataset was removed by retention; the detail says when and why",
    ),
)
def list_dataset_frames(
    dataset_id: str,
    session: SessionDep,
    ctx: CtxDep,
    principal: ReaderDep,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="first frame, from 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="frames in the page")] = 50,
    head_bytes: Annotated[
        int, Query(ge=0, le=64, description="bytes of each frame shown as `head_hex`")
    ] = 16,
) -> schemas.FramesPublic:
    """The dataset's decoded frames from its `frames.h5`, `limit` (at most
    500) from `offset`, in frame order: sequence number, time, length, the
    good/failed flag with the CRC and Reed-Solomon results, Es/N0 when the
    receiver estimated it per frame, and the first `head_bytes` bytes as
    hex. `count` is every frame of the dataset; an `offset` past it gives an
    empty page. The file is read from the dataset's bucket and checked
    against its manifest SHA-256 first. Who may read the dataset may read
    its frames (scientists too)."""
    page = datasets.dataset_frames(
        session,
        dataset_id=dataset_id,
        stores=ctx.dataset_stores(),
        offset=offset,
        limit=limit,
        head_bytes=head_bytes,
        tenants=principal.tenants(),
    )
    return schemas.FramesPublic(
        dataset_id=dataset_id,
        data=[
            schemas.FramePublic(
                sequence=r.sequence,
                time=r.time,
                length_bytes=r.length_bytes,
                frame_ok=r.frame_ok,
                crc_ok=r.crc_ok,
                rs_corrections=r.rs_corrections,
                virtual_channel=r.virtual_channel,
                frame_counter=r.frame_counter,
                esn0_db=None if r.esn0_db is None else round(r.esn0_db, 3),
                head_hex=r.head.hex(),
            )
            for r in page.rows
        ],
        count=page.total,
        offset=offset,
        limit=limit,
    )
