"""The console's shared parts, seen through every feature's pages: the 404 page of a missing
thing, the delete button's route, and form fields whose help is named by their input."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from support import csrf_field, sign_in

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def ui(client: TestClient) -> TestClient:
    assert sign_in(client).status_code == 303
    return client


def _connector(container: Container, name: str = "Receiver") -> str:
    view = container.connector_credentials.create(
        {
            "name": name,
            "protocol": "HTTPS",
            "url": "https://receiver.example.com/",
            "authorization": {"type": "BASIC", "username": "svc", "password": "Pw-shared-ui"},
        },
        actor=ACTOR,
    )
    return str(view.id)


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/admin/api-credentials/nope", "API credential"),
        ("/admin/connector-credentials/nope", "connector credential"),
        ("/admin/webhooks/nope", "webhook"),
        ("/admin/exporters/nope", "exporter"),
        ("/admin/exporters/nope/edit", "exporter"),
        ("/admin/deliveries/nope", "delivery"),
        ("/admin/deliveries?webhook=nope", "webhook"),
    ],
)
def test_a_missing_thing_answers_the_404_page_naming_it(
    ui: TestClient, path: str, what: str
) -> None:
    page = ui.get(path)
    assert page.status_code == 404
    assert f"There is no {what} with this id. It may be deleted." in page.text
    assert "Signed in as <strong>admin</strong>" in page.text  # the page keeps its frame
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "what", "gone"),
    [
        ("/admin/api-credentials/nope/delete", "API credential", "deleted"),
        ("/admin/connector-credentials/nope/delete", "connector credential", "deleted"),
        ("/admin/webhooks/nope/delete", "webhook", "deleted"),
        ("/admin/exporters/nope/delete", "exporter", "deleted"),
        ("/admin/exporters/nope/run", "exporter", "deleted"),
        ("/admin/deliveries/nope/replay", "delivery", "deleted"),
        ("/admin/account/tokens/99999/revoke", "admin API token", "revoked"),
        ("/admin/administrators/nobody/disable", "administrator", "revoked"),
    ],
)
def test_a_post_about_a_missing_thing_answers_404(
    ui: TestClient, path: str, what: str, gone: str
) -> None:
    csrf = csrf_field(ui.get("/admin/account").text)
    answer = ui.post(path, data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 404
    assert f"There is no {what} with this id. It may be {gone}." in answer.text


def test_a_post_about_a_missing_thing_without_its_token_is_refused_first(ui: TestClient) -> None:
    answer = ui.post("/admin/webhooks/nope/delete", data={}, follow_redirects=False)
    assert answer.status_code == 403


def test_the_delete_button_deletes_as_the_signed_in_admin(
    ui: TestClient, container: Container
) -> None:
    hook, _secret = container.outbound.webhooks.create(
        {"name": "to delete", "credential": _connector(container), "resource": "/in"}, actor=ACTOR
    )
    listing = ui.get("/admin/webhooks")
    assert f'action="/admin/webhooks/{hook["id"]}/delete"' in listing.text
    answer = ui.post(
        f"/admin/webhooks/{hook['id']}/delete",
        data={"csrf_token": csrf_field(listing.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/webhooks?notice=deleted"
    assert container.outbound.webhooks.list() == []
    audit = ui.get("/admin/audit", params={"action": "webhook.delete"}).text
    [row] = re.findall(r"<tr>(.*?)</tr>", audit.split("<tbody>")[1], re.S)
    assert "<td>admin<" in row
    assert "<code>webhook.delete</code>" in row


@pytest.mark.parametrize(
    "path",
    [
        "/admin/api-credentials/new",
        "/admin/connector-credentials/new",
        "/admin/webhooks/new",
        "/admin/exporters/new",
        "/admin/account",
    ],
)
def test_each_help_text_is_named_by_its_input(ui: TestClient, path: str) -> None:
    page = ui.get(path)
    assert page.status_code == 200
    named = set(re.findall(r'aria-describedby="(h-[\w-]+)"', page.text))
    helps = set(re.findall(r'<p class="help" id="(h-[\w-]+)"', page.text))
    assert named, "the form names no help text"
    assert named == helps
    # and the help of every labelled field is one of them (help that comes and goes with the
    # authorization type is left out: a description must hold whatever is chosen)
    fields = re.findall(r'<div class="field">(.*?)</div>', page.text, re.S)
    for field in fields:
        if '<p class="help">' in field and "<label" in field:
            pytest.fail(f"help not named by its input: {field}")
