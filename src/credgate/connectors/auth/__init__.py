"""Outbound authentication for HTTPS connector credentials, as ``httpx.Auth`` classes.

One module per authorization type (SPEC §4): :mod:`.none`, :mod:`.basic`,
:mod:`.bearer`, :mod:`.oauth2_client_credentials`, :mod:`.oauth2_authorization_code`.
The OAuth 2.0 types share a sans-IO core (:mod:`._renewing`) and keep their token
in a :class:`TokenStore` (:mod:`._tokens`). :func:`make_client` builds a client
with safe defaults.
"""

from ._errors import (
    ConnectorAuthError,
    ConsentError,
    InsecureTransportError,
    ReconnectNeeded,
    RenewalError,
)
from ._http import (
    DEFAULT_TIMEOUT,
    KEEPALIVE_SECONDS,
    POOL_LIMITS,
    RefusedDestination,
    check_transport,
    make_async_client,
    make_client,
)
from ._renewing import STATUS_OK, RenewingAuth
from ._rfc6749 import ClientAuthMethod
from ._tokens import InMemoryTokenStore, Token, TokenStore, ahold_lease, hold_lease
from .basic import BasicAuth
from .bearer import BearerAuth
from .none import NoAuth
from .oauth2_authorization_code import (
    ConsentRequest,
    OAuth2AuthorizationCodeAuth,
    afinish_consent,
    consent_exchange_flow,
    finish_consent,
    start_consent,
)
from .oauth2_client_credentials import OAuth2ClientCredentialsAuth

__all__ = [
    "DEFAULT_TIMEOUT",
    "KEEPALIVE_SECONDS",
    "POOL_LIMITS",
    "STATUS_OK",
    "BasicAuth",
    "BearerAuth",
    "ClientAuthMethod",
    "ConnectorAuthError",
    "ConsentError",
    "ConsentRequest",
    "InMemoryTokenStore",
    "InsecureTransportError",
    "NoAuth",
    "OAuth2AuthorizationCodeAuth",
    "OAuth2ClientCredentialsAuth",
    "ReconnectNeeded",
    "RefusedDestination",
    "RenewalError",
    "RenewingAuth",
    "Token",
    "TokenStore",
    "afinish_consent",
    "ahold_lease",
    "check_transport",
    "consent_exchange_flow",
    "finish_consent",
    "hold_lease",
    "make_async_client",
    "make_client",
    "start_consent",
]
