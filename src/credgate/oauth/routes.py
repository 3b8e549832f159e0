"""Lean ASGI adapters for the authorization server's endpoints.

They read the raw body with a size cap, hand the pieces to the framework-free endpoints and send
what those return. No framework request object is built on this path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Protocol

from credgate.core.asgi import (
    BodyTooLarge,
    PlainResponse,
    Receive,
    Scope,
    Send,
    header,
    read_body,
)
from credgate.core.config import Settings
from credgate.core.proxies import client_address
from credgate.oauth.errors import InvalidRequest
from credgate.oauth.rfc6749 import TokenEndpoint
from credgate.oauth.rfc7009 import RevocationEndpoint
from credgate.oauth.rfc7662 import IntrospectionEndpoint
from credgate.oauth.rfc8414 import metadata
from credgate.security.keys import KeySet

__all__ = ["OAuthRoutes"]

_POST_ONLY = PlainResponse(
    405,
    b'{"error":"invalid_request","error_description":"use POST"}',
    [(b"content-type", b"application/json"), (b"allow", b"POST")],
)


class _FormHandler(Protocol):
    """The ``handle`` of the introspection and revocation endpoints."""

    def __call__(
        self, *, content_type: bytes | None, authorization: bytes | None, body: bytes, address: str
    ) -> Awaitable[PlainResponse]: ...


class OAuthRoutes:
    """Maps exact paths to handlers; :mod:`credgate.app` consults :attr:`routes` first."""

    def __init__(
        self,
        *,
        token_endpoint: TokenEndpoint,
        introspection: IntrospectionEndpoint,
        revocation: RevocationEndpoint,
        keys: Callable[[], KeySet],
        settings: Settings,
    ) -> None:
        self._token_endpoint = token_endpoint
        self._introspection = introspection
        self._revocation = revocation
        self._keys = keys
        self._limit = settings.max_form_bytes
        self._proxies = settings.trusted_proxies
        doc = json.dumps(
            metadata(issuer=settings.issuer, login_base_url=settings.login_base_url)
        ).encode()
        self._metadata = PlainResponse(
            200,
            doc,
            [(b"content-type", b"application/json"), (b"cache-control", b"public, max-age=300")],
        )
        metadata_paths = (
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/oauth2/default",
            "/oauth2/default/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/oauth2/default/.well-known/openid-configuration",
        )
        self.routes = {
            "/oauth2/default/v1/token": self.token,
            # The classic methods' token path (their documentation's ``/oauth2/token``, where the
            # classic scopes such as service:nxql are asked for): the same endpoint.
            "/oauth2/token": self.token,
            "/api/v1/token": self.legacy_token,
            "/oauth2/default/v1/introspect": self.introspect,
            "/oauth2/default/v1/revoke": self.revoke,
            "/.well-known/jwks.json": self.jwks,
            "/oauth2/default/v1/keys": self.jwks,
            **dict.fromkeys(metadata_paths, self.metadata),
        }

    async def _form_call(
        self, scope: Scope, receive: Receive
    ) -> tuple[bytes, bytes | None, bytes | None, str] | PlainResponse:
        if scope["method"] != "POST":
            return _POST_ONLY
        try:
            body = await read_body(receive, self._limit)
        except BodyTooLarge:
            error = InvalidRequest(f"the request body exceeds {self._limit} bytes").response()
            error.status = 413
            return error
        return (
            body,
            header(scope, b"content-type"),
            header(scope, b"authorization"),
            client_address(scope, self._proxies),
        )

    async def _token(self, scope: Scope, receive: Receive, send: Send, legacy: bool) -> None:
        parts = await self._form_call(scope, receive)
        if isinstance(parts, PlainResponse):
            await parts(scope, receive, send)
            return
        body, content_type, authorization, address = parts
        response = await self._token_endpoint.handle(
            content_type=content_type,
            authorization=authorization,
            body=body,
            address=address,
            legacy=legacy,
        )
        await response(scope, receive, send)

    async def token(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._token(scope, receive, send, legacy=False)

    async def legacy_token(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._token(scope, receive, send, legacy=True)

    async def introspect(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._authenticated_form(scope, receive, send, self._introspection.handle)

    async def revoke(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._authenticated_form(scope, receive, send, self._revocation.handle)

    async def _authenticated_form(
        self, scope: Scope, receive: Receive, send: Send, handle: _FormHandler
    ) -> None:
        parts = await self._form_call(scope, receive)
        if isinstance(parts, PlainResponse):
            await parts(scope, receive, send)
            return
        body, content_type, authorization, address = parts
        response = await handle(
            content_type=content_type, authorization=authorization, body=body, address=address
        )
        await response(scope, receive, send)

    async def jwks(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A short cache lifetime: a rotation must reach resource servers well before old keys go.
        response = PlainResponse(
            200,
            self._keys().jwks_json(),
            [
                (b"content-type", b"application/jwk-set+json"),
                (b"cache-control", b"public, max-age=60"),
            ],
        )
        await response(scope, receive, send)

    async def metadata(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._metadata(scope, receive, send)
