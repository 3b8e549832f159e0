"""The NXQL editor page: behind classic Basic authentication, over the engine of /2/query."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from support_classic import basic, finder_inventory

from credgate.container import Container

DEVICES = [
    {"name": "alpha", "ram_gb": 16, "platform": "windows"},
    {"name": "beta", "ram_gb": 8, "platform": "mac_os"},
    {"name": "gamma", "ram_gb": None, "platform": "windows"},
]
QUERY = "(select (name ram_gb) (from device) (order_by name asc))"


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def editor(container: Container, client: TestClient) -> TestClient:
    return finder_inventory(container, client, DEVICES)


def _cells(page: str) -> list[list[str]]:
    body = page.split('<table id="results">')[1].split("</tbody>")[0].split("<tbody>")[1]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("<tr>")[1:]]


def test_the_editor_asks_for_basic_authentication(editor: TestClient) -> None:
    refused = editor.get("/2/editor/")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    wrong = editor.get("/2/editor/", headers=basic("finder", "not the password"))
    assert wrong.status_code == 401
    page = editor.get("/2/editor/", headers=basic("finder"))
    assert page.status_code == 200
    assert '<label for="f-query">Query</label>' in page.text
    assert "Signed in as <strong>finder</strong>" in page.text
    assert 'id="results"' not in page.text  # nothing asked yet


def test_the_editor_shows_the_rows_of_query_and_links_to_the_same_answer(
    editor: TestClient,
) -> None:
    page = editor.get(
        "/2/editor/",
        params={"query": QUERY, "platform": "windows", "format": "csv"},
        headers=basic("finder"),
    )
    assert page.status_code == 200, page.text
    assert _cells(page.text) == [["alpha", "16"], ["gamma", "—"]]
    assert '<p class="count" id="total">2 rows' in page.text
    assert "name,ram_gb" in page.text  # the CSV as /2/query answers it
    link = re.search(r'href="(/2/query\?[^"]+)" id="download"', page.text)
    assert link
    same = editor.get(link.group(1).replace("&amp;", "&"), headers=basic("finder"))
    assert same.status_code == 200
    assert same.text.splitlines() == ["name,ram_gb", "alpha,16", "gamma,"]


def test_the_editor_names_what_is_wrong(editor: TestClient) -> None:
    page = editor.get(
        "/2/editor/",
        params={"query": "(select (name) (from nowhere))", "format": "xml"},
        headers=basic("finder"),
    )
    assert page.status_code == 422
    assert 'role="alert"' in page.text
    assert '<a href="#f-query"><strong>Query</strong></a>' in page.text
    assert "(select (name) (from nowhere))" in page.text  # what was typed is kept
    assert (
        'id="f-query" name="query" rows="5" spellcheck="false" aria-describedby="h-query" aria-invalid="true"'
        in page.text
    )


def test_the_editor_passes_parameters_in_order(editor: TestClient) -> None:
    query = "(select (name) (from device) (where device (ge ram_gb (integer %1))))"
    page = editor.get(
        "/2/editor/", params={"query": query, "parameters": "10\n"}, headers=basic("finder")
    )
    assert page.status_code == 200, page.text
    assert _cells(page.text) == [["alpha"]]
    missing = editor.get("/2/editor/", params={"query": query}, headers=basic("finder"))
    assert missing.status_code == 422
    assert '<a href="#f-parameters"><strong>Parameters</strong></a>' in missing.text
