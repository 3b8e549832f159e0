"""Lean ASGI adapters for the authorization server's endpoints.

They read the raw body with a size cap, hand the pieces to the framework-free endpoints and send
what those return. No framework request object is built on this path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial

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
from credgate.oauth.rfc6749 import FormPost, TokenEndpoint
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
        # Bound once, not per request: the token paths are the hot path.
        self._issue = partial(token_endpoint.handle, legacy=False)
        self._issue_legacy = partial(token_endpoint.handle, legacy=True)
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

    async def _form(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        handle: Callable[[FormPost], Awaitable[PlainResponse]],
    ) -> None:
        if scope["method"] != "POST":
            await _POST_ONLY(scope, receive, send)
            return
        try:
            body = await read_body(receive, self._limit)
        except BodyTooLarge:
            error = InvalidRequest(f"the request body exceeds {self._limit} bytes").response()
            error.status = 413
            await error(scope, receive, send)
            return
        post = FormPost(
            content_type=header(scope, b"content-type"),
            authorization=header(scope, b"authorization"),
            body=body,
            address=client_address(scope, self._proxies),
        )
        response = await handle(post)
        await response(scope, receive, send)

    async def token(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._form(scope, receive, send, self._issue)

    async def legacy_token(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._form(scope, receive, send, self._issue_legacy)

    async def introspect(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._form(scope, receive, send, self._introspection.handle)

    async def revoke(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._form(scope, receive, send, self._revocation.handle)

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
