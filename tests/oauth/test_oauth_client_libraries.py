"""Standards-following OAuth clients get tokens from a real credgate, configured from nothing but
the discovery document, and the tokens verify against the published JWKS (RFC 9068)."""

from __future__ import annotations

import time

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from oauthlib.oauth2 import BackendApplicationClient
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from credgate.core.audit.services import Actor
from support import LiveServer

ACTOR = Actor("tests", "pytest")


@pytest.fixture
def credential(live_server: LiveServer) -> tuple[str, str]:
    created = live_server.app.container.api_credentials.create(
        name="library client", permissions=["workflows", "remote-actions"], actor=ACTOR
    )
    return created.credential.client_id, created.client_secret


def discover(base_url: str) -> dict[str, object]:
    metadata = httpx.get(f"{base_url}/.well-known/oauth-authorization-server").json()
    assert metadata == httpx.get(f"{base_url}/.well-known/openid-configuration").json()
    assert metadata["token_endpoint"].startswith(base_url)
    return metadata  # type: ignore[no-any-return]


def check_rfc9068(token: str, metadata: dict[str, object], client_id: str) -> dict[str, object]:
    jwks = httpx.get(str(metadata["jwks_uri"])).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["iss"] == metadata["issuer"]
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["exp"] == claims["iat"] + 900
    assert abs(claims["iat"] - time.time()) < 60
    for name in ("aud", "jti", "scope"):
        assert claims[name]
    return claims


def test_authlib_client_credentials(live_server: LiveServer, credential: tuple[str, str]) -> None:
    client_id, secret = credential
    metadata = discover(live_server.url)
    with OAuth2Client(
        client_id,
        secret,
        token_endpoint_auth_method="client_secret_basic",
        scope="service:integration",
    ) as client:
        token = client.fetch_token(str(metadata["token_endpoint"]), grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 900
    claims = check_rfc9068(token["access_token"], metadata, client_id)
    assert claims["scope"] == "remote-actions workflows"


def test_authlib_client_secret_post(live_server: LiveServer, credential: tuple[str, str]) -> None:
    client_id, secret = credential
    metadata = discover(live_server.url)
    with OAuth2Client(
        client_id, secret, token_endpoint_auth_method="client_secret_post", scope="workflows"
    ) as client:
        token = client.fetch_token(str(metadata["token_endpoint"]), grant_type="client_credentials")
    assert check_rfc9068(token["access_token"], metadata, client_id)["scope"] == "workflows"


def test_requests_oauthlib_backend_application(
    live_server: LiveServer, credential: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # oauthlib refuses plain http unless told otherwise; the test server is on loopback.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    client_id, secret = credential
    metadata = discover(live_server.url)
    session = OAuth2Session(
        client=BackendApplicationClient(client_id=client_id, scope=["service:integration"])
    )
    token = session.fetch_token(
        token_url=str(metadata["token_endpoint"]),
        auth=HTTPBasicAuth(client_id, secret),
        include_client_id=False,
    )
    check_rfc9068(token["access_token"], metadata, client_id)


def test_key_rotation_keeps_old_tokens_verifiable(
    live_server: LiveServer, credential: tuple[str, str]
) -> None:
    client_id, secret = credential
    metadata = discover(live_server.url)
    token_url = str(metadata["token_endpoint"])
    before = httpx.post(
        token_url, auth=(client_id, secret), data={"grant_type": "client_credentials"}
    ).json()
    old_kid = jwt.decode(
        before["access_token"], KeySet.import_key_set(httpx.get(str(metadata["jwks_uri"])).json())
    ).header["kid"]

    container = live_server.app.container
    new_kid = container.rotate_keys()
    assert new_kid != old_kid

    after = httpx.post(
        token_url, auth=(client_id, secret), data={"grant_type": "client_credentials"}
    ).json()
    jwks = httpx.get(str(metadata["jwks_uri"])).json()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    assert jwt.decode(after["access_token"], KeySet.import_key_set(jwks)).header["kid"] == new_kid
    check_rfc9068(before["access_token"], metadata, client_id)  # still verifies after rotation
    check_rfc9068(after["access_token"], metadata, client_id)
