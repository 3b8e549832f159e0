"""The token endpoint answers the documented requests exactly, and every mistake with its
RFC 6749 §5.2 error: never a 500."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.oauth.rfc6749 import parse_form
from support import basic

ACTOR = Actor("tests", "pytest")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def credential(container: Container) -> tuple[str, str]:
    created = container.api_credentials.create(
        name="Agent Studio", description="workflows", permissions=["workflows", "nql"], actor=ACTOR
    )
    return created.credential.client_id, created.client_secret


def test_documented_curl_to_current_endpoint(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, secret = credential
    response = client.post(
        "/oauth2/default/v1/token",
        headers={**FORM, **basic(client_id, secret)},
        content="grant_type=client_credentials&scope=service%3Aintegration",
    )
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "access_token", "scope"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "service:integration"
    assert response.headers["cache-control"] == "no-store"
    token = jwt.decode(
        body["access_token"], KeySet.import_key_set(container.keys().jwks()), algorithms=["ES256"]
    )
    assert token.header["typ"] == "at+jwt"
    assert token.header["kid"] == container.keys().active.kid
    claims = token.claims
    assert set(claims) == {"iss", "sub", "client_id", "aud", "iat", "exp", "jti", "scope"}
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == container.settings.issuer
    assert claims["aud"] == container.settings.audience
    assert claims["scope"].split() == ["workflows", "nql"]


def test_legacy_endpoint_with_basic_header_and_no_body(
    client: TestClient, credential: tuple[str, str]
) -> None:
    client_id, secret = credential
    response = client.post("/api/v1/token", headers=basic(client_id, secret))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "access_token", "scope"]
    assert body["scope"] == "service:integration"


def test_client_secret_post(client: TestClient, credential: tuple[str, str]) -> None:
    client_id, secret = credential
    response = client.post(
        "/oauth2/default/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text


def test_subset_scope_is_granted_and_echoed(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, secret = credential
    response = client.post(
        "/oauth2/default/v1/token",
        headers=basic(client_id, secret),
        data={"grant_type": "client_credentials", "scope": "nql"},
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "nql"
    token = container.verifier.verify(response.json()["access_token"])
    assert token.scopes == {"nql"}


def _error(response: object) -> tuple[int, str]:
    status = response.status_code  # type: ignore[attr-defined]
    assert status != 500
    return status, response.json()["error"]  # type: ignore[attr-defined]


def _legacy(client: TestClient, client_id: str, secret: str) -> int:
    """The status of a legacy-path token request with these credentials; a refusal is
    ``invalid_client``."""
    response = client.post("/api/v1/token", headers=basic(client_id, secret))
    if response.status_code != 200:
        assert _error(response) == (401, "invalid_client")
    return int(response.status_code)


def _legacy_each(client: TestClient, client_id: str, *secrets: str) -> list[int]:
    """:func:`_legacy` for each of ``secrets`` in turn."""
    return [_legacy(client, client_id, secret) for secret in secrets]


# Requests from a known client that are wrong in one way: a form (its values formatted with the
# client's id and secret) or a raw urlencoded body, and the §5.2 answer.
BAD_REQUESTS: dict[str, tuple[dict[str, str] | str | None, tuple[int, str]]] = {
    "scope not held": (
        {"grant_type": "client_credentials", "scope": "campaigns"},
        (400, "invalid_scope"),
    ),
    "unknown scope": (
        {"grant_type": "client_credentials", "scope": "no-such-scope"},
        (400, "invalid_scope"),
    ),
    "one scope not held": (
        {"grant_type": "client_credentials", "scope": "nql spark"},
        (400, "invalid_scope"),
    ),
    "password grant": ({"grant_type": "password"}, (400, "unsupported_grant_type")),
    "authorization_code grant": (
        {"grant_type": "authorization_code"},
        (400, "unsupported_grant_type"),
    ),
    "refresh_token grant": ({"grant_type": "refresh_token"}, (400, "unsupported_grant_type")),
    "unknown grant": ({"grant_type": "urn:x"}, (400, "unsupported_grant_type")),
    "no grant_type": ({"scope": "nql"}, (400, "invalid_request")),
    "empty body": (None, (400, "invalid_request")),
    "both authentication methods": (
        {"grant_type": "client_credentials", "client_id": "{id}", "client_secret": "{secret}"},
        (400, "invalid_request"),
    ),
    "repeated parameter": (
        "grant_type=client_credentials&grant_type=client_credentials",
        (400, "invalid_request"),
    ),
}


@pytest.mark.parametrize(("body", "expected"), BAD_REQUESTS.values(), ids=BAD_REQUESTS)
def test_bad_requests_get_their_error(
    client: TestClient,
    credential: tuple[str, str],
    body: dict[str, str] | str | None,
    expected: tuple[int, str],
) -> None:
    client_id, secret = credential
    if isinstance(body, str):
        headers = {**FORM, **basic(client_id, secret)}
        response = client.post("/oauth2/default/v1/token", headers=headers, content=body)
    else:
        data = {k: v.format(id=client_id, secret=secret) for k, v in (body or {}).items()}
        response = client.post(
            "/oauth2/default/v1/token", headers=basic(client_id, secret), data=data or None
        )
    assert _error(response) == expected


def test_wrong_secret_unknown_client_and_deleted_client_read_the_same(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, secret = credential
    other = container.api_credentials.create(name="other", permissions=["nql"], actor=ACTOR)
    wrong_secret = client.post("/api/v1/token", headers=basic(client_id, other.client_secret))
    unknown = client.post("/api/v1/token", headers=basic("nosuchclient", secret))
    container.api_credentials.delete(client_id, actor=ACTOR)
    deleted = client.post("/api/v1/token", headers=basic(client_id, secret))
    bodies = []
    for response in (wrong_secret, unknown, deleted):
        assert _error(response) == (401, "invalid_client")
        assert response.headers["www-authenticate"].startswith("Basic ")
        bodies.append(response.json())
    assert bodies[0] == bodies[1] == bodies[2], "the answer must not tell which half was wrong"


def test_disabled_client_gets_no_token_at_once(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, secret = credential
    assert _legacy(client, client_id, secret) == 200
    container.api_credentials.update(client_id, actor=ACTOR, disabled=True)
    assert _legacy(client, client_id, secret) == 401
    container.api_credentials.update(client_id, actor=ACTOR, disabled=False)
    assert _legacy(client, client_id, secret) == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Bearer abc",
    ],
)
def test_malformed_authorization_header(client: TestClient, authorization: str) -> None:
    response = client.post(
        "/oauth2/default/v1/token",
        headers={"Authorization": authorization},
        data={"grant_type": "client_credentials"},
    )
    assert _error(response) == (401, "invalid_client")


def test_no_client_authentication(client: TestClient) -> None:
    response = client.post("/oauth2/default/v1/token", data={"grant_type": "client_credentials"})
    assert _error(response) == (401, "invalid_client")


def test_body_over_limit(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, secret = credential
    big = "grant_type=client_credentials&pad=" + "x" * (container.settings.max_form_bytes + 10)
    response = client.post(
        "/oauth2/default/v1/token", headers={**FORM, **basic(client_id, secret)}, content=big
    )
    assert _error(response) == (413, "invalid_request")


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "multipart/form-data; boundary=x"]
)
def test_non_form_content_type(
    client: TestClient, credential: tuple[str, str], content_type: str
) -> None:
    client_id, secret = credential
    response = client.post(
        "/oauth2/default/v1/token",
        headers={"Content-Type": content_type, **basic(client_id, secret)},
        content=json.dumps({"grant_type": "client_credentials"}),
    )
    assert _error(response) == (400, "invalid_request")
    assert "application/x-www-form-urlencoded" in response.json()["error_description"]


def test_get_is_refused_with_allow_header(client: TestClient) -> None:
    response = client.get("/oauth2/default/v1/token")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_regenerate_with_overlap_keeps_both_secrets_until_the_window_ends(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    import datetime as dt

    from sqlalchemy import update

    from credgate.apicredentials.models import ApiCredentialSecret
    from credgate.core.db import utcnow

    client_id, old_secret = credential
    new = container.api_credentials.regenerate(
        client_id, actor=ACTOR, overlap=dt.timedelta(hours=1)
    )
    assert new.client_secret != old_secret
    assert _legacy_each(client, client_id, old_secret, new.client_secret) == [200, 200]
    # End the window (as time would), and let the change reach the cache.
    with container.db.session() as session:
        session.execute(
            update(ApiCredentialSecret)
            .where(ApiCredentialSecret.expires_at.is_not(None))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    container.registry.evict(client_id)
    assert _legacy_each(client, client_id, old_secret, new.client_secret) == [401, 200]


def test_regenerate_without_overlap_stops_the_old_secret_at_once(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    client_id, old_secret = credential
    assert _legacy(client, client_id, old_secret) == 200
    new = container.api_credentials.regenerate(client_id, actor=ACTOR)
    assert _legacy_each(client, client_id, old_secret, new.client_secret) == [401, 200]


def test_cached_overlap_expiry_is_honoured_without_a_reload(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    """The cache keeps each secret's expiry, so a window ends on time even with no change event."""
    import datetime as dt

    client_id, old_secret = credential
    container.api_credentials.regenerate(client_id, actor=ACTOR, overlap=dt.timedelta(seconds=1))
    assert _legacy(client, client_id, old_secret) == 200
    import time

    time.sleep(1.2)
    assert _legacy(client, client_id, old_secret) == 401


def test_token_endpoint_uses_the_cache_not_the_database(
    client: TestClient, credential: tuple[str, str], container: Container
) -> None:
    import time

    client_id, secret = credential
    time.sleep(3 * container.settings.sync_interval_seconds)  # let the poll see the creation first
    before = container.registry.loads
    for _ in range(20):
        assert _legacy(client, client_id, secret) == 200
    assert container.registry.loads - before <= 1


def test_wrong_post_secret_gets_invalid_client_without_a_basic_challenge(
    client: TestClient, credential: tuple[str, str]
) -> None:
    client_id, secret = credential
    wrong = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    response = client.post(
        "/oauth2/default/v1/token",
        headers=FORM,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": wrong},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "www-authenticate" not in response.headers  # RFC 6749 §5.2: no Basic was tried
    basic_try = client.post(
        "/oauth2/default/v1/token",
        headers={**FORM, **basic(client_id, wrong)},
        content="grant_type=client_credentials",
    )
    assert basic_try.status_code == 401
    assert basic_try.headers["www-authenticate"].startswith("Basic ")


def test_classic_token_path_grants_classic_scopes(
    client: TestClient, credential: tuple[str, str]
) -> None:
    client_id, secret = credential
    response = client.post(
        "/oauth2/token",
        headers={**FORM, **basic(client_id, secret)},
        content="grant_type=client_credentials&scope=service%3Anxql",
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "service:nxql"
    token = response.json()["access_token"]
    query = client.get(
        "/2/query",
        params={"platform": "windows", "query": "(select (name) (from device) (limit 1))"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert query.status_code == 200, query.text


# Text a form value may carry: escapes (valid or not, of ASCII or of UTF-8 bytes), plus signs,
# and raw non-ASCII next to them; "&" and "=" would end the pair.
_FORM_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["%", "%3A", "%2B", "%C3", "%A9", "%e2%82%ac", "%zz", "+", "é", "€"]),
        st.characters(exclude_categories=("Cs",), exclude_characters="&="),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(name=_FORM_TEXT, value=_FORM_TEXT)
def test_form_pairs_decode_as_unquote_plus_does(name: str, value: str) -> None:
    form = parse_form(
        b"application/x-www-form-urlencoded", f"{name}={value}".encode(), allow_empty=False
    )
    # §3.1: a parameter without a value counts as omitted.
    assert form == ({unquote_plus(name): unquote_plus(value)} if unquote_plus(value) else {})
