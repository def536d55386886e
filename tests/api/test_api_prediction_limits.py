"""Every range an API operation predicts over is capped and refused with 422
naming the values before any prediction: a booking covers one pass (at
most GS_MAX_PASS_S plus twice the window tolerance), passes, availability
and plans at most 31 days. Expensive operations run on their own bounded
thread pool, so cheap requests stay quick while they run."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError as PydanticValidationError

from groundstation import apikeys, booking, inventory, passes
from groundstation.errors import ValidationError
from groundstation.policy import BookingPolicy
from groundstation.settings import Settings

from .conftest import NOAA18, NOAA19, NOW, World
from .helpers import contact_body, first_free_pass, uvicorn_workers


@pytest.fixture
def no_prediction(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fails any pass prediction (every API path predicts through
    ``orbital.passes.predict_passes``); yields the calls seen."""
    import orbital.passes

    calls: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append("predict_passes")
        raise AssertionError("predicted although the range was refused")

    monkeypatch.setattr(orbital.passes, "predict_passes", refuse)
    yield calls


def test_seventy_year_booking_window_is_422_naming_the_values_before_predicting(
    world: World, no_prediction: list[str]
) -> None:
    body = contact_body(
        {"aos": NOW.isoformat(), "los": NOW.replace(year=NOW.year + 70).isoformat()}
    )
    # CPU is process-wide (other threads of the test process count too), so
    # the refusal's cost is compared with a reference measured just before:
    # a two-day window, refused on the same path before predicting.
    reference_body = contact_body(
        {"aos": NOW.isoformat(), "los": (NOW + timedelta(days=2)).isoformat()}
    )
    started = time.process_time()
    reference = world.client.post("/contacts", json=reference_body, headers=world.as_("acme"))
    reference_cpu_s = time.process_time() - started
    assert reference.status_code == 422, reference.text
    started = time.process_time()
    r = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert time.process_time() - started < reference_cpu_s + 1.0
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "2023-07-04T18:00:00Z..2093-07-04T18:00:00Z" in detail
    assert "2209075200 s" in detail  # the window's length
    assert "43320 s" in detail  # GS_MAX_PASS_S 43200 + 2 x 60 s tolerance
    assert no_prediction == []


def test_booking_window_of_one_pass_plus_tolerance_is_still_accepted(world: World) -> None:
    p = first_free_pass(world)
    body = contact_body(p)
    # 60 s tolerance on both sides: the longest window still within the pass's rule.
    body["start"] = (NOW.fromisoformat(p["aos"]) - timedelta(seconds=59)).isoformat()
    body["end"] = (NOW.fromisoformat(p["los"]) + timedelta(seconds=59)).isoformat()
    r = world.client.post("/contacts", json=body, headers=world.as_("acme"))
    assert r.status_code == 201, r.text


def test_booking_cap_follows_the_max_pass_setting(world: World, no_prediction: list[str]) -> None:
    policy = BookingPolicy(max_pass_s=600.0, window_tolerance_s=30.0)
    with world.session() as s, pytest.raises(ValidationError, match="at most 660 s"):
        booking.reserve(
            s,
            norad_id=NOAA19,
            antenna_id="sv-uhf",
            profile_id="leo",
            start=NOW + timedelta(hours=1),
            end=NOW + timedelta(hours=1, seconds=661),
            tenant="acme",
            now=NOW,
            policy=policy,
        )
    assert no_prediction == []


def test_passes_over_more_than_31_days_are_422_before_predicting(
    world: World, no_prediction: list[str]
) -> None:
    end = NOW + timedelta(days=31, seconds=1)
    r = world.client.get(
        "/passes",
        params={"satellite": NOAA19, "start": NOW.isoformat(), "end": end.isoformat()},
        headers=world.as_("acme"),
    )
    assert r.status_code == 422, r.text
    assert "31.0 days" in r.json()["detail"] and "at most 31 days" in r.json()["detail"]
    assert no_prediction == []


def test_availability_over_more_than_31_days_is_refused_before_predicting(
    world: World, no_prediction: list[str]
) -> None:
    with world.session() as s, pytest.raises(ValidationError, match="at most 31 days"):
        passes.availability(
            s,
            norad_id=NOAA19,
            profile_id="leo",
            start=NOW,
            end=NOW + timedelta(days=70 * 365),
            now=NOW,
        )
    assert no_prediction == []


def test_plan_whose_requests_together_span_more_than_31_days_is_422_before_predicting(
    world: World, no_prediction: list[str]
) -> None:
    far = NOW.replace(year=NOW.year + 70)
    body = {
        "profile_id": "leo",
        "requests": [
            {
                "norad_id": NOAA19,
                "start": NOW.isoformat(),
                "end": (NOW + timedelta(days=1)).isoformat(),
            },
            {
                "norad_id": NOAA18,
                "start": far.isoformat(),
                "end": (far + timedelta(days=1)).isoformat(),
            },
        ],
    }
    r = world.client.post("/plans", json=body, headers=world.as_("acme"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "2023-07-04T18:00:00Z" in detail and "2093-07-05T18:00:00Z" in detail
    assert "at most 31 days" in detail
    assert no_prediction == []


def test_max_pass_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_MAX_PASS_S", "7200")
    settings = Settings()
    assert BookingPolicy.from_settings(settings).max_pass_s == 7200.0
    with pytest.raises(ValueError, match="got 0"):
        Settings(max_pass_s=0)


# ---------------------------------------------------------------- responsiveness


def _many_stations(world: World, n: int) -> None:
    """``n`` more stations with one UHF antenna each: a month of passes over
    all of them is the most an operator can ask of GET /passes."""
    with world.session() as s:
        for i in range(n):
            inventory.add_station(
                s,
                station_id=f"st-{i}",
                name=f"Station {i}",
                lat_deg=-60.0 + 120.0 * i / n,
                lon_deg=(37.0 * i) % 360.0 - 180.0,
                alt_m=100.0,
                min_elevation_deg=0.0,
            )
            inventory.add_antenna(
                s, antenna_id=f"st-{i}-uhf", station_id=f"st-{i}", bands_hz=[(400e6, 450e6)]
            )


def _operator_keys(world: World, n: int) -> list[dict[str, str]]:
    headers = []
    with world.session() as s:
        for i in range(n):
            _, key = apikeys.create_key(s, name=f"ops-{i}", role="operator", tenant="acme", now=NOW)
            headers.append({"Authorization": f"Bearer {key}"})
    return headers


def test_cheap_requests_stay_quick_while_worst_case_predictions_run(
    world: World, settings: Settings
) -> None:
    _many_stations(world, 60)
    keys = _operator_keys(world, 4)
    # The API as deployed (its own process, the serving GC settings): in the
    # test process a full collection of pytest's heap alone pauses 0.5 s.
    with uvicorn_workers(settings, workers=1) as run:
        _cheap_while_expensive(world, run.url, keys)


def _cheap_while_expensive(world: World, live_url: str, keys: list[dict[str, str]]) -> None:
    month: dict[str, str | int] = {
        "satellite": NOAA19,
        "start": NOW.isoformat(),
        "end": (NOW + timedelta(days=31)).isoformat(),
    }
    with httpx.Client(base_url=live_url, timeout=120) as http:
        started = time.perf_counter()
        alone = http.get("/passes", params=month, headers=keys[0])
        alone_s = time.perf_counter() - started
    assert alone.status_code == 200 and alone.json()["count"] > 1000

    answers: list[int] = []
    running = threading.Event()

    def expensive(headers: dict[str, str], shift_s: int) -> None:
        # A start of its own: predicted afresh, not answered from the pass cache.
        params = {**month, "start": (NOW + timedelta(seconds=shift_s)).isoformat()}
        with httpx.Client(base_url=live_url, timeout=300) as http:
            running.set()
            answers.append(http.get("/passes", params=params, headers=headers).status_code)

    threads = [
        threading.Thread(target=expensive, args=(k, 2 * i + j))
        for i, k in enumerate(keys)
        for j in range(1, 3)
    ]
    for t in threads:
        t.start()
    running.wait()
    time.sleep(0.2)
    latencies = []
    with httpx.Client(base_url=live_url, timeout=120) as http:
        while any(t.is_alive() for t in threads):
            for path, headers in (
                ("/healthz", {}),
                ("/ground-stations/svalbard", world.as_("acme")),
            ):
                started = time.perf_counter()
                assert http.get(path, headers=headers).status_code == 200
                latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    for t in threads:
        t.join()
    assert sorted(answers) == [200] * 8
    # Eight requests of alone_s each on a pool of two threads took about
    # 4 x alone_s; a cheap request never waited for them.
    assert len(latencies) >= 10
    assert max(latencies) < max(0.75, alone_s), (alone_s, sorted(latencies)[-5:])


def _plan(world: World, policy: BookingPolicy) -> None:
    from groundstation.plan_service import plan_contacts
    from groundstation.planning import PlanRequest

    requests = [
        PlanRequest(
            request_id=f"r{i}",
            norad_id=norad,
            start=NOW,
            end=NOW + timedelta(days=2),
            priority=1.0,
            wanted_passes=10_000,
            wanted_minutes=None,
        )
        for i, norad in enumerate((NOAA19, NOAA18))
    ]
    with world.session() as s:
        plan_contacts(s, requests=requests, profile_id="leo", now=NOW, policy=policy)


def test_plan_predicting_more_than_the_work_limit_is_refused_before_predicting(
    world: World, no_prediction: list[str]
) -> None:
    # 2 satellites x 1 station (svalbard: its UHF antennas share one) x 2 days.
    policy = BookingPolicy(max_plan_satellite_station_days=3.9)
    with pytest.raises(ValidationError, match=r"2 satellites x 1 stations x 2.0 days = 4 "):
        _plan(world, policy)
    assert no_prediction == []


def test_plan_with_more_candidate_windows_than_the_limit_is_refused_before_solving(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import groundstation.plan_service

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("solved although the plan was refused")

    monkeypatch.setattr(groundstation.plan_service, "solve_milp", refuse)
    monkeypatch.setattr(groundstation.plan_service, "solve_greedy", refuse)
    with pytest.raises(
        ValidationError, match=r"candidate windows; at most 5 \(GS_MAX_PLAN_CANDIDATES\)"
    ):
        _plan(world, BookingPolicy(max_plan_candidates=5))


def test_plan_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_MAX_PLAN_SATELLITE_STATION_DAYS", "100")
    monkeypatch.setenv("GS_MAX_PLAN_CANDIDATES", "200")
    monkeypatch.setenv("GS_MAX_PLAN_CONTACTS", "300")
    policy = BookingPolicy.from_settings(Settings())
    assert policy.max_plan_satellite_station_days == 100.0
    assert policy.max_plan_candidates == 200
    assert policy.max_plan_contacts == 300
    monkeypatch.setenv("GS_MAX_PLAN_CONTACTS", "0")
    with pytest.raises(PydanticValidationError, match="max_plan_contacts must be > 0, got 0"):
        Settings()
