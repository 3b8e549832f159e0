"""The admins' pages through the ASGI app (server-rendered): sign-in, "Your account",
"Administrators", signing keys and the audit log."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from credgate.app import CredgateApp
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import ADMIN_PASSWORD, csrf_field, sign_in
from support.fixtures import pages_backend  # noqa: F401 - a fixture

PASSWORD = ADMIN_PASSWORD
BOB_PASSWORD = "bob's own long password"
ACTOR = Actor("tests", "pytest")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
    csrf = csrf_field(page.text)
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
    csrf = csrf_field(ui.get("/admin/account").text)
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
        assert sign_in(other).status_code == 303
        csrf = csrf_field(ui.get("/admin/account").text)
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
        assert sign_in(other).status_code == 401
        assert sign_in(other, password="the new admin password").status_code == 303
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
    csrf = csrf_field(page.text)

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
        assert sign_in(bobs, "bob", BOB_PASSWORD).status_code == 401
        assert sign_in(bobs, "bob", new.group(1)).status_code == 303
    finally:
        bobs.close()
    assert new.group(1) not in ui.get("/admin/administrators").text


def test_login_sets_hardened_cookies_and_logout_ends_the_session(
    client: TestClient, container: Container
) -> None:
    response = sign_in(client)
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
        "/admin/logout", data={"csrf_token": csrf_field(page.text)}, follow_redirects=False
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
            "csrf_token": csrf_field(page.text),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin/api-credentials"


@pytest.mark.parametrize(
    "settings_overrides", [{"auth_failure_limit": 3, "auth_failure_slowdown_after": 10}]
)
def test_login_is_throttled(client: TestClient) -> None:
    statuses = [sign_in(client, password="wrong password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    locked = sign_in(client)  # even the right password waits out the lockout
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in locked.text


def test_signing_keys_rotate_and_show_age(ui: TestClient, container: Container) -> None:
    page = ui.get("/admin/signing-keys")
    before = container.keys().active.kid
    assert before in page.text
    rotated = ui.post("/admin/signing-keys/rotate", data={"csrf_token": csrf_field(page.text)})
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


def test_any_administrator_can_be_reset_not_only_those_on_the_page(
    ui: TestClient, container: Container, app: CredgateApp
) -> None:
    for name in ("carol", "dave", "erin"):
        container.admins.create(name, BOB_PASSWORD, actor=ACTOR)
    first = ui.get("/admin/administrators", params={"limit": 2})
    assert first.status_code == 200
    assert '<tr data-username="erin">' not in first.text  # on a later page
    assert 'list="others-on-page"' in first.text
    csrf = csrf_field(first.text)
    form = {"csrf_token": csrf, "password": PASSWORD}
    unknown = ui.post("/admin/administrators/reset-password", data={**form, "username": "zed"})
    assert unknown.status_code == 422
    assert "no administrator is called &#39;zed&#39;" in unknown.text
    reset = ui.post("/admin/administrators/reset-password", data={**form, "username": "erin"})
    assert reset.status_code == 200
    new = re.search(r'id="new-password" type="text" readonly value="([^"]+)"', reset.text)
    assert new, "the generated password is shown in the dialog"
    erins = TestClient(app, base_url="http://127.0.0.1:8080")
    try:
        assert sign_in(erins, "erin", new.group(1)).status_code == 303
    finally:
        erins.close()


def test_the_reset_form_is_not_offered_to_the_only_administrator(ui: TestClient) -> None:
    page = ui.get("/admin/administrators")
    assert page.status_code == 200
    assert "reset-password" not in page.text
