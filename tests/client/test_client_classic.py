"""The SDK's classic-API methods (Engines, Audit trail, NXQL) against a real running credgate
(credgate.testing's sandbox), no mocks: typed results with the permission, PermissionDeniedError
without it, and refused input mapped to ValidationError."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from credgate.client import (
    AsyncClient,
    AuditLogPage,
    Client,
    Engine,
    Enrichment,
    EnrichmentField,
    NxqlResult,
    PermissionDeniedError,
    ValidationError,
)
from credgate.core.audit.services import Actor
from credgate.testing import ALL_PERMISSIONS, Sandbox

ACTOR = Actor("tests", "pytest")
QUERY = "(select (name #os) (from device) (where device (eq name (string %1))))"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as server:
        server.seed()
        engines = server.container.engines
        engines.add(
            "engine-eu",
            actor=ACTOR,
            database_uid="db-eu",
            machine_id="m-eu",
            description="Europe",
            address="10.0.0.1",
            port=1671,
            timezone="Europe/Paris",
            version="6.2",
        )
        engines.add("engine-us", actor=ACTOR, status="DISCONNECTED")
        with server.client(["enrichment"]) as enricher:
            enricher.enrich_fields(
                "tests",
                [
                    Enrichment(
                        EnrichmentField("device/device/name", "pc-classic"),
                        [EnrichmentField("device/device/#os", "Windows 11")],
                    )
                ],
            )
        yield server


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Client:
    return sandbox.client()


def test_list_engines(sandbox: Sandbox) -> None:
    with sandbox.client(["engines"]) as only_engines:
        engines = only_engines.list_engines()
    assert engines == [
        Engine(
            name="engine-eu",
            database_uid="db-eu",
            machine_id="m-eu",
            description="Europe",
            status="CONNECTED",
            address="10.0.0.1",
            port=1671,
            timezone="Europe/Paris",
            version="6.2",
        ),
        Engine(
            name="engine-us",
            database_uid="",
            machine_id="",
            description="",
            status="DISCONNECTED",
            address="",
            port=999,
            timezone="UTC",
            version="",
        ),
    ]


def test_audit_log_scopes_and_paging(sandbox: Sandbox) -> None:
    with sandbox.client(["audit-trail"]) as auditor:
        engines = auditor.audit_log("engines")
        assert engines.total == 2
        assert [(e.action, e.object_id) for e in engines.items] == [
            ("engine.create", "engine-eu"),
            ("engine.create", "engine-us"),
        ]
        assert engines.items[0].object_type == "engine"
        assert engines.items[0].user  # the actor is named
        assert "description" in engines.items[0].fields
        assert not engines.has_more

        one = auditor.audit_log("engine", engine="engine-us")
        assert one.total == 1
        assert [e.object_id for e in one.items] == ["engine-us"]

        first = auditor.audit_log("portal", limit=1)
        assert first.total is not None
        assert first.total > 2
        assert len(first.items) == 1
        assert first.has_more
        second = auditor.audit_log(offset=1, limit=1)
        assert second.offset == 1
        assert second.items[0].id != first.items[0].id

        assert auditor.audit_log(until=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).total == 0
        since = first.items[0].time
        assert auditor.audit_log(since=since).total == first.total


def _nxql_rows(result: NxqlResult) -> list[list[str]]:
    if result.format == "csv":
        return list(csv.reader(io.StringIO(result.text)))[1:]
    if result.format == "xml":
        root = ET.fromstring(result.text)  # noqa: S314 - the test server's own output
        return [[str(v.text) for v in row] for row in root.findall("row")]
    cells = result.text.split("<tbody>")[1].split("</tbody>")[0]
    return [[c.split("</td>")[0] for c in row.split("<td>")[1:]] for row in cells.split("<tr>")[1:]]


def test_nxql_returns_the_seeded_device(sandbox: Sandbox) -> None:
    with sandbox.client(["nql"]) as finder:
        result = finder.nxql(QUERY, parameters=["pc-classic"], platforms=["windows"])
        assert result.format == "json"
        assert result.rows == [{"name": "pc-classic", "#os": "Windows 11"}]
        assert not result.truncated
        assert finder.nxql(QUERY, parameters=["no-such-device"]).rows == []
        for fmt in ("csv", "xml", "html"):
            text = finder.nxql(QUERY, parameters=["pc-classic"], format=fmt)
            assert text.rows is None
            assert _nxql_rows(text) == [["pc-classic", "Windows 11"]], fmt


# permission -> a call that succeeds with it
Call = Callable[[Client], Any]
CLASSIC: dict[str, Call] = {
    "engines": lambda c: c.list_engines(),
    "audit-trail": lambda c: c.audit_log("engines"),
    "nql": lambda c: c.nxql(QUERY, parameters=["pc-classic"]),
}


@pytest.mark.parametrize("permission", sorted(CLASSIC))
def test_403_without_the_permission(sandbox: Sandbox, permission: str) -> None:
    others = [p for p in ALL_PERMISSIONS if p != permission]
    with sandbox.client(others) as lacking, pytest.raises(PermissionDeniedError) as info:
        CLASSIC[permission](lacking)
    assert info.value.status_code == 403
    assert info.value.required_scope == permission


@pytest.mark.parametrize(
    "query",
    [
        "(select (name) (from nowhere))",  # unknown table
        "(select (name) (from device)",  # unbalanced
        "(select (name) (from device) (where user (eq name (string x))))",  # join
    ],
)
def test_bad_nxql_is_a_validation_error(client: Client, query: str) -> None:
    with pytest.raises(ValidationError) as info:
        client.nxql(query)
    assert info.value.status_code == 422
    assert info.value.code == "invalid_input"
    assert "query" in str(info.value)  # names the field at fault


def test_missing_nxql_parameter_is_a_validation_error(client: Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.nxql(QUERY)
    assert info.value.status_code == 422
    assert "p1" in str(info.value)


def test_bad_audit_arguments_are_validation_errors(client: Client) -> None:
    with pytest.raises(ValidationError):
        client.audit_log(limit=5000)
    with pytest.raises(ValidationError) as info:
        client.audit_log(since="yesterday")
    assert "from" in str(info.value.body)


def test_arguments_are_checked_before_sending(sandbox: Sandbox) -> None:
    client = sandbox.client()
    issued = sandbox.tokens_issued()  # nothing below reaches the server, not even for a token
    with pytest.raises(ValueError, match="engine is required"):
        client.audit_log("engine")
    with pytest.raises(ValueError, match="only taken with scope"):
        client.audit_log("portal", engine="engine-eu")
    with pytest.raises(ValueError, match="scope 'nope'"):
        client.audit_log("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="platform 'linux'"):
        client.nxql(QUERY, platforms=["linux"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="format 'yaml'"):
        client.nxql(QUERY, format="yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="query is required"):
        client.nxql("  ")
    assert sandbox.tokens_issued() == issued


def test_async_client_classic_methods(sandbox: Sandbox) -> None:
    async def run() -> tuple[list[Engine], AuditLogPage, NxqlResult]:
        async with sandbox.async_client(["engines", "audit-trail", "nql"]) as aclient:
            assert isinstance(aclient, AsyncClient)
            return (
                await aclient.list_engines(),
                await aclient.audit_log("engine", engine="engine-eu"),
                await aclient.nxql(QUERY, parameters=["pc-classic"], hr=True),
            )

    engines, page, result = asyncio.run(run())
    assert [e.name for e in engines] == ["engine-eu", "engine-us"]
    assert page.total == 1
    assert page.items[0].object_id == "engine-eu"
    assert result.rows == [{"name": "pc-classic", "#os": "Windows 11"}]
