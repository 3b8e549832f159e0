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

from collections.abc import Generator
from typing import Any, Unpack

import httpx

from ._renewing import ClientOptions, ClientRenewingAuth
from ._rfc6749 import build_token_request, exchange
from ._tokens import Token

__all__ = ["OAuth2ClientCredentialsAuth"]


class OAuth2ClientCredentialsAuth(ClientRenewingAuth):
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
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(client_id, client_secret, token_url, **options)
        self.scope = scope or None

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, scope={self.scope!r})"

    def _fetch(
        self, basis: Token | None, timeout: Any
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        # RFC 6749 §4.4.2: grant_type=client_credentials [&scope=...]
        request = build_token_request(
            self.token_url, "client_credentials", self._client, timeout=timeout, scope=self.scope
        )
        return (yield from exchange(request, clock=self._clock))
