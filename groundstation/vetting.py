"""Vetting: each ended contact's verdict, as SatNOGS vets every observation.

A contact's verdict is ``good``, ``partial``, ``bad`` or ``failed``:

- when the contact completes, from the pass quality its executor measured
  and recorded with the dataset (``record_quality``: frames decoded,
  frames expected, Es/N0; nothing is measured again here) against the
  thresholds of its mission profile (``profile_settings.VettingSettings``):
  ``judge``;
- when it ends FAILED or PROVIDER_FAILED: ``failed``;
- by an operator at any time after it ended (``set_verdict``), with who,
  when and why; a later automatic verdict never replaces an operator's
  (the contact has ended by then, so none comes).

The verdict is set on the transition row that set it (``verdict``,
``verdict_source``), so it reaches the event stream and the contact-events
topic with the change (``event_log``, ``ingest.publisher``). A COMPLETED
contact whose executor measured nothing (no dataset required, an executor
that records no quality) gets no automatic verdict: it stays unvetted until
an operator sets one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from groundstation.clock import require_utc
from groundstation.errors import (
    NotFoundError,
    ValidationError,
    VerdictRefusedError,
    VersionMismatchError,
)
from groundstation.events import ContactEvent, EventSink, publish_committed
from groundstation.models import Contact, ContactTransition
from groundstation.profile_settings import VettingSettings, profile_document, read_profile
from groundstation.states import ContactState


class Verdict(StrEnum):
    GOOD = "good"
    PARTIAL = "partial"
    BAD = "bad"
    FAILED = "failed"


class VerdictSource(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


S = ContactState
#: States whose contacts fail: their automatic verdict is ``failed``.
FAILED_STATES = (S.FAILED.value, S.PROVIDER_FAILED.value)
#: States in which a contact may be vetted by hand (it has ended).
VETTABLE_STATES = (S.COMPLETED.value, S.FAILED.value, S.PROVIDER_FAILED.value, S.CANCELLED.value)


@dataclass(frozen=True)
class PassQuality:
    """What an executor measured of a pass: frames decoded (CRC/RS good),
    frames expected (sent by the simulated satellite; for a station agent,
    every frame its receiver found, good or not), the receiver's Es/N0
    estimate."""

    frames_ok: int
    frames_expected: int | None
    esn0_db: float | None

    @property
    def frames_fraction(self) -> float | None:
        if not self.frames_expected:
            return None
        return min(self.frames_ok / self.frames_expected, 1.0)


def judge(quality: PassQuality, settings: VettingSettings) -> tuple[Verdict, str]:
    """The verdict of a completed pass's ``quality`` and why, in words
    naming the figures and the thresholds (pure: no session, no clock)."""
    fraction = quality.frames_fraction
    esn0 = quality.esn0_db
    if fraction is None:
        seen = f"{quality.frames_ok} frames decoded, none expected known"
        fraction = 1.0 if quality.frames_ok > 0 else 0.0
    else:
        # Rounded down, so a fraction below a threshold never reads as it.
        seen = (
            f"{math.floor(fraction * 1000) / 10:g} % of frames decoded "
            f"({quality.frames_ok} of {quality.frames_expected})"
        )
    seen += f", Es/N0 {esn0:.1f} dB" if esn0 is not None else ", Es/N0 not measured"
    good_fraction = settings.good_min_frames_fraction
    partial_fraction = settings.partial_min_frames_fraction
    need_esn0 = settings.good_min_esn0_db
    esn0_ok = need_esn0 is None or (esn0 is not None and esn0 >= need_esn0)
    if fraction >= good_fraction and esn0_ok:
        return Verdict.GOOD, f"{seen}: at least {good_fraction:g} of frames" + (
            f" and Es/N0 at least {need_esn0:g} dB" if need_esn0 is not None else ""
        )
    if fraction >= partial_fraction:
        if fraction < good_fraction:
            why = f"below {good_fraction:g} of frames, at least {partial_fraction:g}"
        elif esn0 is None:
            why = f"good needs Es/N0 at least {need_esn0:g} dB, and it was not measured"
        else:
            why = f"below {need_esn0:g} dB Es/N0"
        return Verdict.PARTIAL, f"{seen}: {why}"
    return Verdict.BAD, f"{seen}: below {partial_fraction:g} of frames"


def quality_of(contact: Contact) -> PassQuality | None:
    """The quality recorded on ``contact`` (None: nothing measured)."""
    if contact.frames_ok is None:
        return None
    return PassQuality(contact.frames_ok, contact.frames_expected, contact.esn0_db)


def record_quality(contact: Contact, quality: PassQuality) -> None:
    """Keep what the executor measured on the contact's row (inside the
    transaction that makes its dataset ready, ``contact_datasets.accept_dataset``)."""
    contact.frames_ok = int(quality.frames_ok)
    contact.frames_expected = quality.frames_expected
    esn0 = quality.esn0_db
    contact.esn0_db = None if esn0 is None or not math.isfinite(esn0) else round(float(esn0), 3)


def auto_verdict(contact: Contact, new_state: str) -> tuple[Verdict, str] | None:
    """The automatic verdict of ``contact`` entering ``new_state`` and why,
    or None (not an end that is vetted, or nothing measured)."""
    if new_state in FAILED_STATES:
        return Verdict.FAILED, f"contact {new_state}"
    if new_state != S.COMPLETED.value:
        return None
    quality = quality_of(contact)
    if quality is None:
        return None
    settings, _problems = read_profile(profile_document(contact.profile))
    return judge(quality, settings.vetting)


def stamp(
    contact: Contact, verdict: Verdict, source: VerdictSource, *, at: datetime, reason: str, by: str
) -> None:
    """Set the contact's verdict columns (the caller records the history row)."""
    contact.verdict = verdict.value
    contact.verdict_source = source.value
    contact.verdict_reason = reason
    contact.verdict_by = by
    contact.verdict_at = at


def parse_verdict(value: str) -> Verdict:
    """``value`` as a verdict, or a ``ValidationError`` naming it."""
    try:
        return Verdict(value)
    except ValueError:
        raise ValidationError(
            f"verdict {value!r} is not one of {', '.join(v.value for v in Verdict)}"
        ) from None


def set_verdict(
    session: Session,
    *,
    contact_id: str,
    verdict: Verdict | str,
    reason: str,
    by: str,
    now: datetime,
    tenants: Sequence[str] | None = None,
    expected_version: int | None = None,
    events: EventSink | None = None,
) -> Contact:
    """An operator's verdict on an ended contact (``VETTABLE_STATES``, else
    ``VerdictRefusedError`` naming its state), recorded with who (``by``),
    when and why, in the history and on the event stream as a verdict
    event (same state); the version goes up by one. ``expected_version``
    (``If-Match``): ``VersionMismatchError`` unless the contact is at it."""
    now = require_utc(now, "now")
    chosen = parse_verdict(verdict) if isinstance(verdict, str) else verdict
    contact = session.get(Contact, contact_id, with_for_update=True, populate_existing=True)
    try:
        if contact is None or (tenants is not None and contact.tenant not in tenants):
            raise NotFoundError("contact", contact_id)
        if expected_version is not None and contact.version != expected_version:
            raise VersionMismatchError(
                contact.id, stored=contact.version, expected=expected_version
            )
        if contact.state not in VETTABLE_STATES:
            raise VerdictRefusedError(
                f"contact {contact.id} is {contact.state}; a verdict can be set once it has "
                f"ended ({', '.join(VETTABLE_STATES)})"
            )
    except BaseException:
        session.rollback()
        raise
    event = record_verdict(
        session,
        contact,
        chosen,
        VerdictSource.MANUAL,
        at=now,
        reason=reason or "set by hand",
        by=by,
    )
    session.commit()
    publish_committed(events, [event])
    return contact


def record_verdict(
    session: Session,
    contact: Contact,
    verdict: Verdict,
    source: VerdictSource,
    *,
    at: datetime,
    reason: str,
    by: str,
    instance_id: str = "",
) -> ContactEvent:
    """Give ``contact`` ``verdict`` on its own (an operator's): its verdict
    columns, a history row with ``old_state == new_state`` carrying the
    verdict, one more version; inside the caller's transaction. Returns the
    event to publish once it has committed."""
    stamp(contact, verdict, source, at=at, reason=reason, by=by)
    contact.updated_at = at
    contact.version = (contact.version or 0) + 1
    line = verdict_event_reason(verdict, source, by, reason)
    session.add(
        ContactTransition(
            contact=contact,
            old_state=contact.state,
            new_state=contact.state,
            at=at,
            reason=line,
            instance_id=instance_id,
            verdict=verdict.value,
            verdict_source=source.value,
        )
    )
    return ContactEvent(
        contact.id, contact.state, contact.state, at, line, verdict.value, source.value
    )


def verdict_event_reason(verdict: Verdict, source: VerdictSource, by: str, reason: str) -> str:
    """The history line of a verdict set on its own (an operator's)."""
    who = f" by {by}" if by else ""
    return f"verdict {verdict.value} ({source.value}{who}): {reason}"
