"""OAuth 2.0 error responses (RFC 6749 §5.2, RFC 6750 §3.1), one class per error code.

Each knows its HTTP status and the ``WWW-Authenticate`` challenge it needs, so the endpoints
only raise and one function renders.

::

    OAuth2Error
    ├── InvalidRequest          400  malformed request, repeated or missing parameter
    ├── InvalidClient           401  client authentication failed (Basic challenge when Basic was used)
    ├── InvalidGrant            400
    ├── UnauthorizedClient      400  the client may not use this grant
    ├── UnsupportedGrantType    400
    ├── InvalidScope            400  unknown scope, or one the client does not hold
    ├── UnsupportedTokenType    400  RFC 7009 §2.2.1
    ├── TemporarilyUnavailable  429  too many failed authentications (Retry-After)
    ├── InvalidToken            401  RFC 6750 §3.1: missing, expired, forged or revoked bearer token
    └── InsufficientScope       403  RFC 6750 §3.1: valid token without the permission
"""

from __future__ import annotations

from credgate.core.asgi import PlainResponse, json_response

__all__ = [
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "OAuth2Error",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedTokenType",
]


class OAuth2Error(Exception):
    error = "invalid_request"
    status = 400

    def __init__(self, description: str = "") -> None:
        super().__init__(description or self.error)
        self.description = description

    def headers(self) -> list[tuple[bytes, bytes]]:
        return []

    def response(self) -> PlainResponse:
        payload = {"error": self.error}
        if self.description:
            payload["error_description"] = self.description
        return json_response(self.status, payload, extra_headers=self.headers())


class InvalidRequest(OAuth2Error):
    error = "invalid_request"


class InvalidClient(OAuth2Error):
    error = "invalid_client"
    status = 401

    def __init__(
        self, description: str = "client authentication failed", *, basic: bool = True
    ) -> None:
        super().__init__(description)
        self.basic = basic

    def headers(self) -> list[tuple[bytes, bytes]]:
        # RFC 6749 §5.2: a client that tried the Authorization header is answered with a challenge
        # for the scheme it used (Basic, the only one offered). A client that authenticated in the
        # form (client_secret_post) gets none: clients that see a challenge treat the answer as an
        # HTTP authentication failure rather than as the invalid_client error in the body.
        if not self.basic:
            return []
        return [(b"www-authenticate", b'Basic realm="credgate", charset="UTF-8"')]


class InvalidGrant(OAuth2Error):
    error = "invalid_grant"


class UnauthorizedClient(OAuth2Error):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuth2Error):
    error = "unsupported_grant_type"


class InvalidScope(OAuth2Error):
    error = "invalid_scope"


class UnsupportedTokenType(OAuth2Error):
    error = "unsupported_token_type"


class TemporarilyUnavailable(OAuth2Error):
    error = "temporarily_unavailable"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed client authentications; retry after {retry_after} s")
        self.retry_after = max(1, retry_after)

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(self.retry_after).encode())]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


class InvalidToken(OAuth2Error):
    error = "invalid_token"
    status = 401

    def headers(self) -> list[tuple[bytes, bytes]]:
        challenge = f'Bearer realm="credgate", error="invalid_token", error_description="{_quote(self.description)}"'
        return [(b"www-authenticate", challenge.encode())]


class MissingToken(InvalidToken):
    """RFC 6750 §3.1: with no credentials at all, the challenge carries no error code; the
    contract here asks for ``error="invalid_token"`` on every 401, which clients also accept."""


class InsufficientScope(OAuth2Error):
    error = "insufficient_scope"
    status = 403

    def __init__(self, scope: str) -> None:
        super().__init__(f"this API needs the {scope!r} permission")
        self.scope = scope

    def headers(self) -> list[tuple[bytes, bytes]]:
        challenge = (
            f'Bearer realm="credgate", error="insufficient_scope", '
            f'error_description="{_quote(self.description)}", scope="{_quote(self.scope)}"'
        )
        return [(b"www-authenticate", challenge.encode())]
