"""Administrators and admin API tokens page by keyset cursor: REST, pages and the CLI."""

from __future__ import annotations

import json
import re

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.paging import PageRequest
from support import cli_env, next_console_page, sign_in

ACTOR = Actor("tests", "pytest")
OTHERS = ["bob", "carol", "dave", "erin_x"]
PASSWORD = "a long enough password 1"
API = "/admin/api/v1"


def _seed(container: Container) -> list[str]:
    """Four more administrators, and five tokens of the first administrator's issued in one
    burst (some share a creation time, so the id orders them). Answers the token names,
    newest first."""
    for name in reversed(OTHERS):
        container.admins.create(name, PASSWORD, actor=ACTOR)
    names = [f"token-{index}" for index in range(5)]
    for name in names:
        container.admins.issue_token("admin", name, actor=ACTOR)
    container.admins.issue_token("bob", "bob's", actor=ACTOR)
    return names[::-1]


def test_services_page_admins_by_name_and_tokens_newest_first(container: Container) -> None:
    newest_first = _seed(container)
    admins = container.admins
    first = admins.admins_page(PageRequest(limit=2))
    assert [a.username for a in first.items] == ["admin", "bob"]
    assert first.total == 5
    rest = admins.admins_page(PageRequest(limit=10, cursor=first.next_cursor))
    assert [a.username for a in rest.items] == ["carol", "dave", "erin_x"]
    assert [a.username for a in admins.admins_page(PageRequest(q="_")).items] == ["erin_x"]
    seen: list[str] = []
    wanted = PageRequest(limit=2)
    while True:
        page = admins.tokens_page(wanted, "admin")
        assert page.total == 5
        assert {t.admin for t in page.items} == {"admin"}
        seen += [t.name for t in page.items]
        if page.next_cursor is None:
            break
        wanted = wanted.after(page.next_cursor)
    assert seen == newest_first
    everyone = admins.tokens_page(PageRequest())
    assert everyone.total == 6
    assert ("bob", "bob's") in {(t.admin, t.name) for t in everyone.items}
    assert [t.name for t in admins.tokens_page(PageRequest(q="KEN-3")).items] == ["token-3"]


def test_rest_lists_page_and_reject_bad_paging(
    admin_client: TestClient, container: Container
) -> None:
    newest_first = _seed(container)
    for url, key, expected in [
        (f"{API}/admins?limit=2", "username", ["admin", *OTHERS]),
        # the admin_client's own token ("tests") was issued first, so it comes last
        (f"{API}/admin-tokens?limit=2", "name", [*newest_first, "tests"]),
    ]:
        seen: list[str] = []
        next_url: str | None = url
        while next_url:
            response = admin_client.get(next_url)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["limit"] == 2
            seen += [item[key] for item in body["items"]]
            next_url = body["next"]
        assert seen == expected
    everyone = admin_client.get(f"{API}/admin-tokens", params={"admin": "*", "limit": 3}).json()
    assert everyone["total"] == 7
    assert "admin=%2A" in everyone["next"]
    found = admin_client.get(f"{API}/admins", params={"q": "car"}).json()
    assert [a["username"] for a in found["items"]] == ["carol"]
    for path in ("admins", "admin-tokens"):
        for query, field in [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25", "cursor")]:
            response = admin_client.get(f"{API}/{path}?{query}")
            assert response.status_code == 422, (path, query)
            assert [e["field"] for e in response.json()["errors"]] == [field]


def test_pages_show_the_pager(client: TestClient, container: Container) -> None:
    newest_first = _seed(container)
    assert sign_in(client).status_code == 303
    page = client.get("/admin/administrators?limit=2")
    assert page.status_code == 200
    assert len(re.findall(r"<tr data-username=", page.text)) == 2
    assert "Showing 2 of 5" in page.text
    second = next_console_page(client, page)
    assert re.findall(r'<tr data-username="([^"]+)"', second.text) == ["carol", "dave"]
    bad = client.get("/admin/administrators?limit=0")
    assert bad.status_code == 422
    assert "Limit" in bad.text

    account = client.get("/admin/account?limit=2")
    assert account.status_code == 200
    assert "Showing 2 of 5" in account.text
    second = next_console_page(client, account)
    shown = re.findall(r'<tr data-token-id="\d+">\s*<th scope="row">([^<]+)</th>', second.text)
    assert shown == newest_first[2:4]


def test_cli_lists_page_and_stream(container: Container) -> None:
    newest_first = _seed(container)
    env = cli_env(container)
    runner = CliRunner()
    page = runner.invoke(cli_app, ["admins", "list", "--limit", "2"], env=env)
    assert page.exit_code == 0, page.output
    assert "2 of 5 administrator(s)" in page.stdout
    cursor = re.search(r"--cursor (\S+)", page.stderr)
    assert cursor
    more = runner.invoke(cli_app, ["admins", "list", "--cursor", cursor.group(1)], env=env)
    assert "carol" in more.stdout
    assert "bob" not in more.stdout
    mine = runner.invoke(cli_app, ["admins", "tokens", "list", "admin", "--all", "--json"], env=env)
    assert mine.exit_code == 0, mine.output
    assert [row["name"] for row in json.loads(mine.stdout)] == newest_first
    found = runner.invoke(cli_app, ["admins", "tokens", "list", "--search", "bob's"], env=env)
    assert "1 of 1 token(s)" in found.stdout
    bad = runner.invoke(cli_app, ["admins", "tokens", "list", "--limit", "501"], env=env)
    assert bad.exit_code == 2
    assert "limit: must be between 1 and 500" in bad.stderr
