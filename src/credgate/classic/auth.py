"""Who may call the classic APIs: a classic user over HTTP Basic, or a classic OAuth token.

- **HTTP Basic** (RFC 7617) for a user whose profile has data privacy ``none`` (full access)
  *and* Finder access; any other user is refused with 403 and a message saying which condition
  is not met. Failed logins are throttled by the smart lock-out of
  :class:`~credgate.security.lockout.LoginGuard` (scope ``classic``): failures from one network
  never lock the user out at another, nor at a network the user has signed in from before.
  Basic can be switched off per deployment (``CREDGATE_CLASSIC_BASIC_AUTH=false``); Basic
  requests then get 401 and a message saying so.
- **Bearer** (RFC 6750 §2.1): an access token from the token endpoint whose permissions include
  the API's own (see :data:`credgate.core.permissions.CLASSIC_SCOPES`). It is checked by the
  platform APIs' own :class:`~credgate.oauth.rfc6750.BearerGuard`: not revoked, its client
  still active, and the permission both in the token *and* still held by the credential now (a
  permission removed from a credential closes the classic APIs to its live tokens, on every node
  within one sync interval). A token without the permission gets 403 ``insufficient_scope``
  (§3.1).

Framework-free: :meth:`ClassicAuthenticator.authenticate` takes the ``Authorization`` header
and the caller's address and returns a :class:`ClassicPrincipal` or raises
:class:`ClassicAuthError`, which the web layer renders.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Literal

from credgate.oauth.errors import OAuth2Error
from credgate.oauth.rfc6750 import BearerGuard
from credgate.security.lockout import LoginGuard, TooManyAttempts
from credgate.users.interfaces import PasswordCheck, PasswordUser

__all__ = ["ClassicAuthError", "ClassicAuthenticator", "ClassicPrincipal"]

_BASIC_CHALLENGE = 'Basic realm="credgate", charset="UTF-8"'
_BEARER_CHALLENGE = 'Bearer realm="credgate"'
_MAX_PASSWORD = 1000


@dataclass(frozen=True, slots=True)
class ClassicPrincipal:
    """The caller: a classic user (every classic API) or an API credential's token."""

    kind: Literal["user", "token"]
    name: str
    permissions: frozenset[str] | None = None
    """The token's permissions; ``None`` for a user, whose profile opens every classic API."""


class ClassicAuthError(Exception):
    """A refusal with its HTTP status, error code, message and headers. Never holds a secret."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True, slots=True, eq=False, kw_only=True)
class ClassicAuthenticator:
    check_password: PasswordCheck
    logins: LoginGuard
    guard: BearerGuard
    basic_enabled: bool

    def _challenges(self) -> dict[str, str]:
        if self.basic_enabled:
            return {"WWW-Authenticate": f"{_BASIC_CHALLENGE}, {_BEARER_CHALLENGE}"}
        return {"WWW-Authenticate": _BEARER_CHALLENGE}

    async def authenticate(
        self, authorization: str | None, address: str, permission: str
    ) -> ClassicPrincipal:
        """Check the caller for a classic API that needs ``permission`` (a catalogue id)."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return await self._basic(value.strip(), address)
        if scheme == "bearer" and value.strip():
            return await self._bearer(str(authorization), permission)
        raise ClassicAuthError(
            401,
            "unauthenticated",
            "authentication is required: HTTP Basic with a classic user account, or a Bearer "
            "token with a classic scope"
            if self.basic_enabled
            else "authentication is required: a Bearer token with a classic scope",
            self._challenges(),
        )

    # HTTP Basic -------------------------------------------------------------------------------

    async def _basic(self, value: str, address: str) -> ClassicPrincipal:
        if not self.basic_enabled:
            raise ClassicAuthError(
                401,
                "basic_auth_disabled",
                "HTTP Basic authentication is switched off on this instance; get a Bearer token "
                "from the token endpoint with a classic scope (e.g. service:nxql) instead",
                {"WWW-Authenticate": _BEARER_CHALLENGE},
            )
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ClassicAuthError(
                401, "unauthenticated", "malformed HTTP Basic credentials", self._challenges()
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise ClassicAuthError(
                401, "unauthenticated", "malformed HTTP Basic credentials", self._challenges()
            )

        async def verify() -> PasswordUser | None:
            if not 0 < len(password) <= _MAX_PASSWORD:
                return None  # cannot be a password: a failure without a check
            return await self.check_password(username, password)

        try:
            user = await self.logins.sign_in(username, address, verify)
        except TooManyAttempts as exc:
            raise self._too_many(exc.retry_after) from None
        if user is None:
            raise ClassicAuthError(
                401, "unauthenticated", "wrong username or password", self._challenges()
            )
        profile = user.profile
        if profile.data_privacy != "none":
            raise ClassicAuthError(
                403,
                "forbidden",
                f"the profile {profile.name!r} of user {user.username!r} has data privacy "
                f"{profile.data_privacy!r}; the classic APIs need data privacy 'none' "
                "(full access)",
            )
        if not profile.finder_access:
            raise ClassicAuthError(
                403,
                "forbidden",
                f"the profile {profile.name!r} of user {user.username!r} does not have Finder "
                "access, which the classic APIs need",
            )
        return ClassicPrincipal("user", user.username)

    @staticmethod
    def _too_many(wait: int) -> ClassicAuthError:
        return ClassicAuthError(
            429,
            "too_many_attempts",
            f"too many failed logins; retry after {wait} s",
            {"Retry-After": str(wait)},
        )

    # Bearer -----------------------------------------------------------------------------------

    async def _bearer(self, authorization: str, permission: str) -> ClassicPrincipal:
        try:
            verified = await self.guard.authorize(authorization, permission)
        except OAuth2Error as exc:
            headers = {k.decode(): v.decode() for k, v in exc.headers()}
            raise ClassicAuthError(
                exc.status, exc.error, exc.description or exc.error, headers
            ) from None
        return ClassicPrincipal("token", verified.client_id, verified.scopes)
