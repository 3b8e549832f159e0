"""Forward authentication: a gateway asks credgate whether a request's token may pass."""

from __future__ import annotations

import uuid

import pytest
from starlette.testclient import TestClient

from credgate.audit.services import Actor
from credgate.runtime import Runtime


@pytest.fixture
def token(client: TestClient, runtime: Runtime) -> tuple[str, str]:
    created = runtime.api_credentials.create(
        name=f"gw-{uuid.uuid4().hex[:8]}", permissions=["nql"], actor=Actor("tests", "pytest")
    )
    cred = (created.credential.client_id, created.client_secret)
    return created.credential.client_id, client.post("/api/v1/token", auth=cred).json()[
        "access_token"
    ]


def test_allowed_by_explicit_permission(client: TestClient, token: tuple[str, str]) -> None:
    client_id, access = token
    response = client.get(
        "/forward-auth?permission=nql", headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 200
    assert response.headers["x-credgate-client-id"] == client_id
    assert response.headers["x-credgate-scope"] == "nql"


def test_permission_from_the_forwarded_path(client: TestClient, token: tuple[str, str]) -> None:
    _, access = token
    auth = {"Authorization": f"Bearer {access}"}
    ok = client.get("/forward-auth", headers={**auth, "X-Forwarded-Uri": "/api/v1/nql/execute?x=1"})
    assert ok.status_code == 200
    denied = client.get("/forward-auth", headers={**auth, "X-Original-URI": "/api/v1/workflows"})
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    assert 'scope="workflows"' in denied.headers["www-authenticate"]


def test_missing_or_bad_token_and_unknown_permission(
    client: TestClient, token: tuple[str, str]
) -> None:
    missing = client.get("/forward-auth")
    assert missing.status_code == 401
    assert 'error="invalid_token"' in missing.headers["www-authenticate"]
    assert 'credgate_bearer_rejections_total{error="invalid_token"}' in client.get("/metrics").text
    forged = client.get(
        "/forward-auth", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    )
    assert forged.status_code == 401
    unknown = client.get(
        "/forward-auth?permission=root", headers={"Authorization": f"Bearer {token[1]}"}
    )
    assert unknown.status_code == 400
    assert "unknown permission" in unknown.json()["error_description"]


def test_revoked_token_is_refused_at_once(
    client: TestClient, token: tuple[str, str], runtime: Runtime
) -> None:
    client_id, access = token
    assert (
        client.get("/forward-auth", headers={"Authorization": f"Bearer {access}"}).status_code
        == 200
    )
    runtime.api_credentials.delete(client_id, actor=Actor("tests", "pytest"))
    assert (
        client.get("/forward-auth", headers={"Authorization": f"Bearer {access}"}).status_code
        == 401
    )
