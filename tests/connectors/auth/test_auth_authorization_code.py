"""OAuth 2.0 authorization code auth against a real Authlib authorization server.

The server is Authlib's framework-free ``AuthorizationServer`` with
``AuthorizationCodeGrant`` + ``CodeChallenge(required=True)`` and a rotating
``RefreshTokenGrant``, behind a minimal Starlette adapter (Authlib ships no
Starlette server integration), served by uvicorn on loopback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from auth_peers import LiveServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from credgate.connectors.auth import (
    ConsentError,
    InMemoryTokenStore,
    OAuth2AuthorizationCodeAuth,
    ReconnectNeeded,
    RenewalError,
    Token,
    afinish_consent,
    consent_exchange_flow,
    finish_consent,
    make_async_client,
    make_client,
    start_consent,
)
from support import LOOPBACK

CLIENT_ID = "crm-connector"
CLIENT_SECRET = "cs_authcode+secret/42"
REDIRECT_URI = "https://credgate.example/connectors/oauth2/callback"
USER = "admin@example"

Check = Callable[[Iterable[str]], None]


# --- Authlib models -------------------------------------------------------------------------


@dataclass
class Client:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uris: tuple[str, ...] = (REDIRECT_URI,)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class IssuedToken:
    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    user: str
    expires_at: float
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at


@dataclass
class ProviderState:
    expires_in: int = 3600
    client: Client = field(default_factory=Client)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: dict[str, IssuedToken] = field(default_factory=dict)  # by access token
    by_refresh: dict[str, IssuedToken] = field(default_factory=dict)
    refresh_requests: int = 0
    presented: list[str] = field(default_factory=list)  # refresh tokens presented
    on_refresh: Callable[[str], None] | None = None  # sees each presented refresh token
    resource_requests: int = 0


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def state(self) -> ProviderState:
        return self.server.state  # type: ignore[no-any-return]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.state.codes[code] = AuthorizationCode(
            code,
            request.client.client_id,
            data.get("redirect_uri"),
            data.get("scope", ""),
            request.user,
            data.get("code_challenge"),
            data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found = self.state.codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.user


class PKCE(CodeChallenge):  # type: ignore[misc]
    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(
        self, authorization_code: AuthorizationCode
    ) -> str | None:
        return authorization_code.code_challenge_method


class RotatingRefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh issues a new refresh token

    @property
    def state(self) -> ProviderState:
        return self.server.state  # type: ignore[no-any-return]

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        self.state.refresh_requests += 1
        self.state.presented.append(refresh_token)
        if self.state.on_refresh is not None:
            self.state.on_refresh(refresh_token)
        found = self.state.by_refresh.get(refresh_token)
        return found if found and not found.revoked else None

    def authenticate_user(self, refresh_token: IssuedToken) -> str:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        refresh_token.revoked = True


# --- a minimal Starlette adapter around Authlib's generic server ----------------------------


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: Mapping[str, str], data: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(data)
        self._data = data

    @property
    def args(self) -> dict[str, str]:
        return self._data if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._data if self.method == "POST" else {}


class Provider(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, state: ProviderState) -> None:
        super().__init__(scopes_supported=["read", "write", "offline_access"])
        self.state = state
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: "at_" + secrets.token_urlsafe(24),
                refresh_token_generator=lambda **_: "rt_" + secrets.token_urlsafe(24),
                expires_generator=lambda client, grant_type: state.expires_in,
            ),
        )
        self.register_grant(CodeGrant, [PKCE(required=True)])
        self.register_grant(RotatingRefreshGrant)

    def query_client(self, client_id: str) -> Client | None:
        return self.state.client if client_id == self.state.client.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        issued = IssuedToken(
            token["access_token"],
            token.get("refresh_token"),
            request.client.client_id,
            token.get("scope", ""),
            request.user,
            time.time() + token["expires_in"],
        )
        self.state.tokens[issued.access_token] = issued
        if issued.refresh_token:
            self.state.by_refresh[issued.refresh_token] = issued

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body or b"", status_code=status, headers=dict(headers))

    def app(self) -> Starlette:
        async def authorize(request: Request) -> Response:
            oauth_request = FormRequest(
                "GET", str(request.url), request.headers, dict(request.query_params)
            )
            try:  # the administrator approves at once
                grant = self.get_consent_grant(oauth_request, end_user=USER)
            except OAuth2Error as error:
                return self.handle_error_response(oauth_request, error)  # type: ignore[no-any-return]
            return self.create_authorization_response(  # type: ignore[no-any-return]
                oauth_request, grant_user=USER, grant=grant
            )

        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            oauth_request = FormRequest("POST", str(request.url), request.headers, form)
            return self.create_token_response(oauth_request)  # type: ignore[no-any-return]

        async def resource(request: Request) -> Response:
            self.state.resource_requests += 1
            header = request.headers.get("authorization", "")
            found = self.state.tokens.get(header.removeprefix("Bearer "))
            if found is None or found.is_expired():
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return JSONResponse({"user": found.user})

        return Starlette(
            routes=[
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/resource", resource),
            ]
        )


@pytest.fixture
def provider() -> Any:
    state = ProviderState()
    with LiveServer(Provider(state).app()) as server:
        yield state, server.url


@contextmanager
def browser_logs_quiet() -> Iterator[None]:
    """The browser's leg is not credgate's: its httpcore DEBUG trace prints the
    response headers, including the Location that carries the code."""
    logger = logging.getLogger("httpcore")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def consent(url: str, scope: str = "read offline_access") -> tuple[Token, str]:
    """The whole round-trip: start, follow the browser redirect, finish."""
    consent_request = start_consent(CLIENT_ID, f"{url}/authorize", REDIRECT_URI, scope)
    authorization_url, state, code_verifier = consent_request
    with make_client(destinations=LOOPBACK) as browser, browser_logs_quiet():
        answer = browser.get(authorization_url)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    params = dict(parse_qsl(urlsplit(location).query))
    with make_client(destinations=LOOPBACK) as client:
        token = finish_consent(
            client,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            token_url=f"{url}/token",
            redirect_uri=REDIRECT_URI,
            expected_state=state,
            code_verifier=code_verifier,
            callback_params=params,
        )
    return token, params["code"]


# --- tests ------------------------------------------------------------------------------


def test_start_consent_builds_pkce_s256_request() -> None:
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    first = start_consent(CLIENT_ID, "https://idp.example/authorize", REDIRECT_URI, "read")
    second = start_consent(CLIENT_ID, "https://idp.example/authorize", REDIRECT_URI, "read")
    query = parse_qs(urlsplit(first.url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["read"]
    assert query["state"] == [first.state]
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [create_s256_code_challenge(first.code_verifier)]
    assert first.code_verifier not in first.url
    assert 43 <= len(first.code_verifier) <= 128
    assert first.state != second.state
    assert first.code_verifier != second.code_verifier
    assert first.state not in repr(first)
    assert first.code_verifier not in repr(first)


def test_consent_exchange_by_hand_checks_state_then_posts_code_and_verifier() -> None:
    flow = consent_exchange_flow(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url="https://idp.example/token",
        redirect_uri=REDIRECT_URI,
        expected_state="s-1",
        code_verifier="v" * 50,
        callback_params={"code": "c-1", "state": "s-1"},
    )
    request = next(flow)
    form = parse_qs(request.content.decode())
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["c-1"]
    assert form["code_verifier"] == ["v" * 50]
    assert form["redirect_uri"] == [REDIRECT_URI]
    with pytest.raises(StopIteration) as done:
        flow.send(
            httpx.Response(
                200,
                json={"access_token": "a", "token_type": "Bearer", "refresh_token": "r"},
            )
        )
    assert done.value.value.refresh_token == "r"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code": "c-1", "state": "forged"}, "state_mismatch"),
        ({"code": "c-1"}, "state_mismatch"),
        ({"error": "access_denied", "state": "s-1"}, "access_denied"),
        ({"state": "s-1"}, "missing_code"),
    ],
)
def test_consent_callback_problems_are_refused(params: dict[str, str], error: str) -> None:
    flow = consent_exchange_flow(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_url="https://idp.example/token",
        redirect_uri=REDIRECT_URI,
        expected_state="s-1",
        code_verifier="v" * 50,
        callback_params=params,
    )
    with pytest.raises(ConsentError) as caught:
        next(flow)  # refused before any request leaves
    assert caught.value.error == error


def test_refresh_flow_by_hand_rotates_and_saves_before_use() -> None:
    now = [1000.0]
    store = InMemoryTokenStore(
        Token("at-0", expires_at=1010.0, refresh_token="rt-0", scope="read", obtained_at=900.0)
    )
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, "https://idp.example/token", store=store, clock=lambda: now[0]
    )
    flow = auth.auth_flow(httpx.Request("GET", "https://api.example/x"))
    refresh = next(flow)  # 10 s left of 110: within the margin, so refresh first
    assert parse_qs(refresh.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-0"],
    }
    body = {
        "access_token": "at-1",
        "token_type": "Bearer",
        "expires_in": 100,
        "refresh_token": "rt-1",
    }
    resource = flow.send(httpx.Response(200, json=body))
    saved = store.load()
    assert saved is not None
    assert saved.refresh_token == "rt-1"
    assert saved.scope == "read"
    assert resource.headers["Authorization"] == "Bearer at-1"


def test_consent_round_trip_then_refresh_with_rotation(
    provider: tuple[ProviderState, str], secret_log_check: Check
) -> None:
    state, url = provider
    token, code = consent(url)
    assert token.refresh_token
    assert token.refresh_token.startswith("rt_")
    assert token.scope == "read offline_access"
    store = InMemoryTokenStore(token)

    # Every refresh token the provider receives must already be what the store holds.
    store_at_refresh: list[str | None] = []
    state.on_refresh = lambda presented: store_at_refresh.append(
        (store.load() or Token("-")).refresh_token
    )
    statuses: list[str] = []
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, f"{url}/token", store=store, on_status=statuses.append
    )
    with make_client(auth, destinations=LOOPBACK) as client:
        assert client.get(f"{url}/resource").json() == {"user": USER}
        assert state.refresh_requests == 0  # the consented token was still fresh

        for _ in range(3):  # the provider forgets the access token: 401 -> refresh -> retry
            state.tokens.clear()
            assert client.get(f"{url}/resource").status_code == 200

    assert state.refresh_requests == 3
    assert len(set(state.presented)) == 3  # a new refresh token every time (rotation)
    assert state.presented[0] == token.refresh_token
    assert store_at_refresh == state.presented  # each was saved before it was used
    final = store.load()
    assert final is not None
    assert final.refresh_token not in state.presented
    assert state.by_refresh[final.refresh_token].revoked is False  # type: ignore[index]
    assert statuses == ["ok"]
    secret_log_check([CLIENT_SECRET, code, *state.presented, *state.by_refresh, *state.tokens])


def test_reused_refresh_token_means_reconnect_needed(
    provider: tuple[ProviderState, str], secret_log_check: Check
) -> None:
    state, url = provider
    token, _ = consent(url)
    state.expires_in = 1
    with make_client(
        destinations=LOOPBACK
    ) as client:  # someone else refreshes, and rotation revokes ours
        rotated = client.post(
            f"{url}/token",
            data={"grant_type": "refresh_token", "refresh_token": token.refresh_token or ""},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert rotated.status_code == 200
    state.tokens.clear()
    statuses: list[str] = []
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID,
        CLIENT_SECRET,
        f"{url}/token",
        store=InMemoryTokenStore(token),
        on_status=statuses.append,
    )
    with (
        make_client(auth, destinations=LOOPBACK) as client,
        pytest.raises(ReconnectNeeded) as caught,
    ):
        client.get(f"{url}/resource")
    assert str(caught.value) == "reconnect needed"
    assert caught.value.error == "invalid_grant"
    assert statuses == ["reconnect needed"]
    assert auth.status == "reconnect needed"
    secret_log_check([CLIENT_SECRET, token.refresh_token or "", token.access_token])


def test_no_stored_token_means_reconnect_needed() -> None:
    auth = OAuth2AuthorizationCodeAuth(
        CLIENT_ID, CLIENT_SECRET, "https://idp.example/token", store=InMemoryTokenStore()
    )
    with pytest.raises(ReconnectNeeded, match=r"^reconnect needed$"):
        next(auth.auth_flow(httpx.Request("GET", "https://api.example/x")))


def test_wrong_code_verifier_is_refused_by_the_provider(
    provider: tuple[ProviderState, str],
) -> None:
    _, url = provider
    authorization_url, state, _verifier = start_consent(
        CLIENT_ID, f"{url}/authorize", REDIRECT_URI, "read"
    )
    with make_client(destinations=LOOPBACK) as client:
        location = client.get(authorization_url).headers["Location"]
        params = dict(parse_qsl(urlsplit(location).query))
        with pytest.raises(RenewalError) as caught:
            finish_consent(
                client,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_url=f"{url}/token",
                redirect_uri=REDIRECT_URI,
                expected_state=state,
                code_verifier="x" * 64,
                callback_params=params,
            )
    assert caught.value.error == "invalid_grant"


def test_bad_state_on_a_live_callback_is_refused(provider: tuple[ProviderState, str]) -> None:
    _, url = provider
    authorization_url, _state, verifier = start_consent(
        CLIENT_ID, f"{url}/authorize", REDIRECT_URI, "read"
    )
    with make_client(destinations=LOOPBACK) as client:
        location = client.get(authorization_url).headers["Location"]
        params = dict(parse_qsl(urlsplit(location).query))
        with pytest.raises(ConsentError, match="state_mismatch"):
            finish_consent(
                client,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_url=f"{url}/token",
                redirect_uri=REDIRECT_URI,
                expected_state=secrets.token_urlsafe(32),
                code_verifier=verifier,
                callback_params=params,
            )


def test_async_consent_and_refresh_on_expiry(provider: tuple[ProviderState, str]) -> None:
    state, url = provider
    state.expires_in = 1  # margin 0.1 s: the token is due for refresh within a second

    async def run() -> list[int]:
        authorization_url, expected, verifier = start_consent(
            CLIENT_ID, f"{url}/authorize", REDIRECT_URI, "read offline_access"
        )
        async with make_async_client(destinations=LOOPBACK) as client:
            location = (await client.get(authorization_url)).headers["Location"]
            token = await afinish_consent(
                client,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                token_url=f"{url}/token",
                redirect_uri=REDIRECT_URI,
                expected_state=expected,
                code_verifier=verifier,
                callback_params=dict(parse_qsl(urlsplit(location).query)),
                token_endpoint_auth_method="client_secret_post",
            )
        auth = OAuth2AuthorizationCodeAuth(
            CLIENT_ID, CLIENT_SECRET, f"{url}/token", store=InMemoryTokenStore(token)
        )
        async with make_async_client(auth, destinations=LOOPBACK) as client:
            first = await asyncio.gather(*(client.get(f"{url}/resource") for _ in range(16)))
            await asyncio.sleep(1.0)
            second = await asyncio.gather(*(client.get(f"{url}/resource") for _ in range(16)))
        return [r.status_code for r in first + second]

    assert asyncio.run(run()) == [200] * 32
    assert state.refresh_requests == 1  # 16 concurrent senders, one refresh
