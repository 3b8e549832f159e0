"""The "Your account" and "Administrators" pages through the ASGI app (server-rendered)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient

from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.audit.services import Actor

PASSWORD = "correct horse battery staple"
BOB_PASSWORD = "bob's own long password"
ACTOR = Actor("tests", "pytest")


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def _login(client: TestClient, username: str = "admin", password: str = PASSWORD) -> Any:
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ui(client: TestClient) -> TestClient:
    assert _login(client).status_code == 303
    return client


def test_the_account_page_lists_tokens_and_never_their_secrets(
    ui: TestClient, container: Container
) -> None:
    issued = container.admins.issue_token("admin", "deploy pipeline", actor=ACTOR)
    container.admins.issue_token("admin", "laptop", actor=ACTOR)
    container.admins.check_token(issued.token)  # used once
    page = ui.get("/admin/account")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert 'aria-current="page">Your account' in page.text
    rows = re.findall(r'<tr data-token-id="(\d+)">(.*?)</tr>', page.text, re.S)
    assert [row[0] for row in rows] == [str(t.id) for t in container.admins.list_tokens("admin")]
    deploy = next(html for token_id, html in rows if token_id == str(issued.id))
    assert "deploy pipeline" in deploy
    assert "just now" in deploy  # created, and last used
    assert issued.expires_at.strftime("%Y-%m-%d %H:%M UTC") in deploy
    assert "Revoke token deploy pipeline" in deploy
    laptop = next(html for token_id, html in rows if token_id != str(issued.id))
    assert "Never" in laptop
    assert issued.token not in page.text
    assert "cgat_" not in page.text


def test_creating_a_token_needs_the_password_and_shows_it_once(
    ui: TestClient, container: Container
) -> None:
    page = ui.get("/admin/account")
    csrf = _csrf(page.text)
    form = {"csrf_token": csrf, "name": "ci", "expires_days": "7"}
    missing = ui.post("/admin/account/tokens", data=form)
    assert missing.status_code == 422
    assert 'href="#f-password"' in missing.text
    assert 'value="ci"' in missing.text  # what was typed is kept
    wrong = ui.post("/admin/account/tokens", data={**form, "password": "a wrong password"})
    assert wrong.status_code == 422
    assert "is not the password of this administrator" in wrong.text
    assert "a wrong password" not in wrong.text
    odd = ui.post(
        "/admin/account/tokens", data={**form, "expires_days": "9999", "password": PASSWORD}
    )
    assert odd.status_code == 422
    assert 'href="#f-expires_in"' in odd.text

    made = ui.post("/admin/account/tokens", data={**form, "password": PASSWORD})
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    token = re.search(r'id="admin-token" type="text" readonly value="(cgat_\w+)"', made.text)
    assert token, "the new token is shown in the dialog"
    assert PASSWORD not in made.text
    [row] = [t for t in container.admins.list_tokens("admin") if t.name == "ci"]
    assert 6.9 < (row.expires_at - row.created_at).total_seconds() / 86400 <= 7
    assert ui.get("/admin/api/v1/signing-keys", headers=_bearer(token.group(1))).status_code == 200

    again = ui.get("/admin/account")
    assert token.group(1) not in again.text
    assert "secret-dialog" not in again.text

    duplicate = ui.post("/admin/account/tokens", data={**form, "password": PASSWORD})
    assert duplicate.status_code == 422
    assert "already has a token with this name" in duplicate.text


def test_the_revoke_button_refuses_the_token_at_once(ui: TestClient, container: Container) -> None:
    issued = container.admins.issue_token("admin", "old script", actor=ACTOR)
    assert ui.get("/admin/api/v1/signing-keys", headers=_bearer(issued.token)).status_code == 200
    csrf = _csrf(ui.get("/admin/account").text)
    url = f"/admin/account/tokens/{issued.id}/revoke"
    forged = ui.post(url, data={}, follow_redirects=False)
    assert forged.status_code == 403
    revoked = ui.post(url, data={"csrf_token": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/admin/account?notice=token-revoked"
    assert ui.get("/admin/api/v1/signing-keys", headers=_bearer(issued.token)).status_code == 401
    page = ui.get("/admin/account?notice=token-revoked")
    assert "Admin API token revoked." in page.text
    assert "old script" not in page.text
    assert ui.post(url, data={"csrf_token": csrf}).status_code == 404


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    app: CredgateApp, ui: TestClient, container: Container
) -> None:
    other = TestClient(app, base_url="http://127.0.0.1:8080")
    try:
        assert _login(other).status_code == 303
        csrf = _csrf(ui.get("/admin/account").text)
        form = {
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "the new admin password",
            "new_password_confirm": "the new admin password, mistyped",
        }
        mismatch = ui.post("/admin/account/password", data=form)
        assert mismatch.status_code == 422
        assert 'href="#f-new_password_confirm"' in mismatch.text
        form["new_password_confirm"] = form["new_password"]
        wrong = ui.post(
            "/admin/account/password", data={**form, "current_password": "wrong password!"}
        )
        assert wrong.status_code == 422
        assert 'href="#f-current_password"' in wrong.text

        changed = ui.post("/admin/account/password", data=form, follow_redirects=False)
        assert changed.status_code == 303
        assert ui.get("/admin/account").status_code == 200  # still signed in here
        assert other.get("/admin/account", follow_redirects=False).status_code == 303
        assert _login(other).status_code == 401
        assert _login(other, password="the new admin password").status_code == 303
    finally:
        other.close()


def test_administrators_disable_enable_and_reset(
    app: CredgateApp, ui: TestClient, container: Container
) -> None:
    container.admins.create("bob", BOB_PASSWORD, actor=ACTOR)
    page = ui.get("/admin/administrators")
    assert page.status_code == 200
    assert 'aria-current="page">Administrators' in page.text
    assert '<tr data-username="bob">' in page.text
    csrf = _csrf(page.text)

    disabled = ui.post(
        "/admin/administrators/bob/disable", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert disabled.status_code == 303
    assert container.admins.get("bob").disabled
    last = ui.post("/admin/administrators/admin/disable", data={"csrf_token": csrf})
    assert last.status_code == 409
    assert "last active administrator" in last.text
    assert not container.admins.get("admin").disabled
    assert ui.post("/admin/administrators/bob/enable", data={"csrf_token": csrf}).status_code == 200
    assert not container.admins.get("bob").disabled

    form = {"csrf_token": csrf, "username": "bob"}
    refused = ui.post("/admin/administrators/reset-password", data=form)
    assert refused.status_code == 422
    assert 'href="#f-password"' in refused.text
    reset = ui.post("/admin/administrators/reset-password", data={**form, "password": PASSWORD})
    assert reset.status_code == 200
    new = re.search(r'id="new-password" type="text" readonly value="([^"]+)"', reset.text)
    assert new, "the generated password is shown in the dialog"
    bobs = TestClient(app, base_url="http://127.0.0.1:8080")
    try:
        assert _login(bobs, "bob", BOB_PASSWORD).status_code == 401
        assert _login(bobs, "bob", new.group(1)).status_code == 303
    finally:
        bobs.close()
    assert new.group(1) not in ui.get("/admin/administrators").text
