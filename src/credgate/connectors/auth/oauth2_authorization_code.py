"""OAuth 2.0 authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636).

Consent is a round-trip through the administrator's browser:

1. :func:`start_consent` makes the authorization URL (§4.1.1) with a random
   ``state`` and an S256 ``code_challenge``; credgate keeps ``state`` and
   ``code_verifier`` server-side and redirects the browser.
2. The provider redirects back to ``redirect_uri`` with ``code`` and ``state``.
   :func:`finish_consent` checks ``state`` in constant time and exchanges the
   code (§4.1.3, with ``code_verifier``) for a :class:`Token` that the caller
   saves to the credential's store.

:class:`OAuth2AuthorizationCodeAuth` then uses the access token and refreshes
it (§6) ahead of expiry or once after a 401. A refresh token the provider
rotates is saved to the store before it is used again; ``invalid_grant``
raises :class:`ReconnectNeeded`.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, NotRequired, TypedDict, Unpack

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ._errors import ConsentError, ReconnectNeeded, RenewalError
from ._http import check_transport
from ._renewing import ClientRenewingAuth
from ._rfc6749 import (
    DEFAULT_CLIENT_AUTH,
    ClientAuthMethod,
    ClientCredentials,
    build_token_request,
    exchange,
    safe_error_code,
)
from ._tokens import Token
from .none import NoAuth

__all__ = [
    "ConsentAnswer",
    "ConsentRequest",
    "OAuth2AuthorizationCodeAuth",
    "afinish_consent",
    "consent_exchange_flow",
    "finish_consent",
    "start_consent",
]


@dataclass(frozen=True, slots=True, repr=False)
class ConsentRequest:
    """Where to send the browser, and what to keep until it comes back.

    Unpacks as ``url, state, code_verifier = start_consent(...)``.
    """

    url: str
    state: str
    code_verifier: str

    def __iter__(self) -> Iterator[str]:
        return iter((self.url, self.state, self.code_verifier))

    def __repr__(self) -> str:
        return "ConsentRequest(url=[secure], state=[secure], code_verifier=[secure])"


def start_consent(
    client_id: str,
    authorization_url: str,
    redirect_uri: str,
    scope: str | None = None,
) -> ConsentRequest:
    """Build the RFC 6749 §4.1.1 authorization request with PKCE S256 (RFC 7636 §4.1-4.3).

    ``state`` carries 256 random bits; ``code_verifier`` is 64 characters from
    the unreserved set (RFC 7636 §4.1 asks for 43 to 128).
    """
    if not client_id:
        raise ValueError("client_id must not be empty")
    check_transport(authorization_url, field="authorization_url")
    if not redirect_uri:
        raise ValueError("redirect_uri must not be empty")
    state = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48)  # 64 chars of [A-Za-z0-9_-]
    url: str = prepare_grant_uri(
        authorization_url,
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=scope or None,
        state=state,
        code_challenge=create_s256_code_challenge(code_verifier),
        code_challenge_method="S256",
    )
    return ConsentRequest(url, state, code_verifier)


class ConsentAnswer(TypedDict):
    """What :func:`consent_exchange_flow` and :func:`finish_consent` take: the client, the
    redirect back and what was kept from :func:`start_consent`."""

    client_id: str
    client_secret: str
    token_url: str
    redirect_uri: str
    expected_state: str
    code_verifier: str
    callback_params: Mapping[str, str]
    token_endpoint_auth_method: NotRequired[ClientAuthMethod]


def consent_exchange_flow(
    *,
    timeout: Any = None,
    clock: Callable[[], float] = time.time,
    **answer: Unpack[ConsentAnswer],
) -> Generator[httpx.Request, httpx.Response, Token]:
    """Sans-IO: check the redirect back (§4.1.2) and exchange the code (§4.1.3).

    ``callback_params`` are the query parameters the browser brought back.
    Raises :class:`ConsentError` (``state_mismatch``, the provider's §4.1.2.1
    error code, ``missing_code``) or :class:`RenewalError` from the token endpoint.
    """
    token_url, expected_state = answer["token_url"], answer["expected_state"]
    callback_params = answer["callback_params"]
    check_transport(token_url, field="token_url")
    method = answer.get("token_endpoint_auth_method", DEFAULT_CLIENT_AUTH)
    client = ClientCredentials(answer["client_id"], answer["client_secret"], method)
    # §10.12: the state ties the answer to the request we made (CSRF).
    state = callback_params.get("state") or ""
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise ConsentError("state_mismatch")
    error = callback_params.get("error")
    if error:
        raise ConsentError(safe_error_code(error) or "provider_error")
    code = callback_params.get("code")
    if not code:
        raise ConsentError("missing_code")
    request = build_token_request(
        token_url,
        "authorization_code",
        client,
        timeout=timeout,
        code=code,
        redirect_uri=answer["redirect_uri"],
        code_verifier=answer["code_verifier"],
    )
    return (yield from exchange(request, clock=clock))


def _token_of(
    flow: Generator[httpx.Request, httpx.Response, Token], response: httpx.Response
) -> Token:
    try:
        flow.send(response)
    except StopIteration as stop:
        token: Token = stop.value
        return token
    raise RuntimeError("consent exchange flow yielded twice")  # pragma: no cover


def finish_consent(client: httpx.Client, **answer: Unpack[ConsentAnswer]) -> Token:
    """Run :func:`consent_exchange_flow` with ``client`` (see :func:`make_client`)."""
    flow = consent_exchange_flow(timeout=client.timeout.as_dict(), **answer)
    response = client.send(next(flow), auth=NoAuth())
    try:
        return _token_of(flow, response)
    finally:
        response.close()


async def afinish_consent(client: httpx.AsyncClient, **answer: Unpack[ConsentAnswer]) -> Token:
    """The asyncio twin of :func:`finish_consent`."""
    flow = consent_exchange_flow(timeout=client.timeout.as_dict(), **answer)
    response = await client.send(next(flow), auth=NoAuth())
    try:
        return _token_of(flow, response)
    finally:
        await response.aclose()


class OAuth2AuthorizationCodeAuth(ClientRenewingAuth):
    """Bearer tokens from a completed consent, refreshed with the refresh token.

    The store must already hold the token from :func:`finish_consent`; with no
    token, or no refresh token once it expires, requests raise
    :class:`ReconnectNeeded`.
    """

    def _fetch(
        self, basis: Token | None, timeout: Any
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        if basis is None or not basis.refresh_token:
            raise ReconnectNeeded("no_refresh_token")
        # RFC 6749 §6: grant_type=refresh_token&refresh_token=...; the scope is
        # left out so the provider keeps the one originally granted.
        request = build_token_request(
            self.token_url,
            "refresh_token",
            self._client,
            timeout=timeout,
            refresh_token=basis.refresh_token,
        )
        try:
            token = yield from exchange(
                request, clock=self._clock, previous_refresh_token=basis.refresh_token
            )
        except RenewalError as exc:
            if exc.error == "invalid_grant":
                raise ReconnectNeeded(
                    exc.error, status_code=exc.status_code, description=exc.description
                ) from exc
            raise
        if token.scope is None and basis.scope is not None:
            token = replace(token, scope=basis.scope)  # §5.1: scope omitted = unchanged
        return token
