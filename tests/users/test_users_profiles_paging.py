"""Profiles page by keyset cursor over REST and the CLI (they have no list page)."""

from __future__ import annotations

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.container import Container
from credgate.core.audit.services import Actor
from support import cli_env, paging

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
    assert paging.rest_list(admin_client, f"{API}?limit=2", "name", limit=2, total=5) == NAMES
    found = admin_client.get(API, params={"q": "HARL"}).json()
    assert [item["name"] for item in found["items"]] == ["charlie"]
    paging.assert_rest_rejects(
        admin_client, API, [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25", "cursor")]
    )


def test_cli_pages_and_streams(container: Container) -> None:
    _seed(container)
    env = cli_env(container)
    runner = CliRunner()
    more = paging.cli_second_page(
        runner, ["profiles", "list"], env, "2 of 5 profile(s)", last="bravo", then="charlie"
    )
    assert "bravo" not in more
    every = paging.cli_list_json(runner, ["profiles", "list"], env)
    assert [row["name"] for row in every] == NAMES
