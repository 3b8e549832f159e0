"""The shared layer of the administration pages through the ASGI app: sessions, CSRF, form
limits and cookies, across every feature's pages."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from support import csrf_field, sign_in


def test_pages_need_a_session(client: TestClient) -> None:
    response = client.get("/admin/api-credentials", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=/admin/api-credentials"
    post = client.post("/admin/signing-keys/rotate", data={}, follow_redirects=False)
    assert post.status_code == 303
    assert post.headers["location"] == "/admin/login"


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


def test_unknown_ids_are_404_pages(ui: TestClient) -> None:
    assert ui.get("/admin/api-credentials/nope").status_code == 404
    assert ui.get("/admin/connector-credentials/nope").status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"public_base_url": "https://credgate.example"}])
def test_cookies_are_secure_behind_tls(app: Any) -> None:
    with TestClient(app, base_url="https://credgate.example") as client:
        page = client.get("/admin/login")
        assert "Secure" in page.headers["set-cookie"]
        response = sign_in(client)
        assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    for name in ("credgate_session=", "credgate_csrf="):
        cookie = next(c for c in cookies if c.startswith(name))
        assert "Secure" in cookie
        assert "HttpOnly" in cookie


def test_a_session_without_its_form_token_signs_in_again(client: TestClient) -> None:
    assert sign_in(client).status_code == 303
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
            "csrf_token": csrf_field(page.text),
        },
    )
    assert response.status_code == 413
    assert container.api_credentials.list() == []


def test_the_root_leads_to_the_console(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/admin/"
    assert client.get("/").url.path == "/admin/login"  # signed out: on to the sign-in page
