"""How webhooks and exporters reach a connector credential's tool.

:class:`CredentialTransport` is the one seam between them and outbound authentication:
``open_http`` gives an authenticated ``httpx.AsyncClient`` and the credential's instance URL,
``open_sftp`` a connected :class:`~credgate.connectors.sftp.SftpClient` with the host key pinned.
:class:`ConnectionsTransport` builds both through the process's connection container
(``container.connections``), so webhooks share token renewal, its database lease and the
authorization-code refresh with every other use of the credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import anyio.to_thread
import httpx

from credgate.connectors.credentials.schemas import Protocol as WireProtocol
from credgate.connectors.sftp import SftpClient, connect_credential
from credgate.core.errors import NotFoundError

if TYPE_CHECKING:
    from credgate.connectors.connections import Connections
    from credgate.connectors.credentials.schemas import ValidatedCredential
    from credgate.connectors.credentials.services import ConnectorCredentialService

__all__ = ["ConnectionsTransport", "CredentialMissing", "CredentialTransport", "TransportError"]


class TransportError(Exception):
    """The credential cannot be used for this destination; the message names why (no secret)."""


class CredentialMissing(TransportError):
    """The connector credential was deleted."""

    def __init__(self, credential_id: str) -> None:
        super().__init__(f"credential missing: connector credential {credential_id!r} was deleted")


class CredentialTransport(Protocol):
    async def open_http(self, credential_id: str) -> tuple[httpx.AsyncClient, str]: ...

    async def open_sftp(self, credential_id: str) -> SftpClient: ...

    async def secret_values(self, credential_id: str) -> list[str]: ...


class ConnectionsTransport:
    """:class:`CredentialTransport` on the process's connection container
    (:class:`credgate.connectors.connections.Connections`): one ``httpx.Auth`` per credential,
    OAuth 2.0 tokens renewed under the database lease and shared with every other sender."""

    def __init__(self, credentials: ConnectorCredentialService, connections: Connections) -> None:
        self._credentials = credentials
        self._connections = connections

    async def _load(self, credential_id: str) -> ValidatedCredential:
        try:
            return await anyio.to_thread.run_sync(self._credentials.load, credential_id)
        except NotFoundError:
            raise CredentialMissing(credential_id) from None

    async def secret_values(self, credential_id: str) -> list[str]:
        """Every secret of the credential, to scrub from what the delivery log keeps."""
        try:
            secrets = await anyio.to_thread.run_sync(self._credentials.load_secrets, credential_id)
        except NotFoundError:
            return []
        return [v for v in secrets.values() if v]

    async def open_http(self, credential_id: str) -> tuple[httpx.AsyncClient, str]:
        cred = await self._load(credential_id)
        if cred.protocol is not WireProtocol.HTTPS:
            raise TransportError(f"credential {cred.name!r} is not an HTTPS credential")
        try:
            client = await anyio.to_thread.run_sync(self._connections.http_client, credential_id)
        except NotFoundError:
            raise CredentialMissing(credential_id) from None
        return client, cred.url

    async def open_sftp(self, credential_id: str) -> SftpClient:
        cred = await self._load(credential_id)
        if cred.protocol is not WireProtocol.SFTP:
            raise TransportError(f"credential {cred.name!r} is not an SFTP credential")
        return await connect_credential(
            cred,
            timeouts=self._connections.sftp_timeouts,
            destinations=self._connections.destinations,
        )
