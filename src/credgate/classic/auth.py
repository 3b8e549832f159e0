"""Who may call the classic APIs: a classic user over HTTP Basic, or a classic OAuth token.

- **HTTP Basic** (RFC 7617) for a user whose profile has data privacy ``none`` (full access)
  *and* Finder access; any other user is refused with 403 and a message saying which condition
  is not met. Failed logins are throttled by the smart lock-out of
  :class:`~credgate.security.lockout.LoginGuard` (scope ``classic``): failures from one network
  never lock the user out at another, nor at a network the user has signed in from before.
  Basic can be switched off per deployment (``CREDGATE_CLASSIC_BASIC_AUTH=false``); Basic
  requests then get 401 and a message saying so.
- **Bearer** (RFC 6750 §2.1): an access token from the token endpoint whose permissions include
  the API's own (see :data:`credgate.platform.permissions.CLASSIC_SCOPES`), not revoked, and
  whose client is still active. A token without the permission gets 403
  ``insufficient_scope`` (§3.1).

Framework-free: :meth:`ClassicAuthenticator.authenticate` takes the ``Authorization`` header
and the caller's address and returns a :class:`ClassicPrincipal` or raises
:class:`ClassicAuthError`, which the web layer renders.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from credgate.oauth.clients import ClientRegistry
from credgate.oauth.errors import InvalidToken
from credgate.oauth.revocation import RevocationList
from credgate.oauth.rfc9068 import AccessTokenVerifier
from credgate.security.lockout import LoginGuard, TooManyAttempts
from credgate.users.services import UserView

__all__ = ["ClassicAuthError", "ClassicAuthenticator", "ClassicPrincipal"]

_BASIC_CHALLENGE = 'Basic realm="credgate", charset="UTF-8"'
_BEARER_CHALLENGE = 'Bearer realm="credgate"'
_MAX_PASSWORD = 1000

PasswordCheck = Callable[[str, str], Awaitable[UserView | None]]


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


def _bearer_error(code: str, description: str, scope: str | None = None) -> str:
    text = description.replace("\\", "\\\\").replace('"', '\\"')
    challenge = f'{_BEARER_CHALLENGE}, error="{code}", error_description="{text}"'
    if scope is not None:
        challenge += f', scope="{scope}"'
    return challenge


class ClassicAuthenticator:
    def __init__(
        self,
        *,
        check_password: PasswordCheck,
        logins: LoginGuard,
        verifier: AccessTokenVerifier,
        revoked: RevocationList,
        registry: ClientRegistry,
        basic_enabled: bool,
    ) -> None:
        self._check_password = check_password
        self._logins = logins
        self._verifier = verifier
        self._revoked = revoked
        self._registry = registry
        self.basic_enabled = basic_enabled

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
            return await self._bearer(value.strip(), permission)
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

        async def verify() -> UserView | None:
            if not 0 < len(password) <= _MAX_PASSWORD:
                return None  # cannot be a password: a failure without a check
            return await self._check_password(username, password)

        try:
            user = await self._logins.sign_in(username, address, verify)
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

    async def _bearer(self, token: str, permission: str) -> ClassicPrincipal:
        try:
            verified = self._verifier.verify(token)
        except InvalidToken as exc:
            reason = exc.description or "the token is not valid"
            raise ClassicAuthError(
                401,
                "invalid_token",
                reason,
                {"WWW-Authenticate": _bearer_error("invalid_token", reason)},
            ) from None
        problem: str | None = None
        if verified.jti in self._revoked:
            problem = "the token was revoked"
        else:
            owner = await self._registry.aget(verified.client_id)
            if owner is None or not owner.active:
                problem = "the token's client was deleted or disabled"
        if problem is not None:
            raise ClassicAuthError(
                401,
                "invalid_token",
                problem,
                {"WWW-Authenticate": _bearer_error("invalid_token", problem)},
            )
        if permission not in verified.scopes:
            message = f"this API needs the {permission!r} permission"
            raise ClassicAuthError(
                403,
                "insufficient_scope",
                message,
                {"WWW-Authenticate": _bearer_error("insufficient_scope", message, permission)},
            )
        return ClassicPrincipal("token", verified.client_id, verified.scopes)
