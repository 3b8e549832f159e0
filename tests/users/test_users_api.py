"""The admin REST API and the CLI for classic users, profiles and engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app

PASSWORD = "a long enough password"


def test_admin_api_round_trip(admin_client: TestClient) -> None:
    api = "/admin/api/v1"
    made = admin_client.post(
        f"{api}/profiles", json={"name": "analysts", "data_privacy": "none", "finder_access": True}
    )
    assert made.status_code == 201
    assert made.json()["data_privacy"] == "none"
    user = admin_client.post(
        f"{api}/users", json={"username": "erin", "password": PASSWORD, "profile": "analysts"}
    )
    assert user.status_code == 201
    assert PASSWORD not in user.text
    listed = admin_client.get(f"{api}/users").json()
    assert listed["next"] is None
    assert {k: listed[k] for k in ("total", "items")} == {
        "total": 1,
        "items": [
            {"id": user.json()["id"], "username": "erin", "profile": "analysts", "disabled": False}
        ],
    }
    assert admin_client.get(f"{api}/profiles").json()["total"] == 1
    assert admin_client.get(f"{api}/users/erin").json()["username"] == "erin"
    assert admin_client.delete(f"{api}/users/erin").status_code == 204
    assert admin_client.get(f"{api}/users/erin").status_code == 404

    engine = admin_client.post(f"{api}/engines", json={"name": "e1", "port": 443})
    assert engine.status_code == 201
    assert engine.json()["port"] == 443
    assert admin_client.get(f"{api}/engines").json()["items"][0]["name"] == "e1"
    assert admin_client.delete(f"{api}/engines/e1").status_code == 204
    assert admin_client.delete(f"{api}/engines/e1").status_code == 404


def test_admin_api_bad_input(admin_client: TestClient) -> None:
    api = "/admin/api/v1"
    bad = admin_client.post(f"{api}/profiles", json={"name": "x", "data_privacy": "some"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["data_privacy"]
    short = admin_client.post(
        f"{api}/users", json={"username": "u", "password": "tiny-secret", "profile": "none"}
    )
    assert short.status_code == 422
    assert "tiny-secret" not in short.text
    engine = admin_client.post(f"{api}/engines", json={"name": "e", "status": "BROKEN", "port": 0})
    assert engine.status_code == 422
    assert {e["field"] for e in engine.json()["errors"]} == {"status", "port"}
    assert (
        admin_client.get(f"{api}/users", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


@pytest.fixture
def env(cli_home: Path) -> None:
    return None


def _run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.usefixtures("env")
def test_cli_users_profiles_engines() -> None:
    assert _run("init")[0] == 0
    code, out = _run("profiles", "create", "analysts", "--data-privacy", "none", "--finder-access")
    assert code == 0, out
    code, out = _run("profiles", "create", "bad", "--data-privacy", "some")
    assert code == 2
    assert "data_privacy" in out
    code, out = _run("profiles", "list", "--json")
    assert json.loads(out) == [
        {"id": 1, "name": "analysts", "data_privacy": "none", "finder_access": True}
    ]
    code, out = _run(
        "users", "create", "frank", "--profile", "analysts", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, out
    assert PASSWORD not in out.replace("Password", "")
    code, out = _run("users", "list")
    assert out.splitlines()[1].split() == ["frank", "analysts"]
    assert _run("users", "delete", "frank", "--yes")[0] == 0
    assert "(none)" in _run("users", "list")[1]

    code, out = _run("engines", "add", "engine-1", "--address", "10.0.0.5", "--port", "443")
    assert code == 0, out
    code, out = _run("engines", "list", "--json")
    assert json.loads(out)[0]["address"] == "10.0.0.5"
    assert _run("engines", "delete", "engine-1", "--yes")[0] == 0
    code, out = _run("engines", "delete", "engine-1", "--yes")
    assert code == 2
    assert "no engine named" in out


def test_admin_api_lists_users_by_page(admin_client: TestClient) -> None:
    api = "/admin/api/v1"
    admin_client.post(f"{api}/profiles", json={"name": "p", "data_privacy": "none"})
    for name in ["uma", "ted", "sam", "rob", "quin"]:
        made = admin_client.post(
            f"{api}/users", json={"username": name, "password": PASSWORD, "profile": "p"}
        )
        assert made.status_code == 201, made.text
    seen: list[str] = []
    url: str | None = f"{api}/users?limit=2"
    while url:
        page = admin_client.get(url).json()
        assert page["total"] == 5
        assert len(page["items"]) <= 2
        seen += [u["username"] for u in page["items"]]
        url = page["next"]
    assert seen == ["quin", "rob", "sam", "ted", "uma"]
    found = admin_client.get(f"{api}/users", params={"q": "ED"}).json()
    assert [u["username"] for u in found["items"]] == ["ted"]
    bad = admin_client.get(f"{api}/users", params={"limit": "-1"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"
