"""The command line, driven as a person would: init, API credentials, keys, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credgate.cli import app

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("CREDGATE_"):
            monkeypatch.delenv(name)
    values = {"CREDGATE_DATA_DIR": str(tmp_path / "var")}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_keys_and_admin_once(env: dict[str, str], tmp_path: Path) -> None:
    code, out, _ = run("init")
    assert code == 0, out
    assert (tmp_path / "var" / "master.key").stat().st_mode & 0o077 == 0
    assert (tmp_path / "var" / "pepper.key").exists()
    assert "password:" in out
    password = out.split("password:")[1].split()[0]
    code, again, _ = run("init")
    assert code == 0
    assert "password" not in again, "the password is shown once"
    assert password not in again


def test_api_credentials_lifecycle(env: dict[str, str]) -> None:
    assert run("init")[0] == 0
    code, out, _ = run(
        "api-credentials", "create", "--name", "Jira", "-p", "workflows", "-p", "nql", "--json"
    )
    assert code == 0, out
    created = json.loads(out)
    secret = created["client_secret"]
    code, listed, _ = run("api-credentials", "list")
    assert "Jira" in listed
    assert secret not in listed
    code, shown, _ = run("api-credentials", "show", "Jira", "--json")
    assert json.loads(shown)["permissions"] == ["workflows", "nql"]
    assert secret not in shown
    code, updated, _ = run("api-credentials", "update", "Jira", "--disable", "--json")
    assert json.loads(updated)["disabled"] is True
    code, regenerated, _ = run("api-credentials", "regenerate", "Jira", "--overlap", "1h", "--json")
    assert code == 0
    assert json.loads(regenerated)["secret_overlap_until"]
    assert json.loads(regenerated)["client_secret"] != secret
    code, _, _ = run("api-credentials", "delete", "Jira", "--yes")
    assert code == 0
    code, _, err = run("api-credentials", "show", "Jira")
    assert code == 2
    assert "no API credential" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["api-credentials", "create", "--name", "x", "-p", "bogus"],
            "--permission: unknown permission 'bogus'",
        ),
        (["api-credentials", "create", "--name", " ", "-p", "nql"], "name: is required"),
        (
            ["api-credentials", "regenerate", "nobody", "--overlap", "soon"],
            "--overlap: 'soon' is not a duration",
        ),
    ],
)
def test_bad_input_names_the_field(env: dict[str, str], args: list[str], message: str) -> None:
    assert run("init")[0] == 0
    code, _, err = run(*args)
    assert code == 2
    assert message in err


def test_bad_configuration_names_the_variable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGATE_PORT", "99999")
    code, _, err = run("init")
    assert code == 2
    assert "CREDGATE_PORT" in err


def test_uninitialised_installation_says_what_to_do(env: dict[str, str]) -> None:
    code, _, err = run("api-credentials", "list")
    assert code == 2
    assert "credgate init" in err


def test_keys_rotate_and_list(env: dict[str, str]) -> None:
    assert run("init")[0] == 0
    code, out, _ = run("keys", "rotate")
    assert code == 0
    assert "stays in the JWKS" in out
    code, listed, _ = run("keys", "list", "--json")
    rows = json.loads(listed)
    assert [r["active"] for r in rows].count(True) == 1
    assert len(rows) == 2


def test_python_dash_m_entry_point(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "credgate", "--version"],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0.1.0"
