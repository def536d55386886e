"""Contacts: reserve (idempotent), list (filters, cursor pages), one with its
history, update (profile, trimmed window; If-Match), cancel, its track, and the live event stream (SSE)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Annotated, Any, Literal

from fastapi import Header, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from api import schemas
from api.convert import (
    contact_detail,
    contact_progress_public,
    contact_public,
    json_plain_response,
    json_response,
)
from api.deps import CtxDep, NowDep, OperatorDep, SessionDep
from api.errors import problem
from api.events import NumberedEvent, ProgressItem, StreamItem, Subscriber
from api.limits import expensive
from api.routes._responses import EXPENSIVE_429, problems
from api.routing import api_router
from api.schemas import Timestamp
from groundstation import booking, contacts, progress, vetting
from groundstation.errors import BookingConflictError, ValidationError
from groundstation.event_log import PrunedHistory, event_message

router = api_router(tags=["contacts"])

_CONFLICT = problems(
    _409="the window overlaps another booking; `conflicting_contact` names it",
    _404="satellite, antenna or profile not found",
)
_NOT_FOUND = problems(_404="no such contact (or another tenant's)")


@router.post(
    "/contacts",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ContactPublic,
    responses={
        200: {
            "description": "idempotent replay: the contact booked before",
            "model": schemas.ContactPublic,
        },
        **_CONFLICT,
    },
)
def reserve_contact(
    body: schemas.ContactCreate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Book a predicted pass on an antenna. Send `Idempotency-Key` to retry safely:
    the same key (per tenant) with the same body returns the same contact
    (200); with another body it is 422 (`idempotency-key-reused`). The
    profile must be shared or the contact tenant's (else 404)."""
    try:
        # The satellite (visible to the key, else 404 before anything else)
        # is read by booking.reserve with the antenna and profile; an admin
        # books for the satellite's tenant (tenant None).
        contact = booking.reserve(
            session,
            norad_id=body.norad_id,
            antenna_id=body.antenna_id,
            profile_id=body.profile_id,
            start=body.start,
            end=body.end,
            tenant=None if principal.is_admin else principal.tenant,
            now=now,
            idempotency_key=idempotency_key,
            policy=ctx.policy,
            events=ctx.events,
            ephemeris_id=body.ephemeris_id,
            satellite_tenants=principal.tenants(),
            pass_cache=ctx.pass_cache,
        )
    except BookingConflictError as exc:
        return _conflict(exc)
    if contact.created_at != now:
        response.status_code = status.HTTP_200_OK
    # The booked contact's rows are still loaded (no expiry on commit): its
    # satellite and antenna come from the session, not from another query.
    out = contact_public(contact)
    return json_response(out, status_code=response.status_code or status.HTTP_201_CREATED)


def _conflict(exc: BookingConflictError) -> JSONResponse:
    """409 naming the contact that holds the window (visible to this key or not,
    only its id, state and window are shown)."""
    other = exc.conflicting
    conflicting = None
    if other is not None:
        conflicting = {
            "id": other.contact_id,
            "antenna_id": other.antenna_id,
            "state": other.state,
            "blocked_start": other.blocked_start.isoformat(),
            "blocked_end": other.blocked_end.isoformat(),
        }
    return problem(409, str(exc), kind="no-overlap", conflicting_contact=conflicting)


@router.get("/contacts", response_model=schemas.ContactsPublic)
def list_contacts(
    ctx: CtxDep,
    principal: OperatorDep,
    state: Annotated[list[str] | None, Query(description="repeat for several states")] = None,
    satellite: Annotated[int | None, Query(gt=0, lt=1_000_000_000, description="NORAD id")] = None,
    station: Annotated[str | None, Query(max_length=80)] = None,
    antenna: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    profile: Annotated[
        str | None, Query(min_length=1, max_length=80, description="mission profile id")
    ] = None,
    start: Timestamp | None = None,
    end: Timestamp | None = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    verdict: Annotated[
        list[str] | None,
        Query(
            max_length=5,
            description="good, partial, bad, failed or none (not vetted); repeat for several",
        ),
    ] = None,
) -> Response:
    """Contacts of this key's tenants by booked start, in pages of `limit`
    (`next_cursor`). Filters combine (AND): `state` (repeatable; an unknown
    state is 422 naming it), `satellite`, `station`, `antenna`, `profile`
    (an unknown or another tenant's one matches nothing: an empty page),
    `start`..`end` (booked windows overlapping it), `verdict` (repeatable;
    `none`: not vetted yet; an unknown verdict is 422 naming it)."""
    # The engine, not a request session: one pooled connection for the one
    # statement (groundstation.contacts.contacts_page).
    rows, count, next_cursor = contacts.contacts_page(
        ctx.engine,
        tenants=principal.tenants(),
        states=state,
        norad_id=satellite,
        station_id=station,
        antenna_id=antenna,
        profile_id=profile,
        start=start,
        end=end,
        cursor=cursor,
        limit=limit,
        verdicts=verdict,
    )
    return json_plain_response({"data": rows, "count": count, "next_cursor": next_cursor})


@router.get(
    "/contacts/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": (
                "Server-Sent Events: `event: contact` and `event: resource` (an "
                "ephemeris's or a station's status), JSON data; `event: progress` "
                "(no `id:`): a running contact's live figures, the body of GET "
                "/contacts/{id}/progress; first `event: "
                "history-pruned` when history after `Last-Event-ID` was pruned"
            ),
        },
        **problems(
            _429=(
                "this API key already has GS_MAX_EVENT_STREAMS_PER_KEY streams open in this "
                "server process; retry after `Retry-After` s"
            )
        ),
    },
)
async def contact_events(
    request: Request,
    ctx: CtxDep,
    principal: OperatorDep,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Live contact state changes made by any process sharing the database, as
    Server-Sent Events (`event: contact`; `id:` is the change's id in the
    contact history, for resuming with `Last-Event-ID`), and ephemeris and
    station status changes (`event: resource`) in the same order and ids. An
    operator sees its tenant's contacts and ephemerides, and every station's.
    While a contact is in PASS or POSTPASS, its live figures (frames
    decoded, Es/N0, Doppler, elapsed and remaining time, `fraction` of the
    pass) come as `event: progress`, the same JSON as GET
    /contacts/{id}/progress, at most once a second per contact and only
    when they changed; they have no `id:` (they are not history, and are not
    replayed after `Last-Event-ID`). When history after `Last-Event-ID` was pruned by housekeeping,
    the stream starts with `event: history-pruned` (no `id:`) naming the
    highest id pruned, then the events kept. At most
    GS_MAX_EVENT_STREAMS_PER_KEY open streams per key and server process."""
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    tenants = principal.tenants()
    hub = ctx.events
    streams = ctx.limits.event_streams
    streams.acquire(principal)  # 429 beyond GS_MAX_EVENT_STREAMS_PER_KEY
    try:
        sub, backlog = await run_in_threadpool(hub.subscribe, asyncio.get_running_loop(), after)
    except BaseException:
        streams.release(principal)
        raise
    ended = False

    def end() -> None:
        """Once, when the stream ends (or its response was never started)."""
        nonlocal ended
        if not ended:
            ended = True
            hub.unsubscribe(sub)
            streams.release(principal)

    return StreamingResponse(
        _event_stream(request, sub, backlog, tenants, end),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(end),
    )


async def _event_stream(
    request: Request,
    sub: Subscriber,
    backlog: Sequence[NumberedEvent],
    tenants: Sequence[str] | None,
    end: Callable[[], None],
) -> AsyncIterator[str]:
    """The SSE text of a subscription: the pruned-history notice, the
    backlog after ``Last-Event-ID``, then live events and progress of
    ``tenants``, a keep-alive comment every 15 s; ``end()`` once it stops."""
    try:
        yield ": connected\n\n"
        if sub.pruned is not None:
            yield _pruned_notice(sub.pruned)
        pending: list[StreamItem] = list(backlog)
        while True:
            if not pending:
                try:
                    pending.append(await asyncio.wait_for(sub.queue.get(), timeout=15.0))
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
            item = pending.pop(0)
            if tenants is None or item.tenant is None or item.tenant in tenants:
                yield _sse_progress(item) if isinstance(item, ProgressItem) else _sse_event(item)
    finally:
        end()


def _pruned_notice(gap: PrunedHistory) -> str:
    """The ``history-pruned`` event: what the stream cannot replay."""
    notice = {
        "last_event_id": gap.last_event_id,
        "pruned_through_id": gap.pruned_through_id,
        "detail": (
            f"contact history up to event id {gap.pruned_through_id} was pruned "
            f"(GS_EVENT_RETENTION_DAYS): events after id {gap.last_event_id} may be "
            "missing; read the contacts' current state with GET /contacts"
        ),
    }
    return f"event: history-pruned\ndata: {json.dumps(notice)}\n\n"


def _sse_progress(item: ProgressItem) -> str:
    """A running contact's live figures as an SSE event (no id: not history)."""
    body = contact_progress_public(item.view).model_dump_json()
    return f"event: progress\ndata: {body}\n\n"


def _sse_event(item: NumberedEvent) -> str:
    """One change as an SSE event, its id the history id: a contact's
    (``contact``, the contact-event contract) or a resource's (``resource``,
    the resource-event contract), as on the events topic."""
    kind, message = event_message(item.event, item.norad_id, item.station, item.antenna)
    return f"id: {item.seq}\nevent: {kind}\ndata: {json.dumps(message.to_json())}\n\n"


@router.get("/contacts/{contact_id}", response_model=schemas.ContactDetail, responses=_NOT_FOUND)
def get_contact(
    contact_id: str, session: SessionDep, principal: OperatorDep, response: Response
) -> schemas.ContactDetail:
    """The contact with its history; `ETag` is its version (send it as
    `If-Match` with a PATCH)."""
    contact = contacts.get_contact_for(session, contact_id=contact_id, tenants=principal.tenants())
    out = contact_detail(contact)
    response.headers["ETag"] = _etag(out.version)
    return out


def _etag(version: int) -> str:
    return f'"{version}"'


def _if_match_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header asks for (``"3"``, ``W/"3"`` or
    ``3``); None for no header or ``*`` (any version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise ValidationError(
            f"If-Match {if_match!r} is not a contact version; send the ETag of "
            'GET /contacts/{id} as is, e.g. If-Match: "3"'
        )
    return int(text)


@router.patch(
    "/contacts/{contact_id}",
    response_model=schemas.ContactPublic,
    responses=problems(
        _404="no such contact (or another tenant's), or the profile is not found",
        _409=(
            "not changeable any more (`update-refused`), the new window overlaps another "
            "booking (`no-overlap`, `conflicting_contact` names it) or maintenance"
        ),
        _412="`If-Match` names another version than the stored one (`version-mismatch`)",
    ),
)
def update_contact(
    contact_id: str,
    body: schemas.ContactUpdate,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> Any:
    """Change a SCHEDULED contact before its pre-pass (AWS UpdateContact):
    its mission profile (`profile_id`) and/or its visibility window trimmed
    to `start`..`end` inside its AOS..LOS. Every booking rule is checked
    again on the new windows, and a refusal names its rule (`type`) and
    values, as for POST /contacts. Send the contact's `ETag` as `If-Match`
    to refuse the change (412) if someone changed the contact since you
    read it. The change is in the history and the event stream as an
    update (same state); the version goes up by one."""
    expected = _if_match_version(if_match)
    try:
        contact = booking.update(
            session,
            contact_id=contact_id,
            tenants=principal.tenants(),
            now=now,
            by=f"key {principal.name}",
            profile_id=body.profile_id,
            start=body.start,
            end=body.end,
            expected_version=expected,
            policy=ctx.policy,
            events=ctx.events,
        )
    except BookingConflictError as exc:
        return _conflict(exc)
    out = contact_public(contact)
    response.headers["ETag"] = _etag(out.version)
    return out


@router.put(
    "/contacts/{contact_id}/verdict",
    response_model=schemas.ContactPublic,
    responses=problems(
        _404="no such contact (or another tenant's)",
        _409="the contact has not ended yet (`verdict-refused`)",
        _412="`If-Match` names another version than the stored one (`version-mismatch`)",
    ),
)
def set_contact_verdict(
    contact_id: str,
    body: schemas.ContactVerdictSet,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> Any:
    """Vet an ended contact by hand (COMPLETED, FAILED, PROVIDER_FAILED or
    CANCELLED), as SatNOGS observers do: the verdict replaces the automatic
    one (or an earlier operator's), with who (this key's name), when and
    why. It is in the history and on the event stream and topic as a
    verdict event (same state, `verdict` and `verdict_source: manual`); the
    version goes up by one. Send the contact's `ETag` as `If-Match` to
    refuse the change (412) if the contact changed since you read it."""
    expected = _if_match_version(if_match)
    contact = vetting.set_verdict(
        session,
        contact_id=contact_id,
        verdict=body.verdict,
        reason=body.reason,
        by=f"key {principal.name}",
        now=now,
        tenants=principal.tenants(),
        expected_version=expected,
        events=ctx.events,
    )
    out = contact_public(contacts.get_contact_for(session, contact_id=contact.id))
    response.headers["ETag"] = _etag(out.version)
    return out


@router.post(
    "/contacts/{contact_id}/cancel",
    response_model=schemas.ContactPublic,
    responses=problems(
        _404="no such contact (or another tenant's)", _409="not cancellable any more"
    ),
)
def cancel_contact(
    contact_id: str,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    body: schemas.ContactCancel | None = None,
) -> schemas.ContactPublic:
    """Cancel a SCHEDULED contact before its pre-pass starts (optional `reason`): it
    becomes CANCELLED and its antenna is free again; one under way is stopped with
    `/stop`."""
    contacts.get_contact_for(session, contact_id=contact_id, tenants=principal.tenants())
    reason = body.reason if body is not None else "cancelled by user"
    booking.cancel(
        session,
        contact_id=contact_id,
        now=now,
        reason=f"{reason} (key {principal.name})",
        events=ctx.events,
    )
    out = contact_public(contacts.get_contact_for(session, contact_id=contact_id))
    return out


@router.post(
    "/contacts/{contact_id}/stop",
    response_model=schemas.ContactPublic,
    responses=problems(
        _404="no such contact (or another tenant's)",
        _409="not running (only PREPASS and PASS stop; a SCHEDULED contact is cancelled)",
    ),
)
def stop_contact(
    contact_id: str,
    session: SessionDep,
    ctx: CtxDep,
    now: NowDep,
    principal: OperatorDep,
    body: schemas.ContactCancel | None = None,
) -> schemas.ContactPublic:
    """Stop a running contact. In PREPASS it is CANCELLED at once. In PASS
    it becomes CANCELLING: the scheduler working the pass ends it within a
    sync interval (5 s) and a chunk, keeps the frames received as a partial
    dataset, and the contact becomes CANCELLED, its reason naming the stop
    and the dataset kept (or none, when no frame was decoded yet)."""
    reason = body.reason if body is not None else "stopped by user"
    contact = booking.stop(
        session,
        contact_id=contact_id,
        tenants=principal.tenants(),
        now=now,
        reason=f"{reason} (key {principal.name})",
        events=ctx.events,
    )
    return contact_public(contacts.get_contact_for(session, contact_id=contact.id))


@router.get(
    "/contacts/{contact_id}/progress",
    response_model=schemas.ContactProgressPublic,
    responses=_NOT_FOUND,
)
def get_contact_progress(
    contact_id: str, session: SessionDep, principal: OperatorDep
) -> schemas.ContactProgressPublic:
    """The live figures of the contact's pass while it runs (frames decoded,
    Es/N0, Doppler, elapsed and remaining time), stored by the executor every
    second or so and read from the database, so every API process serves
    them; after LOS its last figures (`status` `final`). The event stream,
    GET /contacts/events, sends the same figures as `event: progress` while
    the contact is in PASS or POSTPASS: follow it rather than polling this."""
    view = progress.contact_progress(session, contact_id=contact_id, tenants=principal.tenants())
    return contact_progress_public(view)


@router.get(
    "/contacts/{contact_id}/track",
    response_model=schemas.TrackPublic,
    responses={
        **_NOT_FOUND,
        **problems(_429=EXPENSIVE_429),
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
    },
)
@expensive
def contact_track(
    contact_id: str,
    session: SessionDep,
    ctx: CtxDep,
    principal: OperatorDep,
    step_s: Annotated[float, Query(ge=0.1, le=600)] = 1.0,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Az/el/range/range-rate/Doppler from pre-pass start to post-pass end, every `step_s`."""
    found = contacts.contact_track(
        session, contact_id=contact_id, tenants=principal.tenants(), step_s=step_s
    )
    track, doppler, freq_hz = found.track, found.doppler_hz, found.downlink_freq_hz

    def num(x: float) -> float | None:
        return None if x != x else round(float(x), 6)

    rows = [
        schemas.TrackPoint(
            time=t,
            azimuth_deg=num(track.azimuth_deg[i]),
            elevation_deg=num(track.elevation_deg[i]),
            range_km=num(track.range_km[i]),
            range_rate_km_s=num(track.range_rate_km_s[i]),
            doppler_hz=num(doppler[i]),
        )
        for i, t in enumerate(track.times_utc)
    ]
    if format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(
            ["time", "azimuth_deg", "elevation_deg", "range_km", "range_rate_km_s", "doppler_hz"]
        )
        for r in rows:
            w.writerow(
                [
                    r.time.isoformat(),
                    r.azimuth_deg,
                    r.elevation_deg,
                    r.range_km,
                    r.range_rate_km_s,
                    r.doppler_hz,
                ]
            )
        return Response(buf.getvalue(), media_type="text/csv")
    return schemas.TrackPublic(
        contact_id=contact_id, step_s=step_s, downlink_freq_hz=freq_hz, data=rows, count=len(rows)
    )
