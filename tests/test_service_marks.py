"""make check runs the tests that need no service: those that need one are
marked (tests/conftest.py), and one that is not fails instead of running."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.service_env import SERVICE_FIXTURES, mark_service_tests, need_env


@dataclass
class FakeItem:
    fixturenames: list[str]
    marks: list[str] = field(default_factory=list)

    def add_marker(self, mark: str) -> None:
        self.marks.append(mark)


def test_a_test_using_a_service_fixture_gets_the_service_mark() -> None:
    items = [FakeItem(["tmp_path", "s3_endpoint"]), FakeItem(["broker", "kafka_bootstrap"])]
    mark_service_tests(items)
    assert items[0].marks == ["s3"]
    assert items[1].marks == ["kafka", "kafka"]
    assert set(SERVICE_FIXTURES.values()) == {
        "postgres",
        "kafka",
        "s3",
        "grsat",
        "browser",
        "hamlib",
        "soapy",
    }


def test_a_test_without_a_service_fixture_gets_no_mark() -> None:
    item = FakeItem(["tmp_path", "capsys"])
    mark_service_tests([item])
    assert item.marks == []


def test_under_make_check_asking_for_a_service_fails_naming_the_missing_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GS_TEST_SERVICES", "none")
    monkeypatch.setenv("GS_TEST_S3_ENDPOINT", "http://127.0.0.1:1")
    with pytest.raises(pytest.fail.Exception, match=r"not marked @pytest.mark.s3"):
        need_env("GS_TEST_S3_ENDPOINT", "s3")


def test_the_marks_make_check_deselects_are_declared() -> None:
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    makefile = (repo / "Makefile").read_text()
    pyproject = (repo / "pyproject.toml").read_text()
    for mark in sorted(set(SERVICE_FIXTURES.values())):
        assert f"not {mark}" in makefile
        assert f'"{mark}: ' in pyproject
