"""`groundstation keys create/list/revoke`, and the keys working against the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from groundstation import cli
from groundstation.settings import Settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("GS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_are_created_listed_used_and_revoked(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["keys", "create", "--name", "ops", "--role", "operator", "--tenant", "acme", "--json"],
        capsys,
    )
    assert code == 0
    created = json.loads(out)
    assert created["key"].startswith("gs_") and created["role"] == "operator"
    code, out, _ = run(["keys", "list", "--json"], capsys)
    listed = json.loads(out)
    assert [(k["id"], k["tenant"]) for k in listed] == [(created["id"], "acme")]
    assert created["key"] not in out  # only the hash is stored
    # No key cache: the revocation is refused at once (the cache's own
    # lapse: test_api_auth).
    app = create_app(Settings(data_dir=env / "data", api_key_cache_s=0))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {created['key']}"}
        assert client.get("/contacts", headers=auth).status_code == 200
        assert run(["keys", "revoke", created["id"]], capsys)[0] == 0
        assert client.get("/contacts", headers=auth).status_code == 401
    app.state.ctx.engine.dispose()
    assert json.loads(run(["keys", "list", "--json"], capsys)[1]) == []
    assert len(json.loads(run(["keys", "list", "--all", "--json"], capsys)[1])) == 1


def test_key_roles_need_their_scope(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Bad input (a missing scope, an unknown id) exits 2, naming it.
    code, _, err = run(["keys", "create", "--name", "x", "--role", "operator"], capsys)
    assert code == 2 and "tenant" in err
    code, _, err = run(["keys", "create", "--name", "x", "--role", "scientist"], capsys)
    assert code == 2 and "granted tenant" in err
    code, out, _ = run(
        [
            "keys",
            "create",
            "--name",
            "sci",
            "--role",
            "scientist",
            "--grant",
            "acme",
            "--grant",
            "globex",
        ],
        capsys,
    )
    assert code == 0 and "store the key now" in out
    assert run(["keys", "revoke", "no-such-id"], capsys)[0] == 2
