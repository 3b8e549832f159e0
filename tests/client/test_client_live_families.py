"""The SDK against a real running credgate (credgate.testing's sandbox), no mocks: for every API
family, the typed helper succeeds with its permission, raises PermissionDeniedError without it,
and maps a bad request to ValidationError (or NotFoundError) with the server's code."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from credgate.client import (
    APIError,
    Client,
    DeletionDevice,
    Enrichment,
    EnrichmentField,
    NotFoundError,
    PermissionDeniedError,
    SparkText,
    TriggerInfo,
    ValidationError,
    WorkflowDevice,
    WorkflowUser,
)
from credgate.testing import ALL_PERMISSIONS, Sandbox

DEVICE = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"
WORKFLOW_UUID = "6f1c7c1e-54a5-4b8f-9d3e-0a2b1c3d4e5f"


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Client:
    return sandbox.client()


def _enrich(client: Client) -> Any:
    return client.enrich_fields(
        "tests",
        [
            Enrichment(
                EnrichmentField("device/device/name", "pc-1"),
                [EnrichmentField("device/device/#os", "Windows 11")],
            )
        ],
    )


# permission -> (a call that succeeds, a call the server refuses as invalid)
Call = Callable[[Client], Any]
FAMILIES: dict[str, tuple[Call, Call]] = {
    "workflows": (
        lambda c: c.execute_workflow("#restart_service", devices=[DEVICE]),
        lambda c: c.execute_workflow("#restart_service", users=["not-a-sid"]),
    ),
    "remote-actions": (
        lambda c: c.execute_remote_action("#get_disk_space", [DEVICE], expires_in_minutes=120),
        lambda c: c.execute_remote_action("#get_disk_space", [DEVICE], expires_in_minutes=5),
    ),
    "nql": (
        lambda c: c.execute_nql("#devices_by_os", {"os": "Windows 11"}),
        lambda c: c.execute_nql("#devices_by_os", {}),
    ),
    "enrichment": (_enrich, lambda c: c.enrich_fields("tests", [])),
    "campaigns": (
        lambda c: c.trigger_campaign("#onboarding_survey", ["S-1-5-21-1"], expires_in_minutes=60),
        lambda c: c.trigger_campaign("#onboarding_survey", ["S-1-5-21-1"], expires_in_minutes=0),
    ),
    "spark": (
        lambda c: c.spark_handoff("ada@example.com", [SparkText("my laptop is slow")]),
        lambda c: c.spark_handoff("ada@example.com", []),
    ),
    "data-management": (
        lambda c: c.schedule_device_deletions([DeletionDevice(DEVICE, "pc-1")]),
        lambda c: c.schedule_device_deletions([]),
    ),
}


def _refusal(permission: str) -> type[APIError]:
    # The NQL document lists no 400: its refusals are its documented 404 (docs/contract.md).
    return NotFoundError if permission == "nql" else ValidationError


def test_every_family_is_covered() -> None:
    # The seven platform families; the SDK's classic methods (engines, audit trail, NXQL) are
    # checked in test_client_classic.py.
    assert set(FAMILIES) == set(ALL_PERMISSIONS) - {"engines", "audit-trail"}


@pytest.mark.parametrize("permission", sorted(FAMILIES))
def test_success_with_the_permission(sandbox: Sandbox, permission: str) -> None:
    succeed, _ = FAMILIES[permission]
    with sandbox.client([permission]) as only_this:
        succeed(only_this)


@pytest.mark.parametrize("permission", sorted(FAMILIES))
def test_403_without_the_permission(sandbox: Sandbox, permission: str) -> None:
    succeed, _ = FAMILIES[permission]
    others = [p for p in ALL_PERMISSIONS if p != permission]
    with sandbox.client(others) as lacking, pytest.raises(PermissionDeniedError) as info:
        succeed(lacking)
    assert info.value.status_code == 403
    assert info.value.required_scope == permission


@pytest.mark.parametrize("permission", sorted(FAMILIES))
def test_bad_request_is_a_validation_error(client: Client, permission: str) -> None:
    _, refuse = FAMILIES[permission]
    with pytest.raises(_refusal(permission)) as info:
        refuse(client)
    assert info.value.status_code == (404 if permission == "nql" else 400)
    assert info.value.body is not None
    assert str(info.value)  # names what is wrong


def test_workflows_typed_results(client: Client) -> None:
    listed = client.list_workflows()
    assert [w.id for w in listed] == ["#restart_service"]
    assert listed[0].uuid == WORKFLOW_UUID
    assert client.list_workflows(trigger_method="SCHEDULER") == []
    assert [w.name for w in client.workflow_details("#restart_service")] == ["Restart service"]
    run = client.execute_workflow_v2(
        WORKFLOW_UUID, devices=[WorkflowDevice(name="pc-1")], users=[WorkflowUser(upn="a@b.c")]
    )
    assert run.request_uuid
    assert run.executions_uuids
    with pytest.raises(ValidationError) as unknown:  # the documented 400, not a 404
        client.execute_workflow("#no_such_workflow", devices=[DEVICE])
    assert unknown.value.code == "NOT_FOUND"
    assert unknown.value.message == "workflowId: no workflow '#no_such_workflow'"


def test_remote_actions_typed_results(client: Client) -> None:
    (action,) = client.list_remote_actions()
    assert action.id == "#get_disk_space"
    assert action.targeting.api_enabled is True
    assert client.remote_action_details("#get_disk_space").name == "Get disk space"
    run = client.execute_remote_action(
        "#get_disk_space",
        [DEVICE],
        params={"drive": "C:"},
        trigger_info=TriggerInfo(external_source="tests", reason="disk full"),
    )
    assert run.request_id
    assert run.expires_in_minutes == 60
    with pytest.raises(NotFoundError) as info:
        client.remote_action_details("#nope")
    assert info.value.code == "NOT_FOUND"


def test_nql_round_trip_through_enrichment(client: Client) -> None:
    _enrich(client)
    v1 = client.execute_nql("#devices_by_os", {"os": "Windows 11"})
    assert v1.query_id == "#devices_by_os"
    assert v1.data[0][:2] == ["pc-1", "Windows 11"]
    v2 = client.execute_nql_v2("#devices_by_os", {"$os": "Windows 11"})
    assert v2.data[0]["name"] == "pc-1"
    csv = client.execute_nql_csv("#devices_by_os", {"os": "Windows 11"})
    assert "pc-1" in csv
    for method in ("POST", "GET"):
        export = client.export_nql("#devices_by_os", {"os": "Windows 11"}, method=method)
        status = client.nql_export_status(export.export_id)
        assert status.status in ("SUBMITTED", "IN_PROGRESS", "COMPLETED")
    with pytest.raises(NotFoundError):
        client.execute_nql("#no_such_query")


def test_campaign_spark_and_deletions_typed_results(client: Client) -> None:
    result = client.trigger_campaign(
        "#onboarding_survey",
        ["S-1-5-21-1", "S-1-5-21-1", "S-1-5-21-2"],
        expires_in_minutes=60,
        parameters={"team": "blue"},
    )
    assert [r.user_sid for r in result.requests] == ["S-1-5-21-1", "S-1-5-21-2"]
    assert client.spark_handoff("ada@example.com", [SparkText("hello")]) is None
    deleted = client.schedule_device_deletions(
        [DeletionDevice(DEVICE, "pc-1")], request_id="req-123"
    )
    assert deleted.status == "ACCEPTED"
    assert deleted.request_id == "req-123"


def test_async_client_against_the_server(sandbox: Sandbox) -> None:
    async def run() -> list[str]:
        async with sandbox.async_client(["workflows", "remote-actions"]) as client:
            workflows, actions = await asyncio.gather(
                client.list_workflows(), client.list_remote_actions()
            )
            with pytest.raises(PermissionDeniedError):
                await client.execute_nql("#devices_by_os", {"os": "x"})
            return [w.id for w in workflows] + [a.id for a in actions]

    assert asyncio.run(run()) == ["#restart_service", "#get_disk_space"]


def test_a_full_run_logs_no_secret(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    """Every family, a 403, a 400 and a forced renewal, with every logger at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "credgate", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    credential = sandbox.create_credential()
    seen_tokens: list[str] = []
    with Client(sandbox.config(credential)) as client:
        for permission, (succeed, refuse) in FAMILIES.items():
            succeed(client)
            with pytest.raises(_refusal(permission)):
                refuse(client)
            seen_tokens.append(client._auth.flow.current() or "")
        # A 401 (token revoked server-side is not needed: a stale token forces the retry path).
        client._auth.flow._token = None
        client.list_workflows()
        seen_tokens.append(client._auth.flow.current() or "")
        assert "**********" in repr(client)
        assert credential.client_secret not in repr(client)
    with sandbox.client(["spark"]) as nothing, pytest.raises(PermissionDeniedError):
        nothing.list_workflows()
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert any(r.name.startswith("httpx") for r in caplog.records)  # the loggers were on
    assert any("requesting an access token" in r.getMessage() for r in caplog.records)
    assert credential.client_secret not in logged
    assert credential.client_secret not in repr(credential)
    for token in filter(None, seen_tokens):
        assert token not in logged
    assert "eyJ" not in logged  # no JWT at all
    assert "Basic " not in logged
    assert "Bearer ey" not in logged


def test_base_url_transport_has_no_secret_in_httpx_event_hooks(sandbox: Sandbox) -> None:
    """Even a caller's own httpx event hook sees the token only in the request it sent."""
    seen: list[str] = []
    credential = sandbox.create_credential(["workflows"])
    with Client(sandbox.config(credential)) as client:
        client._http.event_hooks["request"] = [lambda r: seen.append(str(r.url))]
        client.list_workflows()
    assert all(credential.client_secret not in url for url in seen)
    assert any(url.endswith("/api/v1/workflows") for url in seen)
    assert isinstance(httpx.URL(seen[0]), httpx.URL)
