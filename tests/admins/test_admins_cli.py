"""``credgate admins``: tokens with lifetimes, listing and revoking, accounts and passwords.

Passwords are typed at a prompt (here: the runner's input, and once a real terminal), never
given as arguments.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from credgate.cli import app
from credgate.container import Container
from credgate.core.config import load_settings

SRC = str(Path(__file__).resolve().parents[2] / "src")
NEW_PASSWORD = "a new password typed twice"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def installed(cli_home: Path) -> str:
    """An installation made by ``credgate init``; returns the administrator's password."""
    code, out, _ = run("init")
    assert code == 0, out
    return out.split("password:")[1].split()[0]


@contextlib.contextmanager
def _open() -> Iterator[Container]:
    """The installation, opened the way the CLI opens it, to check what a command did."""
    rt = Container.open(load_settings())
    try:
        yield rt
    finally:
        rt.close()


def test_token_lifetime_list_and_revoke(installed: str) -> None:
    code, out, _ = run("admins", "token", "admin", "--name", "ci", "--expires-in", "12h", "--json")
    assert code == 0, out
    issued = json.loads(out)
    token = issued["token"]
    lifetime = dt.datetime.fromisoformat(issued["expires_at"]) - dt.datetime.fromisoformat(
        issued["created_at"]
    )
    assert lifetime.total_seconds() == 12 * 3600
    code, out, _ = run("admins", "token", "admin")  # the old form still works: 30 days
    assert code == 0
    assert "admin API token: cgat_" in out
    assert "(shown once; expires" in out

    code, listed, _ = run("admins", "tokens", "list")
    assert code == 0
    *table, count = listed.splitlines()
    assert count == "2 of 2 token(s)"
    rows = [line.split() for line in table]
    assert rows[0] == ["ADMIN", "NAME", "CREATED", "LAST", "USED", "EXPIRES"]
    assert {(r[0], r[1], r[3]) for r in rows[1:]} == {
        ("admin", "ci", "never"),
        ("admin", "cli", "never"),
    }
    assert token not in listed
    assert "cgat_" not in listed
    code, as_json, _ = run("admins", "tokens", "list", "admin", "--json")
    rows = json.loads(as_json)
    assert {r["name"] for r in rows} == {"ci", "cli"}
    assert all(set(r) == set(rows[0]) and "token" not in r for r in rows)

    with _open() as rt:
        assert rt.admins.check_token(token) is not None
    code, out, _ = run("admins", "tokens", "revoke", "admin", "ci")
    assert code == 0, out
    with _open() as rt:
        assert rt.admins.check_token(token) is None
    code, listed, _ = run("admins", "tokens", "list")
    assert [line.split()[1] for line in listed.splitlines()[1:-1]] == ["cli"]
    code, _, err = run("admins", "tokens", "revoke", "admin", "ci")
    assert code == 2
    assert err.strip() == "error: 'admin' has no admin API token named 'ci'"


def test_bad_token_options_get_one_line_errors(installed: str) -> None:
    assert run("admins", "token", "admin", "--name", "ci")[0] == 0
    for args, message in (
        (["--name", "ci"], "error: name: this administrator already has a token with this name"),
        (["--name", "x", "--expires-in", "400d"], "error: expires_in: must be at most 365 days"),
        (["--name", "x", "--expires-in", "0"], "error: expires_in: must be at least one minute"),
        (
            ["--name", "x", "--expires-in", "soon"],
            "error: --expires-in: 'soon' is not a duration; use e.g. 90s, 30m, 1h or 2d",
        ),
        (["--name", ""], "error: name: must be 1 to 200 characters"),
    ):
        code, out, err = run("admins", "token", "admin", *args)
        assert code == 2, (args, out)
        assert err.strip() == message
        assert "Traceback" not in err


def test_change_password_prompts_and_never_takes_it_as_an_argument(installed: str) -> None:
    code, _, err = run("admins", "change-password", "admin", "--password", NEW_PASSWORD)
    assert code == 2
    assert "No such option" in err
    code, _, err = run("admins", "change-password", "admin", NEW_PASSWORD)
    assert code == 2  # no second argument either

    typed = f"not the password\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    code, out, err = run("admins", "change-password", "admin", input=typed)
    assert code == 2
    assert err.strip() == "error: current_password: is not the password of this administrator"

    typed = f"{installed}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n"
    code, out, err = run("admins", "change-password", "admin", input=typed)
    assert code == 0, err
    assert "changed the password of 'admin'" in out
    assert NEW_PASSWORD not in out + err
    assert installed not in out + err
    with _open() as rt:
        assert rt.admins.check_password("admin", NEW_PASSWORD) is not None
        assert rt.admins.check_password("admin", installed) is None


def test_reset_password_generates_or_prompts(installed: str) -> None:
    code, _, _ = run("admins", "create", "bob", input="bob's first password\n" * 2)
    assert code == 0
    code, out, _ = run("admins", "reset-password", "bob")
    assert code == 0
    generated = out.split("new password for 'bob': ")[1].split()[0]
    assert "(shown once)" in out
    with _open() as rt:
        assert rt.admins.check_password("bob", generated) is not None

    code, out, _ = run("admins", "reset-password", "bob", "--prompt", input=f"{NEW_PASSWORD}\n" * 2)
    assert code == 0
    assert NEW_PASSWORD not in out
    with _open() as rt:
        assert rt.admins.check_password("bob", NEW_PASSWORD) is not None
    code, _, err = run("admins", "reset-password", "bob", "--prompt", input="too short\n" * 2)
    assert code == 2
    assert err.strip() == "error: new_password: must be 12 to 1000 characters"
    code, _, err = run("admins", "reset-password", "nobody")
    assert err.strip() == "error: no administrator named 'nobody'"


def test_disable_enable_and_the_last_active_administrator(installed: str) -> None:
    assert run("admins", "create", "bob", input="bob's first password\n" * 2)[0] == 0
    code, out, _ = run("admins", "disable", "bob")
    assert code == 0
    assert out.strip() == "disabled administrator 'bob'"
    code, _, err = run("admins", "disable", "admin")
    assert code == 2
    assert err.strip() == (
        "error: disabled: this is the last active administrator; enable or create another first"
    )
    code, listed, _ = run("admins", "list")
    assert [line.split()[:2] for line in listed.splitlines()[1:-1]] == [
        ["admin", "active"],
        ["bob", "disabled"],
    ]
    assert listed.splitlines()[-1] == "2 of 2 administrator(s)"
    with _open() as rt:
        assert rt.admins.check_password("bob", "bob's first password") is None
    assert run("admins", "enable", "bob")[0] == 0
    with _open() as rt:
        assert rt.admins.check_password("bob", "bob's first password") is not None


def test_a_real_terminal_does_not_echo_the_passwords(installed: str, tmp_path: Path) -> None:
    """``credgate admins change-password`` in a pseudo-terminal, as a person types."""
    main, follower = os.openpty()
    env = {**os.environ, "PYTHONPATH": SRC, "TERM": "dumb"}
    process = subprocess.Popen(
        [sys.executable, "-m", "credgate", "admins", "change-password", "admin"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    screen = b""

    def read_until(marker: bytes) -> None:
        nonlocal screen
        deadline = time.monotonic() + 60
        while marker not in screen:
            assert time.monotonic() < deadline, screen
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    screen += os.read(main, 4096)
                except OSError:  # the terminal closed
                    break

    try:
        # The space after the colon comes from getpass once it has turned echo off; typing
        # earlier would be echoed and then flushed, as it is for a person typing ahead.
        for prompt, typed in (
            (b"Current password: ", installed),
            (b"New password: ", NEW_PASSWORD),
            (b"Repeat for confirmation: ", NEW_PASSWORD),
        ):
            read_until(prompt)
            os.write(main, f"{typed}\n".encode())
        read_until(b"their sessions have ended")
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    text = screen.decode(errors="replace")
    assert "changed the password of 'admin'" in text
    assert installed not in text
    assert NEW_PASSWORD not in text
    with _open() as rt:
        assert rt.admins.check_password("admin", NEW_PASSWORD) is not None
