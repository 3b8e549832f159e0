"""The connector-credential pages through the ASGI app: masked secrets, field errors, Test
and Connect."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from credgate.connectors.credentials import MASK
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import csrf_field, sign_in
from support.connector_data import BASIC, UNREACHABLE, variant
from support.fixtures import pages_backend  # noqa: F401 - a fixture

HOST_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7"
    "opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg="
)


#: The form of a Basic credential for Jira, without its password.
JIRA = {
    "name": "Jira",
    "protocol": "HTTPS",
    "url": "https://jira.example.com/",
    "auth_type": "BASIC",
    "username": "svc",
}


def _submit(client: TestClient, url: str, page: Any, fields: dict[str, str]) -> Any:
    """``fields`` posted to ``url`` with the CSRF token of ``page``, where the form is."""
    data = {**fields, "csrf_token": csrf_field(page.text)}
    return client.post(url, data=data, follow_redirects=False)


def test_connector_errors_name_fields_and_never_echo_secrets(
    ui: TestClient, container: Container
) -> None:
    form = ui.get("/admin/connector-credentials/new")
    typed = {**JIRA, "url": "http://not-https.example/", "password": "hunter2-typed-secret"}
    response = _submit(ui, "/admin/connector-credentials", form, typed)
    assert response.status_code == 422
    assert "<strong>URL</strong>" in response.text
    assert 'value="http://not-https.example/"' in response.text  # kept
    assert 'value="svc"' in response.text
    assert "hunter2-typed-secret" not in response.text
    assert container.connector_credentials.list().total == 0


def _save_masked(
    client: TestClient, credential_id: str, secret: str, fields: dict[str, str]
) -> Any:
    """Open a credential's edit page, which masks its password ``secret``, and save ``fields``
    with the password left masked (kept as stored). Answers the edit page."""
    url = f"/admin/connector-credentials/{credential_id}"
    page = client.get(url)
    assert secret not in page.text
    assert f'value="{MASK}"' in page.text
    saved = _submit(client, url, page, {**fields, "password": MASK})
    assert saved.status_code == 303, saved.text
    return page


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
    renamed = {
        "name": "SFTP drop renamed",
        "protocol": "SFTP",
        "url": "sftp://files.example.com:22/",
        "auth_type": "BASIC",
        "username": "u",
        "host_key": HOST_KEY,
    }
    _save_masked(ui, record.id, "p@ss", renamed)
    stored = container.connector_credentials.load(record.id)
    assert stored.name == "SFTP drop renamed"
    assert stored.secrets["password"] == "p@ss"


def test_pages_drive_the_container_s_own_connector_store(
    client: TestClient, container: Container
) -> None:
    store = container.connector_credentials
    assert sign_in(client).status_code == 303
    form = client.get("/admin/connector-credentials/new")
    created = _submit(
        client, "/admin/connector-credentials", form, {**JIRA, "password": "s3cret-pass"}
    )
    assert created.status_code == 303, created.text
    listing = client.get("/admin/connector-credentials")
    assert "1 credential<" in listing.text
    credential_id = re.search(r'data-id="([^"]+)"', listing.text)
    assert credential_id
    edit = _save_masked(
        client, credential_id.group(1), "s3cret-pass", {**JIRA, "name": "Jira renamed"}
    )
    assert store.load(credential_id.group(1)).secrets["password"] == "s3cret-pass"
    empty = {"name": "", "protocol": "SFTP", "url": "x"}
    bad = _submit(client, "/admin/connector-credentials", edit, empty)
    assert bad.status_code == 422
    assert "<strong>Name</strong>" in bad.text
    assert "<strong>Hostname</strong>" in bad.text


def test_test_and_connect_buttons_use_the_connections(
    client: TestClient, container: Container
) -> None:
    """Without a stand-in tester, Test runs the real connection check, and Connect starts the
    consent round-trip with state and PKCE at the provider's authorization URL."""
    from urllib.parse import parse_qs, urlsplit

    from credgate.core.audit.services import Actor

    actor = Actor("tests", "pytest")
    nowhere = variant(BASIC, "Nowhere", UNREACHABLE, username="svc", password="not-shown-1")
    unreachable = container.connector_credentials.create(nowhere, actor=actor)
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
    assert sign_in(client).status_code == 303
    listing = client.get("/admin/connector-credentials")
    assert f'/connector-credentials/{consent.id}/connect"' in listing.text
    assert f'/connector-credentials/{unreachable.id}/connect"' not in listing.text

    tested = client.post(
        f"/admin/connector-credentials/{unreachable.id}/test",
        data={"csrf_token": csrf_field(listing.text)},
    )
    assert tested.status_code == 200
    assert 'id="test-verdict"' in tested.text
    assert "not-shown-1" not in tested.text
    assert container.connector_credentials.get(unreachable.id).as_dict()["last_test"]["ok"] is False

    connect = client.post(
        f"/admin/connector-credentials/{consent.id}/connect",
        data={"csrf_token": csrf_field(listing.text)},
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
