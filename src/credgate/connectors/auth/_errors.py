"""Errors raised by outbound authentication.

::

    ConnectorAuthError
     ├── InsecureTransportError      credentials would travel over plain http
     ├── ConsentError                the authorization-code consent round-trip failed
     └── RenewalError                the token endpoint did not give a usable token
          └── ReconnectNeeded        the grant is gone (invalid_grant): consent again

Every message is safe to log and to show: it carries an RFC 6749 §5.2 error code
or a short fixed phrase, never a secret, token or server-chosen free text.
"""

from __future__ import annotations

__all__ = [
    "ConnectorAuthError",
    "ConsentError",
    "InsecureTransportError",
    "ReconnectNeeded",
    "RenewalError",
]


class ConnectorAuthError(Exception):
    """Base class of every outbound authentication error."""


class InsecureTransportError(ConnectorAuthError):
    """Credentials were about to be sent over plain http to a non-loopback host."""


class ConsentError(ConnectorAuthError):
    """The consent round-trip failed (bad state, provider error, missing code).

    ``error`` is an RFC 6749 §4.1.2.1 code (``access_denied``...) or one of
    ``state_mismatch`` and ``missing_code``.
    """

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(f"consent failed: {error}")


class RenewalError(ConnectorAuthError):
    """The token endpoint refused or failed to issue a token.

    ``error`` is the RFC 6749 §5.2 error code the server sent (``invalid_client``,
    ``invalid_scope``...) or, when it sent none, ``http_<status>`` or
    ``invalid_token_response``. ``status`` is the one-line text the storage layer
    records on the credential, e.g. ``"renewal failing: invalid_client"``.
    ``description`` keeps the server's ``error_description`` for operators; it is
    not part of the message.
    """

    def __init__(
        self,
        error: str,
        *,
        status_code: int | None = None,
        description: str | None = None,
    ) -> None:
        self.error = error
        self.status_code = status_code
        self.description = description
        super().__init__(self.status)

    @property
    def status(self) -> str:
        return f"renewal failing: {self.error}"


# The name is the product's own phrase ("reconnect needed"), hence no Error suffix.
class ReconnectNeeded(RenewalError):
    """The refresh token was refused (``invalid_grant``) or there is none.

    Only a new consent round-trip can restore access.
    """

    @property
    def status(self) -> str:
        return "reconnect needed"
