"""Exceptions raised by the credgate SDK.

```
CredgateError
├── ConfigurationError        bad client settings (also a ValueError)
├── TransportError            the network failed: connect, read, timeout
├── TokenError                the token endpoint refused (RFC 6749 section 5.2 code)
└── APIError                  a platform API answered with an error status
    ├── AuthenticationError   401: the bearer token was refused, even after one renewal
    ├── PermissionDeniedError 403: the token lacks a permission (`required_scope`)
    ├── ValidationError       400, 422: the request was refused (`code`, `message`, `details`)
    ├── NotFoundError         404
    ├── RateLimitedError      429: after the configured retries (`retry_after`)
    └── ServerError           5xx
```

No message built here contains a client secret or an access token: messages hold the method,
the URL path, the status, and the code and message from the server's error body.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "CredgateError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "TokenError",
    "TransportError",
    "ValidationError",
]


class CredgateError(Exception):
    """Base class of every error the SDK raises."""


class ConfigurationError(CredgateError, ValueError):
    """A client setting is missing or malformed; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TransportError(CredgateError):
    """The request could not be sent or its response not read (the cause is chained)."""


class TokenError(CredgateError):
    """The token endpoint refused to issue a token.

    `error` is the RFC 6749 section 5.2 code (`invalid_client`, `invalid_scope`, ...) when the
    server sent one, else None (for example a 5xx without a JSON body).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        error_description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.error_description = error_description


class APIError(CredgateError):
    """A platform API answered with an error status (or a body that breaks the contract).

    `code`, `message` and `details` come from the documented error bodies
    (`{code, message}`, `{message, code, source}` whose integer code becomes text,
    `{code, details}` whose `details` is also the message, `{message}`); `body` is the whole
    parsed JSON body, or None when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        error_message: str | None = None,
        details: Any = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = error_message
        self.details = details
        self.body = body
        self.request_id = request_id


class AuthenticationError(APIError):
    """401: the bearer token was refused, even after one renewal and retry."""


class PermissionDeniedError(APIError):
    """403: `required_scope` is the scope named by `WWW-Authenticate` (RFC 6750 section 3)."""

    def __init__(self, message: str, *, required_scope: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.required_scope = required_scope


class ValidationError(APIError):
    """400 or 422: the server refused the request's content."""


class NotFoundError(APIError):
    """404: no such query, workflow, remote action or route."""


class RateLimitedError(APIError):
    """429 after the configured retries; `retry_after` is the server's last hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server (or the upstream it delegates to) failed."""


_STATUS_ERRORS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitedError,
}

# RFC 7235 section 2.1 auth-param: token "=" ( token / quoted-string )
_AUTH_PARAM = re.compile(r'([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+)')


def parse_www_authenticate(value: str) -> dict[str, str]:
    """Return the auth-params of a `WWW-Authenticate` challenge (RFC 6750 section 3)."""
    params: dict[str, str] = {}
    for name, raw in _AUTH_PARAM.findall(value):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    return params


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _code(value: Any) -> str | None:
    # NQL's ErrorResponse documents an integer code; the other families a string.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _first_enrichment_error(errors: Any) -> tuple[str | None, str | None]:
    """Code and message of the first `{identification, errors:[{message, code}]}` entry.

    The Enrichment API reports problems in this shape (its 207 and 400 bodies), not at the top.
    """
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        inner = errors[0].get("errors")
        if isinstance(inner, list) and inner and isinstance(inner[0], dict):
            return _text(inner[0].get("code")), _text(inner[0].get("message"))
    return None, None


def api_error(
    *,
    status_code: int,
    method: str,
    path: str,
    body: Any,
    www_authenticate: str | None,
    retry_after: float | None,
    request_id: str | None,
) -> APIError:
    """Build the exception for an error response, from its status and documented body."""
    code = message = None
    details: Any = None
    if isinstance(body, dict):
        code = _code(body.get("code")) or _text(body.get("error"))
        details = body.get("details", body.get("errors"))
        # Workflows explain in `details` (`{code, details}`); a route credgate does not serve
        # answers `{detail}`.
        message = (
            _text(body.get("message"))
            or _text(details)
            or _text(body.get("error_description"))
            or _text(body.get("errorDescription"))
            or _text(body.get("detail"))
        )
        if code is None and message is None:
            code, message = _first_enrichment_error(details)
    summary = f"{method} {path} answered {status_code}"
    if code:
        summary += f" [{code}]"
    if message:
        summary += f": {message}"
    common: dict[str, Any] = {
        "status_code": status_code,
        "code": code,
        "error_message": message,
        "details": details,
        "body": body,
        "request_id": request_id,
    }
    if status_code == 403:
        challenge = parse_www_authenticate(www_authenticate or "")
        scope = challenge.get("scope")
        if scope:
            summary += f" (requires scope {scope})"
        return PermissionDeniedError(summary, required_scope=scope, **common)
    if status_code == 429:
        return RateLimitedError(summary, retry_after=retry_after, **common)
    if status_code >= 500:
        return ServerError(summary, **common)
    return _STATUS_ERRORS.get(status_code, APIError)(summary, **common)
