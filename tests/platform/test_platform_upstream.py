"""Upstream delegation against a real HTTP server on loopback: credgate validates and authorises,
forwards without the bearer token but with the client and its permissions, relays the answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.asgi import Receive, Scope, Send, read_body
from credgate.platform.upstream import CLIENT_HEADER, PERMISSIONS_HEADER
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import TokenFor
from support import ThreadServer, free_port

DEVICE = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"


class Upstream:
    """Records every request and answers with a recognisable body."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, 1 << 24)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.seen.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"].decode(),
                "headers": headers,
                "body": body,
            }
        )
        status, payload = 200, json.dumps({"upstream": scope["path"]}).encode()
        if scope["path"] == "/api/v1/spark/handoff":
            status, payload = 204, b""
        elif scope["path"] == "/api/v1/enrichment/data/fields":
            status = 207
        out = [(b"content-type", b"application/json"), (b"x-request-id", b"from-upstream")]
        if payload:
            out.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Upstream, str]]:
    app = Upstream()
    with ThreadServer(app) as server:
        yield app, server.url


@pytest.fixture(scope="module")
def shared_settings_overrides(upstream: tuple[Upstream, str]) -> dict[str, object]:
    url = upstream[1] + "/"
    return {
        "upstream_workflows_url": url,
        "upstream_remote_actions_url": url,
        "upstream_nql_url": url,
        "upstream_enrichment_url": url,
        "upstream_spark_url": url,
        "upstream_data_management_url": url,
        # Nothing listens there: the family answers 502 with its own error body.
        "upstream_campaigns_url": f"http://127.0.0.1:{free_port()}",
        "upstream_timeout_seconds": 5,
    }


def test_forwarding_strips_the_token_and_names_the_client(
    client: TestClient, container: Container, upstream: tuple[Upstream, str], token_for: TokenFor
) -> None:
    app, _url = upstream
    headers = token_for(["workflows", "nql"])
    response = client.get("/api/v1/workflows", params={"dependency": "DEVICE"}, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"upstream": "/api/v1/workflows"}
    assert response.headers["x-request-id"] == "from-upstream"
    seen = app.seen[-1]
    assert seen["query"] == "dependency=DEVICE"
    assert "authorization" not in seen["headers"]
    assert seen["headers"][PERMISSIONS_HEADER.lower()] == "nql workflows"
    client_id = seen["headers"][CLIENT_HEADER.lower()]
    assert any(c.client_id == client_id for c in container.api_credentials.list())
    token = headers["Authorization"].split()[1]
    assert all(token not in v for v in seen["headers"].values())


def test_invalid_requests_never_reach_the_upstream(
    client: TestClient,
    upstream: tuple[Upstream, str],
    all_headers: dict[str, str],
    token_for: TokenFor,
) -> None:
    app, _url = upstream
    before = len(app.seen)
    bad = client.post(
        "/api/v1/act/execute", json={"remoteActionId": "#r", "devices": []}, headers=all_headers
    )
    assert bad.status_code == 400
    filters = client.get("/api/v1/workflows", params={"dependency": "X"}, headers=all_headers)
    assert filters.status_code == 400
    denied = client.post(
        "/api/v1/nql/execute", json={"queryId": "#q_1"}, headers=token_for(["spark"])
    )
    assert denied.status_code == 403
    assert client.get("/api/v1/workflows").status_code == 401
    assert len(app.seen) == before


def test_answers_are_relayed_and_requests_recorded(
    client: TestClient,
    container: Container,
    upstream: tuple[Upstream, str],
    all_headers: dict[str, str],
) -> None:
    app, _url = upstream
    body = {"remoteActionId": "#anything", "devices": [DEVICE], "expiresInMinutes": 90}
    executed = client.post("/api/v1/act/execute", json=body, headers=all_headers)
    assert executed.status_code == 200
    assert json.loads(app.seen[-1]["body"]) == body
    assert app.seen[-1]["headers"]["content-type"] == "application/json"
    spark = client.post(
        "/api/v1/spark/handoff",
        json={"message": {"parts": [{"type": "TEXT", "text": "hello"}]}},
        headers={**all_headers, "User-Principal-Name": "ada@example.com", "Timezone": "UTC"},
    )
    assert spark.status_code == 204
    assert app.seen[-1]["headers"]["user-principal-name"] == "ada@example.com"
    enriched = client.post(
        "/api/v1/enrichment/data/fields",
        json={
            "domain": "d",
            "enrichments": [
                {
                    "identification": [{"name": "device/device/name", "value": "pc"}],
                    "fields": [{"name": "device/device/configuration_tag", "value": "x"}],
                }
            ],
        },
        headers=all_headers,
    )
    assert enriched.status_code == 207  # the upstream's answer, not credgate's own
    csv = client.post(
        "/api/v2/nql/execute",
        json={"queryId": "#q_1"},
        headers={**all_headers, "Accept": "text/csv"},
    )
    assert csv.status_code == 200
    assert app.seen[-1]["headers"]["accept"] == "text/csv"
    records = container.platform.list_requests(limit=10)
    states = {(r.kind, r.state) for r in records}
    assert ("remote_action", "FORWARDED") in states
    assert ("handoff", "FORWARDED") in states
    forwarded = next(r for r in records if r.kind == "remote_action")
    assert forwarded.result == {"upstreamStatus": 200}
    assert forwarded.payload["devices"] == [DEVICE]


def test_unreachable_upstream_is_a_502_with_the_family_body(
    client: TestClient, container: Container, all_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/euf/campaign/trigger",
        json={"campaignNqlId": "#c", "userSid": ["S-1-5-21-1"], "expiresInMinutes": 5},
        headers=all_headers,
    )
    assert response.status_code == 502
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "UPSTREAM_UNAVAILABLE"
    assert container.platform.list_requests("campaign", limit=1)[0].state == "UPSTREAM_UNAVAILABLE"
