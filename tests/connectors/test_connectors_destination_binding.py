"""Secrets and tokens are bound to the destination they were given for.

Pointing a credential elsewhere (its URL, token or authorization URL, SFTP host, port or host
key) needs every secret entered again, in the REST API, the pages and the CLI, and drops the
tokens obtained at run time and a pending consent. The vault seals each secret with its
destination, so one left behind does not even decrypt for another. Storage runs on SQLite and
PostgreSQL; the OAuth 2.0 peers are real HTTPS servers on loopback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import asyncssh
import pytest
from outbound_peers import (
    CC_CLIENT_ID,
    CC_CLIENT_SECRET,
    ResourcePeer,
    Tls,
    TlsServer,
)
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.bootstrap import initialise
from credgate.cli import app as cli_app
from credgate.connectors.auth import Token
from credgate.connectors.consent import ConnectorConsent
from credgate.connectors.credentials import MASK
from credgate.connectors.credentials.models import (
    ConnectorCredential,
    ConnectorCredentialSecret,
    destination_digest,
    secret_context,
)
from credgate.connectors.tokenstore import DatabaseTokenStore
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.models import SEALED
from credgate.security.rotation import reencrypt_installation
from credgate.security.vault import VaultError
from support import ADMIN_PASSWORD, cli_env, connector_data
from support.connector_data import variant
from support.fixtures import trusting_test_ca  # noqa: F401 - a fixture

BASE = "/admin/api/v1/connector-credentials"
ACTOR = Actor("tests", "pytest")
CODE_SECRET = "Cs-binding-code-7"
SFTP_SECRET = "Pw-binding-sftp-3"
BASIC_SECRET = "Pw-binding-basic-5"


def host_key() -> str:
    return asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode()


AUTHORIZATION_CODE = variant(
    connector_data.AUTHORIZATION_CODE, client_secret=CODE_SECRET, scope="read"
)
SFTP = variant(connector_data.SFTP, "Files", password=SFTP_SECRET, host_key=host_key())
BASIC = variant(connector_data.BASIC, "Desk", "https://desk.example.com/", password=BASIC_SECRET)


def create(client: TestClient, body: dict[str, Any]) -> str:
    answer = client.post(BASE, json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def create_bound(client: TestClient, container: Container, body: dict[str, Any]) -> tuple[str, str]:
    """A credential created through the API, and the digest of the destination that its
    secrets are bound to."""
    credential_id = create(client, body)
    destination = container.connector_credentials.load(credential_id).destination
    return credential_id, destination_digest(destination)


def shown(client: TestClient, credential_id: str) -> dict[str, Any]:
    return dict(client.get(f"{BASE}/{credential_id}").json())


def refused_fields(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    return {e["field"]: e["message"] for e in answer.json()["errors"]}


# -- OAuth 2.0: the token of the old provider never reaches the new host ------------------------


class Elsewhere:
    """Another HTTPS host: it records the Authorization headers it receives."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def app(self) -> Starlette:
        async def root(request: Request) -> Response:
            self.seen.append(request.headers.get("authorization", ""))
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/", root)])


@pytest.fixture
def peers(tls: Tls) -> Iterator[tuple[ResourcePeer, str, Elsewhere, str]]:
    provider, other = ResourcePeer(), Elsewhere()
    with TlsServer(provider.app(), tls) as a, TlsServer(other.app(), tls) as b:
        yield provider, a.url, other, b.url


def test_a_new_url_needs_the_client_secret_and_drops_the_token(
    container: Container,
    admin_client: TestClient,
    peers: tuple[ResourcePeer, str, Elsewhere, str],
) -> None:
    provider, url, other, other_url = peers
    credential_id = create(
        admin_client,
        {
            "name": "Jira",
            "protocol": "HTTPS",
            "url": f"{url}/",
            "authorization": {
                "type": "OAUTH2_CLIENT_CREDENTIALS",
                "client_id": CC_CLIENT_ID,
                "client_secret": CC_CLIENT_SECRET,
                "access_token_url": f"{url}/token",
            },
        },
    )
    test = f"{BASE}/{credential_id}/test"
    assert admin_client.post(test).json()["code"] == "ok"
    [first_token] = provider.issued
    assert "access_token" in container.connector_credentials.load_secrets(credential_id)

    # only the URL changes, the secret sent back as the mask: refused, naming the secret
    body = shown(admin_client, credential_id)
    assert body["authorization"]["client_secret"] == MASK
    body["url"] = f"{other_url}/"
    message = refused_fields(admin_client.put(f"{BASE}/{credential_id}", json=body))
    assert list(message) == ["authorization.client_secret"]
    assert "the URL changed" in message["authorization.client_secret"]
    assert shown(admin_client, credential_id)["url"] == f"{url}/"
    assert admin_client.post(test).json()["code"] == "ok"
    assert other.seen == []

    # with the secret entered again: saved, and the token of the old destination is gone
    body["authorization"]["client_secret"] = CC_CLIENT_SECRET
    assert admin_client.put(f"{BASE}/{credential_id}", json=body).status_code == 200
    assert set(container.connector_credentials.load_secrets(credential_id)) == {"client_secret"}
    assert admin_client.post(test).json()["code"] == "ok"
    assert len(other.seen) == 1
    assert first_token not in other.seen[0]
    assert other.seen[0] == f"Bearer {provider.issued[-1]}"


@pytest.mark.parametrize(
    ("key", "value", "label"),
    [
        ("url", "https://api.4me.example/", "the URL"),
        ("authorization_url", "https://login.4me.example/authorize", "the authorization url"),
        ("access_token_url", "https://login.4me.example/token", "the access token url"),
    ],
)
def test_a_new_authorization_code_destination_drops_tokens_and_the_pending_consent(
    container: Container, admin_client: TestClient, key: str, value: str, label: str
) -> None:
    service = container.connector_credentials
    credential_id = create(admin_client, AUTHORIZATION_CODE)
    service.save_obtained_secret(credential_id, "access_token", "At-binding-1")
    service.save_obtained_secret(credential_id, "refresh_token", "Rt-binding-1")
    container.connections.start_consent(credential_id)
    body = shown(admin_client, credential_id)
    if key == "url":
        body["url"] = value
    else:
        body["authorization"][key] = value
    message = refused_fields(admin_client.put(f"{BASE}/{credential_id}", json=body))
    assert list(message) == ["authorization.client_secret"]
    assert message["authorization.client_secret"].startswith(f"{label} changed")
    assert set(service.load_secrets(credential_id)) == {
        "client_secret",
        "access_token",
        "refresh_token",
    }

    body["authorization"]["client_secret"] = CODE_SECRET
    answer = admin_client.put(f"{BASE}/{credential_id}", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "reconnect needed"
    assert dict(service.load_secrets(credential_id)) == {"client_secret": CODE_SECRET}
    with container.db.session() as session:
        assert session.get(ConnectorConsent, credential_id) is None


@pytest.mark.parametrize(
    ("edit", "label"),
    [
        ({"authorization": {**SFTP["authorization"], "host_key": host_key()}}, "the host key"),
        ({"url": "sftp://sftp.example.com:2222/"}, "the URL"),
        ({"url": "sftp://other.example.com:22/"}, "the URL"),
    ],
)
def test_a_new_sftp_host_port_or_key_needs_the_password(
    container: Container, admin_client: TestClient, edit: dict[str, Any], label: str
) -> None:
    credential_id = create(admin_client, SFTP)
    body = {**shown(admin_client, credential_id), **edit}
    body["authorization"] = {**body["authorization"], "password": MASK}
    message = refused_fields(admin_client.put(f"{BASE}/{credential_id}", json=body))
    assert list(message) == ["authorization.password"]
    assert message["authorization.password"].startswith(f"{label} changed")
    body["authorization"]["password"] = SFTP_SECRET
    assert admin_client.put(f"{BASE}/{credential_id}", json=body).status_code == 200
    assert dict(container.connector_credentials.load_secrets(credential_id)) == {
        "password": SFTP_SECRET
    }


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def test_the_pages_ask_for_the_password_when_the_host_key_changes(
    container: Container, client: TestClient
) -> None:
    credential_id = container.connector_credentials.create(SFTP, actor=ACTOR).id
    login = client.get("/admin/login")
    signed_in = client.post(
        "/admin/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": _csrf(login.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    edit = client.get(f"/admin/connector-credentials/{credential_id}")
    form = {
        "name": "Files",
        "protocol": "SFTP",
        "url": "sftp://sftp.example.com:22/",
        "auth_type": "BASIC",
        "username": "exporter",
        "password": MASK,
        "host_key": host_key(),
        "csrf_token": _csrf(edit.text),
    }
    page = client.post(f"/admin/connector-credentials/{credential_id}", data=form)
    assert page.status_code == 422
    assert "the host key changed, so the stored secret is not sent" in page.text
    assert "<strong>Password</strong>" in page.text
    assert SFTP_SECRET not in page.text
    saved = client.post(
        f"/admin/connector-credentials/{credential_id}",
        data={**form, "password": "Pw-binding-new", "csrf_token": _csrf(page.text)},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert container.connector_credentials.load(credential_id).secrets["password"] == (
        "Pw-binding-new"
    )


def test_the_cli_names_the_secret_when_the_url_changes(container: Container) -> None:
    env = cli_env(container)
    credential_id = container.connector_credentials.create(BASIC, actor=ACTOR).id
    moved = ["connector-credentials", "update", "Desk", "--url", "https://attacker.example/"]
    refused = CliRunner().invoke(cli_app, moved, env=env)
    assert refused.exit_code == 2
    assert "authorization.password: the URL changed" in refused.output
    assert BASIC_SECRET not in refused.output
    assert container.connector_credentials.get(credential_id).masked["url"] == BASIC["url"]
    entered = CliRunner().invoke(cli_app, [*moved, "--change-secret"], env=env, input="Pw-cli\n")
    assert entered.exit_code == 0, entered.output
    assert container.connector_credentials.load(credential_id).secrets["password"] == "Pw-cli"


# -- the vault's binding --------------------------------------------------------------------------


def test_a_secret_does_not_open_for_another_destination(
    container: Container, admin_client: TestClient
) -> None:
    service = container.connector_credentials
    credential_id, before = create_bound(admin_client, container, BASIC)
    with container.db.session() as session:
        row = session.get(ConnectorCredentialSecret, (credential_id, "password"))
        assert row is not None
        assert row.destination == before
        ciphertext = row.ciphertext
        # a change made behind credgate's back (or by a path that forgot the rule)
        session.execute(
            update(ConnectorCredential)
            .where(ConnectorCredential.id == credential_id)
            .values(url="https://attacker.example/")
        )
    moved = BASIC | {"url": "https://attacker.example/"}
    after = destination_digest(
        (("protocol", "HTTPS"), ("authorization.type", "BASIC"), ("url", moved["url"]))
    )
    with pytest.raises(VaultError):  # the stored blob itself refuses the new destination
        container.vault.decrypt(
            ciphertext, context=secret_context(credential_id, "password", after)
        )
    assert container.vault.decrypt_text(
        ciphertext, context=secret_context(credential_id, "password", before)
    ) == (BASIC_SECRET)
    with pytest.raises(VaultError, match="another destination"):
        service.load(credential_id)
    with pytest.raises(VaultError):
        service.load_secrets(credential_id)
    # an edit treats it as not stored: the administrator enters it again
    body = shown(admin_client, credential_id)
    message = refused_fields(admin_client.put(f"{BASE}/{credential_id}", json=body))
    assert "no value is stored" in message["authorization.password"]
    body["authorization"]["password"] = "Pw-entered-again"
    assert admin_client.put(f"{BASE}/{credential_id}", json=body).status_code == 200
    assert service.load(credential_id).secrets["password"] == "Pw-entered-again"


def _unbind(container: Container, credential_id: str, field: str, value: str) -> None:
    """Make the row look as it did before destinations were bound."""
    legacy = container.vault.encrypt(value, context=secret_context(credential_id, field))
    with container.db.session() as session:
        session.execute(
            update(ConnectorCredentialSecret)
            .where(ConnectorCredentialSecret.credential_id == credential_id)
            .where(ConnectorCredentialSecret.field == field)
            .values(ciphertext=legacy, destination="")
        )


def test_secrets_stored_before_binding_are_bound_by_init_and_by_reencryption(
    container: Container, admin_client: TestClient
) -> None:
    service = container.connector_credentials
    credential_id = create(admin_client, AUTHORIZATION_CODE)
    service.save_obtained_secret(credential_id, "refresh_token", "Rt-legacy-1")
    bound = destination_digest(service.load(credential_id).destination)

    def init() -> None:
        assert initialise(container.settings, container.db, create_keys=False)[2].bound_secrets == 2

    def reencrypt() -> None:  # what `credgate vault rotate-key` and `reencrypt` run
        assert reencrypt_installation(container.settings, container.db, SEALED).complete

    upgrades: tuple[Callable[[], None], ...] = (init, reencrypt)
    for upgrade in upgrades:
        _unbind(container, credential_id, "client_secret", CODE_SECRET)
        _unbind(container, credential_id, "refresh_token", "Rt-legacy-1")
        # still readable meanwhile, so an upgrade does not interrupt anything
        assert dict(service.load_secrets(credential_id)) == {
            "client_secret": CODE_SECRET,
            "refresh_token": "Rt-legacy-1",
        }
        upgrade()
        with container.db.session() as session:
            rows = session.scalars(
                select(ConnectorCredentialSecret).where(
                    ConnectorCredentialSecret.credential_id == credential_id
                )
            ).all()
            assert {r.field: r.destination for r in rows} == {
                "client_secret": bound,
                "refresh_token": bound,
            }
            for r in rows:  # the unbound context no longer opens them
                with pytest.raises(VaultError):
                    container.vault.decrypt(
                        r.ciphertext, context=secret_context(credential_id, r.field)
                    )
        assert service.load(credential_id).secrets["client_secret"] == CODE_SECRET
        assert service.load_secrets(credential_id)["refresh_token"] == "Rt-legacy-1"
    assert initialise(container.settings, container.db, create_keys=False)[2].bound_secrets == 0


def test_a_token_obtained_for_the_old_destination_is_not_kept(
    container: Container, admin_client: TestClient
) -> None:
    """A renewal in flight while the credential is pointed elsewhere: its token is dropped."""
    service = container.connector_credentials
    credential_id, old = create_bound(admin_client, container, AUTHORIZATION_CODE)
    store = DatabaseTokenStore(container.db, service, credential_id, destination=old)
    store.save(Token("At-before", refresh_token="Rt-before"))
    assert store.load() is not None
    body = shown(admin_client, credential_id)
    body["url"] = "https://api.4me.example/"
    body["authorization"]["client_secret"] = CODE_SECRET
    assert admin_client.put(f"{BASE}/{credential_id}", json=body).status_code == 200
    store.save(Token("At-late", refresh_token="Rt-late"))  # obtained for the old destination
    assert store.load() is None
    assert set(service.load_secrets(credential_id)) == {"client_secret"}
