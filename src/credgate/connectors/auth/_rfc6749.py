"""RFC 6749 token-endpoint messages, without I/O.

Builds the token request (§4.1.3, §4.4.2, §6) with client authentication
(§2.3.1) and reads the answer: a §5.1 access token response or a §5.2 error.
The form body is encoded by Authlib's ``prepare_token_request``; the request is
an ``httpx.Request`` that an auth flow yields, so no second HTTP client is involved.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import quote_plus

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from ._errors import RenewalError
from ._tokens import Token

__all__ = [
    "DEFAULT_CLIENT_AUTH",
    "ClientAuthMethod",
    "ClientCredentials",
    "build_token_request",
    "parse_token_response",
    "safe_error_code",
]

logger = logging.getLogger("credgate.connectors.auth")

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post"]
DEFAULT_CLIENT_AUTH: ClientAuthMethod = "client_secret_basic"
CLIENT_AUTH_METHODS: tuple[ClientAuthMethod, ...] = ("client_secret_basic", "client_secret_post")

# RFC 6749 §5.2: error = 1*( %x20-21 / %x23-5B / %x5D-7E ). Capped in length so a
# hostile server cannot stuff our status line.
_ERROR_CODE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}")
_MAX_DESCRIPTION = 300


@dataclass(frozen=True, slots=True, repr=False)
class ClientCredentials:
    """A confidential client's id and secret, and how to present them (§2.3.1)."""

    client_id: str
    client_secret: str
    method: ClientAuthMethod = DEFAULT_CLIENT_AUTH

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if not self.client_secret:
            raise ValueError("client_secret must not be empty")
        if self.method not in CLIENT_AUTH_METHODS:
            raise ValueError(
                f"token_endpoint_auth_method must be one of {', '.join(CLIENT_AUTH_METHODS)}"
            )

    def __repr__(self) -> str:
        return (
            f"ClientCredentials(client_id={self.client_id!r}, client_secret='[secure]', "
            f"method={self.method!r})"
        )

    def basic_header(self) -> str:
        """RFC 6749 §2.3.1: id and secret are form-urlencoded, then HTTP Basic."""
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


def build_token_request(
    token_url: str,
    grant_type: str,
    client: ClientCredentials,
    *,
    timeout: Any = None,
    **params: str | None,
) -> httpx.Request:
    """A POST to the token endpoint; empty ``params`` are left out.

    ``timeout`` is the ``timeout`` request extension of the request being
    authorised, so the token request obeys the same client timeouts.
    """
    form = dict(params)
    if client.method == "client_secret_post":
        form["client_id"] = client.client_id
        form["client_secret"] = client.client_secret
    body: str = prepare_token_request(grant_type, **form)
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "Cache-Control": "no-store",
    }
    if client.method == "client_secret_basic":
        headers["Authorization"] = client.basic_header()
    extensions = {"timeout": timeout} if timeout is not None else {}
    return httpx.Request(
        "POST", token_url, headers=headers, content=body.encode(), extensions=extensions
    )


def safe_error_code(value: object) -> str | None:
    """``value`` if it is a well-formed RFC 6749 §5.2 error code, else ``None``."""
    if isinstance(value, str) and _ERROR_CODE.fullmatch(value):
        return value
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        payload = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _error_from(response: httpx.Response) -> RenewalError:
    """§5.2 error response (or anything that is not a §5.1 success)."""
    payload = _json_object(response) or {}
    code = safe_error_code(payload.get("error")) or f"http_{response.status_code}"
    description = payload.get("error_description")
    if not isinstance(description, str):
        description = None
    elif len(description) > _MAX_DESCRIPTION:
        description = description[:_MAX_DESCRIPTION]
    return RenewalError(code, status_code=response.status_code, description=description)


def parse_token_response(
    response: httpx.Response, *, now: float, previous_refresh_token: str | None = None
) -> Token:
    """Read an RFC 6749 §5.1 success or raise :class:`RenewalError` (§5.2).

    ``now`` should be when the token request was *sent*: the provider starts
    ``expires_in`` somewhere between sending and receiving, so counting from the
    send never believes a token lives longer than the provider does, however
    slow the answer was.

    When a refresh answer carries no ``refresh_token``, the previous one stays
    valid (§6) and is kept.
    """
    if response.status_code != 200:
        raise _error_from(response)
    payload = _json_object(response)
    if payload is None:
        raise RenewalError("invalid_token_response", status_code=200)
    if "error" in payload:
        raise _error_from(response)

    access_token = payload.get("access_token")
    token_type = payload.get("token_type")
    expires_in = payload.get("expires_in")
    refresh_token = payload.get("refresh_token", previous_refresh_token)
    scope = payload.get("scope")
    problems = []
    if not isinstance(access_token, str) or not access_token:
        problems.append("access_token")
    # §7.1: the client must understand the token type; credgate sends bearer tokens.
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        problems.append("token_type")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)  # seen in the wild
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0
    ):
        problems.append("expires_in")
    if refresh_token is not None and (not isinstance(refresh_token, str) or not refresh_token):
        problems.append("refresh_token")
    if scope is not None and not isinstance(scope, str):
        problems.append("scope")
    if problems:
        logger.warning("token response rejected: bad field(s) %s", ", ".join(problems))
        raise RenewalError("invalid_token_response", status_code=200)
    return Token(
        access_token=cast(str, access_token),
        token_type="Bearer",
        expires_at=None if expires_in is None else now + float(expires_in),
        refresh_token=refresh_token,
        scope=scope,
        obtained_at=now,
    )


def exchange(
    request: httpx.Request,
    *,
    clock: Callable[[], float],
    previous_refresh_token: str | None = None,
) -> Generator[httpx.Request, httpx.Response, Token]:
    """Sans-IO: yield ``request`` to the token endpoint and read its answer.

    ``expires_in`` counts from no earlier than the send (see :func:`parse_token_response`).
    """
    sent_at = clock()
    response = yield request
    return parse_token_response(
        response, now=sent_at, previous_refresh_token=previous_refresh_token
    )
