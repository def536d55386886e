"""GET /metrics publishes contact counts and request rates of every tenant:
closed (404) unless GS_METRICS_PUBLIC opts in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from groundstation.settings import Settings

from .conftest import World


def test_metrics_are_not_served_by_default(world: World) -> None:
    for headers in ({}, world.as_("acme"), world.as_("admin")):
        r = world.client.get("/metrics", headers=headers)
        assert r.status_code == 404, r.text
        assert "GS_METRICS_PUBLIC" in r.json()["detail"]
        assert "groundstation_contacts" not in r.text


def test_metrics_are_served_without_a_key_when_opted_in(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_public": True}))
    try:
        with TestClient(app) as client:
            r = client.get("/metrics")
        assert r.status_code == 200
        assert "# TYPE groundstation_contacts gauge" in r.text
    finally:
        app.state.ctx.engine.dispose()


def test_metrics_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.model_fields["metrics_public"].default is False
    monkeypatch.setenv("GS_METRICS_PUBLIC", "true")
    assert Settings().metrics_public is True
