"""``credgate profiles`` and ``credgate users``: create (the password typed twice at a prompt,
or taken from CREDGATE_NEW_USER_PASSWORD), list a page at a time, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credgate.cli import app

PASSWORD = "a classic user's password"


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=input, env=env)
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def installed(cli_home: Path) -> None:
    code, out = run("init")
    assert code == 0, out


def test_create_list_and_delete_users(installed: None) -> None:
    code, out = run("profiles", "create", "analysts", "--data-privacy", "partial")
    assert code == 0, out
    code, out = run("profiles", "list", "--json")
    assert code == 0, out
    assert [(p["name"], p["data_privacy"]) for p in json.loads(out)] == [("analysts", "partial")]

    code, out = run(
        "users", "create", "alice", "--profile", "analysts", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, out
    assert "created user 'alice' with profile 'analysts'" in out
    code, out = run(
        "users",
        "create",
        "bob",
        "--profile",
        "analysts",
        env={"CREDGATE_NEW_USER_PASSWORD": PASSWORD},
    )
    assert code == 0, out

    code, out = run("users", "list", "--limit", "1")
    assert code == 0, out
    assert "alice" in out
    assert "bob" not in out
    assert "1 of 2 classic user(s)" in out
    code, out = run("users", "list", "--search", "bo", "--json")
    assert code == 0, out
    assert [u["username"] for u in json.loads(out)] == ["bob"]

    code, out = run("users", "delete", "alice", "--yes")
    assert code == 0, out
    code, out = run("users", "list", "--all", "--json")
    assert [u["username"] for u in json.loads(out)] == ["bob"]


def test_a_password_typed_differently_twice_is_asked_again(installed: None) -> None:
    assert run("profiles", "create", "ops")[0] == 0
    code, out = run(
        "users",
        "create",
        "carol",
        "--profile",
        "ops",
        input=f"{PASSWORD}\nother\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, out
    assert "do not match" in out
    assert PASSWORD not in out
