"""The administration pages through the ASGI app: sessions, CSRF, forms and their errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.connectors.credentials import MASK
from credgate.container import Container
from credgate.core.audit.services import Actor

PASSWORD = "correct horse battery staple"
HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def _login(client: TestClient, password: str = PASSWORD) -> Any:
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"username": "admin", "password": password, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )


@pytest.fixture
def ui(client: TestClient) -> TestClient:
    response = _login(client)
    assert response.status_code == 303
    return client


def test_pages_need_a_session(client: TestClient) -> None:
    response = client.get("/admin/api-credentials", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/api-credentials"
    post = client.post("/admin/signing-keys/rotate", data={}, follow_redirects=False)
    assert post.status_code == 303
    assert post.headers["location"] == "/admin/login"


def test_login_sets_hardened_cookies_and_logout_ends_the_session(
    client: TestClient, container: Container
) -> None:
    response = _login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/api-credentials"
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("credgate_session="))
    assert "HttpOnly" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "Secure" not in session_cookie  # the base URL is http here
    page = client.get("/admin/api-credentials")
    assert page.status_code == 200
    assert "Signed in as" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    out = client.post(
        "/admin/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    again = client.get("/admin/api-credentials", follow_redirects=False)
    assert again.status_code == 303


def test_login_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/admin/login")
    response = client.post(
        "/admin/login", data={"username": "admin", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "credgate_session" not in response.headers.get("set-cookie", "")


def test_login_redirects_only_within_the_admin_pages(client: TestClient) -> None:
    page = client.get("/admin/login?next=//evil.example/")
    response = client.post(
        "/admin/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrf_token": _csrf(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/api-credentials"


@pytest.mark.parametrize(
    "settings_overrides", [{"auth_failure_limit": 3, "auth_failure_slowdown_after": 10}]
)
def test_login_is_throttled(client: TestClient) -> None:
    statuses = [_login(client, "wrong password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    locked = _login(client)  # even the right password waits out the lockout
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text


def test_create_shows_the_secret_once_and_it_authenticates(
    ui: TestClient, container: Container
) -> None:
    form = ui.get("/admin/api-credentials/new")
    assert "Save and generate credentials" in form.text
    response = ui.post(
        "/admin/api-credentials",
        data={
            "name": "ServiceNow",
            "description": "tickets",
            "permissions": ["workflows", "nql"],
            "csrf_token": _csrf(form.text),
        },
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    secret = re.search(r'id="client-secret" type="text" readonly value="([^"]+)"', response.text)
    client_id = re.search(r'id="client-id" type="text" readonly value="([^"]+)"', response.text)
    assert secret
    assert client_id
    assert secret.group(1) not in response.headers.get("set-cookie", "")
    token = ui.post(
        "/oauth2/default/v1/token",
        data={"grant_type": "client_credentials", "scope": "service:integration"},
        auth=(client_id.group(1), secret.group(1)),
    )
    assert token.status_code == 200, token.text
    listing = ui.get("/admin/api-credentials")
    assert secret.group(1) not in listing.text
    assert client_id.group(1) in listing.text


def test_create_errors_name_each_field_and_keep_what_was_typed(ui: TestClient) -> None:
    form = ui.get("/admin/api-credentials/new")
    response = ui.post(
        "/admin/api-credentials",
        data={"name": "  ", "description": "kept <text>", "csrf_token": _csrf(form.text)},
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert "<strong>Name</strong></a>: is required" in response.text
    assert "<strong>Permissions</strong></a>: choose at least one permission" in response.text
    assert "kept &lt;text&gt;</textarea>" in response.text  # kept, and escaped
    unknown = ui.post(
        "/admin/api-credentials",
        data={"name": "x", "permissions": ["bogus"], "csrf_token": _csrf(form.text)},
    )
    assert unknown.status_code == 422
    assert "unknown permission" in unknown.text


def test_duplicate_name_is_a_field_error(ui: TestClient, container: Container) -> None:
    container.api_credentials.create(name="Taken", permissions=["nql"], actor=Actor("t", "t"))
    form = ui.get("/admin/api-credentials/new")
    response = ui.post(
        "/admin/api-credentials",
        data={"name": "Taken", "permissions": ["nql"], "csrf_token": _csrf(form.text)},
    )
    assert response.status_code == 422
    assert "already exists" in response.text


def test_posts_without_the_csrf_token_change_nothing(ui: TestClient, container: Container) -> None:
    created = container.api_credentials.create(name="Keep", permissions=["nql"], actor=Actor("t"))
    cid = created.credential.client_id
    for path, data in [
        ("/admin/api-credentials", {"name": "New", "permissions": ["nql"]}),
        (f"/admin/api-credentials/{cid}/delete", {}),
        (f"/admin/api-credentials/{cid}/delete", {"csrf_token": "forged"}),
        ("/admin/signing-keys/rotate", {}),
        ("/admin/connector-credentials", {"name": "x", "protocol": "HTTPS"}),
    ]:
        assert ui.post(path, data=data).status_code == 403, path
    assert [c.name for c in container.api_credentials.list()] == ["Keep"]


def test_regenerate_rejects_an_unknown_overlap(ui: TestClient, container: Container) -> None:
    created = container.api_credentials.create(name="R", permissions=["nql"], actor=Actor("t"))
    cid = created.credential.client_id
    page = ui.get(f"/admin/api-credentials/{cid}")
    response = ui.post(
        f"/admin/api-credentials/{cid}/regenerate",
        data={"overlap_seconds": "99999999", "csrf_token": _csrf(page.text)},
    )
    assert response.status_code == 422
    assert "Overlap seconds" in response.text
    assert 'id="client-secret"' not in response.text


def test_unknown_ids_are_404_pages(ui: TestClient) -> None:
    assert ui.get("/admin/api-credentials/nope").status_code == 404
    assert ui.get("/admin/connector-credentials/nope").status_code == 404


def test_signing_keys_rotate_and_show_age(ui: TestClient, container: Container) -> None:
    page = ui.get("/admin/signing-keys")
    before = container.keys().active.kid
    assert before in page.text
    rotated = ui.post("/admin/signing-keys/rotate", data={"csrf_token": _csrf(page.text)})
    assert rotated.status_code == 200
    assert container.keys().active.kid != before
    assert "Retired, still published" in rotated.text
    assert "just now" in rotated.text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_audit_log_filters(ui: TestClient, container: Container) -> None:
    container.api_credentials.create(name="A1", permissions=["nql"], actor=Actor("alice", "x"))
    container.api_credentials.create(name="B1", permissions=["nql"], actor=Actor("bob", "x"))
    everything = ui.get("/admin/audit")
    assert everything.text.index("bob") < everything.text.index("alice")  # newest first
    only_alice = ui.get("/admin/audit", params={"actor": "ali"})
    assert "alice" in only_alice.text
    assert ">bob<" not in only_alice.text
    nothing = ui.get("/admin/audit", params={"action": "%"})
    assert "Nothing matches these filters" in nothing.text


def test_connector_errors_name_fields_and_never_echo_secrets(
    ui: TestClient, container: Container
) -> None:
    form = ui.get("/admin/connector-credentials/new")
    response = ui.post(
        "/admin/connector-credentials",
        data={
            "name": "Jira",
            "protocol": "HTTPS",
            "url": "http://not-https.example/",
            "auth_type": "BASIC",
            "username": "svc",
            "password": "hunter2-typed-secret",
            "csrf_token": _csrf(form.text),
        },
    )
    assert response.status_code == 422
    assert "<strong>URL</strong>" in response.text
    assert 'value="http://not-https.example/"' in response.text  # kept
    assert 'value="svc"' in response.text
    assert "hunter2-typed-secret" not in response.text
    assert container.connector_credentials.list().total == 0


def test_connector_edit_keeps_masked_secrets(ui: TestClient, container: Container) -> None:
    record = container.connector_credentials.create(
        {
            "name": "SFTP drop",
            "protocol": "SFTP",
            "url": "sftp://files.example.com:22/",
            "authorization": {
                "type": "BASIC",
                "username": "u",
                "password": "p@ss",
                "host_key": HOST_KEY,
            },
        },
        actor=Actor("t"),
    )
    page = ui.get(f"/admin/connector-credentials/{record.id}")
    assert "p@ss" not in page.text
    assert f'value="{MASK}"' in page.text
    response = ui.post(
        f"/admin/connector-credentials/{record.id}",
        data={
            "name": "SFTP drop renamed",
            "protocol": "SFTP",
            "url": "sftp://files.example.com:22/",
            "auth_type": "BASIC",
            "username": "u",
            "password": MASK,
            "host_key": HOST_KEY,
            "csrf_token": _csrf(page.text),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    stored = container.connector_credentials.load(record.id)
    assert stored.name == "SFTP drop renamed"
    assert stored.secrets["password"] == "p@ss"


@pytest.mark.parametrize("settings_overrides", [{"public_base_url": "https://credgate.example"}])
def test_cookies_are_secure_behind_tls(app: Any) -> None:
    with TestClient(app, base_url="https://credgate.example") as client:
        page = client.get("/admin/login")
        assert "Secure" in page.headers["set-cookie"]
        response = _login(client)
        assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    for name in ("credgate_session=", "credgate_csrf="):
        cookie = next(c for c in cookies if c.startswith(name))
        assert "Secure" in cookie
        assert "HttpOnly" in cookie


def test_pages_drive_the_container_s_own_connector_store(
    client: TestClient, container: Container
) -> None:
    store = container.connector_credentials
    assert _login(client).status_code == 303
    form = client.get("/admin/connector-credentials/new")
    created = client.post(
        "/admin/connector-credentials",
        data={
            "name": "Jira",
            "protocol": "HTTPS",
            "url": "https://jira.example.com/",
            "auth_type": "BASIC",
            "username": "svc",
            "password": "s3cret-pass",
            "csrf_token": _csrf(form.text),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    listing = client.get("/admin/connector-credentials")
    assert "1 credential<" in listing.text
    credential_id = re.search(r'data-id="([^"]+)"', listing.text)
    assert credential_id
    edit = client.get(f"/admin/connector-credentials/{credential_id.group(1)}")
    assert "s3cret-pass" not in edit.text
    assert f'value="{MASK}"' in edit.text
    saved = client.post(
        f"/admin/connector-credentials/{credential_id.group(1)}",
        data={
            "name": "Jira renamed",
            "protocol": "HTTPS",
            "url": "https://jira.example.com/",
            "auth_type": "BASIC",
            "username": "svc",
            "password": MASK,
            "csrf_token": _csrf(edit.text),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert store.load(credential_id.group(1)).secrets["password"] == "s3cret-pass"
    bad = client.post(
        "/admin/connector-credentials",
        data={"name": "", "protocol": "SFTP", "url": "x", "csrf_token": _csrf(edit.text)},
    )
    assert bad.status_code == 422
    assert "<strong>Name</strong>" in bad.text
    assert "<strong>Hostname</strong>" in bad.text


def test_a_session_without_its_form_token_signs_in_again(client: TestClient) -> None:
    assert _login(client).status_code == 303
    client.cookies.set(
        "credgate_csrf", "stale-token-from-an-old-session", domain="127.0.0.1", path="/"
    )
    response = client.get("/admin/api-credentials", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")


def test_an_oversized_form_is_refused_unread(ui: TestClient, container: Container) -> None:
    page = ui.get("/admin/api-credentials/new")
    response = ui.post(
        "/admin/api-credentials",
        data={
            "name": "Big",
            "permissions": ["nql"],
            "description": "x" * 300_000,
            "csrf_token": _csrf(page.text),
        },
    )
    assert response.status_code == 413
    assert container.api_credentials.list() == []


def test_test_and_connect_buttons_use_the_connections(
    client: TestClient, container: Container
) -> None:
    """Without a stand-in tester, Test runs the real connection check, and Connect starts the
    consent round-trip with state and PKCE at the provider's authorization URL."""
    from urllib.parse import parse_qs, urlsplit

    from credgate.core.audit.services import Actor

    actor = Actor("tests", "pytest")
    unreachable = container.connector_credentials.create(
        {
            "name": "Nowhere",
            "protocol": "HTTPS",
            "url": "https://127.0.0.1:9/",
            "authorization": {"type": "BASIC", "username": "svc", "password": "not-shown-1"},
        },
        actor=actor,
    )
    consent = container.connector_credentials.create(
        {
            "name": "Provider",
            "protocol": "HTTPS",
            "url": "https://provider.example.com/",
            "authorization": {
                "type": "OAUTH2_AUTHORIZATION_CODE",
                "client_id": "app",
                "client_secret": "not-shown-2",
                "authorization_url": "https://provider.example.com/authorize",
                "access_token_url": "https://provider.example.com/token",
                "scope": "read",
            },
        },
        actor=actor,
    )
    assert _login(client).status_code == 303
    listing = client.get("/admin/connector-credentials")
    assert f'/connector-credentials/{consent.id}/connect"' in listing.text
    assert f'/connector-credentials/{unreachable.id}/connect"' not in listing.text

    tested = client.post(
        f"/admin/connector-credentials/{unreachable.id}/test",
        data={"csrf_token": _csrf(listing.text)},
    )
    assert tested.status_code == 200
    assert 'id="test-verdict"' in tested.text
    assert "not-shown-1" not in tested.text
    assert container.connector_credentials.get(unreachable.id).as_dict()["last_test"]["ok"] is False

    connect = client.post(
        f"/admin/connector-credentials/{consent.id}/connect",
        data={"csrf_token": _csrf(listing.text)},
        follow_redirects=False,
    )
    assert connect.status_code == 303
    target = urlsplit(connect.headers["location"])
    assert (target.scheme, target.netloc, target.path) == (
        "https",
        "provider.example.com",
        "/authorize",
    )
    query = parse_qs(target.query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["client_id"] == ["app"]
    assert "not-shown-2" not in connect.headers["location"]
    refused = client.post(
        f"/admin/connector-credentials/{consent.id}/connect", data={}, follow_redirects=False
    )
    assert refused.status_code == 403
