"""Mission profile settings and satellite downlinks are validated by the
domain (the CLI and the API refuse the same values), profiles have an owner
tenant, idempotency keys are bound to their request, and times outside the
supported range are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from groundstation import inventory, maintenance, passes, usage
from groundstation.db import make_engine, migrate
from groundstation.downlink import LinkModel
from groundstation.errors import (
    IdempotencyKeyReusedError,
    NotFoundError,
    PermissionDeniedError,
    ProfileSettingsError,
    ValidationError,
)
from groundstation.lifecycle import contact_run
from groundstation.models import Contact, MissionProfile
from groundstation.profile_settings import DatasetOptions, DemodSettings, merge_patch

from .test_booking import NOW, first_window, reserve_window, setup_world
from .test_cli import run


@pytest.fixture
def cli_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI's data directory (its SQLite database is ``groundstation.db`` there)."""
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GS_CLOCK", "simulated")
    monkeypatch.setenv("GS_CLOCK_START", "2023-07-04T18:00:00Z")
    return tmp_path / "data"


# ---------------------------------------------------------------- profile settings


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"demod": {"eirp_dbw": "abc"}}, ["demod.eirp_dbw", "'abc'"]),
        (
            {"dataset_options": {"record_iq": "yes", "record_iq_max_s": -5}},
            ["dataset_options.record_iq", "'yes'", "dataset_options.record_iq_max_s", "-5"],
        ),
        ({"dataset_options": {"record_iqq": True}}, ["dataset_options.record_iqq", "record_iq"]),
        ({"decode": {"mode": 1}}, ["decode.mode", "decode takes transmitter"]),
        ({"prepass_s": -1.0}, ["prepass_s", "-1"]),
        ({"kafka_topic": "frames topic"}, ["kafka_topic", "'frames topic'"]),
        ({"kafka_topic": ".."}, ["kafka_topic", "'..' is not a valid Kafka topic name"]),
    ],
    ids=[
        "demod-string",
        "dataset-values",
        "typo",
        "decode-key",
        "negative-margin",
        "topic",
        "dots",
    ],
)
def test_the_inventory_refuses_bad_profile_settings_naming_them(
    session: Session, settings: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        inventory.add_profile(session, profile_id="bad", **settings)
    for text_ in named:
        assert text_ in str(info.value)
    assert session.get(MissionProfile, "bad") is None


def test_a_profile_stores_only_the_settings_given_and_reads_them_typed(session: Session) -> None:
    profile = inventory.add_profile(
        session,
        profile_id="p",
        owner_tenant="acme",
        demod={"eirp_dbw": -20},
        dataset_options=DatasetOptions(record_iq=True),
    )
    assert profile.demod == {"eirp_dbw": -20.0}
    assert profile.dataset_options == {"record_iq": True}
    assert profile.decode == {} and profile.owner_tenant == "acme"


def test_shared_profiles_are_changed_by_admins_only_and_others_are_not_found(
    session: Session,
) -> None:
    inventory.add_profile(session, profile_id="shared")
    inventory.add_profile(session, profile_id="acme-p", owner_tenant="acme")
    with pytest.raises(PermissionDeniedError, match="shared"):
        inventory.patch_profile(
            session, profile_id="shared", patch={"prepass_s": 1.0}, tenants=("acme",)
        )
    with pytest.raises(NotFoundError):
        inventory.patch_profile(
            session, profile_id="acme-p", patch={"prepass_s": 1.0}, tenants=("globex",)
        )
    patched = inventory.patch_profile(session, profile_id="shared", patch={"prepass_s": 1.0})
    assert patched.prepass_s == 1.0
    assert [p.id for p in inventory.list_profiles(session, tenants=("globex",))] == ["shared"]
    assert [p.id for p in inventory.list_profiles(session)] == ["acme-p", "shared"]


def test_merge_patch_follows_rfc_7396() -> None:
    # The examples of RFC 7396, section 3 (a selection).
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch({"a": "foo"}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_the_executor_reads_the_profiles_typed_settings(session: Session) -> None:
    setup_world(session)
    inventory.patch_profile(
        session,
        profile_id="leo",
        patch={"demod": {"eirp_dbw": -60}, "dataset_options": {"record_iq_max_s": 20}},
    )
    contact = reserve_window(session, first_window(session))
    run_ = contact_run(contact)
    assert run_.demod == DemodSettings(eirp_dbw=-60.0)
    assert run_.dataset_options == DatasetOptions(record_iq_max_s=20.0)
    assert run_.problems == ()
    base = LinkModel(losses_db=7.0)
    link = base.with_settings(run_.demod)
    assert link.eirp_dbw == -60.0 and link.losses_db == 7.0  # the rest from the station's


def test_a_stored_profile_that_does_not_validate_is_refused_at_booking_and_named_at_aos(
    session: Session,
) -> None:
    setup_world(session)
    w = first_window(session)
    booked = reserve_window(session, w)
    session.execute(
        update(MissionProfile)
        .where(MissionProfile.id == "leo")
        .values(dataset_options={"record_iq": "yes"})
    )
    session.commit()
    with pytest.raises(ProfileSettingsError, match=r"dataset_options\.record_iq.*'yes'") as info:
        reserve_window(session, first_window(session, "sv-uhf-2"))
    assert info.value.rule == "profile-settings"
    # A contact booked before: the executor is told why, instead of a crash at AOS.
    run_ = contact_run(session.get(Contact, booked.id))  # type: ignore[arg-type]
    assert run_.dataset_options == DatasetOptions()
    assert any("dataset_options.record_iq" in p for p in run_.problems)


# ---------------------------------------------------------------- satellites


@pytest.mark.parametrize(
    ("modulation", "framing", "named"),
    [
        ("gmsk", "", ["'gmsk'", "bpsk, qpsk"]),
        ("bpsk", "ax25", ["'ax25'", "ccsds-bpsk-conv-rs"]),
        ("qpsk", "by70-1", ["'qpsk'", "'by70-1'", "which is bpsk"]),
    ],
)
def test_the_inventory_refuses_a_downlink_the_receiver_cannot_decode(
    session: Session, modulation: str, framing: str, named: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        inventory.add_satellite(
            session,
            norad_id=99001,
            name="X",
            tenant="acme",
            downlink_freq_hz=437e6,
            modulation=modulation,
            framing_profile=framing,
        )
    for text_ in named:
        assert text_ in str(info.value)


# ---------------------------------------------------------------- booking


def test_booking_with_another_tenants_profile_is_not_found(session: Session) -> None:
    setup_world(session)
    inventory.add_profile(session, profile_id="globex-p", owner_tenant="globex")
    inventory.add_profile(session, profile_id="acme-p", owner_tenant="acme")
    w = first_window(session)
    with pytest.raises(NotFoundError, match="globex-p"):
        reserve_window(session, w, profile_id="globex-p")
    assert reserve_window(session, w, profile_id="acme-p").profile_id == "acme-p"


def test_an_idempotency_key_is_bound_to_its_request(session: Session) -> None:
    setup_world(session)
    w, w2 = first_window(session), first_window(session, "sv-uhf-2")
    first = reserve_window(session, w, idempotency_key="k-1")
    assert first.idempotency_fingerprint is not None
    assert reserve_window(session, w, idempotency_key="k-1").id == first.id
    with pytest.raises(IdempotencyKeyReusedError, match=rf"'k-1'.*{first.id}"):
        reserve_window(session, w2, idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReusedError):
        reserve_window(session, w, idempotency_key="k-1", end=w.los - timedelta(seconds=5))
    # Another tenant's key space is its own.
    other = reserve_window(session, w2, idempotency_key="k-1", tenant="globex")
    assert other.id != first.id
    # A contact booked before fingerprints were stored: its key still replays.
    session.execute(update(Contact).values(idempotency_fingerprint=None))
    session.commit()
    assert reserve_window(session, w2, idempotency_key="k-1").id == first.id


# ---------------------------------------------------------------- times


@pytest.mark.parametrize(
    "when", [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)]
)
def test_times_outside_the_supported_range_are_refused_naming_them(
    session: Session, when: datetime
) -> None:
    setup_world(session)
    w = first_window(session)
    edge = {"start": when} if when < NOW else {"end": when}
    with pytest.raises(ValidationError, match=f"{when.year:04d}-.*supported range"):
        reserve_window(session, w, **edge)
    with pytest.raises(ValidationError, match=f"{when.year:04d}-.*supported range"):
        passes.predicted_passes(
            session, norad_id=33591, start=min(when, NOW), end=max(when, NOW), now=NOW
        )
    with pytest.raises(ValidationError, match="supported range"):
        maintenance.add_window(
            session, antenna_id="sv-uhf", start=min(when, NOW), end=max(when, NOW), now=NOW
        )
    with pytest.raises(ValidationError, match=f"month '{when.year:04d}-.*supported range"):
        usage.month_range(f"{when.year:04d}-12")


# ---------------------------------------------------------------- CLI


def test_the_cli_validates_profiles_and_satellites_with_the_same_model(
    cli_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["profiles", "add", "--id", "iq", "--record-iq"], capsys)
    assert code == 0 and "shared" in out
    code, _, err = run(["profiles", "add", "--id", "bad", "--record-iq-max-s", "-5"], capsys)
    assert code == 2 and "dataset_options.record_iq_max_s" in err and "-5" in err
    code, _, err = run(
        ["satellites", "add", "--norad-id", "1", "--name", "X", "--tenant", "acme",
         "--downlink-freq-hz", "437e6", "--modulation", "gmsk"],
        capsys,
    )  # fmt: skip
    assert code == 2 and "'gmsk'" in err and "bpsk, qpsk" in err
    engine = make_engine(f"sqlite:///{cli_data / 'groundstation.db'}")
    with Session(engine) as s:
        stored = {p.id: p.dataset_options for p in s.scalars(select(MissionProfile))}
    engine.dispose()
    assert stored == {"iq": {"record_iq": True}}  # what the executor reads (was keep_raw_iq)


# ---------------------------------------------------------------- migration 0006


def test_migration_0006_shares_existing_profiles_and_renames_keep_raw_iq(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gs.db'}")
    migrate(engine, "0005")
    columns = (
        "id, min_viable_duration_s, prepass_s, postpass_s, min_elevation_deg, "
        "demod, decode, kafka_topic, dataset_options"
    )
    with engine.begin() as conn:
        for profile_id, options in (
            ("cli-iq", '{"keep_raw_iq": true}'),
            ("cli-no-iq", '{"keep_raw_iq": false}'),
            ("api", '{"record_iq": true, "record_iq_max_s": 20}'),
        ):
            conn.execute(
                text(
                    f"INSERT INTO mission_profiles ({columns}) "
                    f"VALUES (:id, 60, 120, 60, 10, '{{}}', '{{}}', '', :options)"
                ),
                {"id": profile_id, "options": options},
            )
    migrate(engine)
    with Session(engine) as s:
        profiles = {p.id: p for p in s.scalars(select(MissionProfile))}
        assert all(p.owner_tenant is None for p in profiles.values())
        assert profiles["cli-iq"].dataset_options == {"record_iq": True}
        assert profiles["cli-no-iq"].dataset_options == {}
        assert profiles["api"].dataset_options == {"record_iq": True, "record_iq_max_s": 20}
    engine.dispose()
