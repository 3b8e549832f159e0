"""The command line, driven as a person would: init, API credentials, keys, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from credgate.cli import app

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def env(cli_home: Path) -> dict[str, str]:
    return {"CREDGATE_DATA_DIR": str(cli_home)}


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def refused(*args: str) -> str:
    """The standard error of a command that must exit 2 (a usage or configuration error)."""
    code, _, err = run(*args)
    assert code == 2
    return err


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
    err = refused("api-credentials", "show", "Jira")
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
    err = refused(*args)
    assert message in err


def test_bad_configuration_names_the_variable(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGATE_PORT", "99999")
    err = refused("init")
    assert "CREDGATE_PORT" in err


def test_uninitialised_installation_says_what_to_do(env: dict[str, str]) -> None:
    err = refused("api-credentials", "list")
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


# One instance home ------------------------------------------------------------------------------


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Path:
    """No CREDGATE_* variable (not even the data directory) and an empty user configuration
    directory."""
    monkeypatch.delenv("CREDGATE_DATA_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CREDGATE_ADMIN_PASSWORD", "Pw-home-test-1234")
    return tmp_path


def test_the_instance_is_found_from_any_directory(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, below, elsewhere = bare / "project", bare / "project" / "a" / "b", bare / "elsewhere"
    for directory in (below, elsewhere):
        directory.mkdir(parents=True)
    monkeypatch.chdir(project)
    code, out, err = run("init")
    assert code == 0, err
    assert (project / "credgate.toml").is_file()
    assert (bare / "xdg" / "credgate" / "credgate.toml").is_file()
    assert run("api-credentials", "create", "--name", "Jira", "-p", "nql")[0] == 0

    for directory, found_by in ((below, "credgate.toml found"), (elsewhere, "user's default")):
        monkeypatch.chdir(directory)
        code, out, err = run("info", "--json")
        assert code == 0, err
        info = json.loads(out)
        assert info["data_dir"] == str(project / "var")
        assert info["initialised"] is True
        assert found_by in info["found_by"]
        code, listed, err = run("api-credentials", "list")
        assert code == 0, err
        assert "Jira" in listed
    assert not (elsewhere / "var").exists(), "no second instance"


def test_credgate_home_names_the_instance(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = bare / "home"
    monkeypatch.setenv("CREDGATE_HOME", str(home))
    monkeypatch.chdir(bare)
    assert run("init")[0] == 0
    assert (home / "var" / "master.key").is_file()
    _code, out, _ = run("info", "--json")
    assert json.loads(out)["found_by"] == "CREDGATE_HOME"
    assert json.loads(out)["home"] == str(home)


def test_an_instance_that_is_not_there_is_named(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGATE_HOME", str(bare / "nothing"))
    err = refused("api-credentials", "list")
    assert f"no credgate instance at {bare / 'nothing' / 'var'}" in err
    assert "CREDGATE_HOME" in err
    assert len(err.strip().splitlines()) == 1


# Configuration and connection problems: one line, exit 2 ----------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = \n", "not valid TOML: Invalid value (at line 1, column 8)"),
        ("prot = 9000\n", "unknown setting 'prot' (did you mean 'port'?)"),
        ('port = "many"\n', "CREDGATE_PORT"),
        ("log_level = 'LOUD'\n", "CREDGATE_LOG_LEVEL"),
    ],
)
def test_a_bad_configuration_file_is_one_line(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, message: str
) -> None:
    config = tmp_path / "credgate.toml"
    config.write_text(content)
    monkeypatch.setenv("CREDGATE_CONFIG_FILE", str(config))
    code, out, err = run("info")
    assert code == 2, out
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_config_file_is_an_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDGATE_CONFIG_FILE", "/nonexistent/credgate.toml")
    err = refused("init")
    assert err.strip() == (
        "error: invalid configuration: CREDGATE_CONFIG_FILE: no such file: "
        "/nonexistent/credgate.toml"
    )


def test_an_unreachable_database_is_one_line(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import free_port

    port = free_port()
    monkeypatch.setenv("CREDGATE_DATABASE_URL", f"postgresql+psycopg://u:pw@127.0.0.1:{port}/x")
    for args in (["init"], ["api-credentials", "list"]):
        err = refused(*args)
        assert err.startswith(
            f"error: cannot open the database postgresql+psycopg://u:***@127.0.0.1:{port}/x: "
        )
        assert "pw" not in err.replace("psycopg", "")
        assert len(err.strip().splitlines()) == 1


def test_serve_on_a_busy_port_says_so_before_starting(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # serve passes --port on to its workers through CREDGATE_PORT: undone after this test.
        monkeypatch.setenv("CREDGATE_PORT", str(port))
        code, out, err = run("serve", "--port", str(port))
    assert code == 2
    assert "serving on" not in out + err
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "--port" in err
    assert len(err.strip().splitlines()) == 1


# Consistent output --------------------------------------------------------------------------------


def test_help_names_what_options_take() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "credgate", "connector-credentials", "create", "--help"],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        check=True,
    )
    for python_type in ("<str>", "<bool>", "<list[str]>", "<int>"):
        assert python_type not in result.stdout
    assert "-f, --file FILE" in result.stdout
    assert "-F, --field NAME=VALUE" in result.stdout
    assert "--data" not in result.stdout, "the older spelling is a hidden alias"


def _leaf_commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(group, "commands", None)
    if not subs:
        return [path]
    return [leaf for name, sub in subs.items() for leaf in _leaf_commands(sub, (*path, name))]


def test_no_help_names_a_python_type() -> None:
    """Every command's help, options and arguments alike, as the entry point builds it."""
    import contextlib
    import io

    from credgate.cli import command

    root = command()
    leaves = _leaf_commands(root)
    assert ("webhooks", "show") in leaves
    python_type = re.compile(r"<(?:str|bool|int|float|file|path|list\[[^>]*\]|[a-z]+ range)>")
    for leaf in leaves:
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
            root.main([*leaf, "--help"], prog_name="credgate", standalone_mode=False)
        assert "Usage: credgate" in shown.getvalue(), leaf
        found = python_type.findall(shown.getvalue())
        assert not found, (" ".join(leaf), found)


def test_did_you_mean(env: dict[str, str]) -> None:
    assert run("init")[0] == 0
    err = refused("api-credentials", "create", "--name", "x", "-p", "Workflows")
    assert "--permission: unknown permission 'Workflows' (did you mean 'workflows'?)" in err
    err = refused("api-credentails", "list")
    assert "Did you mean 'api-credentials'" in err
    err = refused("platform", "list", "workflow")
    assert "(did you mean 'workflows'?)" in err


def test_lists_are_aligned_tables(env: dict[str, str]) -> None:
    assert run("init")[0] == 0
    for name in ("a", "a much longer name"):
        assert run("api-credentials", "create", "--name", name, "-p", "nql")[0] == 0
    _code, out, _ = run("api-credentials", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["CLIENT", "ID", "NAME", "STATE", "PERMISSIONS"]
    assert lines[-1] == "2 of 2 API credential(s)"
    starts = {line.index("enabled") for line in lines[1:-1]}
    assert len(starts) == 1
    assert lines[0].index("STATE") in starts


def test_file_and_its_hidden_alias(env: dict[str, str], tmp_path: Path) -> None:
    assert run("init")[0] == 0
    body = {"id": "#restart", "name": "Restart", "description": "restart a service"}
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(body))
    code, out, err = run("platform", "create", "workflows", "--file", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "Restart"
    code, out, err = run(
        "platform",
        "create",
        "workflows",
        "--data",
        json.dumps({**body, "id": "#other", "name": "Other"}),
    )
    assert code == 0, err
    err = refused("platform", "create", "workflows", "--file", str(tmp_path / "none.json"))
    assert "--file: cannot read" in err
