"""The API-credential list pages: keyset cursors, limits, search, next links; REST, UI and CLI."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.apicredentials.services import ApiCredentialService
from credgate.cli import app as cli_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.errors import InvalidInputError
from credgate.core.paging import PageRequest
from support import cli_env, next_console_page, sign_in

ACTOR = Actor("tests", "pytest")
NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "fox_trot", "golf"]


def _seed(service: ApiCredentialService, names: list[str] = NAMES) -> dict[str, str]:
    ids = {}
    for name in reversed(names):  # inserted out of order: the list sorts by name
        ids[name] = service.create(name=name, permissions=["nql"], actor=ACTOR).credential.client_id
    return ids


def test_pages_follow_each_other_and_stay_stable(container: Container) -> None:
    service = container.api_credentials
    _seed(service)
    first = service.page(PageRequest(limit=3))
    assert [c.name for c in first.items] == ["alpha", "bravo", "charlie"]
    assert first.total == 7
    assert first.next_cursor
    # Rows added and removed before the cursor do not shift the next page.
    service.delete(first.items[0].client_id, actor=ACTOR)
    service.create(name="aardvark", permissions=["nql"], actor=ACTOR)
    second = service.page(PageRequest(limit=3, cursor=first.next_cursor))
    assert [c.name for c in second.items] == ["delta", "echo", "fox_trot"]
    last = service.page(PageRequest(limit=3, cursor=second.next_cursor))
    assert [c.name for c in last.items] == ["golf"]
    assert last.next_cursor is None
    assert len(service.list()) == 7


def test_search_by_name_or_client_id_and_wildcards_are_literal(container: Container) -> None:
    service = container.api_credentials
    ids = _seed(service)
    assert [c.name for c in service.page(PageRequest(q="HARL")).items] == ["charlie"]
    assert [c.name for c in service.page(PageRequest(q=ids["echo"])).items] == ["echo"]
    assert [c.name for c in service.page(PageRequest(q="_")).items] == ["fox_trot"]
    assert service.page(PageRequest(q="%")).total == 0


def test_bad_paging_values_name_their_field() -> None:
    for limit, message in [("0", "between"), ("501", "between"), ("ten", "whole number")]:
        with pytest.raises(InvalidInputError) as caught:
            PageRequest.parse(limit=limit)
        assert caught.value.errors[0].field == "limit"
        assert message in caught.value.errors[0].message
    with pytest.raises(InvalidInputError) as caught:
        PageRequest.parse(cursor="not-a-cursor!", q="x" * 201)
    assert {e.field for e in caught.value.errors} == {"cursor", "q"}


def test_rest_list_has_totals_and_next_links(
    admin_client: TestClient, container: Container
) -> None:
    _seed(container.api_credentials)
    url = "/admin/api/v1/api-credentials?limit=4"
    seen: list[str] = []
    while url:
        response = admin_client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 7
        assert body["limit"] == 4
        assert all("client_secret" not in item for item in body["items"])
        seen += [item["name"] for item in body["items"]]
        url = body["next"]
        assert (url is None) == (body["next_cursor"] is None)
    assert seen == NAMES
    found = admin_client.get("/admin/api/v1/api-credentials", params={"q": "golf"}).json()
    assert [item["name"] for item in found["items"]] == ["golf"]
    assert found["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=501", "limit"),
        ("cursor=%25", "cursor"),
    ],
)
def test_rest_list_rejects_bad_paging(admin_client: TestClient, query: str, field: str) -> None:
    response = admin_client.get(f"/admin/api/v1/api-credentials?{query}")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_list_page_pages_and_searches(client: TestClient, container: Container) -> None:
    _seed(container.api_credentials)
    assert sign_in(client).status_code == 303
    page = client.get("/admin/api-credentials?limit=3")
    assert page.status_code == 200
    assert len(re.findall(r"<tr data-client-id=", page.text)) == 3
    assert "Showing 3 of 7" in page.text
    second = next_console_page(client, page)
    assert "delta" in second.text
    assert "alpha" not in second.text
    assert 'rel="first"' in second.text
    found = client.get("/admin/api-credentials?q=echo")
    assert len(re.findall(r"<tr data-client-id=", found.text)) == 1
    assert 'value="echo"' in found.text
    bad = client.get("/admin/api-credentials?limit=many")
    assert bad.status_code == 422
    assert "Limit" in bad.text
    assert len(re.findall(r"<tr data-client-id=", bad.text)) == 7


def test_cli_list_pages_and_streams_everything(container: Container) -> None:
    _seed(container.api_credentials)
    env = cli_env(container)
    runner = CliRunner()
    page = runner.invoke(cli_app, ["api-credentials", "list", "--limit", "2"], env=env)
    assert page.exit_code == 0, page.output
    assert "2 of 7 API credential(s)" in page.stdout
    assert "bravo" in page.stdout
    assert "charlie" not in page.stdout
    cursor = re.search(r"--cursor (\S+)", page.stderr)
    assert cursor
    more = runner.invoke(
        cli_app, ["api-credentials", "list", "--limit", "2", "--cursor", cursor.group(1)], env=env
    )
    assert "charlie" in more.stdout
    every = runner.invoke(cli_app, ["api-credentials", "list", "--all", "--json"], env=env)
    assert every.exit_code == 0, every.output
    assert [row["name"] for row in json.loads(every.stdout)] == NAMES
    bad = runner.invoke(cli_app, ["api-credentials", "list", "--limit", "0"], env=env)
    assert bad.exit_code == 2
    assert "limit: must be between 1 and 500" in bad.stderr
