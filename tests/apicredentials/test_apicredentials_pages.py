"""The API-credential pages through the ASGI app: the secret shown once, field errors."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from support import csrf_field
from support.fixtures import pages_backend  # noqa: F401 - a fixture


def _submit(ui: TestClient, form: Any, **fields: Any) -> Any:
    """The new-credential form (``form`` is the page) posted with ``fields`` and its CSRF token."""
    return ui.post("/admin/api-credentials", data={**fields, "csrf_token": csrf_field(form.text)})


def test_create_shows_the_secret_once_and_it_authenticates(
    ui: TestClient, container: Container
) -> None:
    form = ui.get("/admin/api-credentials/new")
    assert "Save and generate credentials" in form.text
    response = _submit(
        ui, form, name="ServiceNow", description="tickets", permissions=["workflows", "nql"]
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
    response = _submit(ui, form, name="  ", description="kept <text>")
    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert "<strong>Name</strong></a>: is required" in response.text
    assert "<strong>Permissions</strong></a>: choose at least one permission" in response.text
    assert "kept &lt;text&gt;</textarea>" in response.text  # kept, and escaped
    unknown = _submit(ui, form, name="x", permissions=["bogus"])
    assert unknown.status_code == 422
    assert "unknown permission" in unknown.text


def test_duplicate_name_is_a_field_error(ui: TestClient, container: Container) -> None:
    container.api_credentials.create(name="Taken", permissions=["nql"], actor=Actor("t", "t"))
    response = _submit(ui, ui.get("/admin/api-credentials/new"), name="Taken", permissions=["nql"])
    assert response.status_code == 422
    assert "already exists" in response.text


def test_regenerate_rejects_an_unknown_overlap(ui: TestClient, container: Container) -> None:
    created = container.api_credentials.create(name="R", permissions=["nql"], actor=Actor("t"))
    cid = created.credential.client_id
    page = ui.get(f"/admin/api-credentials/{cid}")
    response = ui.post(
        f"/admin/api-credentials/{cid}/regenerate",
        data={"overlap_seconds": "99999999", "csrf_token": csrf_field(page.text)},
    )
    assert response.status_code == 422
    assert "Overlap seconds" in response.text
    assert 'id="client-secret"' not in response.text
