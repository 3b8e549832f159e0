"""OAuth 2.0 client credentials grant (RFC 6749 §4.4) for outbound requests.

    +---------+                                  +---------------+
    |         |>--(A)- Client Authentication --->| Authorization |
    | Client  |                                  |     Server    |
    |         |<--(B)---- Access Token ---------<|               |
    +---------+                                  +---------------+

The token is fetched when first needed, cached, saved to the store, renewed
ahead of expiry and once after a 401; see :mod:`._renewing` for the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ._renewing import DEFAULT_LEASE_TTL, RenewingAuth
from ._rfc6749 import (
    DEFAULT_CLIENT_AUTH,
    ClientAuthMethod,
    ClientCredentials,
    build_token_request,
    parse_token_response,
)
from ._tokens import Token, TokenStore

__all__ = ["OAuth2ClientCredentialsAuth"]


class OAuth2ClientCredentialsAuth(RenewingAuth):
    """Bearer tokens from the client credentials grant.

    ``token_endpoint_auth_method`` is ``client_secret_basic`` (RFC 6749 §2.3.1,
    the default) or ``client_secret_post``. ``scope`` is sent as is (a
    space-separated list) when given.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str,
        scope: str | None = None,
        *,
        store: TokenStore,
        token_endpoint_auth_method: ClientAuthMethod = DEFAULT_CLIENT_AUTH,
        clock: Callable[[], float] = time.time,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        lease_wait: float | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            token_url,
            store,
            clock=clock,
            lease_ttl=lease_ttl,
            lease_wait=lease_wait,
            on_status=on_status,
        )
        self._client = ClientCredentials(client_id, client_secret, token_endpoint_auth_method)
        self.scope = scope or None

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentialsAuth(client_id={self._client.client_id!r}, "
            f"client_secret='[secure]', token_url={self.token_url!r}, scope={self.scope!r})"
        )

    def _fetch(
        self, basis: Token | None, timeout: Any
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        # RFC 6749 §4.4.2: grant_type=client_credentials [&scope=...]
        request = build_token_request(
            self.token_url, "client_credentials", self._client, timeout=timeout, scope=self.scope
        )
        # expires_in counts from no earlier than the send (see parse_token_response)
        sent_at = self._clock()
        response = yield request
        return parse_token_response(response, now=sent_at)
