"""What the connectors feature offers to other features; nothing else of it may be imported by
them.

Outbound (webhooks, exporters) reaches a tool through a connector credential without knowing how
the credential authenticates: it asks :class:`CredentialClients` for the credential's pooled,
authenticated HTTPS client, or for an SFTP session. :class:`credgate.connectors.connections.
Connections` implements it; the container binds it.

Outbound's definitions and pages name a credential by id or name and offer a choice of them:
:class:`CredentialDirectory` answers with :class:`CredentialSummary` (never a secret).
``ConnectorCredentialService`` implements it; the container binds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    import httpx

    from credgate.connectors.sftp import SftpClient

__all__ = [
    "CONNECTIONS_PER_DESTINATION",
    "CredentialClients",
    "CredentialDirectory",
    "CredentialMissing",
    "CredentialSummary",
    "CredentialUnusable",
    "PooledClient",
]

#: How many connections the pooled client of one credential (one destination) may open, and so
#: how many requests a sender may have in flight to one tool at once.
CONNECTIONS_PER_DESTINATION: Final = 8


class CredentialUnusable(Exception):
    """The credential cannot be used for this destination; the message names why (no secret)."""


class CredentialMissing(CredentialUnusable):
    """The connector credential was deleted."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(f"credential missing: connector credential {credential_id!r} was deleted")


@dataclass(frozen=True, slots=True, eq=False)
class PooledClient:
    """The HTTPS client of one credential, shared by every sender of the process and kept open
    across requests (its connections and TLS sessions are reused): never close it.

    ``url`` is the credential's instance URL; ``secrets`` are its entered secrets, which a
    caller removes from anything it keeps (a delivery log); the client opens at most
    ``max_connections`` connections, so a caller sends at most that many requests at once.
    """

    client: httpx.AsyncClient = field(repr=False)
    url: str
    secrets: tuple[str, ...] = field(repr=False)
    max_connections: int


class CredentialClients(Protocol):
    async def pooled_http(self, credential_id: str) -> PooledClient:
        """The credential's pooled client; :class:`CredentialUnusable` if it is not HTTPS,
        :class:`CredentialMissing` if it was deleted."""
        ...

    async def open_sftp(self, credential_id: str) -> SftpClient:
        """A new SFTP session as the credential (the caller closes it), host key verified."""
        ...


@dataclass(frozen=True, slots=True)
class CredentialSummary:
    """What another feature may know of a credential: no URL detail, no secret."""

    id: str
    name: str
    protocol: str
    """``HTTPS`` or ``SFTP``."""
    auth_type: str
    """The authorization type, e.g. ``OAUTH2_CLIENT_CREDENTIALS``."""


class CredentialDirectory(Protocol):
    def summary(self, ref: str) -> CredentialSummary | None:
        """The credential with this id, or else this name; None when there is none."""
        ...

    def summaries(self) -> list[CredentialSummary]:
        """The credentials by name, for a choice (at most the first 500)."""
        ...
