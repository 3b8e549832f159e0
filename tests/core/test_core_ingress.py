"""Route families (credgate.core.ingress): authentication before the body, and one table of limits.

The application is driven in process here; ``test_core_ingress_served.py`` sends 200 MiB bodies to a
real ``credgate serve`` and watches its memory.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from asgi_call import call
from credgate.admins.services import AdminService
from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.ingress import DEFAULT_FAMILY, FAMILIES, Ingress
from support import post_malformed_json

ACTOR = Actor("tests", "pytest")
LIMITS = {
    "max_form_bytes": 1024,
    "max_admin_api_bytes": 2048,
    "max_admin_form_bytes": 3072,
    "max_platform_api_bytes": 4096,
    "max_body_bytes": 1536,
}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    # Small limits for the tests that ask for ``small_limits``; the defaults for the others.
    return dict(LIMITS) if "small_limits" in request.fixturenames else {}


@pytest.fixture
def small_limits() -> dict[str, int]:
    return LIMITS


# Authentication before the body -----------------------------------------------------------------


def test_the_admin_api_refuses_an_anonymous_body_without_reading_it(app: CredgateApp) -> None:
    status, _headers, content, reads = call(
        app,
        "POST",
        "/admin/api/v1/api-credentials",
        {"content-type": "application/json", "content-length": "1500"},
        b"{" * 1500,
    )
    assert status == 401
    assert json.loads(content)["error"] == "unauthenticated"
    assert reads == 0, "the body was read before the caller was authenticated"


def test_an_anonymous_malformed_body_is_answered_401_not_422(client: TestClient) -> None:
    response = post_malformed_json(client, "/admin/api/v1/api-credentials")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="credgate-admin"'


def test_a_session_without_its_csrf_header_is_refused_before_the_body(
    client: TestClient, container: Container
) -> None:
    identity = container.admins.check_password("admin", "correct horse battery staple")
    assert identity is not None
    session = container.admins.open_session(identity)
    client.cookies.set("credgate_session", session.session_id)
    refused = client.post(
        "/admin/api/v1/api-credentials",
        content=b"{not json",
        headers={"X-CSRF-Token": "wrong", "Content-Type": "application/json"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    accepted = client.post(
        "/admin/api/v1/api-credentials",
        json={"name": "by session", "permissions": ["nql"]},
        headers={"X-CSRF-Token": session.csrf_token},
    )
    assert accepted.status_code == 201, accepted.text


def test_the_gate_and_the_dependency_check_the_admin_once(
    admin_client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    check = AdminService.check_token

    # AdminService is a slotted dataclass: its methods are patched on the class.
    def counted(self: AdminService, token: str) -> Any:
        calls.append(token)
        return check(self, token)

    monkeypatch.setattr(AdminService, "check_token", counted)
    assert admin_client.get("/admin/api/v1/api-credentials").status_code == 200
    assert len(calls) == 1


# One table of limits ----------------------------------------------------------------------------


def test_every_family_reads_its_limit_from_a_setting() -> None:
    for family in (*FAMILIES, DEFAULT_FAMILY):
        assert family.limit_setting in Settings.model_fields, family


def test_a_gated_family_needs_its_gate(settings: Settings) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")

    with pytest.raises(ValueError, match="admin-api"):
        Ingress(app, settings)


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    small_limits: Any, app: CredgateApp
) -> None:
    status, headers, content, reads = call(
        app,
        "POST",
        "/oauth2/default/v1/token",
        {
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(LIMITS["max_form_bytes"] + 1),
        },
        b"x" * (LIMITS["max_form_bytes"] + 1),
    )
    assert status == 413
    assert json.loads(content)["error"] == "invalid_request"
    assert headers[b"connection"] == b"close"
    assert reads == 0


def test_a_chunked_body_is_counted_as_it_streams(
    small_limits: Any, app: CredgateApp, admin_token: str
) -> None:
    body = json.dumps({"name": "x", "description": "d" * 5000, "permissions": ["nql"]}).encode()
    status, headers, content, reads = call(
        app,
        "POST",
        "/admin/api/v1/api-credentials",
        {
            "authorization": f"Bearer {admin_token}",
            "content-type": "application/json",
            "transfer-encoding": "chunked",
        },
        body,
    )
    assert status == 413
    assert json.loads(content)["error"] == "payload_too_large"
    assert headers[b"connection"] == b"close"
    # 1000-byte pieces: refused on the piece that passed 2048 bytes, not after the 6 KiB body.
    assert reads == 3


def _chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), 500):
        yield data[i : i + 500]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_admin_api_limit(small_limits: Any, admin_client: TestClient, chunked: bool) -> None:
    def post(description: str) -> Any:
        data = json.dumps({"name": "n", "description": description, "permissions": ["nql"]})
        content = _chunks(data.encode()) if chunked else data.encode()
        headers = {"Content-Type": "application/json"}
        return admin_client.post("/admin/api/v1/api-credentials", content=content, headers=headers)

    refused = post("d" * 2100)
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "payload_too_large",
        "message": "the request body exceeds 2048 bytes",
        "errors": [{"field": "body", "message": "the request body exceeds 2048 bytes"}],
    }
    assert post("fits").status_code == 201


@pytest.fixture
def bearer(client: TestClient, container: Container) -> dict[str, str]:
    created = container.api_credentials.create(
        name="limits", permissions=["workflows", "nql"], actor=ACTOR
    )
    basic = base64.b64encode(
        f"{created.credential.client_id}:{created.client_secret}".encode()
    ).decode()
    issued = client.post("/api/v1/token", headers={"Authorization": f"Basic {basic}"})
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_platform_api_limit(
    small_limits: Any, client: TestClient, bearer: dict[str, str], chunked: bool
) -> None:
    data = json.dumps({"workflowId": "w", "pad": "x" * 4100}).encode()
    refused = client.post(
        "/api/v1/workflows/execute",
        content=_chunks(data) if chunked else data,
        headers={**bearer, "Content-Type": "application/json"},
    )
    assert refused.status_code == 413
    assert refused.json() == {
        "code": "PAYLOAD_TOO_LARGE",
        "details": "body: at most 4096 bytes",
    }
    fits = client.post("/api/v1/workflows/execute", json={"workflowId": "w"}, headers=bearer)
    assert fits.status_code not in (401, 413)


def test_other_routes_use_the_default_limit(
    small_limits: Any, client: TestClient, bearer: dict[str, str]
) -> None:
    refused = client.post(
        "/2/query",
        content=b"query=" + b"x" * 1600,
        headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 413
    assert refused.json()["errors"] == [
        {"field": "body", "message": "the request body exceeds 1536 bytes"}
    ]


def test_admin_page_limit(small_limits: Any, client: TestClient) -> None:
    page = client.get("/admin/login")
    assert page.status_code == 200
    refused = client.post(
        "/admin/login",
        data={"username": "admin", "password": "x" * 1100, "csrf_token": "t"},
    )
    assert refused.status_code == 413  # a sign-in form is a credential form: 1024 bytes
    assert "at most 1 KiB" in refused.text
    assert refused.headers["content-security-policy"].startswith("default-src 'self'")
