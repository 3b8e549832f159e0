"""Administration pages for webhooks, their delivery log and data exporters, in process,
against a real HTTPS receiver on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from webhooks_support import basic_credential, drain, webhook_settings

from credgate.container import Container
from credgate.core.audit.services import Actor
from support import csrf_field, next_console_page
from support.fixtures import pages_backend  # noqa: F401 - a fixture

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return webhook_settings(tmp_path, webhook_backoff_max_seconds=0.02, webhook_max_attempts=2)


def _webhook_form(ui: TestClient, credential: str, **fields: Any) -> Any:
    form = ui.get("/admin/webhooks/new")
    assert form.status_code == 200, form.text[:3000]
    data = {
        "name": "incidents",
        "credential": credential,
        "method": "POST",
        "resource": "/api/incident",
        "headers": "X-Source: credgate",
        "payload_template": "",
        "triggers": ["workflow_execution"],
        "secret_choice": "generate",
        "enabled": "on",
        "csrf_token": csrf_field(form.text),
        **fields,
    }
    return ui.post("/admin/webhooks", data=data, follow_redirects=False)


def test_webhook_created_through_the_form_shows_its_secret_once(
    ui: TestClient, container: Container, receiver: Any
) -> None:
    credential = basic_credential(container, receiver.url, "Receiver")
    created = _webhook_form(ui, credential)
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'value="(whsec_[^"]+)"', created.text)
    assert secret, "the generated signing secret is not shown"
    listing = ui.get("/admin/webhooks")
    assert "incidents" in listing.text
    assert "workflow_execution" in listing.text
    assert "Receiver" in listing.text
    assert secret.group(1) not in listing.text
    [hook] = container.outbound.webhooks.list()
    assert hook["signed"] is True
    assert hook["headers"] == {"X-Source": "credgate"}
    edit = ui.get(f"/admin/webhooks/{hook['id']}")
    assert secret.group(1) not in edit.text
    assert "X-Source: credgate" in edit.text
    saved = ui.post(
        f"/admin/webhooks/{hook['id']}",
        data={
            "name": "incidents v2",
            "credential": credential,
            "method": "PUT",
            "resource": "/api/incident",
            "headers": "",
            "triggers": ["campaign"],
            "secret_choice": "keep",
            "csrf_token": csrf_field(edit.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    hook = container.outbound.webhooks.get(hook["id"])
    assert (hook["name"], hook["method"], hook["signed"]) == ("incidents v2", "PUT", True)
    assert hook["triggers"] == ["campaign"]
    assert hook["enabled"] is False
    # test send: the receiver answers 200
    tested = ui.post(
        f"/admin/webhooks/{hook['id']}/test",
        data={"csrf_token": csrf_field(listing.text), "event": "workflow_execution"},
    )
    assert tested.status_code == 200
    assert "Test send of incidents v2: delivered (HTTP 200)" in tested.text
    assert receiver.requests[-1].path == "/api/incident"
    deleted = ui.post(
        f"/admin/webhooks/{hook['id']}/delete",
        data={"csrf_token": csrf_field(listing.text)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert container.outbound.webhooks.list() == []


def test_bad_webhook_input_names_the_fields_and_keeps_the_values(
    ui: TestClient, container: Container
) -> None:
    bad = _webhook_form(
        ui,
        "no-such-credential",
        name="",
        resource="api/no-slash",
        payload_template="kept {{ payload.x }}",
    )
    assert bad.status_code == 422
    assert "<strong>Name</strong>" in bad.text
    assert "api/no-slash" in bad.text
    assert "kept {{ payload.x }}" in bad.text
    assert container.outbound.webhooks.list() == []
    credential = basic_credential(container, "https://127.0.0.1:9", "Receiver")
    headers = _webhook_form(ui, credential, headers="Authorization: x\nnot a header line")
    assert headers.status_code == 422
    assert "<strong>Headers</strong></a>: line 2" in headers.text
    assert "not a header line" in headers.text
    reserved = _webhook_form(ui, credential, headers="Authorization: x")
    assert "<strong>Headers (Authorization)</strong>" in reserved.text
    second = _webhook_form(ui, credential, resource="api/no-slash", method="GET")
    assert second.status_code == 422
    assert "<strong>Resource path</strong>" in second.text
    assert "<strong>Method</strong>" in second.text
    unknown = _webhook_form(ui, "no-such-credential")
    assert unknown.status_code == 422
    assert "<strong>Connector credential</strong>" in unknown.text


def test_failed_delivery_shows_its_attempts_and_replays(
    ui: TestClient, container: Container, receiver: Any
) -> None:
    credential = basic_credential(container, receiver.url, "Receiver")
    assert _webhook_form(ui, credential, secret_choice="none").status_code == 303
    [hook] = container.outbound.webhooks.list()
    receiver.script = [(500, {}, b"boom-body"), (500, {}, b"boom-body")]
    container.outbound.webhooks.send(hook["id"], {"hello": "world"}, actor=ACTOR)
    drain(container, rounds=100)
    listing = ui.get("/admin/deliveries")
    assert listing.status_code == 200
    found = re.search(r'<tr data-id="([^"]+)"', listing.text)
    assert found
    delivery_id = found.group(1)
    assert "failed" in listing.text
    assert "incidents" in listing.text
    detail = ui.get(f"/admin/deliveries/{delivery_id}")
    assert detail.text.count("boom-body") == 2
    assert detail.text.count("<td>500</td>") == 2
    assert 'id="replay"' in detail.text
    replayed = ui.post(
        f"/admin/deliveries/{delivery_id}/replay",
        data={"csrf_token": csrf_field(detail.text)},
        follow_redirects=False,
    )
    assert replayed.status_code == 303
    assert container.outbound.webhooks.delivery(delivery_id)["state"] == "pending"
    drain(container, rounds=100)
    again = ui.get(f"/admin/deliveries/{delivery_id}")
    assert "delivered" in again.text
    assert 'id="replay"' not in again.text
    filtered = ui.get(f"/admin/deliveries?webhook={hook['id']}")
    assert delivery_id in filtered.text


def test_exporter_create_run_now_and_history(
    ui: TestClient, container: Container, receiver: Any
) -> None:
    credential = basic_credential(container, receiver.url, name="Sink")
    container.definitions.create(
        "query", {"id": "#all_devices", "object": "devices", "columns": ["name"]}, actor=ACTOR
    )
    form = ui.get("/admin/exporters/new")
    assert "#all_devices" in form.text
    base = {
        "name": "devices",
        "query_id": "#all_devices",
        "parameters": "",
        "format": "jsonl",
        "credential": credential,
        "directory": "/",
        "file_pattern": "{name}-{timestamp}.{ext}",
        "path": "/ingest",
        "body": "json_array",
        "array_key": "items",
        "schedule": "hourly",
        "csrf_token": csrf_field(form.text),
    }
    bad = ui.post(
        "/admin/exporters",
        data={**base, "query_id": "#missing", "path": "no-slash", "parameters": "oops"},
    )
    assert bad.status_code == 422
    assert "<strong>Query parameters</strong>" in bad.text
    bad = ui.post("/admin/exporters", data={**base, "query_id": "#missing", "path": "no-slash"})
    assert bad.status_code == 422
    assert "<strong>Saved query</strong>" in bad.text
    assert "<strong>Resource path</strong>" in bad.text
    assert 'value="no-slash"' in bad.text
    created = ui.post("/admin/exporters", data=base, follow_redirects=False)
    assert created.status_code == 303, created.text
    listing = ui.get("/admin/exporters")
    [exporter] = container.outbound.exporters.list()
    assert exporter["name"] in listing.text
    assert exporter["destination"] == {
        "path": "/ingest",
        "body": "json_array",
        "array_key": "items",
    }
    ran = ui.post(
        f"/admin/exporters/{exporter['id']}/run", data={"csrf_token": csrf_field(listing.text)}
    )
    assert ran.status_code == 200
    [run] = container.outbound.exporters.runs(exporter["id"])
    assert run["trigger"] == "manual"
    assert run["state"] == "succeeded", run["error"]
    assert 'id="runs"' in ran.text
    assert "succeeded" in ran.text
    assert receiver.requests[-1].path == "/ingest"
    # (an exporter with runs is left: ExporterService.delete warns when runs exist)
    spare = ui.post("/admin/exporters", data={**base, "name": "spare"}, follow_redirects=False)
    assert spare.status_code == 303
    spare_id = next(e["id"] for e in container.outbound.exporters.list() if e["name"] == "spare")
    deleted = ui.post(
        f"/admin/exporters/{spare_id}/delete",
        data={"csrf_token": csrf_field(listing.text)},
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert [e["name"] for e in container.outbound.exporters.list()] == ["devices"]


def test_posts_without_the_csrf_token_are_refused(
    ui: TestClient, container: Container, receiver: Any
) -> None:
    credential = basic_credential(container, receiver.url, "Receiver")
    refused = _webhook_form(ui, credential, csrf_token="")
    assert refused.status_code in (302, 303, 403)
    assert container.outbound.webhooks.list() == []
    unknown = ui.get("/admin/deliveries/nope")
    assert unknown.status_code == 404
    assert ui.get("/admin/exporters/nope").status_code == 404
    assert ui.get("/admin/webhooks/nope").status_code == 404


def test_webhook_list_pages_and_searches(
    ui: TestClient, container: Container, receiver: Any
) -> None:
    credential = basic_credential(container, receiver.url, "Receiver")
    for name in ["hook c", "hook a", "hook b"]:
        assert _webhook_form(ui, credential, name=name).status_code == 200
    first = ui.get("/admin/webhooks?limit=2")
    assert re.findall(r"<th scope=\"row\">(hook \w)</th>", first.text) == ["hook a", "hook b"]
    assert 'id="total">3 webhooks' in first.text
    rest = next_console_page(ui, first)
    assert re.findall(r"<th scope=\"row\">(hook \w)</th>", rest.text) == ["hook c"]
    found = ui.get("/admin/webhooks?q=k+b")
    assert re.findall(r"<th scope=\"row\">(hook \w)</th>", found.text) == ["hook b"]
    assert ui.get("/admin/webhooks?limit=0").status_code == 422
