"""NXQL over HTTP Basic: every output format, GET and POST, parameters and bad input.

The classic authentication and storage paths are covered on both back ends by
test_classic_api.py; NXQL answers from the inventory source, so SQLite is enough here.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest
from starlette.testclient import TestClient
from support_classic import QUERY, basic, finder_inventory

from credgate.container import Container


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def classic(container: Container, client: TestClient) -> TestClient:
    return finder_inventory(container, client)


def _rows(fmt: str, text: str) -> list[list[str]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(text)))[1:]
    if fmt == "json":
        return [[str(r["name"]), str(r["ram_gb"])] for r in json.loads(text)]
    if fmt == "xml":
        root = ET.fromstring(text)  # noqa: S314 - our own output, parsed to check it
        return [[str(v.text) for v in row] for row in root.findall("row")]
    cells = text.split("<tbody>")[1].split("</tbody>")[0]
    return [[c.split("</td>")[0] for c in row.split("<td>")[1:]] for row in cells.split("<tr>")[1:]]


def test_nxql_over_basic_in_each_format(classic: TestClient) -> None:
    media = {
        "csv": "text/csv",
        "json": "application/json",
        "xml": "application/xml",
        "html": "text/html",
    }
    for fmt, prefix in media.items():
        got = classic.get(
            "/2/query", params={"query": QUERY, "format": fmt, "p1": "8"}, headers=basic("finder")
        )
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith(prefix)
        assert _rows(fmt, got.text) == [["alpha", "16"], ["beta", "8"]], fmt

        posted = classic.post(
            "/2/query",
            data={"query": QUERY, "format": fmt, "p1": "8"},
            headers=basic("finder"),
        )
        assert posted.status_code == 200, posted.text
        assert posted.text == got.text


def test_nxql_platform_filter_and_default_format(classic: TestClient) -> None:
    got = classic.get(
        "/2/query",
        params=[("query", QUERY), ("p1", "0"), ("platform", "mac_os"), ("platform", "mobile")],
        headers=basic("finder"),
    )
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert got.text.splitlines() == ["name,ram_gb", "beta,8"]
    human = classic.get(
        "/2/query",
        params={"query": "(select (name) (from user))", "format": "json", "hr": "true"},
        headers=basic("finder"),
    )
    assert human.status_code == 200
    assert human.json() == []


def test_nxql_bad_input_names_the_field(classic: TestClient) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({}, "query"),
        ({"query": QUERY, "p1": "1", "format": "yaml"}, "format"),
        ({"query": QUERY, "p1": "1", "platform": "linux"}, "platform"),
        ({"query": QUERY}, "p1"),
        ({"query": QUERY, "p1": "lots"}, "p1"),
        ({"query": "(select (name) (from fridge))"}, "query"),
        ({"query": QUERY, "format": "csv&format=json"}, "format"),
    ]
    for params, field in cases:
        got = classic.get("/2/query", params=params, headers=basic("finder"))
        assert got.status_code == 422, (params, got.text)
        assert [e["field"] for e in got.json()["errors"]] == [field], params
    repeated = classic.get(
        "/2/query", params=[("query", QUERY), ("query", QUERY)], headers=basic("finder")
    )
    assert repeated.status_code == 422
    assert "repeated" in repeated.text
    huge = classic.post("/2/query", data={"query": "x" * 70_000}, headers=basic("finder"))
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["field"] == "body"
    json_body = classic.post("/2/query", json={"query": QUERY}, headers=basic("finder"))
    assert json_body.status_code == 422
    assert json_body.json()["errors"][0]["field"] == "body"


def test_deeply_nested_query_is_a_422(classic: TestClient) -> None:
    for query in (
        "(select " + "(" * 400 + "name" + ")" * 400 + " (from device))",
        "(" * 10_000 + ")" * 10_000,  # 20,000 characters: within the length limit
    ):
        by_get = classic.get("/2/query", params={"query": query}, headers=basic("finder"))
        by_post = classic.post("/2/query", data={"query": query}, headers=basic("finder"))
        for got in (by_get, by_post):
            assert got.status_code == 422, got.text[:200]
            assert got.json()["error"] == "invalid_input"
            assert got.json()["errors"][0]["field"] == "query"
            assert "nested deeper than" in got.json()["errors"][0]["message"]
