from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from groundstation.clock import RealClock, SimulatedClock, clock_from_settings
from groundstation.errors import IllegalTransitionError, ValidationError
from groundstation.settings import Settings
from groundstation.states import LEGAL_TRANSITIONS, TERMINAL_STATES, ContactState, check_transition

S = ContactState


def test_nominal_lifecycle_path_is_legal() -> None:
    path = [S.AVAILABLE, S.SCHEDULED, S.PREPASS, S.PASS, S.POSTPASS, S.COMPLETED]
    for old, new in zip(path, path[1:], strict=False):
        check_transition("c1", old, new)


def test_illegal_transition_error_names_both_states() -> None:
    with pytest.raises(IllegalTransitionError) as info:
        check_transition("c42", S.COMPLETED, S.PASS)
    assert "COMPLETED" in str(info.value) and "PASS" in str(info.value)
    assert "c42" in str(info.value)


def test_terminal_states_have_no_way_out() -> None:
    assert set(TERMINAL_STATES) == {
        S.COMPLETED,
        S.FAILED,
        S.CANCELLED,
        S.FAILED_TO_SCHEDULE,
        S.PROVIDER_FAILED,
    }
    for terminal in TERMINAL_STATES:
        for target in ContactState:
            with pytest.raises(IllegalTransitionError):
                check_transition("c", terminal, target)


def test_provider_failure_is_legal_from_every_active_state() -> None:
    allowed = {s for s, nxt in LEGAL_TRANSITIONS.items() if S.PROVIDER_FAILED in nxt}
    assert allowed == {S.SCHEDULED, S.PREPASS, S.PASS, S.POSTPASS, S.CANCELLING}


def test_cancel_is_legal_from_scheduled_prepass_and_cancelling_only() -> None:
    """Cancelled before the pre-pass, stopped in PREPASS (nothing runs yet),
    or after a stop during PASS (CANCELLING, the only way out of PASS to it)."""
    allowed = {s for s, nxt in LEGAL_TRANSITIONS.items() if S.CANCELLED in nxt}
    assert allowed == {S.SCHEDULED, S.PREPASS, S.CANCELLING}
    assert {s for s, nxt in LEGAL_TRANSITIONS.items() if S.CANCELLING in nxt} == {S.PASS}


def test_simulated_clock_runs_speedup_times_faster_than_the_wall() -> None:
    start = datetime(2023, 7, 4, tzinfo=UTC)
    wall_before = datetime.now(UTC)
    clock = SimulatedClock(start, speedup=3600.0)
    time.sleep(0.05)
    elapsed_s = (clock.now() - start).total_seconds()
    wall_s = (datetime.now(UTC) - wall_before).total_seconds()
    # Bounded by the wall time this test measured, not a fixed 5 s: on a
    # loaded machine the sleep may last longer, never the clock run faster.
    assert 0.05 * 3600 <= elapsed_s <= wall_s * 3600


def test_simulated_clock_maps_service_time_to_the_wall_instant_it_is_reached() -> None:
    start = datetime(2023, 7, 4, tzinfo=UTC)
    clock = SimulatedClock(start, speedup=1000.0)
    target = start + timedelta(seconds=120)
    wall = clock.to_real(target)
    assert wall - clock.real_epoch == timedelta(milliseconds=120)
    while datetime.now(UTC) < wall:
        time.sleep(0.005)
    assert clock.now() >= target


def test_clocks_refuse_naive_datetimes() -> None:
    with pytest.raises(ValidationError, match="naive"):
        SimulatedClock(datetime(2023, 7, 4), speedup=2.0)
    with pytest.raises(ValidationError, match="naive"):
        RealClock().to_real(datetime(2023, 7, 4))


def test_real_clock_reads_aware_utc_now() -> None:
    now = RealClock().now()
    assert now.tzinfo is not None
    assert abs((now - datetime.now(UTC)).total_seconds()) < 1.0


def test_settings_read_gs_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_CLOCK", "simulated")
    monkeypatch.setenv("GS_CLOCK_START", "2023-07-04T00:00:00Z")
    monkeypatch.setenv("GS_CLOCK_SPEEDUP", "60")
    monkeypatch.setenv("GS_DATA_DIR", "/tmp/gs-x")
    settings = Settings()
    assert settings.clock == "simulated"
    assert settings.clock_start == datetime(2023, 7, 4, tzinfo=UTC)
    assert settings.effective_database_url() == "sqlite:////tmp/gs-x/groundstation.db"
    clock = clock_from_settings(
        settings.clock, start=settings.clock_start, speedup=settings.clock_speedup
    )
    assert abs((clock.now() - datetime(2023, 7, 4, tzinfo=UTC)).total_seconds()) < 60


def test_settings_refuse_a_non_positive_speedup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_CLOCK_SPEEDUP", "0")
    with pytest.raises(Exception, match="clock_speedup"):
        Settings()


def test_explicit_database_url_wins_over_the_embedded_default() -> None:
    settings = Settings(database_url="postgresql+psycopg://u:p@h/db")
    assert settings.effective_database_url() == "postgresql+psycopg://u:p@h/db"


def test_every_setting_is_documented_in_the_readme_settings_table() -> None:
    from pathlib import Path

    from groundstation.settings import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = [line for line in readme.splitlines() if line.startswith("| `GS_")]
    missing = [
        f"GS_{name.upper()}"
        for name in Settings.model_fields
        if not any(f"`GS_{name.upper()}`" in row for row in table)
    ]
    assert missing == []


def test_topic_retention_settings_reach_the_publisher_config_and_kafka_topic_configs() -> None:
    from groundstation.settings import Settings

    config = Settings(
        topic_retention_ms=3_600_000, topic_retention_bytes=-1, topic_segment_ms=-1
    ).kafka_config()
    retention = config.retention_for(f"{config.topic_prefix}.frames")
    assert (retention.retention_ms, retention.retention_bytes, retention.segment_ms) == (
        3_600_000,
        None,
        None,
    )
    assert retention.kafka_configs() == {"retention.ms": "3600000", "retention.bytes": "-1"}
    with pytest.raises(ValueError, match="got 0"):
        Settings(topic_retention_ms=0)
