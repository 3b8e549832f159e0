"""Webhook delivery against a real recording receiver on 127.0.0.1, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from webhooks_receiver import Receiver
from webhooks_support import (
    ACTOR,
    PASSWORD,
    basic_credential,
    drain,
    make_webhook,
    webhook_settings,
)

from credgate.container import Container
from credgate.core.db import utcnow
from credgate.core.errors import InvalidInputError, NotFoundError
from credgate.models import SEALED
from credgate.outbound.models import WebhookDelivery
from credgate.outbound.webhooks import AttemptRecord, Finished


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return webhook_settings(tmp_path, webhook_max_attempts=5)


def test_receiver_gets_rendered_signed_request(container: Container, receiver: Receiver) -> None:
    cred = basic_credential(container, receiver.url)
    view, secret = make_webhook(
        container,
        cred,
        method="PUT",
        resource="/api/now/table/incident/{{ payload.workflowId }}?sysparm_display_value=true&who={{ client_id }}",
        headers={"X-Source": "credgate {{ event }}"},
        payload_template='{"short_description": "{{ payload.params.reason }}", "devices": {{ payload.devices }}}',
        signing_secret="generate",
    )
    assert secret is not None
    assert secret.startswith("whsec_")
    assert view["signed"] is True
    # the platform records a request: the event is queued in the same transaction
    container.platform.record(
        "workflow_execution",
        "client a&b",
        state="ACCEPTED",
        payload={
            "workflowId": "wf/1 2",
            "params": {"reason": 'disk "C:" full\n'},
            "devices": ["PC-1"],
        },
    )
    container.platform.record("nql_export", "client", state="ACCEPTED", payload={})  # not a trigger
    drain(container)
    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    assert got.method == "PUT"
    assert (
        got.path
        == "/api/now/table/incident/wf%2F1%202?sysparm_display_value=true&who=client%20a%26b"
    )
    assert got.headers["x-source"] == "credgate workflow_execution"
    assert (
        got.headers["authorization"]
        == "Basic " + base64.b64encode(f"svc:{PASSWORD}".encode()).decode()
    )
    assert json.loads(got.body) == {"short_description": 'disk "C:" full\n', "devices": ["PC-1"]}
    # Standard Webhooks: the package verifies the signature with the secret shown at creation
    verified = standardwebhooks.Webhook(secret).verify(got.body, got.headers)
    assert verified["devices"] == ["PC-1"]
    [delivery] = container.outbound.webhooks.deliveries()
    assert delivery["state"] == "delivered"
    assert got.headers["webhook-id"] == delivery["id"]
    tampered = dict(got.headers, **{"webhook-id": "msg_other"})
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(got.body, tampered)


def test_retries_until_success_with_same_webhook_id(
    container: Container, receiver: Receiver
) -> None:
    failures = 3
    receiver.script = [
        (503, {}, b"busy"),
        (500, {}, f"oops, my password is {PASSWORD}".encode()),
        (429, {"Retry-After": "0"}, b"slow down"),
    ]
    cred = basic_credential(container, receiver.url)
    view, _ = make_webhook(container, cred, triggers=[])
    mid = container.outbound.webhooks.send(view["id"], {"n": 1}, actor=ACTOR)
    drain(container)
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids == [mid] * (failures + 1)
    log = container.outbound.webhooks.delivery(mid)
    assert log["state"] == "delivered"
    assert [a["status_code"] for a in log["log"]] == [503, 500, 429, 200]
    assert [bool(a["error"]) for a in log["log"]] == [True, True, True, False]
    assert log["log"][0]["response"] == "busy"
    # the receiver echoed the credential's password: the log keeps it scrubbed
    assert PASSWORD not in json.dumps(log)
    assert "oops, my password is" in log["log"][1]["response"]


def test_last_attempt_fails_then_replay_delivers(container: Container, receiver: Receiver) -> None:
    receiver.script = [(500, {}, b"no")] * 5
    cred = basic_credential(container, receiver.url)
    view, _ = make_webhook(container, cred, triggers=[])
    mid = container.outbound.webhooks.send(view["id"], {}, actor=ACTOR)
    drain(container)
    assert container.outbound.webhooks.delivery(mid)["state"] == "failed"
    assert len(receiver.requests) == 5
    container.outbound.webhooks.replay(mid, actor=ACTOR)
    drain(container)
    assert container.outbound.webhooks.delivery(mid)["state"] == "delivered"
    assert receiver.requests[-1].headers["webhook-id"] == mid


def test_a_batch_s_outcomes_leave_deleted_and_already_delivered_deliveries_alone(
    container: Container,
) -> None:
    service = container.outbound.webhooks
    cred = basic_credential(container, "https://127.0.0.1:9")
    kept, _ = make_webhook(container, cred, name="kept", triggers=[])
    deleted, _ = make_webhook(container, cred, name="deleted", triggers=[])
    first, second, third = (service.send(kept["id"], {"n": n}, actor=ACTOR) for n in range(3))
    orphan = service.send(deleted["id"], {}, actor=ACTOR)
    assert {c[0] for c in service.claim("w1", 10, 60.0)} == {first, second, third, orphan}
    # Meanwhile another worker delivered `second` (after the claim's lease ran out), and the
    # webhook `deleted` was deleted with its deliveries.
    service.finish_many(
        [Finished(second, "delivered", 1, None, "", AttemptRecord(200, 3, "", "ok", "w2"))]
    )
    service.delete(deleted["id"], actor=ACTOR)

    ok = AttemptRecord(200, 5, "", "ok", "w1")
    later = utcnow() + dt.timedelta(minutes=5)
    service.finish_many(
        [
            Finished(first, "delivered", 1, None, "", ok),
            Finished(second, "pending", 1, later, "HTTP 503", AttemptRecord(503, 5, "", "", "w1")),
            Finished(third, "failed", 1, None, "HTTP 400", AttemptRecord(400, 5, "", "", "w1")),
            Finished(orphan, "delivered", 1, None, "", ok),
        ]
    )

    assert service.counts() == {"delivered": 2, "failed": 1}
    assert service.delivery(first)["state"] == "delivered"
    late = service.delivery(second)
    assert late["state"] == "delivered"  # not sent again
    assert [a["status_code"] for a in late["log"]] == [200, 503]  # both attempts logged
    assert service.delivery(third)["last_error"] == "HTTP 400"
    with pytest.raises(NotFoundError):
        service.delivery(orphan)
    assert service.claim("w3", 10, 60.0) == []


def test_gone_disables_the_webhook(container: Container, receiver: Receiver) -> None:
    receiver.script = [(410, {}, b"gone")]
    cred = basic_credential(container, receiver.url)
    view, _ = make_webhook(container, cred, triggers=[])
    mid = container.outbound.webhooks.send(view["id"], {}, actor=ACTOR)
    drain(container)
    assert container.outbound.webhooks.delivery(mid)["state"] == "failed"
    shown = container.outbound.webhooks.get(view["id"])
    assert shown["enabled"] is False
    assert "410" in shown["disabled_reason"]
    assert len(receiver.requests) == 1


def test_deleted_credential_fails_with_credential_missing(
    container: Container, receiver: Receiver
) -> None:
    cred = basic_credential(container, receiver.url)
    view, _ = make_webhook(container, cred, triggers=[])
    container.connector_credentials.delete(cred, actor=ACTOR)
    mid = container.outbound.webhooks.send(view["id"], {}, actor=ACTOR)
    drain(container)
    log = container.outbound.webhooks.delivery(mid)
    assert log["state"] == "failed"
    assert "credential missing" in log["last_error"]
    assert "credential missing" in log["log"][0]["error"]
    assert receiver.requests == []


def test_bad_templates_are_refused_naming_the_field(
    container: Container, receiver: Receiver
) -> None:
    cred = basic_credential(container, receiver.url)
    cases = {
        "payload_template": {"payload_template": '{"a": {{ payload.workflowId }'},
        "resource": {"resource": "/x/{{ nothing.here }}"},
        "method": {"method": "GET"},
        "triggers": {"triggers": ["nope"]},
        "signing_secret": {"signing_secret": "whsec_###"},
    }
    for field, fields in cases.items():
        with pytest.raises(InvalidInputError) as caught:
            make_webhook(container, cred, **fields)
        assert caught.value.errors[0].field == field, field
    # an unquoted string lands as invalid JSON: refused with the sample data
    with pytest.raises(InvalidInputError) as caught:
        make_webhook(container, cred, payload_template='{"a": x{{ payload.workflowId }}}')
    assert caught.value.errors[0].field == "payload_template"
    assert "not JSON" in caught.value.errors[0].message


def test_sandbox_hides_internals() -> None:
    from credgate.outbound.events import sample_context
    from credgate.outbound.payloads import TemplateProblem, render_payload

    context = sample_context("handoff")
    out = render_payload(
        '{"a": "{{ payload.__class__.__mro__ }}", "b": {{ payload.nothing }}}', context
    )
    assert json.loads(out) == {"a": "null", "b": None}
    assert json.loads(render_payload('{"a": "{{ payload.items.__globals__ }}"}', context)) == {
        "a": "null"
    }
    with pytest.raises(TemplateProblem) as caught:
        render_payload('{"a": {{ range(10**9) | list }}}', context)
    assert caught.value.field == "payload_template"
    # a quote in a value cannot break out of its JSON string
    assert json.loads(render_payload('{"s": "{{ payload.summary }}"}', context)) == {
        "s": 'VPN "drops" every hour'
    }


def test_outbox_rolls_back_with_the_request(container: Container, receiver: Receiver) -> None:
    cred = basic_credential(container, receiver.url)
    make_webhook(container, cred)
    rid = container.platform.record("workflow_execution", "c", state="ACCEPTED", payload={})
    with pytest.raises(
        IntegrityError
    ):  # same id again: the request is refused, and so is its event
        container.platform.record(
            "workflow_execution", "c", state="ACCEPTED", payload={}, request_id=rid
        )
    with container.db.session() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert len(rows) == 1
        assert rows[0].data["request_id"] == rid


def test_admin_api_and_test_send(
    admin_client: Any, container: Container, receiver: Receiver
) -> None:
    cred = basic_credential(container, receiver.url)
    created = admin_client.post(
        "/admin/api/v1/webhooks",
        json={
            "name": "jira",
            "credential": "ServiceNow",
            "resource": "/rest/servicedeskapi/request",
            "payload_template": '{"summary": "{{ payload.message }}"}',
            "signing_secret": "generate",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["signing_secret"].startswith("whsec_")
    assert created.json()["credential_id"] == cred
    wid = created.json()["id"]
    assert "signing_secret" not in admin_client.get(f"/admin/api/v1/webhooks/{wid}").json()
    bad = admin_client.post("/admin/api/v1/webhooks", json={"name": "x", "credential": "nope"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "credential"
    tested = admin_client.post(f"/admin/api/v1/webhooks/{wid}/test").json()
    assert tested["status_code"] == 200
    assert tested["outcome"] == "delivered"
    assert json.loads(receiver.requests[-1].body) == {"summary": "hello from credgate"}
    sent = admin_client.post(f"/admin/api/v1/webhooks/{wid}/send", json={"message": "hi"})
    assert sent.status_code == 202
    listed = admin_client.get("/admin/api/v1/deliveries", params={"webhook": "jira"}).json()
    assert listed["items"][0]["id"] == sent.json()["id"]
    events = admin_client.get("/admin/api/v1/webhooks/events").json()
    assert {e["event"] for e in events["items"]} >= {"workflow_execution", "handoff", "explicit"}


def test_documented_examples_are_accepted_and_render(
    container: Container, receiver: Receiver
) -> None:
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    examples = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", doc, re.S)
        if "payload_template" in block
    ]
    assert len(examples) == 2
    basic_credential(container, receiver.url, name="ServiceNow")
    basic_credential(container, receiver.url, name="Jira")
    for example in examples:
        view, _ = container.outbound.webhooks.create(example, actor=ACTOR)
        event = example["triggers"][0]
        tested = asyncio.run(container.outbound.worker.test_send(view["id"], event))
        assert tested["outcome"] == "delivered", tested
    paths = [r.path for r in receiver.requests]
    assert paths == [
        "/api/now/table/incident?sysparm_display_value=true",
        "/rest/servicedeskapi/request",
    ]
    servicenow = json.loads(receiver.requests[0].body)
    assert servicenow["short_description"] == "credgate: remote_action #restart"
    jsm = json.loads(receiver.requests[1].body)
    assert jsm["requestFieldValues"]["summary"] == 'Spark handoff: VPN "drops" every hour'


def test_update_keeps_replaces_or_removes_the_signing_secret(
    container: Container, receiver: Receiver
) -> None:
    cred = basic_credential(container, receiver.url)
    view, secret = make_webhook(container, cred, signing_secret="generate")
    body = {"name": "incidents", "credential": cred, "resource": "/x", "triggers": []}
    kept, shown = container.outbound.webhooks.update(view["id"], body, actor=ACTOR)
    assert shown is None
    assert kept["signed"] is True
    assert kept["resource"] == "/x"
    loaded = container.outbound.webhooks.load(view["id"])
    assert loaded is not None
    assert loaded[1] == secret
    _, fresh = container.outbound.webhooks.update(
        view["id"], {**body, "signing_secret": "generate"}, actor=ACTOR
    )
    assert fresh is not None
    assert fresh != secret
    removed, _ = container.outbound.webhooks.update(
        view["id"], {**body, "signing_secret": ""}, actor=ACTOR
    )
    assert removed["signed"] is False


def test_signing_secrets_are_sealed_and_rotated(container: Container, receiver: Receiver) -> None:
    from credgate.outbound.models import WebhookSecret
    from credgate.security.rotation import add_key_version, reencrypt_all
    from credgate.security.vault import Vault, parse_master_keys

    cred = basic_credential(container, receiver.url)
    view, secret = make_webhook(container, cred, signing_secret="generate")
    assert secret is not None
    with container.db.session() as session:
        stored = session.get(WebhookSecret, view["id"])
        assert stored is not None
        assert secret not in stored.ciphertext
        assert secret not in repr(stored)
    assert container.settings.master_key is not None
    keys = parse_master_keys(container.settings.master_key.get_secret_value())
    version, keys = add_key_version(keys)
    report = reencrypt_all(container.db, Vault(keys), SEALED)
    assert report.reencrypted >= 1
    assert report.complete
    with container.db.session() as session:
        stored = session.get(WebhookSecret, view["id"])
        assert stored is not None
        assert Vault.key_version(stored.ciphertext) == version


def test_admin_api_lists_webhooks_by_page(
    admin_client: Any, container: Container, receiver: Receiver
) -> None:
    basic_credential(container, receiver.url)
    for name in ["hook c", "hook a", "hook b"]:
        made = admin_client.post(
            "/admin/api/v1/webhooks",
            json={"name": name, "credential": "ServiceNow", "signing_secret": "generate"},
        )
        assert made.status_code == 201, made.text
    first = admin_client.get("/admin/api/v1/webhooks?limit=2").json()
    assert [w["name"] for w in first["items"]] == ["hook a", "hook b"]
    assert first["total"] == 3
    assert all(w["signed"] for w in first["items"])
    rest = admin_client.get(first["next"]).json()
    assert [w["name"] for w in rest["items"]] == ["hook c"]
    assert rest["next"] is None
    assert admin_client.get("/admin/api/v1/webhooks?cursor=x").status_code == 422
