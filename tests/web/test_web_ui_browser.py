"""The administration pages in a real headless Chromium, against a real server.

With ``CREDGATE_TEST_SCREENSHOTS=1``, each page is screenshotted to ``test-artifacts/screenshots/``
for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import screenshot, watch_errors

from credgate.connectors.credentials import MASK
from credgate.connectors.sftp import Verdict

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 860})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors = watch_errors(tab)
    yield tab
    context.close()
    assert errors == [], f"the pages logged errors: {errors}"


def shot(page: Any, name: str) -> None:
    screenshot(page, name)


def login(page: Any) -> None:
    page.goto("/admin/login")
    shot(page, "01-login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/api-credentials")


def token_status(url: str, client_id: str, secret: str) -> int:
    response = httpx.post(
        f"{url}/oauth2/default/v1/token",
        data={"grant_type": "client_credentials", "scope": "service:integration"},
        auth=(client_id, secret),
    )
    return response.status_code


def confirm(page: Any, accept: bool = True) -> None:
    dialog = page.locator("#confirm-dialog")
    dialog.wait_for(state="visible")
    page.locator("#confirm-ok" if accept else "#confirm-dialog button[value=cancel]").click()


def test_api_credentials_end_to_end(page: Any, live_server: Any) -> None:
    login(page)
    assert page.get_by_role("heading", name="No API credentials yet").is_visible()
    shot(page, "02-api-credentials-empty")

    # Keyboard: the skip link is the first stop, and focus is visible.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"

    page.get_by_role("link", name="New OAuth client credentials").first.click()
    page.get_by_label("Description").fill("Tickets from <ServiceNow>")
    page.get_by_role("button", name="Save and generate credentials").click()
    box = page.get_by_role("alert")
    assert "Name" in box.inner_text()
    assert "Permissions" in box.inner_text()
    assert page.get_by_label("Description").input_value() == "Tickets from <ServiceNow>"
    shot(page, "03-api-credential-errors")

    page.get_by_label("Name", exact=True).fill("ServiceNow production")
    page.get_by_label("Workflows API").check()
    page.get_by_label("NQL API").check()
    shot(page, "04-api-credential-form")
    page.get_by_role("button", name="Save and generate credentials").click()

    modal = page.locator("#secret-dialog")
    modal.wait_for(state="visible")
    assert "shown only this once" in modal.inner_text()
    assert page.evaluate("document.querySelector('#secret-dialog').matches(':modal')")
    client_id = page.locator("#client-id").input_value()
    secret = page.locator("#client-secret").input_value()
    assert page.url.endswith("/admin/api-credentials")  # the address no longer names the post
    modal.get_by_role("button", name="Copy").nth(1).click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(page, "05-secret-modal")
    assert token_status(live_server.url, client_id, secret) == 200
    page.keyboard.press("Escape")  # the keyboard closes it once confirmed; the secret goes too
    page.get_by_role("button", name="Yes, close").click()
    modal.wait_for(state="detached")

    page.reload()
    assert secret not in page.content()
    assert page.locator("#secret-dialog").count() == 0
    assert page.locator("tbody tr").count() == 1  # the reload did not post again
    shot(page, "06-api-credentials-list")

    # Edit
    page.get_by_role("link", name="Edit ServiceNow production").click()
    page.get_by_label("Description").fill("Incident tickets")
    page.get_by_label("NQL API").uncheck()
    page.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url("**/admin/api-credentials?notice=updated")
    assert page.get_by_role("status").inner_text().strip() == "API credential saved."
    assert "Incident tickets" in page.content()

    # Regenerate with an overlap: both secrets work for now.
    page.get_by_role("link", name="Edit ServiceNow production").click()
    shot(page, "07-api-credential-edit")
    page.get_by_label("Old secret keeps working for").select_option(label="1 hour")
    page.get_by_role("button", name="Regenerate secret").click()
    confirm(page)
    page.locator("#secret-dialog").wait_for(state="visible")
    new_secret = page.locator("#client-secret").input_value()
    assert new_secret != secret
    page.get_by_role("button", name="I have copied them").click()
    page.locator("#secret-dialog").wait_for(state="detached")  # closing removes the secret
    assert token_status(live_server.url, client_id, new_secret) == 200
    assert token_status(live_server.url, client_id, secret) == 200

    # Delete: cancel first, then confirm.
    page.get_by_role("button", name="Delete API credential ServiceNow production").click()
    shot(page, "08-delete-confirmation")
    confirm(page, accept=False)
    assert page.locator("tbody tr").count() == 1
    page.get_by_role("button", name="Delete API credential ServiceNow production").click()
    confirm(page)
    page.wait_for_url("**/admin/api-credentials?notice=deleted")
    assert page.get_by_role("heading", name="No API credentials yet").is_visible()
    assert token_status(live_server.url, client_id, new_secret) == 401

    # Signing keys: rotate, see both keys and their ages.
    page.get_by_role("link", name="Signing keys").click()
    page.get_by_role("button", name="Rotate now").click()
    confirm(page)
    page.wait_for_url("**/admin/signing-keys?notice=rotated")
    assert page.locator("tbody tr").count() == 2
    assert page.locator("td.age").first.inner_text() == "just now"
    shot(page, "09-signing-keys")

    # Audit log, newest first, filtered.
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/admin/audit")
    first_action = page.locator("tbody tr").first.locator("code").first.inner_text()
    assert first_action == "signing_key.rotate"
    page.get_by_label("Action").fill("api_credential")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/admin/audit?action=api_credential*")
    actions = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[0] == "api_credential.delete"
    assert all(a.startswith("api_credential.") for a in actions)
    shot(page, "10-audit-log")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/admin/login?notice=signed-out")
    page.goto("/admin/api-credentials")
    assert "/admin/login" in page.url


CONNECTORS: list[tuple[str, str, str, dict[str, str]]] = [
    ("Incoming webhook", "HTTPS", "No auth", {}),
    ("Jira basic", "HTTPS", "Basic", {"Username": "svc-jira", "Password": "jira-pass"}),
    ("Freshservice token", "HTTPS", "Bearer token", {"Token": "fs-token-value"}),
    (
        "ServiceNow client credentials",
        "HTTPS",
        "OAuth 2.0 - Client credentials",
        {
            "Client ID": "sn-client",
            "Client secret": "sn-secret",
            "Access token URL": "https://ven01063.service-now.com/oauth_token.do",
            "Scope": "useraccount",
        },
    ),
    (
        "Ivanti authorization code",
        "HTTPS",
        "OAuth 2.0 - Authorization code",
        {
            "Client ID": "iv-client",
            "Client secret": "iv-secret",
            "Authorization code URL": "https://login.ivanti.example/oauth2/authorize",
            "Access token URL": "https://login.ivanti.example/oauth2/token",
        },
    ),
    (
        "Exports SFTP",
        "SFTP",
        "Basic",
        {"Username": "exporter", "Password": "sftp-pass", "SFTP server host key": HOST_KEY},
    ),
]


def test_connector_credentials_end_to_end(
    page: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = live_server.app.container
    connector_store = container.connector_credentials

    async def reachable(credential_id: str) -> Verdict:
        """The Test button's check, with the third-party tools answering: the example hosts
        are not reachable from a test, and what the check does on the network is tested with
        real servers in tests/connectors."""
        cred = connector_store.load(credential_id)
        connector_store.record_test_result(credential_id, ok=True, detail="answered")
        return Verdict(True, "ok", f"{cred.url} answered and accepted the credentials")

    monkeypatch.setattr(container.connections, "test", reachable)

    def stored_credentials() -> dict[str, Any]:
        return {v.id: connector_store.load(v.id) for v in connector_store.list(limit=500).items}

    login(page)
    page.get_by_role("link", name="Connector credentials").click()
    page.wait_for_url("**/admin/connector-credentials")
    assert page.locator("#total").inner_text() == "0 credentials"
    shot(page, "11-connectors-empty")

    for index, (name, protocol, auth_label, fields) in enumerate(CONNECTORS):
        page.get_by_role("link", name="New credential").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Protocol").select_option(protocol)
        if protocol == "SFTP":
            assert page.locator("label[for=f-url]").inner_text() == "Hostname"
            page.get_by_label("Hostname").fill("sftp://files.example.com:22/")
        else:
            page.get_by_label("URL", exact=True).fill("https://tools.example.com/")
            page.get_by_label("Authorization type").select_option(label=auth_label)
        if auth_label == "Bearer token":
            assert page.get_by_label("Header prefix").input_value() == "Bearer"
        code = auth_label == "OAuth 2.0 - Authorization code"
        assert page.locator("#redirect-url-later").is_visible() is code
        # Only the fields of the chosen type show.
        assert page.get_by_label("Token", exact=True).is_visible() is (auth_label == "Bearer token")
        for label, value in fields.items():
            page.get_by_label(label, exact=True).fill(value)
        shot(page, f"12-connector-new-{index}")
        page.get_by_role("button", name="Save").click()
        if code:
            # Saved, then shown again with its redirect URL to register at the third party.
            page.wait_for_url("**/admin/connector-credentials/*?notice=connect")
            credential_id = page.url.split("/")[-1].split("?")[0]
            redirect = page.get_by_label("Redirect URL")
            assert redirect.input_value() == f"{live_server.url}/oauth2/callback/{credential_id}"
            page.get_by_role("button", name="Copy").click()
            assert page.evaluate("navigator.clipboard.readText()") == redirect.input_value()
            shot(page, "12-connector-redirect-url")
            page.get_by_role("link", name="Connector credentials").first.click()
        else:
            page.wait_for_url("**/admin/connector-credentials?notice=created")

    assert page.locator("#total").inner_text() == f"{len(CONNECTORS)} credentials"
    shot(page, "13-connectors-list")
    stored = {c.name: (i, c) for i, c in stored_credentials().items()}
    assert stored["Freshservice token"][1].authorization["header_prefix"] == "Bearer"
    assert stored["Exports SFTP"][1].secrets["password"] == "sftp-pass"

    # Invalid values: the error box names each field, and typed values are kept.
    page.get_by_role("link", name="New credential").click()
    page.get_by_label("Name", exact=True).fill("Broken SFTP")
    page.get_by_label("Protocol").select_option("SFTP")
    page.get_by_label("Hostname").fill("files.example.com")
    page.get_by_label("Username", exact=True).fill("someone")
    page.get_by_label("SFTP server host key").fill(
        "da:47:93:b4:3a:90:5b:50:1f:20:a8:f9:b7:a1:d0:e1"
    )
    page.get_by_role("button", name="Save").click()
    box = page.get_by_role("alert")
    box_text = box.inner_text()
    for label in ("Hostname", "Password", "SFTP server host key"):
        assert label in box_text, box_text
    assert page.get_by_label("Hostname").input_value() == "files.example.com"
    assert page.get_by_label("Username", exact=True).input_value() == "someone"
    assert page.get_by_label("Protocol").input_value() == "SFTP"
    assert page.locator("#f-url").get_attribute("aria-invalid") == "true"
    shot(page, "14-connector-errors")
    page.get_by_role("link", name="Cancel").click()

    # Edit without touching the secrets: they stay masked, and still hold the stored values.
    page.get_by_role("link", name="Edit ServiceNow client credentials").click()
    assert page.get_by_label("Client secret").input_value() == MASK
    assert "sn-secret" not in page.content()
    shot(page, "15-connector-edit")
    page.get_by_label("Scope").fill("useraccount admin")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/admin/connector-credentials?notice=updated")
    edited = connector_store.load(stored["ServiceNow client credentials"][0])
    assert edited.secrets["client_secret"] == "sn-secret"
    assert edited.authorization["scope"] == "useraccount admin"

    # Test shows a verdict.
    page.get_by_role("button", name="Test Jira basic").click()
    assert "passed" in page.locator("#test-verdict").inner_text()
    shot(page, "16-connector-test")

    # Delete through the confirmation.
    page.get_by_role("button", name="Delete connector credential Jira basic").click()
    confirm(page)
    page.wait_for_url("**/admin/connector-credentials?notice=deleted")
    assert page.locator("#total").inner_text() == f"{len(CONNECTORS) - 1} credentials"
    assert "Jira basic" not in {c.name for c in stored_credentials().values()}

    # Narrow screens: the navigation moves above the content.
    page.set_viewport_size({"width": 390, "height": 800})
    nav_box = page.get_by_role("navigation", name="Administration").bounding_box()
    heading_box = page.get_by_role("heading", name="Connector credentials").bounding_box()
    assert nav_box["y"] + nav_box["height"] <= heading_box["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the table scrolls
    shot(page, "17-connectors-narrow")


def test_a_form_posted_without_its_csrf_token_is_refused(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        page = client.get("/admin/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        signed_in = client.post(
            "/admin/login",
            data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert signed_in.status_code == 303
        assert client.get("/admin/api-credentials").status_code == 200
        refused = client.post(
            "/admin/api-credentials", data={"name": "Sneaky", "permissions": ["nql"]}
        )
        assert refused.status_code == 403
        assert "Nothing was changed" in refused.text
    assert live_server.app.container.api_credentials.list() == []


def test_webhook_pages_show_a_generated_secret_once(page: Any, live_server: Any) -> None:
    from credgate.core.audit.services import Actor

    live_server.app.container.connector_credentials.create(
        {
            "name": "Ticketing",
            "protocol": "HTTPS",
            "url": "https://tickets.example.com/",
            "authorization": {"type": "BEARER", "token": "tok-browser-1"},
        },
        actor=Actor("tests", "pytest"),
    )
    login(page)
    page.get_by_role("link", name="Webhooks").click()
    page.wait_for_url("**/admin/webhooks")
    page.get_by_role("link", name="New webhook").click()
    page.get_by_label("Name", exact=True).fill("incidents")
    page.get_by_label("Connector credential").select_option(label="Ticketing")
    page.get_by_label("Resource path").fill("/api/incident")
    page.get_by_label("Headers").fill("X-Source: credgate")
    page.get_by_label("workflow_execution").check()
    page.get_by_label("Generate a new secret (shown once, after saving)").check()
    shot(page, "30-webhook-form")
    page.get_by_role("button", name="Save").click()
    secret = page.locator("#signing-secret")
    secret.wait_for(state="visible")
    assert secret.input_value().startswith("whsec_")
    shot(page, "31-webhook-secret")
    page.locator("#secret-done").click()
    page.reload()
    assert page.locator("#signing-secret").count() == 0
    assert page.locator("#total").inner_text() == "1 webhook"
    shot(page, "32-webhooks")
    page.get_by_role("link", name="Deliveries").first.click()
    page.wait_for_url("**/admin/deliveries**")
    page.get_by_role("link", name="Data exporters").click()
    page.wait_for_url("**/admin/exporters")
    page.get_by_role("link", name="New exporter").click()
    shot(page, "33-exporter-form")


def test_admin_api_token_is_shown_once_and_revoked_at_once(page: Any, live_server: Any) -> None:
    login(page)
    page.get_by_role("link", name="Your account").click()
    page.wait_for_url("**/admin/account")
    assert page.locator("#no-tokens").is_visible()
    page.get_by_label("Token name").fill("deploy pipeline")
    page.get_by_label("Expires in").select_option(label="7 days")
    page.get_by_role("button", name="Create token").click()
    assert "enter your password" in page.get_by_role("alert").inner_text()  # asked again
    page.get_by_label("Your password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create token").click()

    modal = page.locator("#secret-dialog")
    modal.wait_for(state="visible")
    assert "shown only this once" in modal.inner_text()
    token = page.locator("#admin-token").input_value()
    assert token.startswith("cgat_")
    assert page.url.endswith("/admin/account")
    shot(page, "40-admin-token-once")
    headers = {"Authorization": f"Bearer {token}"}
    assert (
        httpx.get(f"{live_server.url}/admin/api/v1/signing-keys", headers=headers).status_code
        == 200
    )
    page.locator("#secret-done").click()
    modal.wait_for(state="detached")

    page.reload()
    assert token not in page.content()
    row = page.locator("#admin-tokens tbody tr")
    assert row.count() == 1
    assert "deploy pipeline" in row.inner_text()
    shot(page, "41-admin-tokens")
    page.get_by_role("button", name="Revoke token deploy pipeline").click()
    confirm(page)
    page.wait_for_url("**/admin/account?notice=token-revoked")
    assert page.get_by_role("status").inner_text().strip() == "Admin API token revoked."
    assert (
        httpx.get(f"{live_server.url}/admin/api/v1/signing-keys", headers=headers).status_code
        == 401
    )
