"""Each documented behaviour credgate once broke, against the live server of the contract suite:
per-family 401/403 bodies, the wait-for-event trigger, documented statuses instead of 404/400,
``x-utc-times``, documented string fields, identifiers and field names the documents allow,
and the SDK reading all of it."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest
from platform_contract import DEVICE, WORKFLOW_UUID, Contract

from credgate.client import Client, ClientConfig, NotFoundError, ValidationError
from credgate.core.paths import PROTECTED

# One call of each family's protected operations: method, path, a well-formed body.
CALLS: Final[dict[str, tuple[str, str, dict[str, Any] | None]]] = {
    "workflows": ("POST", "/api/v1/workflows/execute", {"workflowId": "#x", "devices": [DEVICE]}),
    "remote-actions": ("GET", "/api/v1/act/remote-action", None),
    "nql": ("POST", "/api/v1/nql/execute", {"queryId": "#all_devices"}),
    "enrichment": ("POST", "/api/v1/enrichment/data/fields", {"domain": "d", "enrichments": []}),
    "campaigns": (
        "POST",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#quick_poll", "userSid": ["S-1-5-21-1"], "expiresInMinutes": 60},
    ),
    "spark": ("POST", "/api/v1/spark/handoff", {"message": {"parts": []}}),
    "data-management": (
        "POST",
        "/api/v1/data-management/device/deletions",
        {"devices": [{"uid": DEVICE, "name": "pc-1"}]},
    ),
}


def _is_family_body(family: str, body: dict[str, Any]) -> bool:
    """Whether ``body`` is the error body the family's document gives for a 401/403."""
    if family == "workflows":
        return set(body) == {"code", "details"} and isinstance(body["code"], str)
    if family in ("remote-actions", "campaigns"):
        return set(body) == {"code", "message"}
    if family == "data-management":
        return set(body) == {"code", "message"} and body["code"] in (
            "FEATURE_NOT_ENABLED",
            "INVALID_REQUEST",
        )
    if family == "nql":
        return set(body) == {"message", "code", "source"} and isinstance(body["code"], int)
    return set(body) == {"message"}  # enrichment, spark


def _call(contract: Contract, family: str, token: str) -> httpx.Response:
    method, path, body = CALLS[family]
    headers = {"Authorization": f"Bearer {token}", "User-Principal-Name": "ada@example.com"}
    return httpx.request(method, contract.url + path, json=body, headers=headers)


@pytest.mark.parametrize("family", sorted(CALLS))
def test_403_is_the_family_error_body_with_the_challenge(contract: Contract, family: str) -> None:
    other = "spark" if family != "spark" else "nql"
    answer = _call(contract, family, contract.token_for([other]))
    assert answer.status_code == 403
    assert _is_family_body(family, answer.json()), answer.json()
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
    assert "error" not in answer.json()
    assert "error_description" not in answer.json()


@pytest.mark.parametrize("family", sorted(CALLS))
def test_401_is_the_family_error_body_with_the_challenge(contract: Contract, family: str) -> None:
    answer = _call(contract, family, "not-a-token")
    assert answer.status_code == 401
    assert _is_family_body(family, answer.json()), answer.json()
    assert answer.headers["www-authenticate"].startswith("Bearer ")


def _post(contract: Contract, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(contract.url + path, json=body, headers={**contract.headers, **headers})


def _get(contract: Contract, path: str, **params: str) -> httpx.Response:
    return httpx.get(contract.url + path, params=params, headers=contract.headers)


TRIGGER: Final = "/api/v1/workflows/workflows/{}/execution/{}/trigger"


def test_wait_for_event_trigger(contract: Contract) -> None:
    execution = str(uuid.uuid4())
    path = TRIGGER.format(WORKFLOW_UUID.upper(), execution)
    answer = _post(contract, path, {"parameters": {"approved": "yes"}})
    assert answer.status_code == 200
    [item] = answer.json()
    assert uuid.UUID(item["requestUuid"])
    recorded = contract.container.platform.get_request(item["requestUuid"])
    assert recorded is not None
    assert recorded.kind == "workflow_trigger"
    assert recorded.payload == {"executionUuid": execution, "parameters": {"approved": "yes"}}
    # The path table that routes and forward authentication read lists it.
    assert PROTECTED.resolve(TRIGGER.format(WORKFLOW_UUID, execution)) == "workflows"


@pytest.mark.parametrize(
    ("workflow", "execution", "body", "details"),
    [
        ("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", DEVICE, {}, "workflowUuid: no workflow"),
        ("nope", DEVICE, {}, "workflowUuid: must be a UUID"),
        (WORKFLOW_UUID, DEVICE, {"parameters": {"a": ""}}, "parameters.a: must not be empty"),
    ],
)
def test_wait_for_event_trigger_refusals(
    contract: Contract, workflow: str, execution: str, body: object, details: str
) -> None:
    answer = _post(contract, TRIGGER.format(workflow, execution), body)
    assert answer.status_code == 400
    assert answer.json()["details"].startswith(details)
    assert set(answer.json()) == {"code", "details"}


@pytest.mark.parametrize(
    ("path", "body", "keys"),
    [
        ("/api/v1/workflows/execute", {"workflowId": "#nope", "devices": [DEVICE]}, "details"),
        (
            "/api/v2/workflows/execute",
            {"workflowId": "#nope", "devices": [{"name": "a"}]},
            "details",
        ),
        ("/api/v1/act/execute", {"remoteActionId": "#nope", "devices": ["c-1"]}, "message"),
        (
            "/api/v1/euf/campaign/trigger",
            {"campaignNqlId": "#nope", "userSid": ["S-1-5-21-1"], "expiresInMinutes": 5},
            "message",
        ),
    ],
)
def test_unknown_definition_is_the_documented_400(
    contract: Contract, path: str, body: object, keys: str
) -> None:
    answer = _post(contract, path, body)
    assert answer.status_code == 400
    assert answer.json() == {"code": "NOT_FOUND", keys: answer.json()[keys]}
    assert "#nope" in answer.json()[keys]


def test_unknown_workflow_details_is_400_and_remote_action_details_404(contract: Contract) -> None:
    workflow = _get(contract, "/api/v1/workflows/details", nqlId="#nope")
    assert workflow.status_code == 400
    assert workflow.json()["code"] == "NOT_FOUND"
    action = _get(contract, "/api/v1/act/remote-action/details", **{"nql-id": "#nope"})
    assert action.status_code == 404
    assert action.json() == {"code": "NOT_FOUND", "message": "nql-id: no remote action '#nope'"}
    # No nql-id at all: no remote action is associated with the request either.
    assert _get(contract, "/api/v1/act/remote-action/details").status_code == 404


@pytest.mark.parametrize(
    ("body", "source"),
    [
        ({"queryId": "#devices_by_os"}, "parameters.os"),  # a parameter the query needs
        ({"queryId": "not an id"}, "queryId"),
        ({"queryId": "#all_devices", "parameters": {"n": 1}}, "parameters.n"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/nql/execute", "/api/v2/nql/execute", "/api/v1/nql/export"]
)
def test_nql_refusals_are_404_with_the_error_response(
    contract: Contract, path: str, body: object, source: str
) -> None:
    answer = _post(contract, path, body)
    assert answer.status_code == 404
    assert answer.json()["code"] == 404
    assert answer.json()["source"] == source
    assert answer.json()["message"]


@pytest.fixture
def regional_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The server's regional (local) zone set to UTC+05:30 for the test."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield "+05:30"
    monkeypatch.undo()
    time.tzset()


def test_x_utc_times(contract: Contract, regional_zone: str) -> None:
    body = {"queryId": "#all_devices"}
    utc = _post(contract, "/api/v2/nql/execute", body, **{"x-utc-times": "true"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc.json()["executionDateTime"])
    for value in ("false", "no"):
        local = _post(contract, "/api/v2/nql/execute", body, **{"x-utc-times": value})
        assert local.json()["executionDateTime"].endswith(regional_zone)
    absent = _post(contract, "/api/v2/nql/execute", body)
    assert absent.json()["executionDateTime"].endswith(regional_zone)
    v1_utc = _post(contract, "/api/v1/nql/execute", body, **{"x-utc-times": "true"}).json()
    v1_local = _post(contract, "/api/v1/nql/execute", body, **{"x-utc-times": "false"}).json()
    hours = (v1_local["executionDateTime"]["hour"] - v1_utc["executionDateTime"]["hour"]) % 24
    assert hours in (5, 6)  # +05:30, the minute it ran at decides


def test_remote_action_strings_are_strings(contract: Contract) -> None:
    listed = _get(contract, "/api/v1/act/remote-action").json()
    assert listed
    for action in listed:
        assert isinstance(action["builtInContentVersion"], str)
        assert isinstance(action["scriptInfo"]["executionServiceDelegate"], str)
    manual = _get(contract, "/api/v1/act/remote-action/details", **{"nql-id": "#manual_only"})
    assert manual.json()["scriptInfo"]["executionServiceDelegate"] == "DEFAULT"
    assert manual.json()["builtInContentVersion"] == "3.1.0"


def test_remote_action_devices_are_plain_strings(contract: Contract) -> None:
    body = {
        "remoteActionId": "#get_disk_space",
        "devices": ["collector-42"],
        "expiresInMinutes": 60,
    }
    answer = _post(contract, "/api/v1/act/execute", body)
    assert answer.status_code == 200
    assert answer.json()["expiresInMinutes"] == 60


def test_campaign_user_sids_are_plain_strings(contract: Contract) -> None:
    body = {
        "campaignNqlId": "#quick_poll",
        "userSid": ["S-1-5-21-1", "not-a-sid"],
        "expiresInMinutes": 60,
    }
    answer = _post(contract, "/api/v1/euf/campaign/trigger", body)
    assert answer.status_code == 200
    good, bad = answer.json()["requests"]
    assert good["userSid"] == "S-1-5-21-1"
    assert uuid.UUID(good["requestId"])
    assert bad == {"userSid": "not-a-sid", "message": "userSid: 'not-a-sid' is not a SID"}


def test_workflows_v2_takes_several_identifiers(contract: Contract) -> None:
    body = {
        "workflowId": "#restart_service",
        "users": [{"sid": "S-1-5-21-1", "upn": "ada@example.com"}],
        "devices": [{"name": "pc-1", "uid": DEVICE, "collectorUid": DEVICE}],
    }
    answer = _post(contract, "/api/v2/workflows/execute", body)
    assert answer.status_code == 200
    assert answer.json()["executionsUuids"]


def test_enrichment_writes_an_organization_field(contract: Contract) -> None:
    body = {
        "domain": "hr",
        "enrichments": [
            {
                "identification": [{"name": "user/user/upn", "value": "ada@example.com"}],
                "fields": [{"name": "user/user/organization/#cost_center", "value": "CC-7"}],
            }
        ],
    }
    answer = _post(contract, "/api/v1/enrichment/data/fields", body)
    assert (answer.status_code, answer.json()) == (200, {"status": "success"})


@pytest.fixture
def sdk(contract: Contract) -> Iterator[Client]:
    client_id, secret = contract.credential(["nql", "workflows", "remote-actions"])
    with Client(
        ClientConfig(base_url=contract.url, client_id=client_id, client_secret=secret)
    ) as c:
        yield c


def test_sdk_reads_every_family_error_body(sdk: Client) -> None:
    with pytest.raises(NotFoundError) as nql:
        sdk.execute_nql("#nope")
    assert nql.value.code == "404"
    assert nql.value.message == "No query associated with the ID #nope"
    with pytest.raises(NotFoundError) as action:
        sdk.remote_action_details("#nope")
    assert action.value.message == "nql-id: no remote action '#nope'"
    with pytest.raises(ValidationError) as workflow:
        sdk.execute_workflow("#nope", devices=[DEVICE])
    assert workflow.value.code == "NOT_FOUND"
    assert workflow.value.message == "workflowId: no workflow '#nope'"
    [manual] = [a for a in sdk.list_remote_actions() if a.id == "#manual_only"]
    assert manual.script_info.execution_service_delegate == "DEFAULT"
