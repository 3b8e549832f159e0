"""Profiles page by keyset cursor over REST and the CLI (they have no list page)."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import cli_env

ACTOR = Actor("tests", "pytest")
NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
API = "/admin/api/v1/profiles"


def _seed(container: Container) -> None:
    for name in reversed(NAMES):
        container.users.create_profile(name, data_privacy="none", finder_access=True, actor=ACTOR)


def test_rest_pages_searches_and_rejects_bad_paging(
    admin_client: TestClient, container: Container
) -> None:
    _seed(container)
    seen: list[str] = []
    url: str | None = f"{API}?limit=2"
    while url:
        body = admin_client.get(url).json()
        assert (body["total"], body["limit"]) == (5, 2)
        seen += [item["name"] for item in body["items"]]
        url = body["next"]
    assert seen == NAMES
    found = admin_client.get(API, params={"q": "HARL"}).json()
    assert [item["name"] for item in found["items"]] == ["charlie"]
    for query, field in [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25", "cursor")]:
        response = admin_client.get(f"{API}?{query}")
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_cli_pages_and_streams(container: Container) -> None:
    _seed(container)
    env = cli_env(container)
    runner = CliRunner()
    page = runner.invoke(cli_app, ["profiles", "list", "--limit", "2"], env=env)
    assert page.exit_code == 0, page.output
    assert "2 of 5 profile(s)" in page.stdout
    assert "charlie" not in page.stdout
    cursor = re.search(r"--cursor (\S+)", page.stderr)
    assert cursor
    more = runner.invoke(cli_app, ["profiles", "list", "--cursor", cursor.group(1)], env=env)
    assert "charlie" in more.stdout
    assert "bravo" not in more.stdout
    every = runner.invoke(cli_app, ["profiles", "list", "--all", "--json"], env=env)
    assert [row["name"] for row in json.loads(every.stdout)] == NAMES
