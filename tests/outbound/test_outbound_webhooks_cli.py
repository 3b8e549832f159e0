"""`credgate webhooks|deliveries ...`: create, explicit send, the delivery log and replay."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from webhooks_receiver import Receiver, ca_bundle

from credgate.cli import app
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import cli_env

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"outbound_ca_bundle": ca_bundle(tmp_path), "worker_in_serve": False}


def env_of(container: Container) -> dict[str, str | None]:
    ca_bundle = str(container.settings.outbound_ca_bundle)
    return cli_env(container, CREDGATE_OUTBOUND_CA_BUNDLE=ca_bundle)


def run(env: dict[str, str | None], *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def _tool(container: Container, receiver: Receiver, token: str) -> None:
    """The connector credential "tool": Bearer ``token`` to the receiver."""
    _tool_at(container, receiver.url + "/", token)


def _tool_at(container: Container, url: str, token: str) -> None:
    container.connector_credentials.create(
        {
            "name": "tool",
            "protocol": "HTTPS",
            "url": url,
            "authorization": {"type": "BEARER", "token": token},
        },
        actor=ACTOR,
    )


def test_cli_create_send_log_and_replay(container: Container, tmp_path: Path) -> None:
    env = env_of(container)
    with Receiver(script=[(500, {}, b"down")]) as receiver:
        _tool(container, receiver, "Tk-cli-hook-1")
        body = {
            "name": "cli hook",
            "credential": "tool",
            "resource": "/hook",
            "signing_secret": "generate",
        }
        body_file = tmp_path / "hook.json"
        body_file.write_text(json.dumps(body))
        created = run(env, "webhooks", "create", "--file", str(body_file), "--json")
        assert created.exit_code == 0, created.output
        assert json.loads(created.output)["signing_secret"].startswith("whsec_")
        bad = run(env, "webhooks", "create", "--data", json.dumps({**body, "method": "GET"}))
        assert bad.exit_code != 0
        assert "method" in bad.output
        sent = run(env, "webhooks", "send", "cli hook", "--data", '{"x": 1}')
        assert sent.exit_code == 0, sent.output
        mid = sent.output.strip()
        asyncio.run(container.outbound.worker.run_once())
        log = run(env, "deliveries", "show", mid, "--json")
        assert json.loads(log.output)["log"][0]["status_code"] == 500
        listed = run(env, "deliveries", "list", "--webhook", "cli hook")
        assert mid in listed.output
        assert "HTTP 500" in listed.output
        assert "whsec_" not in run(env, "webhooks", "show", "cli hook").output


def test_cli_test_exits_1_on_failure_and_goes_through_the_server(
    container: Container, admin_token: str
) -> None:
    """`webhooks test` fails with exit 1; with CREDGATE_ADMIN_API_URL the running server sends
    the request, with its CA bundle and allowed networks, which this process does not have."""
    from credgate.app import create_app
    from support import LiveServer, free_port

    with Receiver(script=[(500, {}, b"down")]) as receiver:
        _tool(container, receiver, "Tk-cli-hook-2")
        container.outbound.webhooks.create(
            {
                "name": "probe",
                "credential": "tool",
                "resource": "/hook",
                "signing_secret": "generate",
            },
            actor=ACTOR,
        )
        env = env_of(container)
        failed = run(env, "webhooks", "test", "probe", "--json")
        assert failed.exit_code == 1, failed.output
        assert json.loads(failed.stdout)["status_code"] == 500

        bare = {
            **env,
            "CREDGATE_OUTBOUND_CA_BUNDLE": None,
            "CREDGATE_OUTBOUND_ALLOWED_NETWORKS": None,
        }
        local = run(bare, "webhooks", "test", "probe", "--json")
        assert local.exit_code == 1
        assert "from this process" in local.stderr
        assert json.loads(local.stdout)["status_code"] is None  # refused before any request

        local_check = run(bare, "connector-credentials", "test", "tool", "--json")
        assert local_check.exit_code == 1
        assert json.loads(local_check.stdout)["ok"] is False

        with LiveServer(create_app(container=container), free_port()) as server:
            through = {
                **bare,
                "CREDGATE_ADMIN_API_URL": server.url,
                "CREDGATE_ADMIN_API_TOKEN": admin_token,
            }
            remote = run(through, "webhooks", "test", "probe", "--json")
            remote_check = run(through, "connector-credentials", "test", "tool", "--json")
            refused = run(
                {**through, "CREDGATE_ADMIN_API_TOKEN": "cgat_" + "x" * 40},
                "webhooks",
                "test",
                "probe",
            )
        assert remote.exit_code == 0, remote.output
        assert json.loads(remote.stdout)["outcome"] == "delivered"
        assert "from this process" not in remote.stderr
        assert remote_check.exit_code == 0, remote_check.output
        assert json.loads(remote_check.stdout)["ok"] is True
        assert refused.exit_code == 2
        assert refused.stderr.strip() == (
            "error: the credgate admin API refused CREDGATE_ADMIN_API_TOKEN (expired or revoked?)"
        )


def test_cli_webhooks_list_pages_and_streams(container: Container) -> None:
    env = env_of(container)
    _tool_at(container, "https://127.0.0.1:9/", "Tk-cli-hook-2")
    for name in ["hook 3", "hook 1", "hook 2"]:
        made = run(
            env, "webhooks", "create", "--data", json.dumps({"name": name, "credential": "tool"})
        )
        assert made.exit_code == 0, made.output
    page = run(env, "webhooks", "list", "--limit", "2")
    assert page.exit_code == 0, page.output
    assert "2 of 3 webhook(s)" in page.stdout
    assert "hook 3" not in page.stdout
    assert "--cursor " in page.stderr
    every = run(env, "webhooks", "list", "--all", "--json")
    assert [w["name"] for w in json.loads(every.stdout)] == ["hook 1", "hook 2", "hook 3"]
    found = run(env, "webhooks", "list", "-q", "k 2", "--json")
    assert [w["name"] for w in json.loads(found.stdout)] == ["hook 2"]


def test_cli_webhooks_update_replaces_the_definition(container: Container, tmp_path: Path) -> None:
    env = env_of(container)
    _tool_at(container, "https://127.0.0.1:9/", "Tk-cli-hook-3")
    for name in ("edited hook", "other hook"):
        made = run(
            env,
            "webhooks",
            "create",
            "--data",
            json.dumps({"name": name, "credential": "tool", "signing_secret": "generate"}),
        )
        assert made.exit_code == 0, made.output
    body = {
        "name": "edited hook",
        "credential": "tool",
        "resource": "/changed",
        "triggers": ["explicit"],
        "enabled": False,
    }
    body_file = tmp_path / "edit.json"
    body_file.write_text(json.dumps(body))
    updated = run(env, "webhooks", "update", "edited hook", "--file", str(body_file), "--json")
    assert updated.exit_code == 0, updated.output
    view = json.loads(updated.stdout)
    assert (view["resource"], view["enabled"], view["signed"]) == ("/changed", False, True)
    assert "signing_secret" not in view, "absent: the stored secret is kept, and not shown"
    stored = container.outbound.webhooks.get("edited hook")
    assert (stored["resource"], stored["enabled"]) == ("/changed", False)

    regenerated = run(
        env,
        "webhooks",
        "update",
        view["id"],
        "--data",
        json.dumps({**body, "signing_secret": "generate"}),
    )
    assert regenerated.exit_code == 0, regenerated.output
    assert re.search(r"^signing_secret: +whsec_", regenerated.stdout, re.M), "printed once"
    assert "whsec_" not in run(env, "webhooks", "show", "edited hook").stdout

    for args, message in (
        (["other hook", "--data", json.dumps(body)], "name"),
        (["no such hook", "--data", json.dumps(body)], "no such hook"),
        (["edited hook", "--data", "{not json"], "--data: not valid JSON"),
        (["edited hook", "--data", json.dumps({**body, "method": "GET"})], "method"),
        (["edited hook"], "--file: give a JSON object"),
    ):
        bad = run(env, "webhooks", "update", *args)
        assert bad.exit_code == 2, (args, bad.output)
        assert bad.stderr.startswith("error: "), (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1, (args, bad.stderr)
        assert message in bad.stderr, (args, bad.stderr)
    assert container.outbound.webhooks.get("other hook")["resource"] != "/changed"


def test_cli_exporters_run_exits_1_on_failure_and_goes_through_the_server(
    container: Container, admin_token: str
) -> None:
    """`exporters run` from this process cannot reach a destination only the server may reach
    (its CA bundle and allowed networks): exit 1 and a note; through CREDGATE_ADMIN_API_URL the
    running server runs it and the rows arrive."""
    from credgate.app import create_app
    from credgate.platform.models import InventoryObject
    from support import LiveServer, free_port

    with container.db.session() as session:
        session.add(InventoryObject(object="device", uid="uid-1", name="alpha", fields={}))
    container.definitions.create(
        "query", {"id": "#all_devices", "object": "devices", "columns": ["name"]}, actor=ACTOR
    )
    with Receiver() as receiver:
        _tool(container, receiver, "Tk-cli-export-1")
        container.outbound.exporters.create(
            {
                "name": "nightly devices",
                "query_id": "#all_devices",
                "credential": "tool",
                "path": "/ingest",
                "format": "jsonl",
            },
            actor=ACTOR,
        )
        bare = {
            **env_of(container),
            "CREDGATE_OUTBOUND_CA_BUNDLE": None,
            "CREDGATE_OUTBOUND_ALLOWED_NETWORKS": None,
        }
        local = run(bare, "exporters", "run", "nightly devices", "--json")
        assert local.exit_code == 1, local.output
        assert json.loads(local.stdout)["state"] == "failed"
        assert "from this process" in local.stderr
        assert receiver.requests == []

        with LiveServer(create_app(container=container), free_port()) as server:
            through = {
                **bare,
                "CREDGATE_ADMIN_API_URL": server.url,
                "CREDGATE_ADMIN_API_TOKEN": admin_token,
            }
            remote = run(through, "exporters", "run", "nightly devices", "--json")
            missing = run(through, "exporters", "run", "no such exporter")
        assert remote.exit_code == 0, remote.output
        assert json.loads(remote.stdout)["state"] == "succeeded"
        assert "from this process" not in remote.stderr
        [got] = receiver.requests
        assert got.path == "/ingest"
        assert json.loads(got.body.splitlines()[0]) == {"name": "alpha"}
        assert missing.exit_code == 2
        assert missing.stderr.startswith("error: ")
        assert len(missing.stderr.strip().splitlines()) == 1
