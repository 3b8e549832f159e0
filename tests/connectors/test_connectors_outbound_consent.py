"""The consent round-trip of an OAuth 2.0 authorization code credential, end to end.

credgate's admin API starts it, a browser follows the redirect to an Authlib authorization
server on loopback (PKCE S256 required, refresh tokens rotated on every use), the provider sends
the browser back to the credential's redirect URL on credgate, and credgate exchanges the code.
Then the stored tokens are used, refreshed with rotation, and refused (``invalid_grant``).
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from outbound_peers import (
    AC_CLIENT_SECRET,
    ProviderState,
    Tls,
    assert_no_secrets,
    consent_credential,
)
from sqlalchemy import update
from starlette.testclient import TestClient
from typer.testing import CliRunner

from credgate.cli import app as cli_app
from credgate.connectors.auth import ReconnectNeeded
from credgate.connectors.consent import ConnectorConsent
from credgate.connectors.tokenstore import DatabaseTokenStore
from credgate.container import Container
from credgate.core.audit.services import Actor
from support import cli_env
from support.fixtures import tls_provider, trusting_test_ca  # noqa: F401 - fixtures

ACTOR = Actor("tests", "pytest")


@contextmanager
def browser_leg() -> Iterator[None]:
    """The browser is the test's, not credgate's: its own HTTP trace (URLs with the code and
    state, response headers) is not part of what credgate logs."""
    loggers = [logging.getLogger(name) for name in ("httpx", "httpx2", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def ac_credential(container: Container, url: str, state: ProviderState) -> str:
    return consent_credential(container, url, state)


def browse(authorization_url: str, tls: Tls) -> str:
    """What the administrator's browser does: open the URL; returns where it is sent back."""
    with (
        browser_leg(),
        httpx.Client(verify=ssl.create_default_context(cafile=str(tls.ca_bundle))) as browser,
    ):
        answer = browser.get(authorization_url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def callback(client: TestClient, location: str) -> httpx.Response:
    parts = urlsplit(location)
    with browser_leg():
        return client.get(f"{parts.path}?{parts.query}", headers={"Authorization": ""})


def start(admin_client: TestClient, credential_id: str) -> str:
    answer = admin_client.post(f"/admin/api/v1/connector-credentials/{credential_id}/connect")
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["authorization_url"]
    return url


def test_consent_round_trip_then_refresh_with_rotation(
    container: Container,
    admin_client: TestClient,
    provider: tuple[ProviderState, str],
    tls: Tls,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    state, url = provider
    credential_id = ac_credential(container, url, state)
    redirect_url = container.connector_credentials.get(credential_id).redirect_url
    assert redirect_url == f"{container.settings.base_url}/oauth2/callback/{credential_id}"

    authorization_url = start(admin_client, credential_id)
    query = parse_qs(urlsplit(authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [redirect_url]
    assert len(query["state"][0]) >= 43
    location = browse(authorization_url, tls)
    assert location.startswith(redirect_url + "?")
    code = parse_qs(urlsplit(location).query)["code"][0]

    page = callback(admin_client, location)
    assert page.status_code == 200
    assert "Connected" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert container.connector_credentials.get(credential_id).status == "ok"
    store = DatabaseTokenStore(container.db, container.connector_credentials, credential_id)
    first = store.load()
    assert first is not None
    assert first.refresh_token in state.by_refresh
    assert state.code_verifiers, "the provider saw no PKCE code_verifier"

    # The same callback again: the consent was single-use.
    again = callback(admin_client, location)
    assert again.status_code == 400
    assert "already used or never started" in again.text

    # The stored access token works.
    with container.connections.sync_http_client(credential_id) as client:
        assert client.get(f"{url}/").status_code == 200

    # The provider expires the access token: one refresh, and the rotated refresh token is
    # saved before it is used again.
    for _round in range(2):
        current = store.load()
        assert current is not None
        state.tokens[current.access_token].expires_at = 0
        with container.connections.sync_http_client(credential_id) as client:
            assert client.get(f"{url}/").status_code == 200
        renewed = store.load()
        assert renewed is not None
        assert renewed.refresh_token != current.refresh_token
        assert state.presented[-1] == current.refresh_token
        assert state.by_refresh[current.refresh_token or ""].revoked
    assert state.presented == [first.refresh_token, state.presented[1]]

    # A test connection through the admin API uses the stored tokens.
    verdict = admin_client.post(f"/admin/api/v1/connector-credentials/{credential_id}/test")
    assert verdict.json()["ok"] is True, verdict.text

    # The provider forgets the grant: invalid_grant means a new consent is needed.
    latest = store.load()
    assert latest is not None
    state.by_refresh[latest.refresh_token or ""].revoked = True
    state.tokens[latest.access_token].expires_at = 0
    with (
        container.connections.sync_http_client(credential_id) as client,
        pytest.raises(ReconnectNeeded),
    ):
        client.get(f"{url}/")
    shown = admin_client.get(f"/admin/api/v1/connector-credentials/{credential_id}").json()
    assert shown["status"] == "reconnect needed"

    # And a new consent brings it back.
    page = callback(admin_client, browse(start(admin_client, credential_id), tls))
    assert page.status_code == 200
    assert container.connector_credentials.get(credential_id).status == "ok"
    with container.connections.sync_http_client(credential_id) as client:
        assert client.get(f"{url}/").status_code == 200

    values = [AC_CLIENT_SECRET, code, *state.secrets(), *state.presented]
    assert assert_no_secrets(caplog.records, values) > 0
    assert all(v not in shown["status"] for v in values)


@pytest.fixture
def started(
    container: Container,
    admin_client: TestClient,
    provider: tuple[ProviderState, str],
    tls: Tls,
) -> tuple[str, str]:
    """A consent started through the admin API, and the provider's redirect back to credgate:
    the credential's id and the callback URL."""
    state, url = provider
    credential_id = ac_credential(container, url, state)
    return credential_id, browse(start(admin_client, credential_id), tls)


def test_bad_state_is_refused_and_leaves_the_consent_pending(
    container: Container,
    admin_client: TestClient,
    provider: tuple[ProviderState, str],
    started: tuple[str, str],
) -> None:
    state, _url = provider
    credential_id, location = started
    good_state = parse_qs(urlsplit(location).query)["state"][0]
    code = parse_qs(urlsplit(location).query)["code"][0]
    # Anyone can call the redirect URL, without a session: a wrong, empty or missing state
    # is refused and changes nothing.
    base = f"/oauth2/callback/{credential_id}"
    for forged in (
        location.replace(good_state, "A" * len(good_state)),
        location.replace(good_state, ""),
        f"{base}?code={code}",
        f"{base}?state=wrong&error=access_denied",
    ):
        page = callback(admin_client, forged)
        assert page.status_code == 400
        assert "state parameter does not match" in page.text
        assert good_state not in page.text
    with container.db.session() as session:
        assert session.get(ConnectorConsent, credential_id) is not None  # still pending
    assert state.code_verifiers == []  # no code was exchanged for a forged callback
    # the real callback still completes the consent, once
    assert callback(admin_client, location).status_code == 200
    assert container.connector_credentials.get(credential_id).status == "ok"
    assert (
        DatabaseTokenStore(container.db, container.connector_credentials, credential_id).load()
        is not None
    )
    assert callback(admin_client, location).status_code == 400


def test_expired_consent_and_unknown_credential_are_refused(
    container: Container,
    admin_client: TestClient,
    started: tuple[str, str],
    tls: Tls,
) -> None:
    credential_id, location = started
    with container.db.session() as session:
        session.execute(
            update(ConnectorConsent).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    page = callback(admin_client, location)
    assert page.status_code == 400
    assert "expired" in page.text
    unknown = callback(admin_client, "/oauth2/callback/nope?code=x&state=y")
    assert unknown.status_code == 400
    fresh = callback(admin_client, browse(start(admin_client, credential_id), tls))
    assert fresh.status_code == 200  # a fresh start works after all that


def test_connect_refuses_other_types_and_the_cli_prints_the_url(
    container: Container,
    admin_client: TestClient,
    provider: tuple[ProviderState, str],
) -> None:
    state, url = provider
    credential_id = ac_credential(container, url, state)
    basic = container.connector_credentials.create(
        {
            "name": "plain",
            "protocol": "HTTPS",
            "url": f"{url}/",
            "authorization": {"type": "BASIC", "username": "u", "password": "pw"},
        },
        actor=ACTOR,
    )
    refused = admin_client.post(f"/admin/api/v1/connector-credentials/{basic.id}/connect")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "authorization.type"
    assert admin_client.post("/admin/api/v1/connector-credentials/nope/connect").status_code == 404

    env = cli_env(container)
    result = CliRunner().invoke(cli_app, ["connector-credentials", "connect", "CRM"], env=env)
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert printed.startswith(f"{url}/authorize?")
    assert "code_challenge_method=S256" in printed
    with container.db.session() as session:
        assert session.get(ConnectorConsent, credential_id) is not None
