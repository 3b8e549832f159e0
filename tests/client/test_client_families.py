"""Each API family: the request as the server received it, the parsed answer, error mapping."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from contract_server import ContractServer, Recorded, Target

from credgate.client import (
    APIError,
    AsyncClient,
    AuthenticationError,
    Client,
    ClientConfig,
    DeletionDevice,
    Enrichment,
    EnrichmentField,
    NotFoundError,
    NqlDateTime,
    PermissionDeniedError,
    ServerError,
    SparkFile,
    SparkText,
    TransportError,
    TriggerInfo,
    ValidationError,
    WorkflowDevice,
    WorkflowUser,
)


@pytest.fixture
def client(config: ClientConfig) -> Iterator[Client]:
    with Client(config) as client:
        yield client


def last(contract: ContractServer) -> Recorded:
    return contract.state.requests[-1]


# --- NQL -------------------------------------------------------------------------------------


def test_nql_execute_v1(client: Client, contract: ContractServer) -> None:
    result = client.execute_nql("#top_devices", {"$os": "Windows", "limit": 5}, utc_times=True)
    sent = last(contract)
    assert (sent.method, sent.path) == ("POST", "/api/v1/nql/execute")
    assert sent.json() == {"queryId": "#top_devices", "parameters": {"os": "Windows", "limit": 5}}
    assert sent.headers["accept"] == "application/json"
    assert sent.headers["x-utc-times"] == "true"
    assert sent.headers["content-type"] == "application/json"
    assert result.query_id == "#top_devices"
    assert result.rows == 2
    assert result.execution_date_time == NqlDateTime(2024, 5, 6, 7, 8, 9)
    assert result.headers == ["device.name", "device.os"]
    assert result.data == [["pc-1", "Windows"], ["mac-2", "macOS"]]


def test_nql_execute_v2_and_csv(client: Client, contract: ContractServer) -> None:
    result = client.execute_nql_v2("#top_devices")
    assert last(contract).path == "/api/v2/nql/execute"
    assert "x-utc-times" not in last(contract).headers
    assert last(contract).json() == {"queryId": "#top_devices", "parameters": {}}
    assert result.execution_date_time == "2024-05-06T07:08:09Z"
    assert result.data[0] == {"device.name": "pc-1", "device.os": "Windows"}
    csv = client.execute_nql_csv("#top_devices", version=2)
    assert last(contract).headers["accept"] == "text/csv"
    assert last(contract).path == "/api/v2/nql/execute"
    assert csv.splitlines()[0] == "device.name,device.os"


def test_nql_query_id_is_checked_before_sending(client: Client, contract: ContractServer) -> None:
    with pytest.raises(ValueError, match="query_id 'top_devices'"):
        client.execute_nql("top_devices")
    assert contract.state.requests == []


def test_nql_export_post_get_and_status(client: Client, contract: ContractServer) -> None:
    export = client.export_nql("#big_query", {"day": "monday"}, compression="GZIP")
    assert last(contract).method == "POST"
    assert last(contract).json() == {
        "queryId": "#big_query",
        "parameters": {"day": "monday"},
        "compression": "GZIP",
    }
    assert export.export_id.startswith("exp-")
    client.export_nql("#big_query", {"day": "monday"}, compression="ZSTD", method="GET")
    sent = last(contract)
    assert (sent.method, sent.path, sent.body) == ("GET", "/api/v1/nql/export", b"")
    assert sent.query == {"queryId": ["#big_query"], "compression": ["ZSTD"], "day": ["monday"]}
    status = client.nql_export_status(export.export_id)
    assert last(contract).path == f"/api/v1/nql/status/{export.export_id}"
    assert status.status == "COMPLETED"
    assert status.results_file_url == f"https://files.invalid/{export.export_id}.csv"
    assert status.error_description is None
    assert status.truncated is False
    assert client.nql_export_status("exp-1-truncated").truncated is True


# --- Workflows -------------------------------------------------------------------------------


def test_list_workflows_without_filters_sends_no_query(
    client: Client, contract: ContractServer
) -> None:
    [workflow] = client.list_workflows()
    sent = last(contract)
    assert (sent.method, sent.path, sent.query) == ("GET", "/api/v1/workflows", {})
    assert workflow.id == "#wf_restart"
    assert workflow.status == "ACTIVE"
    assert workflow.last_update_time == "2023-12-07T16:26:36Z"
    assert workflow.trigger_methods == ["API", "MANUAL"]


def test_list_workflows_with_filters(client: Client, contract: ContractServer) -> None:
    client.list_workflows(dependency="USER", trigger_method="API", fetch_only_active=True)
    assert last(contract).query == {
        "dependency": ["USER"],
        "triggerMethod": ["API"],
        "fetchOnlyActiveWorkflows": ["true"],
    }


def test_workflow_details(client: Client, contract: ContractServer) -> None:
    assert [w.name for w in client.workflow_details("#wf_restart")] == ["Restart service"]
    assert last(contract).query == {"nqlId": ["#wf_restart"]}
    assert client.workflow_details("#other") == []


def test_execute_workflow_v1_and_v2(client: Client, contract: ContractServer) -> None:
    execution = client.execute_workflow(
        "#wf_restart", devices=["d-1"], users=["S-1-5-21-1"], params={"service": "spooler"}
    )
    assert last(contract).path == "/api/v1/workflows/execute"
    assert last(contract).json() == {
        "workflowId": "#wf_restart",
        "devices": ["d-1"],
        "users": ["S-1-5-21-1"],
        "params": {"service": "spooler"},
    }
    assert len(execution.executions_uuids) == 1
    assert execution.request_uuid
    client.execute_workflow_v2(
        "#wf_restart",
        devices=[WorkflowDevice(collector_uid="c-1"), WorkflowDevice(name="pc-1")],
        users=[WorkflowUser(upn="ann@example.com"), WorkflowUser(sid="S-1-5-21-2")],
    )
    assert last(contract).path == "/api/v2/workflows/execute"
    assert last(contract).json() == {
        "workflowId": "#wf_restart",
        "devices": [{"collectorUid": "c-1"}, {"name": "pc-1"}],
        "users": [{"upn": "ann@example.com"}, {"sid": "S-1-5-21-2"}],
    }


def test_workflow_v2_identities_need_at_least_one_id() -> None:
    with pytest.raises(ValueError, match="at least one of sid, upn, uid"):
        WorkflowUser()
    with pytest.raises(ValueError, match="at least one of collectorUid, name, uid"):
        WorkflowDevice()
    # The document asks for at least one identifier each: several narrow the match.
    assert WorkflowUser(sid="S-1-0", upn="a@b.c").to_wire() == {"sid": "S-1-0", "upn": "a@b.c"}
    assert WorkflowDevice(name="pc-1", uid="u-1").to_wire() == {"name": "pc-1", "uid": "u-1"}


# --- Remote Actions --------------------------------------------------------------------------


def test_remote_actions_list_and_details(client: Client, contract: ContractServer) -> None:
    [action] = client.list_remote_actions()
    assert last(contract).path == "/api/v1/act/remote-action"
    assert action.targeting.api_enabled is True
    assert action.targeting.manual_allow_multiple_devices is False
    assert action.script_info.timeout_seconds == 120
    assert action.script_info.has_script_windows is True
    assert action.purpose == ["REMEDIATION"]
    assert action.built_in_content_version is None
    details = client.remote_action_details("#ra_clear_cache")
    assert last(contract).query == {"nql-id": ["#ra_clear_cache"]}
    assert details == action


def test_remote_action_details_404(client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.remote_action_details("#nope")
    assert info.value.status_code == 404
    assert info.value.code == "NOT_FOUND"
    assert info.value.message == "no remote action with id '#nope'"


def test_execute_remote_action(client: Client, contract: ContractServer) -> None:
    execution = client.execute_remote_action(
        "#ra_clear_cache",
        ["collector-1", "collector-2"],
        params={"browser": "edge"},
        expires_in_minutes=120,
        trigger_info=TriggerInfo(
            external_source="ticketing", reason="user report", external_reference="INC42"
        ),
    )
    assert last(contract).json() == {
        "remoteActionId": "#ra_clear_cache",
        "devices": ["collector-1", "collector-2"],
        "params": {"browser": "edge"},
        "expiresInMinutes": 120,
        "triggerInfo": {
            "externalSource": "ticketing",
            "reason": "user report",
            "externalReference": "INC42",
        },
    }
    assert execution.expires_in_minutes == 120
    assert execution.request_id


# --- Enrichment ------------------------------------------------------------------------------


def test_enrichment_success_and_partial_success(client: Client, contract: ContractServer) -> None:
    ok = client.enrich_fields(
        "ticketing",
        [
            Enrichment(
                EnrichmentField("device/device/name", "pc-1"),
                [EnrichmentField("device/device/#owner", "ann"), EnrichmentField("x/x/#y", "")],
            )
        ],
    )
    assert last(contract).json() == {
        "domain": "ticketing",
        "enrichments": [
            {
                "identification": [{"name": "device/device/name", "value": "pc-1"}],
                "fields": [
                    {"name": "device/device/#owner", "value": "ann"},
                    {"name": "x/x/#y", "value": ""},
                ],
            }
        ],
    }
    assert ok.status == "success"
    assert not ok.partial
    partial = client.enrich_fields(
        "ticketing",
        [
            Enrichment(EnrichmentField("device/device/name", "pc-1"), []),
            Enrichment(EnrichmentField("device/device/name", "unknown-9"), []),
        ],
    )
    assert partial.partial
    [error] = partial.errors
    assert error.identification == [EnrichmentField("device/device/name", "unknown-9")]
    assert error.errors[0].code == "NOT_FOUND"


def test_enrichment_400_is_a_validation_error_with_the_body(client: Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.enrich_fields("ticketing", [])
    assert info.value.status_code == 400
    assert info.value.code == "INVALID_REQUEST"
    assert "enrichments" in str(info.value.message)
    assert info.value.body["status"] == "error"


# --- Campaigns, Spark, Data management -------------------------------------------------------


def test_trigger_campaign(client: Client, contract: ContractServer) -> None:
    result = client.trigger_campaign(
        "#survey",
        ["S-1-5-21-1", "S-1-5-21-1", "bogus"],
        expires_in_minutes=60,
        parameters={"topic": "vpn"},
    )
    assert last(contract).path == "/api/v1/euf/campaign/trigger"
    assert last(contract).json() == {
        "campaignNqlId": "#survey",
        "userSid": ["S-1-5-21-1", "S-1-5-21-1", "bogus"],
        "expiresInMinutes": 60,
        "parameters": {"topic": "vpn"},
    }
    assert [r.user_sid for r in result.requests] == ["S-1-5-21-1", "bogus"]
    assert result.requests[0].request_id
    assert result.requests[1].request_id is None
    assert result.requests[1].message == "invalid SID"


def test_spark_handoff(client: Client, contract: ContractServer) -> None:
    answer = client.spark_handoff(  # type: ignore[func-returns-value]
        "ann@example.com",
        [SparkText("my VPN drops"), SparkFile("aGVsbG8=", "text/plain")],
        timezone="Europe/Zurich",
        metadata={"ticket": "INC42"},
    )
    assert answer is None
    sent = last(contract)
    assert sent.path == "/api/v1/spark/handoff"
    assert sent.headers["user-principal-name"] == "ann@example.com"
    assert sent.headers["timezone"] == "Europe/Zurich"
    assert sent.json() == {
        "message": {
            "parts": [
                {"type": "TEXT", "text": "my VPN drops"},
                {"type": "FILE", "fileContent": "aGVsbG8=", "mimeType": "text/plain"},
            ]
        },
        "metadata": {"ticket": "INC42"},
    }


def test_device_deletions_echo_the_request_id(client: Client, contract: ContractServer) -> None:
    result = client.schedule_device_deletions(
        [DeletionDevice("uid-1", "pc-1"), DeletionDevice("uid-2")], request_id="req-42"
    )
    sent = last(contract)
    assert sent.path == "/api/v1/data-management/device/deletions"
    assert sent.headers["x-request-id"] == "req-42"
    assert sent.json() == {"devices": [{"uid": "uid-1", "name": "pc-1"}, {"uid": "uid-2"}]}
    assert result.scheduled_count == 2
    assert result.status == "ACCEPTED"
    assert [d.status for d in result.devices] == ["SCHEDULED", "SCHEDULED"]
    assert result.request_id == "req-42"
    generated = client.schedule_device_deletions([DeletionDevice("uid-3")])
    assert generated.request_id == last(contract).headers["x-request-id"]


def test_device_deletions_400_carries_the_code(client: Client) -> None:
    with pytest.raises(ValidationError) as info:
        client.schedule_device_deletions([DeletionDevice(f"u{i}") for i in range(101)])
    assert info.value.code == "BATCH_SIZE_EXCEEDED"
    assert info.value.request_id


# --- the low-level request -------------------------------------------------------------------


def test_low_level_request(client: Client, contract: ContractServer) -> None:
    response = client.request("PUT", "/api/v1/echo/custom", params={"a": "1"}, json={"b": 2})
    assert response.json() == {"method": "PUT", "path": "/api/v1/echo/custom"}
    sent = last(contract)
    assert sent.query == {"a": ["1"]}
    assert sent.json() == {"b": 2}
    assert sent.headers["authorization"].startswith("Bearer ")


def test_low_level_request_refuses_other_hosts(client: Client, contract: ContractServer) -> None:
    with pytest.raises(ValueError, match="must be a path on the API host"):
        client.request("GET", "https://elsewhere.example/steal")
    assert contract.state.token_requests == 0


# --- error mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"code": "INVALID_PARAMS", "message": "devices: too many", "details": ["devices"]},
            ValidationError,
        ),
        (422, {"code": "UNPROCESSABLE", "message": "no"}, ValidationError),
        (
            404,
            {"message": "query not found", "code": "NOT_FOUND", "source": "queryId"},
            NotFoundError,
        ),
        (406, {"message": "not acceptable"}, APIError),
        (500, {"message": "boom"}, ServerError),
        (502, None, ServerError),
        (503, {"message": "upstream down"}, ServerError),
    ],
)
def test_error_statuses_map_to_exceptions(
    client: Client, contract: ContractServer, status: int, body: Any, kind: type[APIError]
) -> None:
    contract.state.inject(status, body)
    with pytest.raises(kind) as info:
        client.execute_nql("#any_query")
    error = info.value
    assert type(error) is kind
    assert error.status_code == status
    assert error.body == body
    assert f"POST /api/v1/nql/execute answered {status}" in str(error)
    if body:
        assert error.message == body["message"]
        assert error.code == body.get("code")
        assert error.details == body.get("details")


def test_403_carries_the_required_scope(client: Client, contract: ContractServer) -> None:
    contract.state.inject(
        403,
        {"message": "forbidden"},
        headers={
            "WWW-Authenticate": 'Bearer error="insufficient_scope", '
            'error_description="needs more", scope="nx_dataplatform_device_deletion_api"'
        },
    )
    with pytest.raises(PermissionDeniedError) as info:
        client.schedule_device_deletions([DeletionDevice("u1")])
    assert info.value.required_scope == "nx_dataplatform_device_deletion_api"
    assert "requires scope nx_dataplatform_device_deletion_api" in str(info.value)


def test_403_without_a_scope(client: Client, contract: ContractServer) -> None:
    contract.state.inject(403, {"code": "FEATURE_NOT_ENABLED", "message": "off"})
    with pytest.raises(PermissionDeniedError) as info:
        client.schedule_device_deletions([DeletionDevice("u1")])
    assert info.value.required_scope is None
    assert info.value.code == "FEATURE_NOT_ENABLED"


def test_a_body_that_breaks_the_contract_names_the_field(
    client: Client, contract: ContractServer
) -> None:
    contract.state.inject(200, [{"id": "#wf", "uuid": "u", "name": 7}])
    with pytest.raises(APIError, match=r"body\[0\]\.name: missing or not str"):
        client.list_workflows()


def test_network_failure_is_a_transport_error(target: Target) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    config = ClientConfig(
        base_url=f"http://127.0.0.1:{port}", client_id="c", client_secret="cgs_x", timeout=2
    )
    with Client(config) as client, pytest.raises(TransportError) as info:
        client.list_workflows()
    assert isinstance(info.value.__cause__, httpx.ConnectError)


# --- the same families through AsyncClient ---------------------------------------------------


def test_async_client_families(config: ClientConfig, contract: ContractServer) -> None:
    async def scenario() -> None:
        async with AsyncClient(config) as client:
            result = await client.execute_nql("#top_devices")
            assert result.rows == 2
            assert (await client.list_workflows())[0].id == "#wf_restart"
            assert (await client.remote_action_details("#ra_clear_cache")).name == "Clear cache"
            partial = await client.enrich_fields(
                "d", [Enrichment(EnrichmentField("user/user/sid", "unknown"), [])]
            )
            assert partial.partial
            await client.spark_handoff("ann@example.com", [SparkText("hi")])
            deletion = await client.schedule_device_deletions([DeletionDevice("u")])
            assert deletion.scheduled_count == 1
            with pytest.raises(NotFoundError):
                await client.remote_action_details("#nope")
            response = await client.request("GET", "/api/v1/echo/x")
            assert response.json()["path"] == "/api/v1/echo/x"

    asyncio.run(scenario())
    paths = [r.path for r in contract.state.requests]
    assert paths == [
        "/api/v1/nql/execute",
        "/api/v1/workflows",
        "/api/v1/act/remote-action/details",
        "/api/v1/enrichment/data/fields",
        "/api/v1/spark/handoff",
        "/api/v1/data-management/device/deletions",
        "/api/v1/act/remote-action/details",
        "/api/v1/echo/x",
    ]
    assert contract.state.token_requests == 1


def test_async_401_after_renewal_is_an_authentication_error(
    config: ClientConfig, contract: ContractServer
) -> None:
    contract.state.inject(401, times=2)

    async def scenario() -> None:
        async with AsyncClient(config) as client:
            await client.list_workflows()

    with pytest.raises(AuthenticationError):
        asyncio.run(scenario())
    assert len(contract.state.requests) == 2
