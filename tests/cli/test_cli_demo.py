"""``credgate demo load``: the sample definitions and inventory, loaded once however often it
runs, on both back ends, and found by the APIs the README calls."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.db import Database
from credgate.demo import SAMPLE_DEFINITIONS, SAMPLE_INVENTORY, load_demo
from credgate.platform.definitions import DefinitionService


def test_demo_load_is_idempotent_and_answers_the_readme_query(
    container: Container, client: TestClient
) -> None:
    definitions = container.services.get(DefinitionService)
    db = container.services.get(Database)
    first = load_demo(definitions, db)
    assert len(first.definitions) == len(SAMPLE_DEFINITIONS)
    assert len(first.inventory) == len(SAMPLE_INVENTORY)
    again = load_demo(definitions, db)
    assert again.definitions == []
    assert again.inventory == []

    created = container.api_credentials.create(
        name="demo", description="", permissions=["nql", "workflows"], actor=Actor.cli()
    )
    token = client.post(
        "/oauth2/default/v1/token",
        auth=(created.credential.client_id, created.client_secret),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    found = client.post(
        "/api/v1/nql/execute",
        headers=bearer,
        json={"queryId": "#devices_by_os", "parameters": {"os": "Windows 11"}},
    )
    assert found.status_code == 200, found.text
    assert found.json()["data"] == [["pc-1", "Windows 11", 16], ["pc-2", "Windows 11", 32]]
    workflows = client.get("/api/v1/workflows", headers=bearer).json()
    assert [w["id"] for w in workflows] == ["#restart_service"]


def test_demo_commands_load_once(cli_home: Path) -> None:
    first = CliRunner().invoke(app, ["init", "--demo"])
    assert first.exit_code == 0, first.stderr
    assert "added query #devices_by_os" in first.stdout
    assert "added device pc-1" in first.stdout
    again = CliRunner().invoke(app, ["demo", "load", "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {"definitions": [], "inventory": []}
    said = CliRunner().invoke(app, ["demo", "load"])
    assert said.stdout.strip() == "the sample data is already loaded"
