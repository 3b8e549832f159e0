"""Exporters and webhooks: edited in place, and every problem of their input named at once, in
credgate's words, including what can never work (a webhook on SFTP, an exporter on a consent
credential, an exporter without its query's parameter). Storage on both back ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from credgate.cli import app
from credgate.container import Container
from credgate.core.audit.models import AuditEvent
from credgate.core.audit.services import Actor
from credgate.core.errors import ConflictError, InvalidInputError, NotFoundError
from credgate.demo import DEVICES_BY_OS
from support import cli_env
from support.connector_data import AUTHORIZATION_CODE, BEARER, SFTP, variant

ACTOR = Actor("tests", "pytest")


def _setup(container: Container) -> None:
    create = container.connector_credentials.create
    create(
        variant(BEARER, "tickets", "https://tickets.example.com/", token="tok-exp-1"), actor=ACTOR
    )
    sftp = variant(
        SFTP, "files", "sftp://files.example.com:22/", type="BASIC", password="sftp-pass"
    )
    create(sftp, actor=ACTOR)
    crm = "https://crm.example.com"
    consent = variant(
        AUTHORIZATION_CODE,
        "consent",
        f"{crm}/",
        client_id="crm",
        client_secret="crm-secret",
        authorization_url=f"{crm}/authorize",
        access_token_url=f"{crm}/token",
    )
    create(consent, actor=ACTOR)
    container.definitions.create("enrichment_field", {"id": "device/device/#os"}, actor=ACTOR)
    by_os = {**DEVICES_BY_OS, "id": "#by_os", "columns": ["name"]}
    container.definitions.create("query", by_os, actor=ACTOR)


def _exporter(**changes: Any) -> dict[str, Any]:
    return {
        "name": "nightly",
        "query_id": "#by_os",
        "parameters": {"os": "linux"},
        "credential": "files",
        "directory": "/exports",
        **changes,
    }


def _errors(exc: pytest.ExceptionInfo[InvalidInputError]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_an_exporter_is_edited_in_place(container: Container) -> None:
    _setup(container)
    exporters = container.outbound.exporters
    created = exporters.create(_exporter(), actor=ACTOR)
    exporters.create(_exporter(name="weekly"), actor=ACTOR)
    run_id = exporters.start_run(created["id"], "manual")

    updated = exporters.update(
        "nightly",
        _exporter(
            name="hourly tickets",
            credential="tickets",
            path="/api/import",
            body="json_array",
            schedule="hourly",
            format="jsonl",
            enabled=False,
        ),
        actor=ACTOR,
    )
    assert updated["id"] == created["id"]
    assert updated["name"] == "hourly tickets"
    assert updated["destination"] == {
        "path": "/api/import",
        "body": "json_array",
        "array_key": "items",
    }
    assert (updated["schedule"], updated["format"], updated["enabled"]) == (
        "hourly",
        "jsonl",
        False,
    )
    assert updated["next_run_at"] < created["next_run_at"]  # an hour from now, not a day
    assert [r["id"] for r in exporters.runs(created["id"])] == [run_id]  # history kept
    with container.db.session() as session:
        actions = [e.action for e in session.query(AuditEvent).filter_by(object_id=created["id"])]
    assert "exporter.update" in actions

    with pytest.raises(ConflictError):
        exporters.update(created["id"], _exporter(name="weekly"), actor=ACTOR)
    with pytest.raises(NotFoundError):
        exporters.update("nobody", _exporter(), actor=ACTOR)
    with pytest.raises(InvalidInputError):
        exporters.update(created["id"], _exporter(name=""), actor=ACTOR)
    assert exporters.get(created["id"])["name"] == "hourly tickets"  # refused, unchanged


def test_every_problem_of_an_exporter_is_named_at_once(container: Container) -> None:
    _setup(container)
    exporters = container.outbound.exporters
    with pytest.raises(InvalidInputError) as empty:
        exporters.create({"format": "xlsx", "schedule": "yearly"}, actor=ACTOR)
    assert _errors(empty) == {
        "name": "is required",
        "query_id": "is required",
        "credential": "is required",
        "format": "must be one of csv or jsonl",
        "schedule": "must be one of hourly, daily or weekly",
    }

    with pytest.raises(InvalidInputError) as never:
        exporters.create(
            _exporter(credential="consent", parameters={}, name="x" * 201), actor=ACTOR
        )
    found = _errors(never)
    assert found["name"] == "must be at most 200 characters"
    assert found["credential"].startswith("an OAuth 2.0 authorization code credential cannot")
    assert found["parameters"] == "the query #by_os needs a value for $os"

    with pytest.raises(InvalidInputError) as unknown:
        exporters.create(_exporter(credential="nowhere", query_id="#nothing"), actor=ACTOR)
    assert _errors(unknown) == {
        "credential": "there is no connector credential 'nowhere'",
        "query_id": "there is no saved NQL query '#nothing'",
    }
    assert exporters.list() == []


def test_a_webhook_on_an_sftp_credential_is_refused_with_every_other_problem(
    container: Container,
) -> None:
    _setup(container)
    webhooks = container.outbound.webhooks
    with pytest.raises(InvalidInputError) as refused:
        webhooks.create(
            {
                "name": "",
                "credential": "files",
                "method": "GET",
                "resource": "api",
                "triggers": ["nothing_happened"],
            },
            actor=ACTOR,
        )
    found = _errors(refused)
    assert found["credential"] == "a webhook sends HTTPS requests; 'files' is an SFTP credential"
    assert found["name"] == "is required"
    assert found["method"] == "must be one of POST, PUT, PATCH"
    assert found["resource"].startswith("must start with '/'")
    assert found["triggers"].startswith("unknown event 'nothing_happened'")
    assert webhooks.list() == []
    saved, _ = webhooks.create({"name": "h", "credential": "tickets"}, actor=ACTOR)
    assert saved["name"] == "h"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_cli_exporters_update(container: Container) -> None:
    _setup(container)
    container.outbound.exporters.create(_exporter(), actor=ACTOR)
    env = cli_env(container, CREDGATE_OUTBOUND_ALLOWED_NETWORKS=None)
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "exporters",
            "update",
            "nightly",
            "--json",
            "--data",
            json.dumps(_exporter(schedule="weekly")),
        ],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["schedule"] == "weekly"
    refused = runner.invoke(
        app,
        ["exporters", "update", "nightly", "--data", json.dumps(_exporter(parameters={}))],
        env=env,
    )
    assert refused.exit_code == 2
    assert "needs a value for $os" in refused.output
    assert container.outbound.exporters.get("nightly")["parameters"] == {"os": "linux"}
