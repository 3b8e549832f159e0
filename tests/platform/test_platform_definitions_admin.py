"""Administrators manage definitions through the admin REST API and the CLI; bad definitions are
refused naming the field; a change reaches every node's cache through the change log."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.container import Container
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ACTOR
from support import make_key_material, make_settings, open_container


@pytest.fixture
def admin(client: TestClient, admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


def test_admin_rest_crud(
    client: TestClient, seeded: Container, admin: dict[str, str], all_headers: dict[str, str]
) -> None:
    base = "/admin/api/v1/platform/workflows"
    created = client.post(
        base,
        json={
            "id": "#rest_made",
            "name": "Made over REST",
            "triggerMethods": ["MANUAL"],
            "dependency": "USER",
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["id"] == "#rest_made"
    assert created.json()["lastUpdateTime"].endswith("Z")
    key = quote("#rest_made", safe="")
    assert client.get(f"{base}/{key}", headers=admin).json()["name"] == "Made over REST"
    listed = client.get("/api/v1/workflows", headers=all_headers).json()
    assert "#rest_made" in [w["id"] for w in listed]
    refused = client.post(
        "/api/v1/workflows/execute",
        json={"workflowId": "#rest_made", "users": ["S-1-5-1"]},
        headers=all_headers,
    )
    assert refused.status_code == 400

    changed = client.patch(f"{base}/{key}", json={"triggerMethods": ["API"]}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["triggerMethods"] == ["API"]
    accepted = client.post(
        "/api/v1/workflows/execute",
        json={"workflowId": "#rest_made", "users": ["S-1-5-1"]},
        headers=all_headers,
    )
    assert accepted.status_code == 200

    assert (
        client.post(base, json={"id": "#rest_made", "name": "again"}, headers=admin).status_code
        == 409
    )
    bad = client.post(
        base, json={"id": "#x", "name": "x", "status": "SOMETIMES", "colour": 1}, headers=admin
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"status", "colour"}
    assert client.delete(f"{base}/{key}", headers=admin).status_code == 204
    assert client.get(f"{base}/{key}", headers=admin).status_code == 404
    assert client.get("/admin/api/v1/platform/gadgets", headers=admin).status_code == 404
    assert (
        client.get(base, headers=all_headers).status_code == 401
    )  # platform tokens are not admin tokens


@pytest.mark.parametrize(
    ("collection", "body", "field"),
    [
        ("queries", {"id": "#q_bad", "object": "devices", "columns": []}, "columns"),
        ("queries", {"id": "#q_bad", "object": "trucks", "columns": ["name"]}, "object"),
        ("queries", {"id": "no_hash", "object": "devices", "columns": ["name"]}, "id"),
        (
            "queries",
            {
                "id": "#q_bad",
                "object": "devices",
                "columns": ["name"],
                "filters": [{"field": "os", "op": "eq", "value": "$bad-name"}],
            },
            "filters[0].value",
        ),
        ("enrichment-fields", {"id": "device/device/configuration_tag"}, "id"),
        ("remote-actions", {"id": "#r", "name": "r", "purpose": ["FUN"]}, "purpose[0]"),
        (
            "campaigns",
            {"id": "#c", "name": "c", "parameters": [f"p{i}" for i in range(31)]},
            "parameters",
        ),
    ],
)
def test_bad_definitions_name_the_field(
    client: TestClient,
    seeded: Container,
    admin: dict[str, str],
    collection: str,
    body: dict[str, object],
    field: str,
) -> None:
    response = client.post(f"/admin/api/v1/platform/{collection}", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_deeply_nested_definitions_are_refused(
    client: TestClient, seeded: Container, admin: dict[str, str]
) -> None:
    deep = json.loads("[" * 400 + "]" * 400)
    for collection, body in (
        (
            "queries",
            {
                "id": "#deep",
                "object": "devices",
                "columns": ["name"],
                "filters": [{"field": "name", "op": "eq", "value": deep}],
            },
        ),
        (
            "remote-actions",
            {"id": "#deep", "name": "Deep", "scriptInfo": {"inputs": [{"name": deep}]}},
        ),
    ):
        response = client.post(f"/admin/api/v1/platform/{collection}", json=body, headers=admin)
        assert response.status_code == 422, response.text[:200]
        assert response.json()["errors"][0]["field"] == "body"
        assert "nested deeper than" in response.json()["errors"][0]["message"]


def test_saved_query_lists_its_parameters(
    client: TestClient, seeded: Container, admin: dict[str, str]
) -> None:
    body = seeded.definitions.get("query", "#devices_by_os").as_dict()
    assert body["parameters"] == ["os"]
    listed = client.get("/admin/api/v1/platform/queries", headers=admin).json()
    assert listed["items"][0]["id"] == "#devices_by_os"


def test_cli_manages_definitions_and_lists_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'cli.db'}", make_key_material())
    open_container(settings).close()
    monkeypatch.setenv("CREDGATE_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("CREDGATE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CREDGATE_MASTER_KEY", settings.master_key.get_secret_value())  # type: ignore[union-attr]
    monkeypatch.setenv("CREDGATE_PEPPER", settings.pepper.get_secret_value())  # type: ignore[union-attr]
    runner = CliRunner()
    data = json.dumps(
        {"id": "#from_cli", "name": "From the CLI", "targeting": {"apiEnabled": True}}
    )
    created = runner.invoke(
        cli_app, ["platform", "create", "remote-actions", "--data", data, "--json"]
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["targeting"]["apiEnabled"] is True
    spec = tmp_path / "wf.json"
    spec.write_text(json.dumps({"id": "#wf_cli", "name": "Workflow from a file"}))
    assert (
        runner.invoke(cli_app, ["platform", "create", "workflows", "--data", f"@{spec}"]).exit_code
        == 0
    )
    listed = runner.invoke(cli_app, ["platform", "list", "workflows"])
    assert "#wf_cli" in listed.output
    bad = runner.invoke(cli_app, ["platform", "create", "workflows", "--data", '{"id": "#x"}'])
    assert bad.exit_code != 0
    assert "name" in bad.output
    assert runner.invoke(cli_app, ["platform", "create", "gadgets", "--data", "{}"]).exit_code != 0
    deep = runner.invoke(
        cli_app, ["platform", "create", "queries", "--data", "[" * 10_000 + "]" * 10_000]
    )
    assert deep.exit_code != 0
    assert "--data: nested too deeply" in deep.output
    assert "Traceback" not in deep.output
    updated = runner.invoke(
        cli_app,
        [
            "platform",
            "update",
            "workflows",
            "#wf_cli",
            "--data",
            '{"status": "INACTIVE"}',
            "--json",
        ],
    )
    assert json.loads(updated.output)["status"] == "INACTIVE"

    container = Container.open(settings)
    try:
        container.platform.record(
            "handoff", "client-1", state="RECEIVED", payload={"a": 1}, target="ada@example.com"
        )
    finally:
        container.close()
    requests = runner.invoke(cli_app, ["platform", "requests", "--kind", "handoff", "--json"])
    assert requests.exit_code == 0, requests.output
    assert json.loads(requests.output)[0]["target"] == "ada@example.com"
    assert runner.invoke(cli_app, ["platform", "requests", "--kind", "nope"]).exit_code != 0
    assert runner.invoke(cli_app, ["platform", "delete", "workflows", "#wf_cli"]).exit_code == 0
    assert "#wf_cli" not in runner.invoke(cli_app, ["platform", "list", "workflows"]).output


def test_a_change_reaches_the_other_nodes_cache(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'two.db'}", make_key_material())
    first = open_container(settings)
    second = Container.open(settings)
    try:
        assert second.definitions.list("campaign") == []  # now cached, empty
        first.definitions.create("campaign", {"id": "#c1", "name": "C1"}, actor=ACTOR)
        assert [c.key for c in first.definitions.list("campaign")] == ["#c1"]
        assert second.definitions.cached("campaign") == []
        second.sync_once()
        assert [c.key for c in second.definitions.list("campaign")] == ["#c1"]
    finally:
        first.close()
        second.close()
