"""Each family answers its documented success with its permission, 403 without, 401 for bad
tokens; the new-user path works as a documented client calls it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ACTOR, BAD_TOKENS, WORKFLOW_UUID, TokenFor
from support import basic, fetch_token

DEVICE = "0b5d2f9e-1f44-4c1e-9a39-3f1f2a6f0c11"

# (family permission, method, path, request kwargs, documented success status)
CALLS: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("workflows", "GET", "/api/v1/workflows", {}, 200),
    (
        "workflows",
        "GET",
        "/api/v1/workflows/details",
        {"params": {"nqlId": "#restart_service"}},
        200,
    ),
    (
        "workflows",
        "POST",
        "/api/v1/workflows/execute",
        {"json": {"workflowId": "#restart_service", "devices": [DEVICE]}},
        200,
    ),
    (
        "workflows",
        "POST",
        "/api/v2/workflows/execute",
        {"json": {"workflowId": WORKFLOW_UUID, "users": [{"upn": "ada@example.com"}]}},
        200,
    ),
    ("remote-actions", "GET", "/api/v1/act/remote-action", {}, 200),
    (
        "remote-actions",
        "GET",
        "/api/v1/act/remote-action/details",
        {"params": {"nql-id": "#get_disk"}},
        200,
    ),
    (
        "remote-actions",
        "POST",
        "/api/v1/act/execute",
        {"json": {"remoteActionId": "#get_disk", "devices": [DEVICE], "expiresInMinutes": 120}},
        200,
    ),
    (
        "nql",
        "POST",
        "/api/v1/nql/execute",
        {"json": {"queryId": "#devices_by_os", "parameters": {"os": "Windows 11"}}},
        200,
    ),
    (
        "nql",
        "POST",
        "/api/v2/nql/execute",
        {"json": {"queryId": "#devices_by_os", "parameters": {"os": "Windows 11"}}},
        200,
    ),
    (
        "nql",
        "POST",
        "/api/v1/nql/export",
        {"json": {"queryId": "#devices_by_os", "parameters": {"os": "x"}}},
        200,
    ),
    (
        "nql",
        "GET",
        "/api/v1/nql/export",
        {"params": {"queryId": "#devices_by_os", "os": "x", "compression": "GZIP"}},
        200,
    ),
    (
        "enrichment",
        "POST",
        "/api/v1/enrichment/data/fields",
        {
            "json": {
                "domain": "tests",
                "enrichments": [
                    {
                        "identification": [{"name": "device/device/name", "value": "pc-1"}],
                        "fields": [{"name": "device/device/configuration_tag", "value": "lab"}],
                    }
                ],
            }
        },
        200,
    ),
    (
        "campaigns",
        "POST",
        "/api/v1/euf/campaign/trigger",
        {
            "json": {
                "campaignNqlId": "#onboarding",
                "userSid": ["S-1-5-21-1", "S-1-5-21-2", "S-1-5-21-1"],
                "expiresInMinutes": 60,
                "parameters": {"team": "blue"},
            }
        },
        200,
    ),
    (
        "spark",
        "POST",
        "/api/v1/spark/handoff",
        {
            "headers": {"User-Principal-Name": "ada@example.com", "Timezone": "Europe/Zurich"},
            "json": {"message": {"parts": [{"type": "TEXT", "text": "my laptop is slow"}]}},
        },
        204,
    ),
    (
        "data-management",
        "POST",
        "/api/v1/data-management/device/deletions",
        {"json": {"devices": [{"uid": DEVICE, "name": "pc-1"}, {"uid": "nope", "name": "x"}]}},
        202,
    ),
]
IDS = [f"{c[1]} {c[2]}" for c in CALLS]


def _call(
    client: TestClient, call: tuple[str, str, str, dict[str, Any], int], headers: dict[str, str]
) -> Any:
    _perm, method, path, kwargs, _status = call
    kwargs = dict(kwargs)
    merged = {**kwargs.pop("headers", {}), **headers}
    return client.request(method, path, headers=merged, **kwargs)


def test_new_user_path(client: TestClient, container: Container, seeded: Container) -> None:
    """Credential with the Workflows permission, token from the legacy endpoint with only a Basic
    header and no body, then the list with no query parameters: the documented shape."""
    created = container.api_credentials.create(
        name="Service desk connector", permissions=["workflows"], actor=ACTOR
    )
    token = client.post(
        "/api/v1/token", headers=basic(created.credential.client_id, created.client_secret)
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    response = client.get(
        "/api/v1/workflows", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert response.status_code == 200
    items = response.json()
    assert [w["id"] for w in items] == ["#manual_only", "#restart_service"]
    restart = items[1]
    assert set(restart) == {
        "id",
        "uuid",
        "name",
        "description",
        "status",
        "lastUpdateTime",
        "triggerMethods",
        "versions",
    }
    assert restart["uuid"] == WORKFLOW_UUID
    assert restart["status"] == "ACTIVE"
    assert restart["triggerMethods"] == ["API", "MANUAL"]
    assert restart["lastUpdateTime"].endswith("Z")
    assert len(restart["lastUpdateTime"]) == len("2023-12-07T16:26:36Z")


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_permission_decides(
    client: TestClient, seeded: Container, token_for: TokenFor, call: Any
) -> None:
    """With the family's permission: the documented success. Without: 403 insufficient_scope
    in the challenge, and the family's own error body."""
    response = _call(client, call, {**token_for([call[0]]), "x-request-id": "req-42"})
    assert response.status_code == call[4], response.text
    assert response.headers["x-request-id"] == "req-42"

    other = "spark" if call[0] != "spark" else "nql"
    response = _call(client, call, token_for([other]))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{call[0]}"' in challenge
    assert "error" not in response.json()
    assert response.json().get("code") in (None, "INSUFFICIENT_SCOPE", "FEATURE_NOT_ENABLED", 403)


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_401_for_missing_and_bad_tokens(
    client: TestClient, seeded: Container, crafted: Callable[[str], str], call: Any
) -> None:
    missing = [{}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Bearer"}]
    bad = [{"Authorization": f"Bearer {crafted(kind)}"} for kind in BAD_TOKENS]
    for headers in missing + bad:
        response = _call(client, call, headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith(
            'Bearer realm="credgate", error="invalid_token"'
        )
    # The same crafting with nothing wrong is accepted: each 401 above is its flaw's doing.
    good = _call(client, call, {"Authorization": f"Bearer {crafted('good')}"})
    assert good.status_code == call[4], good.text


def test_the_crafted_tokens_differ_from_a_good_one_only_in_their_flaw(
    client: TestClient, seeded: Container, container: Container
) -> None:
    """Guards the 401 tests: the same crafting with nothing wrong is accepted."""
    import time

    from joserfc import jwt

    created = container.api_credentials.create(
        name="control", permissions=["workflows"], actor=ACTOR
    )
    active = container.keys().active
    now = int(time.time())
    cid = created.credential.client_id
    claims = {
        "iss": container.settings.issuer,
        "sub": cid,
        "client_id": cid,
        "aud": container.settings.audience,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        "scope": "workflows",
    }
    good = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": active.kid}, claims, active.key)
    assert (
        client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {good}"}).status_code
        == 200
    )
    untyped = jwt.encode({"alg": "ES256", "kid": active.kid}, claims, active.key)
    assert (
        client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {untyped}"}).status_code
        == 401
    )


def test_revoked_and_deleted_credentials_lose_their_tokens_at_once(
    client: TestClient, seeded: Container, container: Container
) -> None:
    created = container.api_credentials.create(
        name="short-lived", permissions=["workflows"], actor=ACTOR
    )
    cid, secret = created.credential.client_id, created.client_secret
    token = fetch_token(client, cid, secret)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/workflows", headers=headers).status_code == 200  # now cached
    revoke = client.post(
        "/oauth2/default/v1/revoke",
        headers={"Content-Type": "application/x-www-form-urlencoded", **basic(cid, secret)},
        content=f"token={token}",
    )
    assert revoke.status_code == 200
    assert client.get("/api/v1/workflows", headers=headers).status_code == 401

    second = {"Authorization": f"Bearer {fetch_token(client, cid, secret)}"}
    assert client.get("/api/v1/workflows", headers=second).status_code == 200
    container.api_credentials.update(cid, actor=ACTOR, disabled=True)
    assert client.get("/api/v1/workflows", headers=second).status_code == 401
    container.api_credentials.update(cid, actor=ACTOR, disabled=False)
    assert client.get("/api/v1/workflows", headers=second).status_code == 200
    container.api_credentials.update(cid, actor=ACTOR, permissions=["nql"])
    assert client.get("/api/v1/workflows", headers=second).status_code == 403
    container.api_credentials.delete(cid, actor=ACTOR)
    assert client.get("/api/v1/workflows", headers=second).status_code == 401


def test_error_bodies_never_echo_the_token(
    client: TestClient, seeded: Container, crafted: Callable[[str], str]
) -> None:
    token = crafted("expired")
    response = client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert token not in response.text
    assert token.split(".")[2] not in response.headers["www-authenticate"]
