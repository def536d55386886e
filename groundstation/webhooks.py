"""Outbound webhooks per tenant (issue 15): every contact event POSTed as
JSON to the tenant's registered endpoints, HMAC-SHA256 signed, retried with
exponential backoff, each attempt logged.

The events are the ones the SSE stream carries: the contact history
(``contact_transitions``) read back by ``event_log`` -- the one log every
process writes (booking, updates, cancellations, the lifecycle's state
changes, re-predictions, maintenance). Nothing is added to the code that
changes a contact, so no transition waits on a webhook:

- the **relay** (`relay`) follows that log from a position kept in the
  database (``webhook_relay``) and turns each event into one
  ``webhook_deliveries`` row per matching endpoint of the contact's tenant
  (the outbox), advancing the position in the same transaction;
- the **sender** (`claim_due`, `attempt`) POSTs due deliveries, each claimed
  with a lease so two workers never send the same attempt, and records the
  answer: delivered (2xx), retried later (``backoff_s``), or failed after
  ``max_attempts``.

Both run in `WebhookWorker`, a thread `groundstation serve` starts. Everything
lives in the database, so a restart loses nothing: events committed while no
worker ran are relayed when one starts, pending retries resume. A worker
killed during a POST sends it again when its lease ends (at least once:
receivers deduplicate on ``X-Groundstation-Delivery`` or the event id).

Delivery times (backoff, leases, the signature's timestamp) are wall-clock
time, not the service clock (which may be simulated and sped up): they are
about the network and the receiver's clock.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from groundstation import event_log
from groundstation.errors import NotFoundError, ValidationError
from groundstation.events import ContactEvent, Event, ResourceEvent
from groundstation.models import WebhookDelivery, WebhookEndpoint, WebhookRelay
from groundstation.settings import Settings
from groundstation.states import ContactState

log = logging.getLogger(__name__)

# ------------------------------------------------------------ event types

BOOKED, UPDATED, CANCELLED = "contact.booked", "contact.updated", "contact.cancelled"
COMPLETED, FAILED, STATE_CHANGED = "contact.completed", "contact.failed", "contact.state_changed"
EPHEMERIS_STATUS, STATION_STATUS = "ephemeris.status", "station.status"
DATASET_READY = "dataset.ready"
EVENT_TYPES: tuple[str, ...] = (
    BOOKED,
    UPDATED,
    CANCELLED,
    COMPLETED,
    FAILED,
    STATE_CHANGED,
    EPHEMERIS_STATUS,
    STATION_STATUS,
    DATASET_READY,
)
"""Every type an endpoint may subscribe to (none listed: all of them)."""

_FAILED_STATES = {
    ContactState.FAILED.value,
    ContactState.PROVIDER_FAILED.value,
    ContactState.FAILED_TO_SCHEDULE.value,
}


def event_type_of(event: ContactEvent | ResourceEvent) -> str:
    """The webhook type of an event: a contact's (``event_type``), or
    ``ephemeris.status`` / ``station.status`` (a station's or an antenna's) /
    ``dataset.ready``."""
    if isinstance(event, ResourceEvent):
        if event.kind == "dataset":
            return DATASET_READY
        return EPHEMERIS_STATUS if event.kind == "ephemeris" else STATION_STATUS
    return event_type(event.old_state, event.new_state)


def event_type(old_state: str, new_state: str) -> str:
    """The webhook type of a contact event: booked (AVAILABLE -> SCHEDULED),
    updated (window or profile changed, state kept), cancelled, completed
    (its dataset is ready), failed (FAILED, PROVIDER_FAILED,
    FAILED_TO_SCHEDULE), else state_changed (PREPASS, PASS, POSTPASS,
    CANCELLING)."""
    if old_state == new_state:
        return UPDATED
    if new_state == ContactState.SCHEDULED.value:
        return BOOKED
    if new_state == ContactState.CANCELLED.value:
        return CANCELLED
    if new_state == ContactState.COMPLETED.value:
        return COMPLETED
    if new_state in _FAILED_STATES:
        return FAILED
    return STATE_CHANGED


# ------------------------------------------------------------ signing

SIGNATURE_HEADER = "X-Groundstation-Signature"
EVENT_HEADER = "X-Groundstation-Event"
EVENT_ID_HEADER = "X-Groundstation-Event-Id"
DELIVERY_HEADER = "X-Groundstation-Delivery"
ATTEMPT_HEADER = "X-Groundstation-Attempt"


def signature(secret: str, body: bytes, timestamp_s: int) -> str:
    """The ``X-Groundstation-Signature`` value: ``t=<unix seconds>,v1=<hex>``,
    the hex an HMAC-SHA256 with the endpoint's secret of ``b"<t>." + body``
    (the timestamp is signed so a captured request cannot be replayed later)."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


# ------------------------------------------------------------ endpoints

MAX_URL_CHARS = 2048
SECRET_CHARS = (16, 200)


def _is_private(address: str) -> bool:
    """Whether an IP address is not a public one (``ValueError``: not an address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global


def _names_private(host: str) -> bool:
    """Whether a URL's host is a non-public address literal or localhost (a
    name is resolved, and checked, at each delivery)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return _is_private(host)
    except ValueError:
        return False


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if an endpoint may have it: http(s), a host, no user or
    password in it, at most 2048 characters; a literal address must be
    public unless ``allow_private``. ``ValidationError`` naming the value."""
    if len(url) > MAX_URL_CHARS:
        raise ValidationError(f"webhook url is {len(url)} characters, at most {MAX_URL_CHARS}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"webhook url {url!r} does not parse: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValidationError(
            f"webhook url {url!r} has scheme {parts.scheme!r}; use https:// (or http://)"
        )
    host = parts.hostname
    if not host:
        raise ValidationError(f"webhook url {url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            f"webhook url {parts.scheme}://***@{host}{'' if port is None else f':{port}'}... "
            "holds a user or password: it would be shown to every reader of the endpoint; "
            "authenticate the request by its signature instead"
        )
    if not allow_private and _names_private(host):
        raise ValidationError(
            f"webhook url {url!r} points at {host!r}, a loopback, private or reserved "
            "address; endpoints must be reachable on the public network "
            "(GS_WEBHOOK_ALLOW_PRIVATE=true allows them)"
        )
    return url


def _event_types(types: Iterable[str]) -> list[str]:
    chosen: list[str] = []
    for t in types:
        if t not in EVENT_TYPES:
            raise ValidationError(
                f"webhook event type {t!r} is unknown; use one of {', '.join(EVENT_TYPES)}"
            )
        if t not in chosen:
            chosen.append(t)
    return chosen


def _secret(secret: str | None) -> str:
    if secret is None:
        return "whsec_" + secrets.token_urlsafe(32)
    low, high = SECRET_CHARS
    if not low <= len(secret) <= high:
        raise ValidationError(f"webhook secret is {len(secret)} characters, expected {low}..{high}")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise ValidationError("webhook secret holds spaces or control characters")
    return secret


def create_endpoint(
    session: Session,
    *,
    tenant: str,
    url: str,
    event_types: Sequence[str] = (),
    secret: str | None = None,
    description: str = "",
    now: datetime,
    allow_private: bool = False,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint of ``tenant`` receiving the events committed from now
    on; commits. Returns it and its secret (``secret``, or a new random one)."""
    if not tenant:
        raise ValidationError("a webhook belongs to a tenant; the key has none (name one)")
    url = check_url(url, allow_private=allow_private)
    types = _event_types(event_types)
    key = _secret(secret)
    from_tx_id, from_event_id = event_log.head(session)
    endpoint = WebhookEndpoint(
        tenant=tenant,
        url=url,
        description=description,
        event_types=types,
        secret=key,
        created_at=now,
        from_tx_id=from_tx_id,
        from_event_id=from_event_id,
    )
    session.add(endpoint)
    session.commit()
    return endpoint, key


def list_endpoints(session: Session, *, tenants: Sequence[str] | None) -> list[WebhookEndpoint]:
    """The endpoints of ``tenants`` (None: every tenant), oldest first."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if tenants is not None:
        query = query.where(WebhookEndpoint.tenant.in_(tenants))
    return list(session.scalars(query))


def get_endpoint(
    session: Session, *, endpoint_id: str, tenants: Sequence[str] | None
) -> WebhookEndpoint:
    """The endpoint, or ``NotFoundError`` (also for another tenant's)."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or (tenants is not None and endpoint.tenant not in tenants):
        raise NotFoundError("webhook", endpoint_id)
    return endpoint


def delete_endpoint(session: Session, *, endpoint_id: str, tenants: Sequence[str] | None) -> None:
    """Delete the endpoint and its deliveries (pending ones are not sent); commits."""
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, tenants=tenants)
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    session.delete(endpoint)
    session.commit()


DELIVERY_STATES = ("pending", "delivered", "failed")


def list_deliveries(
    session: Session,
    *,
    endpoint_id: str,
    tenants: Sequence[str] | None,
    state: str | None = None,
    limit: int = 100,
) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first (``NotFoundError`` as `get_endpoint`)."""
    endpoint = get_endpoint(session, endpoint_id=endpoint_id, tenants=tenants)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.event_id.desc())
    return list(session.scalars(query.limit(limit)))


def prune_deliveries(
    session_factory: sessionmaker[Session],
    *,
    finished_before: datetime,
    batch_rows: int = 1000,
    max_batches: int = 100,
) -> int:
    """Delete delivered and failed deliveries last changed before
    ``finished_before`` (wall clock), at most ``batch_rows`` per transaction
    and ``max_batches`` transactions per call; pending ones are kept.
    Returns the rows deleted (housekeeping, with the contact history)."""
    done = 0
    for _ in range(max_batches):
        with session_factory() as session:
            ids = list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.state.in_(("delivered", "failed")),
                        WebhookDelivery.updated_at < finished_before,
                    )
                    .limit(batch_rows)
                )
            )
            if ids:
                session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
            session.commit()
        done += len(ids)
        if len(ids) < batch_rows:
            break
    return done


# ------------------------------------------------------------ relay

RELAY = "contact-events"
RELAY_BATCH = 500


def _payload(e: event_log.LoggedEvent, kind: str, tenant: str) -> str:
    """The body POSTed: the event id (the SSE ``id:``), its type, the
    endpoint's tenant and ``data``, the event as on the SSE stream and the
    topic."""
    _, message = event_log.event_message(e.event, e.norad_id, e.station, e.antenna)
    body = {"id": e.id, "type": kind, "tenant": tenant, "data": message.to_json()}
    return json.dumps(body, separators=(",", ":"))


def _cursor(session_factory: sessionmaker[Session], now: datetime) -> event_log.Position:
    with session_factory() as session:
        row = session.get(WebhookRelay, RELAY)
        if row is None:
            tx_id, event_id = event_log.START
            session.add(WebhookRelay(name=RELAY, tx_id=tx_id, event_id=event_id, updated_at=now))
            session.commit()
            return event_log.START
        position = (row.tx_id, row.event_id)
        session.rollback()
        return position


@dataclass(frozen=True)
class Relayed:
    """What one `relay` call did: events read, deliveries made."""

    events: int
    deliveries: int


def relay(session_factory: sessionmaker[Session], *, now: datetime, batch: int = 500) -> Relayed:
    """Turn the contact events after the relay's position (at most ``batch``)
    into deliveries to the matching endpoints of their tenants and move the
    position past them, in one transaction (nothing, when another relay
    moved the position first)."""
    start = _cursor(session_factory, now)
    with session_factory() as session:
        found = event_log.events_after(session, start, limit=batch)
    if not found:
        return Relayed(0, 0)
    made = 0
    with session_factory() as session:
        row = session.get(WebhookRelay, RELAY, with_for_update=True)
        if row is None or (row.tx_id, row.event_id) != start:
            session.rollback()
            return Relayed(0, 0)
        query = select(WebhookEndpoint)
        if all(e.tenant is not None for e in found):  # a resource event's None: every tenant
            query = query.where(WebhookEndpoint.tenant.in_({e.tenant for e in found}))
        endpoints = list(session.scalars(query))
        for e in found:
            kind = event_type_of(e.event)
            for endpoint in endpoints:
                if not _wants(endpoint, e, kind):
                    continue
                session.add(
                    WebhookDelivery(
                        endpoint_id=endpoint.id,
                        tenant=endpoint.tenant,
                        event_id=e.id,
                        event_type=kind,
                        payload=_payload(e, kind, endpoint.tenant),
                        state="pending",
                        attempts=0,
                        next_attempt_at=now,
                        last_error="",
                        attempt_log=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
                made += 1
        row.tx_id, row.event_id = found[-1].position
        row.updated_at = now
        session.commit()
    return Relayed(len(found), made)


def _wants(endpoint: WebhookEndpoint, e: event_log.LoggedEvent, kind: str) -> bool:
    return (
        e.tenant in (None, endpoint.tenant)
        and e.position > (endpoint.from_tx_id, endpoint.from_event_id)
        and (not endpoint.event_types or kind in endpoint.event_types)
    )


# ------------------------------------------------------------ sending


@dataclass(frozen=True)
class DeliveryConfig:
    """The ``GS_WEBHOOK_*`` settings the sender works with."""

    timeout_s: float = 10.0
    max_attempts: int = 8
    backoff_s: float = 10.0
    backoff_max_s: float = 3600.0
    poll_s: float = 1.0
    concurrency: int = 4
    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_s=settings.webhook_backoff_s,
            backoff_max_s=settings.webhook_backoff_max_s,
            poll_s=settings.webhook_poll_s,
            concurrency=settings.webhook_concurrency,
            allow_private=settings.webhook_allow_private,
        )

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is held by its sender (then due again)."""
        return self.timeout_s * 2 + 30.0


def backoff_s(failures: int, config: DeliveryConfig) -> float:
    """Seconds to wait after the ``failures``-th failed attempt: backoff_s,
    doubled at each further failure, at most backoff_max_s."""
    return float(min(config.backoff_s * 2 ** (failures - 1), config.backoff_max_s))


@dataclass(frozen=True)
class Outcome:
    """One attempt's answer: the status code (None: no answer) and an error."""

    status_code: int | None
    error: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Claimed:
    """A due delivery claimed for one attempt, with what sending it needs."""

    id: str
    url: str
    secret: str
    payload: str
    event_type: str
    event_id: int
    attempt: int


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (3xx, a failed attempt), never followed: a POST
    followed to another URL would carry the signed body somewhere unchecked."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _check_destination(host: str, port: int) -> None:
    """``ValidationError`` when ``host`` resolves to a non-public address."""
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if _is_private(address):
            raise ValidationError(
                f"host {host!r} resolves to {address}, a loopback, private or reserved "
                "address (GS_WEBHOOK_ALLOW_PRIVATE=true allows it)"
            )


def post_json(
    url: str, body: bytes, headers: dict[str, str], *, timeout_s: float, allow_private: bool
) -> Outcome:
    """POST ``body`` to ``url`` (no redirect followed); ``timeout_s`` bounds
    the connection and each read. Never raises: failures are an ``Outcome``."""
    began = time.monotonic()
    parts = urlsplit(url)
    try:
        if not allow_private:
            _check_destination(
                parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
            )
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=timeout_s) as answer:
            answer.read(4096)
            return Outcome(answer.status, "", time.monotonic() - began)
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(200).decode("utf-8", "replace").strip()
        except Exception:  # the answer's body broke off: the status is what counts
            text = ""
        where = exc.headers.get("Location") if 300 <= exc.code < 400 else None
        error = f"HTTP {exc.code}" + (f" redirect to {where!r}, not followed" if where else "")
        error += f": {text}" if text else ""
        return Outcome(exc.code, error, time.monotonic() - began)
    except (urllib.error.URLError, OSError, ValueError, ValidationError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout_s:g} s"
        return Outcome(None, f"{type(exc).__name__}: {reason}", time.monotonic() - began)
    except Exception as exc:  # http.client.RemoteDisconnected, BadStatusLine...
        return Outcome(None, f"{type(exc).__name__}: {exc}", time.monotonic() - began)


def claim_due(
    session_factory: sessionmaker[Session], *, now: datetime, config: DeliveryConfig, limit: int
) -> list[Claimed]:
    """Claim up to ``limit`` pending deliveries due at ``now``: their
    ``next_attempt_at`` moves to the end of a lease, so another worker skips
    them until it ends (the sender records the answer before)."""
    if limit <= 0:
        return []
    due = (
        WebhookDelivery.state == "pending",
        WebhookDelivery.next_attempt_at <= now,
    )
    with session_factory() as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(*due)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
                .limit(limit)
            )
        )
        if not ids:
            session.rollback()
            return []
        lease = now + timedelta(seconds=config.lease_s)
        claimed = list(
            session.scalars(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), *due)
                .values(next_attempt_at=lease)
                .returning(WebhookDelivery.id)
            )
        )
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.payload,
                WebhookDelivery.event_type,
                WebhookDelivery.event_id,
                WebhookDelivery.attempts,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(claimed))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
        ).all()
        session.commit()
    return [
        Claimed(r.id, r.url, r.secret, r.payload, r.event_type, r.event_id, r.attempts + 1)
        for r in rows
    ]


Poster = Callable[..., Outcome]


def attempt(
    session_factory: sessionmaker[Session],
    delivery: Claimed,
    *,
    config: DeliveryConfig,
    wall_now: Callable[[], datetime],
    post: Poster = post_json,
) -> Outcome:
    """Send one claimed delivery, signed at the time of sending, and record
    the answer (delivered, next attempt, or failed after max_attempts)."""
    body = delivery.payload.encode()
    sent_at = wall_now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "groundstation-webhooks",
        SIGNATURE_HEADER: signature(delivery.secret, body, int(sent_at.timestamp())),
        EVENT_HEADER: delivery.event_type,
        EVENT_ID_HEADER: str(delivery.event_id),
        DELIVERY_HEADER: delivery.id,
        ATTEMPT_HEADER: str(delivery.attempt),
    }
    outcome = post(
        delivery.url,
        body,
        headers,
        timeout_s=config.timeout_s,
        allow_private=config.allow_private,
    )
    _record(session_factory, delivery, outcome, sent_at=sent_at, now=wall_now(), config=config)
    return outcome


def _record(
    session_factory: sessionmaker[Session],
    delivery: Claimed,
    outcome: Outcome,
    *,
    sent_at: datetime,
    now: datetime,
    config: DeliveryConfig,
) -> None:
    entry = {
        "attempt": delivery.attempt,
        "at": sent_at.isoformat(),
        "status_code": outcome.status_code,
        "error": outcome.error,
        "duration_ms": round(outcome.duration_s * 1000, 1),
    }
    with session_factory() as session:
        row = session.get(WebhookDelivery, delivery.id, with_for_update=True)
        if row is None or row.state != "pending":  # endpoint deleted meanwhile
            session.rollback()
            return
        row.attempts = delivery.attempt
        row.attempt_log = [*row.attempt_log, entry]
        row.last_status_code = outcome.status_code
        row.last_error = outcome.error
        row.updated_at = now
        if outcome.ok:
            row.state, row.delivered_at, row.next_attempt_at = "delivered", now, None
        elif delivery.attempt >= config.max_attempts:
            row.state, row.next_attempt_at = "failed", None
            log.warning(
                "webhook delivery %s (event %s) to %s failed after %d attempts: %s",
                delivery.id,
                delivery.event_id,
                delivery.url,
                delivery.attempt,
                outcome.error,
            )
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_s(delivery.attempt, config))
        session.commit()


def _wall_now() -> datetime:
    return datetime.now(UTC)


class WebhookWorker:
    """The relay and the sender in one thread (``groundstation serve``):
    every ``poll_s`` (at once when woken by `publish`, an ``EventSink``) it
    relays new events and starts the due deliveries on a pool of
    ``concurrency`` threads, never waiting for an answer itself."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        config: DeliveryConfig,
        *,
        wall_now: Callable[[], datetime] = _wall_now,
        post: Poster = post_json,
    ) -> None:
        self._session_factory = session_factory
        self.config = config
        self._wall_now = wall_now
        self._post = post
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[Future[Outcome]] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def publish(self, event: Event) -> None:
        """An event was committed: look for it now."""
        self._wake.set()

    def start(self) -> WebhookWorker:
        """Run `run_once` in a thread of its own until `stop`."""
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
        self._thread.start()
        return self

    def run_once(self) -> int:
        """Relay new events, then start due deliveries (up to the free
        senders); returns how many were started."""
        while relay(self._session_factory, now=self._wall_now(), batch=RELAY_BATCH).events:
            pass
        with self._lock:
            free = self.config.concurrency - len(self._in_flight)
        claimed = claim_due(
            self._session_factory, now=self._wall_now(), config=self.config, limit=free
        )
        if claimed and self._pool is None:
            self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="webhook")
        for delivery in claimed:
            assert self._pool is not None
            future = self._pool.submit(
                attempt,
                self._session_factory,
                delivery,
                config=self.config,
                wall_now=self._wall_now,
                post=self._post,
            )
            with self._lock:
                self._in_flight.add(future)
            future.add_done_callback(self._done)
        return len(claimed)

    def _done(self, future: Future[Outcome]) -> None:
        with self._lock:
            self._in_flight.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("webhook delivery failed to record", exc_info=future.exception())
        self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("webhook worker round failed (%d in a row)", failures)
            self._wake.wait(min(self.config.poll_s * 2**failures, 60.0))
            self._wake.clear()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop looking; wait up to ``timeout_s`` for the POSTs in flight (a
        delivery not recorded is sent again when its lease ends)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # at most `concurrency` POSTs, in parallel
