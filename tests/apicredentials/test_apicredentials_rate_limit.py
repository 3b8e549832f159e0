"""A credential's own rate limit, set from the command line and the administration pages."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app
from support import csrf_field, sign_in


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CREDGATE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(tmp_path / "var"))
    assert _run("init")[0] == 0


@pytest.mark.usefixtures("installation")
def test_cli_sets_shows_and_clears_the_limit() -> None:
    code, out, err = _run(
        "api-credentials", "create", "--name", "Jira", "-p", "nql", "--rate-limit", "60/minute"
    )
    assert code == 0, err
    assert "rate limit:   60/minute" in out
    code, out, _ = _run(
        "api-credentials", "update", "Jira", "--rate-limit", "10 per hour", "--json"
    )
    assert json.loads(out)["rate_limit"] == "10 per hour"
    code, out, _ = _run("api-credentials", "update", "Jira", "--rate-limit", "", "--json")
    assert json.loads(out)["rate_limit"] is None
    code, out, _ = _run("api-credentials", "show", "Jira")
    assert "rate limit:   (each API family's own)" in out


@pytest.mark.usefixtures("installation")
@pytest.mark.parametrize(
    "args",
    [
        ["create", "--name", "x", "-p", "nql", "--rate-limit", "often"],
        ["update", "Jira", "--rate-limit", "3/fortnight"],
    ],
)
def test_cli_refuses_a_bad_limit_in_one_line(args: list[str]) -> None:
    assert _run("api-credentials", "create", "--name", "Jira", "-p", "nql")[0] == 0
    code, _, err = _run("api-credentials", *args)
    assert code == 2
    assert err.strip().count("\n") == 0, err
    assert "rate_limit:" in err
    assert "is not a rate limit" in err


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_page_sets_and_shows_the_limit(client: TestClient) -> None:
    sign_in(client)
    form = client.get("/admin/api-credentials/new")
    assert 'name="rate_limit"' in form.text

    def create(rate_limit: str) -> Any:
        return client.post(
            "/admin/api-credentials",
            data={
                "csrf_token": csrf_field(form.text),
                "name": "Jira",
                "permissions": "nql",
                "rate_limit": rate_limit,
            },
        )

    refused = create("plenty")
    assert refused.status_code == 422
    assert "is not a rate limit" in refused.text
    assert 'aria-invalid="true"' in refused.text.split('id="f-rate_limit"')[1].split(">")[0]
    created = create("30/minute")
    assert created.status_code == 200
    assert "Rate limit: 30/minute" in created.text
    client_id = re.findall(r"/admin/api-credentials/([0-9a-z]{20,})", created.text)[0]
    edit = client.get(f"/admin/api-credentials/{client_id}")
    assert 'value="30/minute"' in edit.text
