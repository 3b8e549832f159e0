"""The API-credential list pages: keyset cursors, limits, search, next links; REST, UI and CLI."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.apicredentials.services import ApiCredentialService
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.errors import InvalidInputError
from credgate.core.paging import PageRequest
from support import cli_env, paging

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
    seen = paging.rest_list(admin_client, url, "name", limit=4, total=7, hidden='"client_secret"')
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


def test_list_page_pages_and_searches(ui: TestClient, container: Container) -> None:
    _seed(container.api_credentials)
    row = r"<tr data-client-id="
    second = paging.console_next_page(
        ui, "/admin/api-credentials?limit=3", shown=3, total=7, row=row, moved=("alpha", "delta")
    )
    assert 'rel="first"' in second.text
    found = paging.console_search(ui, "/admin/api-credentials?q=echo", row)
    assert 'value="echo"' in found.text
    bad = paging.console_rejects(ui, "/admin/api-credentials?limit=many", "Limit")
    assert len(re.findall(r"<tr data-client-id=", bad.text)) == 7


def test_cli_list_pages_and_streams_everything(container: Container) -> None:
    _seed(container.api_credentials)
    env = cli_env(container)
    runner = CliRunner()
    paging.cli_second_page(
        runner,
        ["api-credentials", "list"],
        env,
        "2 of 7 API credential(s)",
        last="bravo",
        then="charlie",
    )
    every = paging.cli_list_json(runner, ["api-credentials", "list"], env)
    assert [row["name"] for row in every] == NAMES
    paging.assert_cli_rejects_limit(runner, ["api-credentials", "list"], "0", env)
