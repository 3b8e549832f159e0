"""Administrators and admin API tokens page by keyset cursor: REST, pages and the CLI."""

from __future__ import annotations

import re

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.paging import PageRequest
from support import cli_env, paging

ACTOR = Actor("tests", "pytest")
OTHERS = ["bob", "carol", "dave", "erin_x"]
PASSWORD = "a long enough password 1"
API = "/admin/api/v1"
BAD_PAGING = [("limit=0", "limit"), ("limit=x", "limit"), ("cursor=%25", "cursor")]


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
    admins = paging.rest_list(admin_client, f"{API}/admins?limit=2", "username", limit=2, total=5)
    assert admins == ["admin", *OTHERS]
    # the admin_client's own token ("tests") was issued first, so it comes last
    tokens = paging.rest_list(admin_client, f"{API}/admin-tokens?limit=2", "name", limit=2, total=6)
    assert tokens == [*newest_first, "tests"]
    everyone = admin_client.get(f"{API}/admin-tokens", params={"admin": "*", "limit": 3}).json()
    assert everyone["total"] == 7
    assert "admin=%2A" in everyone["next"]
    found = admin_client.get(f"{API}/admins", params={"q": "car"}).json()
    assert [a["username"] for a in found["items"]] == ["carol"]
    for path in ("admins", "admin-tokens"):
        paging.assert_rest_rejects(admin_client, f"{API}/{path}", BAD_PAGING)


def test_pages_show_the_pager(ui: TestClient, container: Container) -> None:
    newest_first = _seed(container)
    second = paging.console_next_page(
        ui, "/admin/administrators?limit=2", shown=2, total=5, row=r"<tr data-username="
    )
    assert re.findall(r'<tr data-username="([^"]+)"', second.text) == ["carol", "dave"]
    paging.console_rejects(ui, "/admin/administrators?limit=0", "Limit")

    second = paging.console_next_page(ui, "/admin/account?limit=2", shown=2, total=5)
    shown = re.findall(r'<tr data-token-id="\d+">\s*<th scope="row">([^<]+)</th>', second.text)
    assert shown == newest_first[2:4]


def test_cli_lists_page_and_stream(container: Container) -> None:
    newest_first = _seed(container)
    env = cli_env(container)
    runner = CliRunner()
    more = paging.cli_second_page(
        runner, ["admins", "list"], env, "2 of 5 administrator(s)", last="bob", then="carol"
    )
    assert "bob" not in more
    mine = paging.cli_list_json(runner, ["admins", "tokens", "list", "admin"], env)
    assert [row["name"] for row in mine] == newest_first
    found = runner.invoke(cli_app, ["admins", "tokens", "list", "--search", "bob's"], env=env)
    assert "1 of 1 token(s)" in found.stdout
    paging.assert_cli_rejects_limit(runner, ["admins", "tokens", "list"], "501", env)
