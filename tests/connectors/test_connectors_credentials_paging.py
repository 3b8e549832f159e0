"""Connector credentials page by keyset cursor: service, REST, the list page and the CLI."""

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
    seen: list[str] = []
    url: str | None = f"{BASE}?limit=3&protocol=HTTPS"
    while url:
        body = admin_client.get(url).json()
        assert (body["total"], body["limit"]) == (7, 3)
        assert all("Pw-sftp" not in json.dumps(item) for item in body["items"])
        seen += [item["name"] for item in body["items"]]
        url = body["next"]
    assert seen == NAMES
    found = admin_client.get(BASE, params={"q": "zulu"}).json()
    assert [item["name"] for item in found["items"]] == ["zulu files"]
    for query, field in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=501", "limit"),
        ("cursor=%25", "cursor"),
        ("cursor=W1tdXQ", "cursor"),  # [[]]: a list, but not of this list's values
        ("protocol=FTP", "protocol"),
    ]:
        response = admin_client.get(f"{BASE}?{query}")
        assert response.status_code == 422, query
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_list_page_shows_the_pager(client: TestClient, container: Container) -> None:
    _seed(container)
    assert sign_in(client).status_code == 303
    page = client.get("/admin/connector-credentials?limit=3")
    assert page.status_code == 200
    assert len(re.findall(r"<tr data-id=", page.text)) == 3
    assert "Showing 3 of 8" in page.text
    second = next_console_page(client, page)
    assert ">delta<" in second.text
    assert ">alpha<" not in second.text
    found = client.get("/admin/connector-credentials?q=golf")
    assert len(re.findall(r"<tr data-id=", found.text)) == 1
    bad = client.get("/admin/connector-credentials?cursor=%25")
    assert bad.status_code == 422
    assert "Cursor" in bad.text


def test_cli_streams_every_page(container: Container) -> None:
    _seed(container)
    env = cli_env(container)
    every = CliRunner().invoke(
        cli_app, ["connector-credentials", "list", "--all", "--json"], env=env
    )
    assert every.exit_code == 0, every.output
    assert [row["name"] for row in json.loads(every.stdout)] == [*NAMES, "zulu files"]
