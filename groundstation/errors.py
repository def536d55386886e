"""Domain errors. Each message names the offending values and, where useful,
what to do; the API maps these classes to problem+json responses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class GroundStationError(Exception):
    """Base class of every domain error."""


class NotFoundError(GroundStationError):
    """A referenced entity does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} does not exist")
        self.kind = kind
        self.key = key


class AlreadyExistsError(GroundStationError):
    """An entity with that key exists already."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class ValidationError(GroundStationError):
    """Input that fails a domain rule (bad coordinates, naive datetime, ...)."""


class PermissionDeniedError(GroundStationError):
    """The entity exists and may be read, but not changed by this caller
    (an operator writing a shared mission profile)."""


class IdempotencyKeyReusedError(GroundStationError):
    """An idempotency key was sent again with a different request than the
    one it was first used for (draft-ietf-httpapi-idempotency-key-header)."""


class ConfigurationError(GroundStationError):
    """A setting (``GS_*``) the service cannot work with, e.g. a database URL
    that does not parse or a database that cannot be opened; the message
    names the setting and its value (passwords masked)."""


class IllegalTransitionError(GroundStationError):
    """A contact state change that the lifecycle does not allow."""

    def __init__(self, contact_id: str, old_state: str, new_state: str) -> None:
        super().__init__(
            f"contact {contact_id}: illegal transition from {old_state} to {new_state}"
        )
        self.contact_id = contact_id
        self.old_state = old_state
        self.new_state = new_state


class BookingRefusedError(GroundStationError):
    """A reservation broke a booking rule; ``rule`` names which one."""

    rule = "booking"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class NoSuchPassError(BookingRefusedError):
    rule = "predicted-pass"


class ContactTooShortError(BookingRefusedError):
    rule = "min-duration"


class BandMismatchError(BookingRefusedError):
    rule = "frequency-band"


@dataclass(frozen=True)
class ConflictingContact:
    """The booking that holds a refused window: its antenna, state and
    blocked window (booked window plus setup/teardown)."""

    contact_id: str
    antenna_id: str
    state: str
    blocked_start: datetime
    blocked_end: datetime


class BookingConflictError(BookingRefusedError):
    """The window overlaps another booking of the antenna; ``conflicting``
    is that booking, or None when it was booked concurrently and is not
    visible any more."""

    rule = "no-overlap"

    def __init__(self, message: str, *, conflicting: ConflictingContact | None = None) -> None:
        super().__init__(message)
        self.conflicting = conflicting


class MaintenanceConflictError(BookingRefusedError):
    rule = "maintenance"


class AntennaOfflineError(BookingRefusedError):
    rule = "antenna-status"


class ProfileSettingsError(BookingRefusedError):
    """The mission profile's stored settings do not validate (stored before
    validation existed): the pass would fail at AOS."""

    rule = "profile-settings"


class DownlinkUnsupportedError(BookingRefusedError):
    """The satellite's stored modulation/framing is one the receiver cannot decode."""

    rule = "downlink"


class SlewRateError(BookingRefusedError):
    """The pass needs the antenna's rotator to move faster than it can
    (a near-zenith pass on an az/el mount), even with its pointing plan."""

    rule = "slew-rate"


class StationOfflineError(BookingRefusedError):
    """The station's agent has been silent longer than allowed."""

    rule = "station-offline"


class EphemerisError(BookingRefusedError):
    """No usable ephemeris, or the one in force is older than allowed."""

    rule = "ephemeris-age"


class CancelRefusedError(GroundStationError):
    """Cancelling is allowed only until the pre-pass starts."""


class TrimOnlyError(BookingRefusedError):
    """A contact's window may be trimmed, not extended or moved: a longer
    window is another booking."""

    rule = "trim-only"


class UpdateRefusedError(GroundStationError):
    """Changing a contact is allowed only while it is SCHEDULED, before its
    pre-pass starts."""


class VersionMismatchError(GroundStationError):
    """``If-Match`` named another version of the contact than the stored one
    (someone changed it since it was read): nothing was changed."""

    def __init__(self, contact_id: str, *, stored: int, expected: int) -> None:
        super().__init__(
            f"contact {contact_id} is at version {stored}, If-Match asked for version "
            f"{expected}: it changed since you read it; read it again (GET /contacts/"
            f"{contact_id}), then send your change with the new ETag"
        )
        self.stored = stored
        self.expected = expected


class VerdictRefusedError(GroundStationError):
    """A contact's verdict may be set only once the contact has ended
    (COMPLETED, FAILED, PROVIDER_FAILED or CANCELLED)."""


class PlanCommittedError(GroundStationError):
    """A plan was committed already; ``contact_ids`` are the contacts its
    commit booked."""

    def __init__(self, message: str, *, contact_ids: list[str] | None = None) -> None:
        super().__init__(message)
        self.contact_ids = list(contact_ids or [])


class PlanCommitRefusedError(GroundStationError):
    """A proposed window was refused at commit: nothing of the plan was booked;
    ``rule`` is the refused booking rule."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class GoneError(GroundStationError):
    """An entity existed but was removed on purpose (e.g. a dataset past its
    retention); the message says when and why."""


class TenantBucketError(ValidationError):
    """A tenant bucket the service refuses: a name S3 does not allow, or one
    it cannot write to (the message says which and why)."""
