"""Every documented limit is refused with 400 and the family's documented body, never a 500;
so are bad JSON and a wrong content type."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.platform.schemas import (
    campaigns,
    devices,
    enrichment,
    nql,
    remote_actions,
    spark,
    workflows,
)
from credgate.platform.schemas._common import RequestError
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ALL_PERMISSIONS, TokenFor

DEVICE = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"
SID = "S-1-5-21-1004"


def _devices(n: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{i:012d}" for i in range(n)]


def _enrichment(n: int, identifications: int = 1) -> dict[str, Any]:
    item = {
        "identification": [{"name": "device/device/name", "value": "pc"}] * identifications,
        "fields": [{"name": "device/device/configuration_tag", "value": "x"}],
    }
    return {"domain": "d", "enrichments": [item] * n}


# (path, body, parser that documents the answer)
LIMITS: list[tuple[str, str, object, Callable[[bytes], object]]] = [
    # Workflows: 10,000 devices or users, the SID pattern
    (
        "wf devices 10001",
        "/api/v1/workflows/execute",
        {"workflowId": "#w", "devices": _devices(10_001)},
        workflows.parse_execute_v1,
    ),
    (
        "wf users 10001",
        "/api/v1/workflows/execute",
        {"workflowId": "#w", "users": [SID] * 10_001},
        workflows.parse_execute_v1,
    ),
    (
        "wf bad sid",
        "/api/v1/workflows/execute",
        {"workflowId": "#w", "users": ["S-1"]},
        workflows.parse_execute_v1,
    ),
    (
        "wf no targets",
        "/api/v1/workflows/execute",
        {"workflowId": "#w"},
        workflows.parse_execute_v1,
    ),
    (
        "wf v2 no id",
        "/api/v2/workflows/execute",
        {"workflowId": "#w", "users": [{}]},
        workflows.parse_execute_v2,
    ),
    (
        "wf v2 devices 10001",
        "/api/v2/workflows/execute",
        {"workflowId": "#w", "devices": [{"name": "pc"}] * 10_001},
        workflows.parse_execute_v2,
    ),
    # Remote actions: 1-10,000 devices, expiresInMinutes 60-10,080, reason <= 500
    (
        "ra no devices",
        "/api/v1/act/execute",
        {"remoteActionId": "#r", "devices": []},
        remote_actions.parse_execute,
    ),
    (
        "ra devices 10001",
        "/api/v1/act/execute",
        {"remoteActionId": "#r", "devices": _devices(10_001)},
        remote_actions.parse_execute,
    ),
    (
        "ra expires 59",
        "/api/v1/act/execute",
        {"remoteActionId": "#r", "devices": [DEVICE], "expiresInMinutes": 59},
        remote_actions.parse_execute,
    ),
    (
        "ra expires 10081",
        "/api/v1/act/execute",
        {"remoteActionId": "#r", "devices": [DEVICE], "expiresInMinutes": 10_081},
        remote_actions.parse_execute,
    ),
    (
        "ra reason 501",
        "/api/v1/act/execute",
        {"remoteActionId": "#r", "devices": [DEVICE], "triggerInfo": {"reason": "x" * 501}},
        remote_actions.parse_execute,
    ),
    # Campaigns: 1-10,000 users, expiresInMinutes 1-525,600, at most 30 parameters
    (
        "camp no users",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#c", "userSid": [], "expiresInMinutes": 5},
        campaigns.parse_trigger,
    ),
    (
        "camp users 10001",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#c", "userSid": [SID] * 10_001, "expiresInMinutes": 5},
        campaigns.parse_trigger,
    ),
    (
        "camp expires 0",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#c", "userSid": [SID], "expiresInMinutes": 0},
        campaigns.parse_trigger,
    ),
    (
        "camp expires 525601",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#c", "userSid": [SID], "expiresInMinutes": 525_601},
        campaigns.parse_trigger,
    ),
    (
        "camp 31 parameters",
        "/api/v1/euf/campaign/trigger",
        {
            "campaignNqlId": "#c",
            "userSid": [SID],
            "expiresInMinutes": 5,
            "parameters": {f"p{i}": "v" for i in range(31)},
        },
        campaigns.parse_trigger,
    ),
    (
        "camp sid not a string",
        "/api/v1/euf/campaign/trigger",
        {"campaignNqlId": "#c", "userSid": [5], "expiresInMinutes": 5},
        campaigns.parse_trigger,
    ),
    # Data management: at most 100 devices, not empty
    (
        "dm 101 devices",
        "/api/v1/data-management/device/deletions",
        {"devices": [{"uid": DEVICE, "name": "pc"}] * 101},
        devices.parse_deletions,
    ),
    (
        "dm empty",
        "/api/v1/data-management/device/deletions",
        {"devices": []},
        devices.parse_deletions,
    ),
    ("dm no devices", "/api/v1/data-management/device/deletions", {}, devices.parse_deletions),
    # Enrichment: at most 10,000, each with exactly one identification
    ("enr 10001", "/api/v1/enrichment/data/fields", _enrichment(10_001), enrichment.parse_fields),
    ("enr empty", "/api/v1/enrichment/data/fields", _enrichment(0), enrichment.parse_fields),
    (
        "enr no domain",
        "/api/v1/enrichment/data/fields",
        {"enrichments": _enrichment(1)["enrichments"]},
        enrichment.parse_fields,
    ),
    # NQL: the queryId pattern
    ("nql bad query id", "/api/v1/nql/execute", {"queryId": "devices"}, nql.parse_execute),
    ("nql v2 bad query id", "/api/v2/nql/execute", {"queryId": "#A"}, nql.parse_execute),
    (
        "nql export compression",
        "/api/v1/nql/export",
        {"queryId": "#q_1", "compression": "ZIP"},
        nql.parse_export,
    ),
]


def _expected(parser: Callable[[bytes], object], raw: bytes) -> RequestError:
    with pytest.raises(RequestError) as caught:
        parser(raw)
    return caught.value


@pytest.mark.parametrize(
    ("path", "body", "parser"), [c[1:] for c in LIMITS], ids=[c[0] for c in LIMITS]
)
def test_limit_is_refused_with_the_documented_body(
    client: TestClient,
    seeded: Container,
    token_for: TokenFor,
    path: str,
    body: object,
    parser: Callable[[bytes], object],
) -> None:
    raw = json.dumps(body).encode()
    expected = _expected(parser, raw)
    response = client.post(
        path,
        content=raw,
        headers={**token_for(ALL_PERMISSIONS), "Content-Type": "application/json"},
    )
    # NQL's document lists no 400: its refusals are its documented 404 (docs/contract.md).
    assert response.status_code == (nql.REFUSED if "/nql/" in path else 400) == expected.status
    assert response.json() == expected.body


def test_documented_error_codes(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    big = client.post(
        "/api/v1/data-management/device/deletions",
        json={"devices": [{"uid": DEVICE, "name": "pc"}] * 101},
        headers={**all_headers, "x-request-id": "trace-1"},
    )
    assert big.status_code == 400
    assert big.json()["code"] == "BATCH_SIZE_EXCEEDED"
    assert big.headers["x-request-id"] == "trace-1"
    empty = client.post(
        "/api/v1/data-management/device/deletions", json={"devices": []}, headers=all_headers
    )
    assert empty.json()["code"] == "EMPTY_REQUEST"
    wf = client.post(
        "/api/v1/workflows/execute",
        json={"workflowId": "#w", "users": ["S-1"]},
        headers=all_headers,
    )
    assert set(wf.json()) == {"code", "details"}
    assert "users[0]" in wf.json()["details"]
    ra = client.post(
        "/api/v1/act/execute",
        json={"remoteActionId": "#r", "devices": [DEVICE], "expiresInMinutes": 59},
        headers=all_headers,
    )
    assert set(ra.json()) == {"code", "message"}
    assert "expiresInMinutes" in ra.json()["message"]
    q = client.post("/api/v1/nql/execute", json={"queryId": "bad"}, headers=all_headers)
    assert set(q.json()) == {"message", "code", "source"}
    assert q.json()["source"] == "queryId"
    enr = client.post(
        "/api/v1/enrichment/data/fields",
        json=_enrichment(2, identifications=2),
        headers=all_headers,
    )
    assert enr.status_code == 400
    assert enr.json()["status"] == "error"
    assert len(enr.json()["errors"]) == 2


FAMILY_POSTS = [
    ("/api/v1/workflows/execute", lambda b: {"code", "details"} == set(b)),
    ("/api/v2/workflows/execute", lambda b: {"code", "details"} == set(b)),
    ("/api/v1/act/execute", lambda b: {"code", "message"} == set(b)),
    ("/api/v1/nql/execute", lambda b: {"message", "code", "source"} == set(b)),
    ("/api/v2/nql/execute", lambda b: {"message", "code", "source"} == set(b)),
    ("/api/v1/nql/export", lambda b: {"message", "code", "source"} == set(b)),
    ("/api/v1/enrichment/data/fields", lambda b: b["status"] == "error" and b["errors"]),
    ("/api/v1/euf/campaign/trigger", lambda b: {"code", "message"} == set(b)),
    ("/api/v1/spark/handoff", lambda b: set(b) == {"message"}),
    ("/api/v1/data-management/device/deletions", lambda b: b["code"] in devices.ErrorCode.__args__),  # type: ignore[attr-defined]
]
BAD_BODIES = [
    ("not json", b"{not json", "application/json"),
    ("empty", b"", "application/json"),
    ("array", b"[1, 2]", "application/json"),
    ("not utf-8", b"\xff\xfe{}", "application/json"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("form", b"a=b", "application/x-www-form-urlencoded"),
    ("text", b'{"queryId": "#q"}', "text/plain"),
]


@pytest.mark.parametrize(("path", "shape"), FAMILY_POSTS, ids=[p for p, _ in FAMILY_POSTS])
def test_bad_json_and_wrong_content_types_get_the_family_400(
    client: TestClient,
    seeded: Container,
    all_headers: dict[str, str],
    path: str,
    shape: Callable[[Any], bool],
) -> None:
    headers = {**all_headers, "User-Principal-Name": "ada@example.com"}
    refused = nql.REFUSED if "/nql/" in path else 400
    for name, raw, content_type in BAD_BODIES:
        response = client.post(path, content=raw, headers={**headers, "Content-Type": content_type})
        assert response.status_code == refused, (name, response.text)
        assert shape(response.json()), (name, response.json())
    if path == "/api/v1/spark/handoff":
        missing = client.post(
            path, json={"message": {"parts": [{"type": "TEXT", "text": "hi"}]}}, headers=all_headers
        )
        assert missing.status_code == 400
        assert missing.json() == spark.error_body("User-Principal-Name: header is required")


def test_list_filters_and_detail_queries(
    client: TestClient, seeded: Container, all_headers: dict[str, str]
) -> None:
    bad = client.get("/api/v1/workflows", params={"dependency": "SOMETIMES"}, headers=all_headers)
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_REQUEST"
    assert "dependency" in bad.json()["details"]
    active = client.get(
        "/api/v1/workflows", params={"fetchOnlyActiveWorkflows": "maybe"}, headers=all_headers
    )
    assert active.status_code == 400
    api_only = client.get(
        "/api/v1/workflows",
        params={"triggerMethod": "API", "dependency": "DEVICE"},
        headers=all_headers,
    )
    assert [w["id"] for w in api_only.json()] == ["#restart_service"]
    assert client.get("/api/v1/workflows/details", headers=all_headers).status_code == 400
    # Documented statuses: the workflow details list no 404, the remote-action details no 400.
    assert (
        client.get(
            "/api/v1/workflows/details", params={"nqlId": "#nope"}, headers=all_headers
        ).status_code
        == 400
    )
    assert client.get("/api/v1/act/remote-action/details", headers=all_headers).status_code == 404
    missing = client.get(
        "/api/v1/act/remote-action/details", params={"nql-id": "#nope"}, headers=all_headers
    )
    assert missing.status_code == 404
    assert set(missing.json()) == {"code", "message"}
    unknown_query = client.post(
        "/api/v1/nql/execute", json={"queryId": "#nope"}, headers=all_headers
    )
    assert unknown_query.status_code == 404
    assert unknown_query.json() == nql.not_found("#nope").body
    not_acceptable = client.post(
        "/api/v1/nql/execute",
        json={"queryId": "#devices_by_os"},
        headers={**all_headers, "Accept": "application/xml"},
    )
    assert not_acceptable.status_code == 406
    missing_param = client.post(
        "/api/v1/nql/execute", json={"queryId": "#devices_by_os"}, headers=all_headers
    )
    assert missing_param.status_code == nql.REFUSED
    assert missing_param.json()["source"] == "parameters.os"


# Triggers of definitions the API may not start: path, body, and the documented 400 code.
NOT_TRIGGERABLE = {
    "manual-only workflow": (
        "/api/v1/workflows/execute",
        {"workflowId": "#manual_only", "devices": [DEVICE]},
        "NOT_API_TRIGGERABLE",
    ),
    "manual remote action": (
        "/api/v1/act/execute",
        {"remoteActionId": "#not_for_api", "devices": [DEVICE]},
        "NOT_API_ENABLED",
    ),
    # documented as a 400; the operation lists no 404
    "unknown remote action": (
        "/api/v1/act/execute",
        {"remoteActionId": "#ghost", "devices": [DEVICE]},
        "NOT_FOUND",
    ),
    "campaign with an unknown parameter": (
        "/api/v1/euf/campaign/trigger",
        {
            "campaignNqlId": "#onboarding",
            "userSid": [SID],
            "expiresInMinutes": 5,
            "parameters": {"colour": "x"},
        },
        "INVALID_PARAMETER",
    ),
}


@pytest.mark.parametrize("case", NOT_TRIGGERABLE.values(), ids=NOT_TRIGGERABLE)
def test_only_api_enabled_definitions_can_be_triggered(
    client: TestClient, seeded: Container, all_headers: dict[str, str], case: tuple[Any, ...]
) -> None:
    path, body, code = case
    answer = client.post(path, json=body, headers=all_headers)
    assert answer.status_code == 400
    assert answer.json()["code"] == code
