"""Vetting (issue 15): a contact's verdict from the quality its executor
measured and the profile's thresholds when it ends, ``failed`` for FAILED and
PROVIDER_FAILED, an operator's verdict by hand; each on the history row (and
event) that set it."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from groundstation import inventory
from groundstation.contact_datasets import accept_dataset
from groundstation.contacts import contacts_page
from groundstation.db import make_engine, migrate
from groundstation.errors import (
    NotFoundError,
    ValidationError,
    VerdictRefusedError,
    VersionMismatchError,
)
from groundstation.events import InMemoryEventSink
from groundstation.models import Contact, ContactTransition, MissionProfile
from groundstation.profile_settings import VettingSettings, validate_profile
from groundstation.states import ContactState
from groundstation.transitions import apply_transition
from groundstation.vetting import PassQuality, Verdict, judge, set_verdict
from tests.service_env import scratch_database

from .helpers import T0, insert_contact, seed_basic

S = ContactState
DEFAULTS = VettingSettings()


def _to_postpass(session: Session, contact: Contact) -> None:
    for state in (S.PREPASS, S.PASS, S.POSTPASS):
        apply_transition(session, contact, state, at=T0, reason=state.value)
    session.commit()


# ---------------------------------------------------------------- judge (pure)


def test_a_pass_with_42_percent_of_its_frames_is_partial_not_good() -> None:
    verdict, reason = judge(PassQuality(420, 1000, 8.0), DEFAULTS)
    assert verdict == Verdict.PARTIAL
    assert "42 % of frames decoded (420 of 1000)" in reason
    assert "below 0.8 of frames" in reason


def test_verdicts_follow_the_default_thresholds() -> None:
    assert judge(PassQuality(950, 1000, 8.0), DEFAULTS)[0] == Verdict.GOOD
    assert judge(PassQuality(800, 1000, 0.0), DEFAULTS)[0] == Verdict.GOOD
    assert judge(PassQuality(200, 1000, 8.0), DEFAULTS)[0] == Verdict.PARTIAL
    assert judge(PassQuality(199, 1000, 8.0), DEFAULTS)[0] == Verdict.BAD


def test_a_fraction_just_below_a_threshold_never_reads_as_it() -> None:
    verdict, reason = judge(PassQuality(1264, 1580, 2.0), DEFAULTS)  # 0.8000
    assert verdict == Verdict.GOOD and "80 % of frames" in reason
    verdict, reason = judge(PassQuality(1263, 1580, 2.0), DEFAULTS)  # 0.7994
    assert verdict == Verdict.PARTIAL and "79.9 % of frames" in reason


def test_a_full_pass_below_the_es_n0_threshold_is_partial_naming_it() -> None:
    verdict, reason = judge(PassQuality(1000, 1000, -1.5), DEFAULTS)
    assert verdict == Verdict.PARTIAL
    assert "Es/N0 -1.5 dB" in reason and "below 0 dB Es/N0" in reason
    verdict, reason = judge(PassQuality(1000, 1000, None), DEFAULTS)
    assert verdict == Verdict.PARTIAL and "Es/N0 at least 0 dB, and it was not measured" in reason


def test_profile_thresholds_change_the_verdict() -> None:
    strict = VettingSettings(good_min_frames_fraction=0.99, partial_min_frames_fraction=0.5)
    lax = VettingSettings(good_min_frames_fraction=0.4, good_min_esn0_db=None)
    assert judge(PassQuality(420, 1000, 8.0), strict)[0] == Verdict.BAD
    assert judge(PassQuality(420, 1000, -2.0), lax)[0] == Verdict.GOOD


@pytest.mark.parametrize(
    ("vetting", "named"),
    [
        ({"good_min_frames_fraction": 1.5}, "vetting.good_min_frames_fraction"),
        ({"partial_min_frames_fraction": -0.1}, "vetting.partial_min_frames_fraction"),
        ({"good_min_esn0_db": "high"}, "vetting.good_min_esn0_db"),
        ({"good_frames": 0.9}, "vetting.good_frames: unknown key"),
        (
            {"good_min_frames_fraction": 0.5, "partial_min_frames_fraction": 0.6},
            "partial_min_frames_fraction 0.6 is above good_min_frames_fraction 0.5",
        ),
    ],
)
def test_bad_vetting_thresholds_are_refused_naming_the_value(
    vetting: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match="mission profile 'p'") as err:
        validate_profile("p", {"vetting": vetting})
    assert named in str(err.value)


# ---------------------------------------------------------------- database


@pytest.fixture
def seeded(session: Session) -> dict[str, int]:
    return seed_basic(session)


def test_a_completed_contact_gets_its_verdict_from_the_measured_quality_on_the_event(
    session: Session, seeded: dict[str, int]
) -> None:
    contact = insert_contact(session, satellite_id=seeded["satellite_id"], aos=T0)
    _to_postpass(session, contact)
    # The executor's dataset commit keeps what it measured (under the row lock).
    accept_dataset(session, contact.id, quality=PassQuality(420, 1000, 7.25))
    session.commit()
    event = apply_transition(session, contact, S.COMPLETED, at=T0, reason="post-pass ended")
    session.commit()
    assert (event.verdict, event.verdict_source) == ("partial", "auto")
    row = session.get(Contact, contact.id)
    assert row is not None
    assert (row.verdict, row.verdict_source, row.frames_ok, row.esn0_db) == (
        "partial",
        "auto",
        420,
        7.25,
    )
    assert "42 % of frames decoded" in row.verdict_reason
    last = session.scalars(select(ContactTransition).order_by(ContactTransition.id.desc())).first()
    assert last is not None
    assert (last.new_state, last.verdict, last.verdict_source) == ("COMPLETED", "partial", "auto")


def test_the_profile_thresholds_judge_the_contact(session: Session, seeded: dict[str, int]) -> None:
    profile = session.get(MissionProfile, "p1")
    assert profile is not None
    profile.vetting = {"good_min_frames_fraction": 0.4}
    session.commit()
    contact = insert_contact(session, satellite_id=seeded["satellite_id"], aos=T0)
    _to_postpass(session, contact)
    accept_dataset(session, contact.id, quality=PassQuality(420, 1000, 7.25))
    event = apply_transition(session, contact, S.COMPLETED, at=T0, reason="done")
    session.commit()
    assert event.verdict == "good"


@pytest.mark.parametrize("end", [S.FAILED, S.PROVIDER_FAILED])
def test_failed_contacts_get_the_failed_verdict(
    session: Session, seeded: dict[str, int], end: ContactState
) -> None:
    contact = insert_contact(session, satellite_id=seeded["satellite_id"], aos=T0)
    event = apply_transition(session, contact, end, at=T0, reason="antenna fault")
    session.commit()
    assert (event.verdict, event.verdict_source) == ("failed", "auto")
    assert session.scalars(select(Contact.verdict)).one() == "failed"


def test_a_completed_contact_without_measured_quality_stays_unvetted(
    session: Session, seeded: dict[str, int]
) -> None:
    contact = insert_contact(session, satellite_id=seeded["satellite_id"], aos=T0)
    _to_postpass(session, contact)
    event = apply_transition(session, contact, S.COMPLETED, at=T0, reason="done")
    session.commit()
    assert event.verdict is None
    assert session.scalars(select(Contact.verdict)).one() is None


def test_an_operator_sets_the_verdict_with_who_when_and_why_as_an_event(
    session_factory: sessionmaker[Session], session: Session, seeded: dict[str, int]
) -> None:
    contact = insert_contact(
        session, satellite_id=seeded["satellite_id"], aos=T0, state=S.COMPLETED
    )
    version = contact.version
    sink = InMemoryEventSink()
    later = T0 + timedelta(hours=1)
    with session_factory() as s:
        set_verdict(
            s,
            contact_id=contact.id,
            verdict="bad",
            reason="image lost to interference",
            by="key ops",
            now=later,
            tenants=["acme"],
            expected_version=version,
            events=sink,
        )
    with session_factory() as s:
        row = s.get(Contact, contact.id)
        assert row is not None
        assert (row.verdict, row.verdict_source, row.verdict_by) == ("bad", "manual", "key ops")
        assert row.verdict_reason == "image lost to interference"
        assert row.verdict_at == later and row.version == version + 1
        last = s.scalars(select(ContactTransition).order_by(ContactTransition.id.desc())).first()
        assert last is not None
        assert (last.old_state, last.new_state, last.verdict) == ("COMPLETED", "COMPLETED", "bad")
    [event] = sink.events
    assert (event.verdict, event.verdict_source) == ("bad", "manual")
    assert "key ops" in event.reason and "image lost to interference" in event.reason


def test_an_operator_verdict_is_refused_before_the_contact_ended_or_at_another_version(
    session_factory: sessionmaker[Session], session: Session, seeded: dict[str, int]
) -> None:
    running = insert_contact(session, satellite_id=seeded["satellite_id"], aos=T0, state=S.PASS)
    done = insert_contact(
        session,
        satellite_id=seeded["satellite_id"],
        aos=T0 + timedelta(hours=2),
        state=S.COMPLETED,
    )
    args = {"verdict": "good", "reason": "ok", "by": "key ops", "now": T0}
    with session_factory() as s, pytest.raises(VerdictRefusedError, match="is PASS"):
        set_verdict(s, contact_id=running.id, **args)  # type: ignore[arg-type]
    with session_factory() as s, pytest.raises(VersionMismatchError, match="version 1"):
        set_verdict(s, contact_id=done.id, expected_version=7, **args)  # type: ignore[arg-type]
    with session_factory() as s, pytest.raises(NotFoundError):
        set_verdict(s, contact_id=done.id, tenants=["other"], **args)  # type: ignore[arg-type]
    with session_factory() as s, pytest.raises(ValidationError, match="verdict 'meh'"):
        set_verdict(s, contact_id=done.id, **{**args, "verdict": "meh"})  # type: ignore[arg-type]
    with session_factory() as s:
        assert s.scalars(select(Contact.verdict).where(Contact.id == done.id)).one() is None


def test_contacts_filter_by_verdict(session: Session, seeded: dict[str, int]) -> None:
    sat = seeded["satellite_id"]
    good = insert_contact(session, satellite_id=sat, aos=T0, state=S.COMPLETED)
    failed = insert_contact(
        session, satellite_id=sat, aos=T0 + timedelta(hours=1), state=S.SCHEDULED
    )
    unvetted = insert_contact(
        session, satellite_id=sat, aos=T0 + timedelta(hours=2), state=S.COMPLETED
    )
    good.verdict = "good"
    apply_transition(session, failed, S.PROVIDER_FAILED, at=T0, reason="antenna offline")
    session.commit()

    def ids(verdicts: list[str]) -> set[str]:
        rows, count, _ = contacts_page(session, verdicts=verdicts)
        assert count == len(rows)
        return {r["id"] for r in rows}

    assert ids(["good"]) == {good.id}
    assert ids(["failed", "good"]) == {good.id, failed.id}
    assert ids(["none"]) == {unvetted.id}
    rows, _, _ = contacts_page(session, verdicts=["failed"])
    assert rows[0]["verdict"] == "failed" and rows[0]["verdict_source"] == "auto"
    with pytest.raises(ValidationError, match="verdict 'excellent' is not one of"):
        contacts_page(session, verdicts=["excellent"])


def test_a_profile_keeps_its_vetting_thresholds(session: Session) -> None:
    inventory.add_profile(session, profile_id="strict", vetting={"good_min_frames_fraction": 0.99})
    profile = session.get(MissionProfile, "strict")
    assert profile is not None
    assert profile.vetting == {"good_min_frames_fraction": 0.99}


# ---------------------------------------------------------------- migration 0011a


@pytest.mark.parametrize(
    "engine_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_migration_0011a_keeps_rows_unvetted_and_downgrades(
    engine_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with contextlib.ExitStack() as stack:
        if engine_name == "sqlite":
            url = f"sqlite:///{tmp_path / 'gs.db'}"
        else:
            base = request.getfixturevalue("postgres_base_url")
            url = stack.enter_context(scratch_database(base, "vetmig"))
        engine = make_engine(url)
        stack.callback(engine.dispose)
        migrate(engine, "0010c")
        cid = _contact_at_0010c(engine)
        migrate(engine)
        with Session(engine) as session:
            row = session.get(Contact, cid)
            assert row is not None
            assert (row.verdict, row.verdict_reason, row.frames_ok) == (None, "", None)
            profile = session.get(MissionProfile, "p1")
            assert profile is not None and profile.vetting == {}
            # the no-overlap rule survived (no table rebuild): an overlapping booking is refused
            with pytest.raises(IntegrityError):
                insert_contact(session, satellite_id=row.satellite_id, aos=T0)
        _downgrade(engine, "0010c")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("contacts")}
        assert "verdict" not in columns and "frames_ok" not in columns
        migrate(engine)


def _contact_at_0010c(engine: Engine) -> str:
    """A station, antenna, satellite, profile and contact as rows of 0010c
    (plain SQL: the models have the columns of head)."""
    json0 = "'{}'"
    statements = [
        "INSERT INTO ground_stations (id, name, lat_deg, lon_deg, alt_m, min_elevation_deg, "
        "horizon_mask) VALUES ('gs1', 'Test', 60, 10, 100, 0, '[]')",
        "INSERT INTO antennas (id, station_id, bands, min_elevation_deg, max_az_slew_deg_s, "
        "max_el_slew_deg_s, setup_s, teardown_s, status) VALUES "
        "('ant1', 'gs1', '[[400000000.0, 450000000.0]]', 0, 10, 10, 30, 30, 'online')",
        "INSERT INTO satellites (id, norad_id, name, tenant, downlink_freq_hz, "
        "downlink_bandwidth_hz, modulation, symbol_rate_baud, framing_profile, created_at) "
        "VALUES (1, 99001, 'TESTSAT', 'acme', 437000000, 0, 'bpsk', 0, '', :t0)",
        "INSERT INTO mission_profiles (id, min_viable_duration_s, prepass_s, postpass_s, "
        f"min_elevation_deg, demod, decode, kafka_topic, dataset_options) VALUES "
        f"('p1', 60, 60, 60, 10, {json0}, {json0}, '', {json0})",
        "INSERT INTO contacts (id, satellite_id, antenna_id, profile_id, tenant, booked_start, "
        "booked_end, blocked_start, blocked_end, aos, tca, los, max_elevation_deg, "
        "ephemeris_epoch, ephemeris_text, state, state_reason, created_at, updated_at) VALUES "
        "('c-1', 1, 'ant1', 'p1', 'acme', :t0, :t1, :t0, :t1, :t0, :t0, :t1, 45, :t0, '(test)', "
        "'SCHEDULED', '', :t0, :t0)",
    ]
    t0 = T0.replace(tzinfo=None) if engine.dialect.name == "sqlite" else T0
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), {"t0": t0, "t1": t0 + timedelta(minutes=10)})
    return "c-1"


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "groundstation:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
