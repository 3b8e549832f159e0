"""A real OAuth 2.0 authorization server for the connector tests: Authlib's framework-free
``AuthorizationServer`` with ``AuthorizationCodeGrant`` + ``CodeChallenge(required=True)`` and a
rotating ``RefreshTokenGrant``, behind a minimal Starlette adapter (Authlib ships no Starlette
server integration). Serve ``Provider(state).app()`` with :class:`support.ThreadServer`; the
resource answers at ``/`` and ``/resource``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

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

CLIENT_ID = "crm-connector"
CLIENT_SECRET = "cs_authcode+secret/42"
REDIRECT_URI = "https://credgate.example/connectors/oauth2/callback"
USER = "admin@example"


# --- Authlib models -------------------------------------------------------------------------


@dataclass
class Client:
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=lambda: [REDIRECT_URI])

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
    code_verifiers: list[str] = field(default_factory=list)  # PKCE verifiers presented

    def secrets(self) -> list[str]:
        """Every secret the provider issued or was shown, to look for in logs."""
        issued = [self.client.client_secret, *self.tokens, *self.by_refresh, *self.codes]
        return issued + self.code_verifiers


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
        verifier = self.request.payload.data.get("code_verifier")
        if verifier:
            self.state.code_verifiers.append(verifier)
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
                Route("/", resource),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/resource", resource),
            ]
        )
