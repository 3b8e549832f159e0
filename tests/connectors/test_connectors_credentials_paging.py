"""Connector credentials page by keyset cursor: service, REST, the list page and the CLI."""

from __future__ import annotations

from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.paging import PageRequest
from support import cli_env, paging

ACTOR = Actor("tests", "pytest")
NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "fox_trot", "golf"]
BASE = "/admin/api/v1/connector-credentials"


def _seed(container: Container) -> None:
    for index, name in enumerate(reversed(NAMES)):  # out of order: the list sorts by name
        container.connector_credentials.create(
            {
                "name": name,
                "protocol": "HTTPS",
                "url": f"https://{name.replace('_', '-')}.example.com/",
                "authorization": {"type": "NONE"},
            },
            actor=ACTOR,
        )
        if index == 0:
            container.connector_credentials.create(
                {
                    "name": "zulu files",
                    "protocol": "SFTP",
                    "url": "sftp://sftp.example.com:22/",
                    "authorization": {
                        "username": "exporter",
                        "password": "Pw-sftp-paging-1",
                        "host_key": "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlz"
                        "dHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT"
                        "/y6v0mKV0U2w0WZ2YB/++Tpockg=",
                    },
                },
                actor=ACTOR,
            )


def test_pages_by_name_with_protocol_and_search(container: Container) -> None:
    service = container.connector_credentials
    _seed(container)
    seen: list[str] = []
    wanted = PageRequest(limit=3)
    while True:
        page = service.page(wanted, protocol="https")
        assert page.total == 7
        seen += [c.name for c in page.items]
        if page.next_cursor is None:
            break
        wanted = wanted.after(page.next_cursor)
    assert seen == NAMES
    assert service.page(PageRequest()).total == 8
    assert [c.name for c in service.page(PageRequest(), protocol="SFTP").items] == ["zulu files"]
    by_url = service.page(PageRequest(q="FOX-TROT.example"))
    assert [c.name for c in by_url.items] == ["fox_trot"]
    assert [c.name for c in service.page(PageRequest(q="_")).items] == ["fox_trot"]


def test_rest_follows_next_links_and_rejects_bad_paging(
    admin_client: TestClient, container: Container
) -> None:
    _seed(container)
    url = f"{BASE}?limit=3&protocol=HTTPS"
    assert paging.rest_list(admin_client, url, "name", limit=3, total=7, hidden="Pw-sftp") == NAMES
    found = admin_client.get(BASE, params={"q": "zulu"}).json()
    assert [item["name"] for item in found["items"]] == ["zulu files"]
    paging.assert_rest_rejects(
        admin_client,
        BASE,
        [
            *paging.BAD_PAGING,
            ("cursor=W1tdXQ", "cursor"),  # [[]]: a list, but not of this list's values
            ("protocol=FTP", "protocol"),
        ],
    )


def test_list_page_shows_the_pager(ui: TestClient, container: Container) -> None:
    _seed(container)
    url = "/admin/connector-credentials"
    row = r"<tr data-id="
    paging.console_next_page(
        ui, f"{url}?limit=3", shown=3, total=8, row=row, moved=(">alpha<", ">delta<")
    )
    paging.console_search(ui, f"{url}?q=golf", row)
    paging.console_rejects(ui, f"{url}?cursor=%25", "Cursor")


def test_cli_streams_every_page(container: Container) -> None:
    _seed(container)
    env = cli_env(container)
    every = paging.cli_list_json(CliRunner(), ["connector-credentials", "list"], env)
    assert [row["name"] for row in every] == [*NAMES, "zulu files"]
