"""Registry of stations, antennas, maintenance windows, satellites and
mission profiles: adding, changing and reading them.

Keyword-only service functions taking a ``Session``; each write commits its
own unit of work. ``tenants=None`` means every tenant; a tuple restricts
rows to those tenants (an entity outside them is reported as not existing).
Element sets and their life cycle are ``groundstation.ephemerides``'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from groundstation.errors import (
    AlreadyExistsError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from groundstation.events import ContactEvent, EventSink, publish_committed
from groundstation.models import (
    Antenna,
    GroundStation,
    MaintenanceWindow,
    MissionProfile,
    Satellite,
)
from groundstation.profile_settings import (
    DatasetOptions,
    DecodeSettings,
    DemodSettings,
    ProfileSettings,
    VettingSettings,
    check_downlink,
    merge_patch,
    profile_document,
    validate_profile,
)

if TYPE_CHECKING:
    from orbital.stations import Station

ANTENNA_STATUSES = ("online", "offline", "maintenance")


def add_station(
    session: Session,
    *,
    station_id: str,
    name: str,
    lat_deg: float,
    lon_deg: float,
    alt_m: float = 0.0,
    min_elevation_deg: float = 0.0,
    horizon_mask: Sequence[tuple[float, float]] = (),
) -> GroundStation:
    if not -90.0 <= lat_deg <= 90.0:
        raise ValidationError(f"station {station_id!r}: lat_deg {lat_deg} is outside -90..90")
    if not -180.0 <= lon_deg <= 360.0:
        raise ValidationError(f"station {station_id!r}: lon_deg {lon_deg} is outside -180..360")
    if session.get(GroundStation, station_id) is not None:
        raise AlreadyExistsError("station", station_id)
    station = GroundStation(
        id=station_id,
        name=name,
        lat_deg=float(lat_deg),
        lon_deg=float(lon_deg),
        alt_m=float(alt_m),
        min_elevation_deg=float(min_elevation_deg),
        horizon_mask=[[float(az), float(el)] for az, el in horizon_mask],
    )
    session.add(station)
    session.commit()
    return station


#: Station fields ``update_station`` may change; those that move passes
#: (all but the name) re-predict the station's booked contacts.
STATION_FIELDS = ("name", "lat_deg", "lon_deg", "alt_m", "min_elevation_deg", "horizon_mask")


def update_station(
    session: Session,
    *,
    station_id: str,
    changes: Mapping[str, Any],
    now: datetime,
    events: EventSink | None = None,
) -> tuple[GroundStation, list[ContactEvent]]:
    """Change a station's name, location, minimum elevation or horizon mask
    (``changes``: field -> value). When the geometry changed, its SCHEDULED
    contacts whose pre-pass is ahead are re-predicted with the ephemeris each
    was booked with (``ephemerides.repredict_at_station``): moved, or
    FAILED_TO_SCHEDULE naming the change; contacts already under way keep
    their window. One transaction; the station and the events (published
    once committed)."""
    from groundstation.db import retry_transient
    from groundstation.ephemerides import repredict_at_station

    values = _station_changes(station_id, changes)

    def transaction() -> tuple[GroundStation, list[ContactEvent]]:
        station = session.scalar(
            select(GroundStation).where(GroundStation.id == station_id).with_for_update()
        )
        if station is None:
            raise NotFoundError("station", station_id)
        moved: list[str] = []
        for name, value in values.items():
            if getattr(station, name) != value:
                setattr(station, name, value)
                if name != "name":
                    moved.append(name)
        session.flush()
        fired: list[ContactEvent] = []
        if moved:
            cause = f"station {station_id} changed ({', '.join(moved)})"
            fired = repredict_at_station(session, station_id=station_id, now=now, cause=cause)
        session.commit()
        return station, fired

    station, fired = retry_transient(session, transaction)
    publish_committed(events, fired)
    return station, fired


def _station_changes(station_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` checked and in the columns' types; ValidationError naming
    a field that cannot change or a value out of range."""
    unknown = sorted(set(changes) - set(STATION_FIELDS))
    if unknown:
        raise ValidationError(
            f"station {station_id!r}: cannot change {', '.join(unknown)} "
            f"(changeable: {', '.join(STATION_FIELDS)})"
        )
    if not changes:
        raise ValidationError(f"station {station_id!r}: no change given")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "horizon_mask":
            out[name] = [[float(az), float(el)] for az, el in value]
        elif name == "name":
            out[name] = str(value)
        else:
            out[name] = float(value)
    lat, lon = out.get("lat_deg"), out.get("lon_deg")
    if lat is not None and not -90.0 <= lat <= 90.0:
        raise ValidationError(f"station {station_id!r}: lat_deg {lat} is outside -90..90")
    if lon is not None and not -180.0 <= lon <= 360.0:
        raise ValidationError(f"station {station_id!r}: lon_deg {lon} is outside -180..360")
    return out


def add_antenna(
    session: Session,
    *,
    antenna_id: str,
    station_id: str,
    bands_hz: Sequence[tuple[float, float]],
    min_elevation_deg: float = 0.0,
    max_az_slew_deg_s: float = 10.0,
    max_el_slew_deg_s: float = 10.0,
    setup_s: float = 0.0,
    teardown_s: float = 0.0,
    status: str = "online",
) -> Antenna:
    if session.get(GroundStation, station_id) is None:
        raise NotFoundError("station", station_id)
    if session.get(Antenna, antenna_id) is not None:
        raise AlreadyExistsError("antenna", antenna_id)
    bands = check_bands(antenna_id, bands_hz)
    if setup_s < 0 or teardown_s < 0:
        raise ValidationError(
            f"antenna {antenna_id!r}: setup_s {setup_s} and teardown_s {teardown_s} must be >= 0"
        )
    check_status(antenna_id, status)
    antenna = Antenna(
        id=antenna_id,
        station_id=station_id,
        bands=bands,
        min_elevation_deg=float(min_elevation_deg),
        max_az_slew_deg_s=float(max_az_slew_deg_s),
        max_el_slew_deg_s=float(max_el_slew_deg_s),
        setup_s=float(setup_s),
        teardown_s=float(teardown_s),
        status=status,
    )
    session.add(antenna)
    session.commit()
    return antenna


def import_stations(
    session: Session,
    *,
    stations: Sequence[Station],
    antennas_per_station: int = 0,
    bands_hz: Sequence[tuple[float, float]] = ((100e6, 3e9),),
    setup_s: float = 60.0,
    teardown_s: float = 60.0,
    keep_existing: bool = False,
) -> list[GroundStation]:
    """Add parsed stations (``orbital.stations.parse_stations``), each with
    ``antennas_per_station`` identical antennas named ``<station>-<k>``.
    ``keep_existing``: a station or antenna already registered is kept as it
    is (a shared database) instead of raising ``AlreadyExistsError``; the
    stations returned are the ones added."""
    added = []
    for st in stations:
        if not (keep_existing and session.get(GroundStation, st.id) is not None):
            added.append(
                add_station(
                    session,
                    station_id=st.id,
                    name=st.name,
                    lat_deg=st.lat_deg,
                    lon_deg=st.lon_deg,
                    alt_m=st.alt_m,
                    min_elevation_deg=st.min_elevation_deg,
                    horizon_mask=st.horizon_mask,
                )
            )
        for k in range(antennas_per_station):
            antenna_id = f"{st.id}-{k + 1}"
            if keep_existing and session.get(Antenna, antenna_id) is not None:
                continue
            add_antenna(
                session,
                antenna_id=antenna_id,
                station_id=st.id,
                bands_hz=bands_hz,
                setup_s=setup_s,
                teardown_s=teardown_s,
            )
    return added


def check_bands(antenna_id: str, bands_hz: Sequence[Sequence[float]]) -> list[list[float]]:
    """``bands_hz`` as stored (``[[low_hz, high_hz], ...]``); ValidationError
    naming a band that is not 0 < low < high, or none given."""
    if not bands_hz:
        raise ValidationError(f"antenna {antenna_id!r}: give at least one band in bands_hz")
    bands = [[float(low_hz), float(high_hz)] for low_hz, high_hz in bands_hz]
    for low_hz, high_hz in bands:
        if not 0 < low_hz < high_hz:
            raise ValidationError(
                f"antenna {antenna_id!r}: band {low_hz}..{high_hz} Hz must have 0 < low < high"
            )
    return bands


def check_status(antenna_id: str, status: str) -> None:
    if status not in ANTENNA_STATUSES:
        raise ValidationError(
            f"antenna {antenna_id!r}: status {status!r} is not one of {ANTENNA_STATUSES}"
        )


def add_satellite(
    session: Session,
    *,
    norad_id: int,
    name: str,
    tenant: str,
    downlink_freq_hz: float,
    downlink_bandwidth_hz: float = 0.0,
    modulation: str = "bpsk",
    symbol_rate_baud: float = 0.0,
    framing_profile: str = "",
) -> Satellite:
    if not 0 < norad_id < 1_000_000_000:
        raise ValidationError(f"norad_id {norad_id} must be a positive catalogue number")
    if not downlink_freq_hz > 0:
        raise ValidationError(f"satellite {norad_id}: downlink_freq_hz {downlink_freq_hz} <= 0")
    check_downlink(norad_id, modulation=modulation, framing_profile=framing_profile)
    if session.scalar(select(Satellite).where(Satellite.norad_id == norad_id)) is not None:
        raise AlreadyExistsError("satellite", norad_id)
    satellite = Satellite(
        norad_id=norad_id,
        name=name,
        tenant=tenant,
        downlink_freq_hz=float(downlink_freq_hz),
        downlink_bandwidth_hz=float(downlink_bandwidth_hz),
        modulation=modulation,
        symbol_rate_baud=float(symbol_rate_baud),
        framing_profile=framing_profile,
    )
    session.add(satellite)
    session.commit()
    return satellite


def get_satellite(session: Session, *, norad_id: int) -> Satellite:
    satellite = session.scalar(select(Satellite).where(Satellite.norad_id == norad_id))
    if satellite is None:
        raise NotFoundError("satellite with NORAD id", norad_id)
    return satellite


# ---------------------------------------------------------------- reads


def list_stations(session: Session) -> list[GroundStation]:
    return list(
        session.scalars(
            select(GroundStation)
            .options(selectinload(GroundStation.antennas))
            .order_by(GroundStation.id)
        )
    )


def get_station(session: Session, *, station_id: str) -> GroundStation:
    station = session.scalar(
        select(GroundStation)
        .where(GroundStation.id == station_id)
        .options(selectinload(GroundStation.antennas))
    )
    if station is None:
        raise NotFoundError("station", station_id)
    return station


def get_antenna(session: Session, *, station_id: str, antenna_id: str) -> Antenna:
    antenna = session.get(Antenna, antenna_id)
    if antenna is None or antenna.station_id != station_id:
        raise NotFoundError(f"antenna of station {station_id!r}", antenna_id)
    return antenna


def list_maintenance(session: Session, *, antenna_id: str) -> list[MaintenanceWindow]:
    return list(
        session.scalars(
            select(MaintenanceWindow)
            .where(MaintenanceWindow.antenna_id == antenna_id)
            .order_by(MaintenanceWindow.start, MaintenanceWindow.id)
        )
    )


def maintenance_between(
    session: Session, *, start: datetime, end: datetime, station_id: str | None = None
) -> list[MaintenanceWindow]:
    """The maintenance windows of every antenna (of ``station_id``) that
    overlap ``start``..``end``, by start time."""
    if end <= start:
        raise ValidationError(
            f"end {end.isoformat()} is not after start {start.isoformat()}; give a later end"
        )
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.start < end, MaintenanceWindow.end > start
    )
    if station_id:
        query = query.join(Antenna, Antenna.id == MaintenanceWindow.antenna_id).where(
            Antenna.station_id == station_id
        )
    return list(session.scalars(query.order_by(MaintenanceWindow.start, MaintenanceWindow.id)))


def list_satellites(
    session: Session, *, tenants: Sequence[str] | None = None, limit: int = 1000, offset: int = 0
) -> tuple[list[Satellite], int]:
    query = select(Satellite)
    if tenants is not None:
        query = query.where(Satellite.tenant.in_(list(tenants)))
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.order_by(Satellite.norad_id).limit(limit).offset(offset)))
    return rows, int(count)


def get_satellite_for(
    session: Session, *, norad_id: int, tenants: Sequence[str] | None = None
) -> Satellite:
    """The satellite, or NotFoundError if it is outside ``tenants``."""
    satellite = get_satellite(session, norad_id=norad_id)
    if tenants is not None and satellite.tenant not in tenants:
        raise NotFoundError("satellite with NORAD id", norad_id)
    return satellite


def list_profiles(
    session: Session, *, tenants: Sequence[str] | None = None
) -> list[MissionProfile]:
    """Profiles a key of ``tenants`` sees (None: every one): shared ones and
    those of its tenants."""
    query = select(MissionProfile)
    if tenants is not None:
        query = query.where(
            or_(MissionProfile.owner_tenant.is_(None), MissionProfile.owner_tenant.in_(tenants))
        )
    return list(session.scalars(query.order_by(MissionProfile.id)))


def profile_visible(profile: MissionProfile, tenants: Sequence[str] | None) -> bool:
    """Whether a key of ``tenants`` (None: an admin, every tenant) sees the
    profile: shared profiles and its own tenant's."""
    return tenants is None or profile.owner_tenant is None or profile.owner_tenant in tenants


def get_profile_for(
    session: Session, *, profile_id: str, tenants: Sequence[str] | None = None
) -> MissionProfile:
    """The profile, or ``NotFoundError`` if it does not exist or belongs to a
    tenant outside ``tenants`` (another tenant's profile is not disclosed)."""
    profile = session.get(MissionProfile, profile_id)
    if profile is None or not profile_visible(profile, tenants):
        raise NotFoundError("mission profile", profile_id)
    return profile


def _writable_profile(
    session: Session, profile_id: str, tenants: Sequence[str] | None
) -> MissionProfile:
    profile = get_profile_for(session, profile_id=profile_id, tenants=tenants)
    if tenants is not None and profile.owner_tenant is None:
        session.rollback()
        raise PermissionDeniedError(
            f"mission profile {profile_id!r} is shared (admin-owned): operators book with it "
            "but only an admin may change it; create a profile of your own tenant instead"
        )
    return profile


def add_profile(
    session: Session,
    *,
    profile_id: str,
    owner_tenant: str | None = None,
    min_viable_duration_s: float = 60.0,
    prepass_s: float = 120.0,
    postpass_s: float = 60.0,
    min_elevation_deg: float = 10.0,
    demod: Mapping[str, Any] | DemodSettings | None = None,
    decode: Mapping[str, Any] | DecodeSettings | None = None,
    kafka_topic: str = "",
    dataset_options: Mapping[str, Any] | DatasetOptions | None = None,
    vetting: Mapping[str, Any] | VettingSettings | None = None,
) -> MissionProfile:
    """Add a profile of ``owner_tenant`` (None: shared, admin-owned). Every
    setting is validated (``ProfileSettings``): a bad value or an unknown
    key raises ``ValidationError`` naming it, and nothing is stored."""
    settings = validate_profile(
        profile_id,
        {
            "min_viable_duration_s": min_viable_duration_s,
            "prepass_s": prepass_s,
            "postpass_s": postpass_s,
            "min_elevation_deg": min_elevation_deg,
            "demod": demod if demod is not None else {},
            "decode": decode if decode is not None else {},
            "kafka_topic": kafka_topic,
            "dataset_options": dataset_options if dataset_options is not None else {},
            "vetting": vetting if vetting is not None else {},
        },
    )
    if session.get(MissionProfile, profile_id) is not None:
        raise AlreadyExistsError("mission profile", profile_id)
    profile = MissionProfile(id=profile_id, owner_tenant=owner_tenant, **settings.stored())
    session.add(profile)
    session.commit()
    return profile


def replace_profile(
    session: Session,
    *,
    profile_id: str,
    settings: ProfileSettings | Mapping[str, Any],
    tenants: Sequence[str] | None = None,
) -> MissionProfile:
    """Replace every setting of a profile that a key of ``tenants`` may
    change (its own tenant's; shared ones: admins only). Contacts already
    booked keep their windows."""
    if not isinstance(settings, ProfileSettings):
        settings = validate_profile(profile_id, settings)
    profile = _writable_profile(session, profile_id, tenants)
    for name, value in settings.stored().items():
        setattr(profile, name, value)
    session.commit()
    return profile


def patch_profile(
    session: Session,
    *,
    profile_id: str,
    patch: Mapping[str, Any],
    tenants: Sequence[str] | None = None,
) -> MissionProfile:
    """Apply a JSON merge patch (RFC 7396) to a profile's stored settings:
    members sent replace theirs, null removes one (back to its default),
    the rest stays. The result is validated as a whole."""
    profile = _writable_profile(session, profile_id, tenants)
    merged = merge_patch(profile_document(profile), patch)
    try:
        settings = validate_profile(profile_id, merged)
    except ValidationError:
        session.rollback()
        raise
    for name, value in settings.stored().items():
        setattr(profile, name, value)
    session.commit()
    return profile
