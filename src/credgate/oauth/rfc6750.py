"""Bearer-token protection of resource routes, `RFC 6750 <https://www.rfc-editor.org/rfc/rfc6750>`_.

§2.1: the token arrives as ``Authorization: Bearer <token>``; credgate accepts no other way
(§2.2 form bodies and §2.3 query parameters leak tokens into logs and are not offered).
§3.1: a missing or bad token is answered 401 ``error="invalid_token"``; a valid token without
the permission a route needs is answered 403 ``error="insufficient_scope"`` with that ``scope``.

The core, :class:`BearerGuard`, is framework-free: give it the ``Authorization`` header value
and the permission, and it returns the :class:`~credgate.oauth.rfc9068.VerifiedToken` or raises
:class:`~credgate.oauth.errors.InvalidToken` / :class:`~credgate.oauth.errors.InsufficientScope`.
Two thin adapters use it: :func:`require` (a FastAPI dependency factory) and
:class:`BearerMiddleware` (plain ASGI, for any other ASGI application).

Checks, in order (RFC 9068 §4 and credgate's own):

1. signature by ``kid`` over an allow-list of algorithms (ES256 only: ``none``, HS* and unknown
   ``kid`` values are refused), ``typ: at+jwt``, ``iss``, ``aud``, ``exp`` with the documented
   leeway (``CREDGATE_TOKEN_LEEWAY_SECONDS``) -- :class:`AccessTokenVerifier`;
2. the token's ``jti`` is not revoked (this node's revocation list, fed by the change log);
3. the client is still known and active (this node's client registry, evicted on every change
   to a credential: at once where it happened, within one sync interval elsewhere);
4. the permission is among the token's scopes and still held by the client.

Verified tokens are cached until their ``exp``: step 1 is the only costly one (an ECDSA
verification), while steps 2-4 are dictionary look-ups and run on every request, cache hit or not,
so a revocation or a deleted credential takes effect at once.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import Any

from credgate.core.asgi import ASGIApp, Receive, Scope, Send, header
from credgate.oauth.clients import ClientRecord
from credgate.oauth.errors import InsufficientScope, InvalidToken, MissingToken, OAuth2Error
from credgate.oauth.revocation import RevocationList
from credgate.oauth.rfc9068 import AccessTokenVerifier, VerifiedToken

__all__ = [
    "ACCEPTED",
    "APP_STATE_GUARD",
    "BearerGuard",
    "BearerMiddleware",
    "ClientLookup",
    "app_guard",
    "bearer_token",
    "require",
    "require_route",
    "verified_token",
]

ClientLookup = Callable[[str], Awaitable[ClientRecord | None]]

SIGNING_KEY_CHANGE = "signing_key"
"""The change-log kind :mod:`credgate.container` publishes when the signing keys change."""

ACCEPTED = "credgate.accepted"
"""Where a check made earlier in a request's handling (the rate limit's, which must know the
caller) leaves ``(permission, VerifiedToken)`` in the ASGI scope, so that a lean route protected by
the same permission need not check the same token again."""

_SCOPE_KEY = "credgate.token"
"""Where :class:`BearerMiddleware` leaves the verified token in the ASGI scope."""


def bearer_token(authorization: str | bytes | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value (RFC 6750 §2.1).

    The scheme is case-insensitive (RFC 9110 §11.1); the token must be one b64token.
    """
    if authorization is None:
        raise MissingToken("a bearer token is required (Authorization: Bearer <token>)")
    text = (
        authorization.decode("latin-1")
        if isinstance(authorization, bytes | bytearray)
        else authorization
    )
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer":
        raise MissingToken("a bearer token is required (Authorization: Bearer <token>)")
    if not token or " " in token:
        raise InvalidToken("the Authorization header holds no bearer token")
    return token


class BearerGuard:
    """Checks bearer tokens and permissions; keeps verified tokens until their ``exp``."""

    def __init__(
        self,
        verifier: AccessTokenVerifier,
        clients: ClientLookup,
        revoked: RevocationList,
        *,
        leeway: int = 0,
        max_entries: int = 50_000,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self._on_reject = on_reject or (lambda _error: None)
        self._verifier = verifier
        self._clients = clients
        self._revoked = revoked
        self._leeway = leeway
        self._max = max_entries
        # Keyed by the token, and by the raw header value the lean routes hand over (bytes), so
        # that a token seen before costs one lookup without parsing its header again.
        self._cache: dict[str | bytes, VerifiedToken] = {}

    def _verified(self, key: str | bytes, now: float) -> VerifiedToken:
        """The verified token of ``key``: a bearer token, or a raw ``Authorization`` value."""
        cached = self._cache.get(key)
        if cached is not None:
            # The verifier accepted it with the same leeway; past that, it is expired again.
            if cached.expires_at + self._leeway >= now:
                return cached
            self._cache.pop(key, None)
        token = key if isinstance(key, str) else bearer_token(key)
        verified = self._verifier.verify(token, now=int(now))
        if len(self._cache) >= self._max:
            self._evict(now)
        self._cache[key] = verified
        return verified

    def _evict(self, now: float) -> None:
        for key in [k for k, v in self._cache.items() if v.expires_at + self._leeway < now]:
            del self._cache[key]
        if len(self._cache) >= self._max:
            # Still full of live tokens: forget them all; they verify again on their next use.
            self._cache.clear()

    async def authorize(
        self, authorization: str | bytes | None, permission: str | None
    ) -> VerifiedToken:
        """The verified token of ``authorization``, if it grants ``permission``.

        ``permission`` ``None`` asks only for a valid token. Raises :class:`InvalidToken` (401)
        or :class:`InsufficientScope` (403), counted by ``on_reject`` (the failure path only).
        """
        try:
            return await self._authorize(authorization, permission)
        except OAuth2Error as error:
            self._on_reject(error.error)
            raise

    async def accepts(
        self, authorization: str | bytes | None, permission: str | None
    ) -> VerifiedToken | None:
        """What :meth:`authorize` returns, or None where it would refuse. Nothing is counted: the
        route that then refuses the request counts its rejection."""
        try:
            return await self._authorize(authorization, permission)
        except OAuth2Error:
            return None

    async def _authorize(
        self, authorization: str | bytes | None, permission: str | None
    ) -> VerifiedToken:
        if authorization is None or not isinstance(authorization, bytes):
            authorization = bearer_token(authorization)
        verified = self._verified(authorization, time.time())
        if verified.jti in self._revoked:
            raise InvalidToken("the token has been revoked")
        client = await self._clients(verified.client_id)
        if client is None or not client.active:
            raise InvalidToken("the token's client no longer exists or is disabled")
        if permission is not None and (
            permission not in verified.scopes or permission not in client.permissions
        ):
            raise InsufficientScope(permission)
        return verified

    def on_change(self, kind: str, _key: str) -> None:
        """Change-log listener: a signing-key change drops every cached verification, so a
        withdrawn key stops being trusted at once rather than when its tokens expire."""
        if kind == SIGNING_KEY_CHANGE:
            self.forget()

    def forget(self) -> None:
        """Drop every cached verification (e.g. after a signing key was withdrawn)."""
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)


APP_STATE_GUARD = "bearer_guard"
"""Where the composition root leaves the application's one guard (``app.state``), so that every
route shares its cache of verified tokens."""


def app_guard(request: Any) -> BearerGuard:
    """The guard the composition root gave the application of ``request``."""
    guard: BearerGuard = getattr(request.app.state, APP_STATE_GUARD)
    return guard


# FastAPI adapter -------------------------------------------------------------------------------


def require(
    permission: str | None, *, guard: BearerGuard | None = None
) -> Callable[..., Awaitable[VerifiedToken]]:
    """A FastAPI dependency: ``token: VerifiedToken = Depends(require("workflows"))``.

    Without ``guard``, the application's guard (:func:`app_guard`) is used. The dependency raises
    the OAuth 2.0 errors; :func:`install_bearer_errors` (credgate.platform.routes) renders them
    with their ``WWW-Authenticate`` challenges.
    """
    from starlette.requests import Request

    async def dependency(request: Request) -> VerifiedToken:
        checker = guard if guard is not None else app_guard(request)
        verified = await checker.authorize(request.headers.get("authorization"), permission)
        request.state.token = verified
        return verified

    dependency.__name__ = f"require_{(permission or 'token').replace('-', '_')}"
    return _with_request_signature(dependency, Request)


def require_route(
    permission_of: Callable[[str], str], *, guard: BearerGuard | None = None
) -> Callable[..., Awaitable[VerifiedToken]]:
    """A FastAPI dependency whose permission is ``permission_of(template)``, the template being
    the matched route's path (e.g. ``/api/v1/nql/status/{export_id}``).

    A route so protected names no permission itself: one table (``permission_of``) holds them,
    which forward authentication reads too. A route missing from it fails, never passes.
    """
    from starlette.requests import Request

    async def dependency(request: Request) -> VerifiedToken:
        permission = permission_of(request.scope["route"].path)
        checker = guard if guard is not None else app_guard(request)
        verified = await checker.authorize(request.headers.get("authorization"), permission)
        request.state.token = verified
        return verified

    dependency.__name__ = "require_route_permission"
    return _with_request_signature(dependency, Request)


def _with_request_signature(
    dependency: Callable[..., Awaitable[VerifiedToken]], request_type: type
) -> Callable[..., Awaitable[VerifiedToken]]:
    # The framework is imported by the callers only, so the annotation is given as an object: a
    # string annotation would be resolved against this module, where ``Request`` is not defined.
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=request_type
            )
        ],
        return_annotation=VerifiedToken,
    )
    return dependency


# Plain ASGI adapter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class BearerMiddleware:
    """Protects every HTTP request of ``app`` with ``permission``; usable by any ASGI app.

    The verified token is left in ``scope["credgate.token"]``. Errors are answered with the
    RFC 6750 challenge and a JSON ``{"error", "error_description"}`` body. Lifespan and
    websocket scopes pass through untouched.
    """

    app: ASGIApp
    guard: BearerGuard
    permission: str | None
    _: KW_ONLY
    permission_for: Callable[[Scope], str | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        permission = self.permission_for(scope) if self.permission_for else self.permission
        try:
            verified = await self.guard.authorize(header(scope, b"authorization"), permission)
        except OAuth2Error as exc:
            await exc.response()(scope, receive, send)
            return
        scope[_SCOPE_KEY] = verified
        await self.app(scope, receive, send)


def verified_token(scope: Scope) -> VerifiedToken | None:
    """The token :class:`BearerMiddleware` verified for this request, if any."""
    value: Any = scope.get(_SCOPE_KEY)
    return value if isinstance(value, VerifiedToken) else None
