"""The admin REST API for API credentials: create, list, show, edit, delete, regenerate."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from support import ADMIN_PASSWORD, post_malformed_json


def test_crud_round_trip(admin_client: TestClient) -> None:
    created = admin_client.post(
        "/admin/api/v1/api-credentials",
        json={
            "name": "ServiceNow sync",
            "description": "nightly",
            "permissions": ["NQL API", "workflows"],
        },
    )
    assert created.status_code == 201
    body = created.json()
    client_id = body["client_id"]
    assert body["permissions"] == ["workflows", "nql"]
    assert body["client_secret"].startswith("cgs_")

    listed = admin_client.get("/admin/api/v1/api-credentials").json()
    assert listed["total"] == 1
    assert "client_secret" not in listed["items"][0]
    shown = admin_client.get(f"/admin/api/v1/api-credentials/{client_id}").json()
    assert shown["name"] == "ServiceNow sync"
    assert "client_secret" not in shown

    edited = admin_client.patch(
        f"/admin/api/v1/api-credentials/{client_id}",
        json={"name": "ServiceNow", "permissions": ["spark"]},
    ).json()
    assert (edited["name"], edited["permissions"]) == ("ServiceNow", ["spark"])

    assert admin_client.delete(f"/admin/api/v1/api-credentials/{client_id}").status_code == 204
    assert admin_client.get(f"/admin/api/v1/api-credentials/{client_id}").status_code == 404
    events = admin_client.get("/admin/api/v1/audit-events").json()
    assert [e["action"] for e in events][:3] == [
        "api_credential.delete",
        "api_credential.update",
        "api_credential.create",
    ]
    assert events[1]["fields"] == ["name", "permissions"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "", "permissions": []}, {"name", "permissions"}),
        ({"name": "x", "permissions": ["nope", "nql"]}, {"permissions"}),
        ({"name": "x"}, {"permissions"}),
        ({"name": "x", "permissions": ["nql"], "secret": "mine"}, {"secret"}),
        ({"name": 5, "permissions": "nql"}, {"name", "permissions"}),
        (
            {"name": "x" * 201, "description": "d" * 2001, "permissions": ["nql"]},
            {"name", "description"},
        ),
    ],
)
def test_bad_input_names_every_field(
    admin_client: TestClient, body: object, fields: set[str]
) -> None:
    response = admin_client.post("/admin/api/v1/api-credentials", json=body)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == fields


def test_malformed_json_and_duplicate_name(admin_client: TestClient) -> None:
    bad = post_malformed_json(admin_client, "/admin/api/v1/api-credentials")
    assert bad.status_code == 422
    assert (
        admin_client.post(
            "/admin/api/v1/api-credentials", json={"name": "dup", "permissions": ["nql"]}
        ).status_code
        == 201
    )
    conflict = admin_client.post(
        "/admin/api/v1/api-credentials", json={"name": "dup", "permissions": ["nql"]}
    )
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["field"] == "name"


def test_regenerate_overlap_bounds(admin_client: TestClient) -> None:
    client_id = admin_client.post(
        "/admin/api/v1/api-credentials", json={"name": "r", "permissions": ["nql"]}
    ).json()["client_id"]
    too_long = admin_client.post(
        f"/admin/api/v1/api-credentials/{client_id}/regenerate", json={"overlap_seconds": 10**9}
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "overlap_seconds"
    ok = admin_client.post(
        f"/admin/api/v1/api-credentials/{client_id}/regenerate", json={"overlap_seconds": 3600}
    )
    assert ok.status_code == 200
    assert ok.json()["secret_overlap_until"] is not None


def test_admin_api_requires_authentication(client: TestClient) -> None:
    response = client.get("/admin/api/v1/api-credentials")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert (
        client.get(
            "/admin/api/v1/api-credentials", headers={"Authorization": "Bearer cgat_nope"}
        ).status_code
        == 401
    )


def test_session_login_needs_csrf_header_for_changes(client: TestClient) -> None:
    assert (
        client.post(
            "/admin/api/v1/session", json={"username": "admin", "password": "wrong"}
        ).status_code
        == 401
    )
    login = client.post(
        "/admin/api/v1/session", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 200
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    csrf = login.json()["csrf_token"]
    assert client.get("/admin/api/v1/api-credentials").status_code == 200
    body = {"name": "via session", "permissions": ["nql"]}
    assert client.post("/admin/api/v1/api-credentials", json=body).status_code == 403
    assert (
        client.post(
            "/admin/api/v1/api-credentials", json=body, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/admin/api/v1/api-credentials", json=body, headers={"X-CSRF-Token": csrf}
        ).status_code
        == 201
    )
    assert client.delete("/admin/api/v1/session").status_code == 204
    assert client.get("/admin/api/v1/api-credentials").status_code == 401


def test_signing_keys_rotate_through_the_api(admin_client: TestClient) -> None:
    before = admin_client.get("/admin/api/v1/signing-keys").json()
    assert len(before) == 1
    rotated = admin_client.post("/admin/api/v1/signing-keys/rotate").json()
    after = admin_client.get("/admin/api/v1/signing-keys").json()
    assert [k["kid"] for k in after if k["active"]] == [rotated["kid"]]
    assert {k["kid"] for k in after} == {rotated["kid"], before[0]["kid"]}
    retired = next(k for k in after if not k["active"])
    assert retired["published_until"] is not None


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    assert "credgate_tokens_issued" in client.get("/metrics").text


def test_openapi_document_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/admin/api/v1/api-credentials" in spec["paths"]
