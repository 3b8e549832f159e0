"""The outbound container: stored connector credentials turned into working connections.

:class:`Connections` (``container.connections``) builds, per credential,

* the ``httpx.Auth`` of its authorization type (:meth:`Connections.auth_for`), the OAuth 2.0
  types backed by a :class:`~credgate.connectors.tokenstore.DatabaseTokenStore`;
* HTTPS clients with the installation's TLS trust and timeouts (:meth:`http_client`,
  :meth:`sync_http_client`, and the kept one, :meth:`pooled_http`);
* SFTP connections with the pinned host key (:meth:`sftp_connect`);
* the "Test" verdict, recorded on the credential (:meth:`test`);
* for all of them, the destination policy (:attr:`Connections.destinations`, from
  ``CREDGATE_OUTBOUND_ALLOWED_NETWORKS``): connections go to public addresses and to what the
  operator allows, checked on the address actually connected to;
* the consent round-trip of authorization code credentials (:meth:`start_consent`,
  :meth:`finish_consent`).

It implements :class:`~credgate.connectors.interfaces.CredentialClients`, what outbound uses:
:meth:`Connections.pooled_http` and :meth:`Connections.open_sftp`.

Each credential is read and decrypted once per process and kept with its auth object, so every
sender of the process shares its single-flight renewal, and with one pooled asyncio client per
event loop (connections and TLS sessions kept across requests; closed when the loop ends). The
change log drops them when the credential is edited or deleted (a new ``updated_at``); token
saves and status changes, which publish on the same kind, keep them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypedDict
from urllib.parse import urlsplit

import anyio.to_thread
import httpx

from credgate.connectors.auth import (
    KEEPALIVE_SECONDS,
    STATUS_OK,
    BasicAuth,
    BearerAuth,
    ConnectorAuthError,
    ConsentError,
    InsecureTransportError,
    NoAuth,
    OAuth2AuthorizationCodeAuth,
    OAuth2ClientCredentialsAuth,
    RenewalError,
    afinish_consent,
    make_async_client,
    make_client,
)
from credgate.connectors.auth import start_consent as make_consent_request
from credgate.connectors.consent import ConsentStore, StateMismatch
from credgate.connectors.credentials.models import destination_digest
from credgate.connectors.credentials.schemas import AuthType, Protocol, ValidatedCredential
from credgate.connectors.credentials.services import CHANGE_KIND, ConnectorCredentialService
from credgate.connectors.interfaces import (
    CONNECTIONS_PER_DESTINATION,
    CredentialMissing,
    CredentialUnusable,
    PooledClient,
)
from credgate.connectors.sftp import (
    SessionOptions,
    SftpClient,
    Timeouts,
    Verdict,
    check_credential,
)
from credgate.connectors.sftp import connect_credential as sftp_connect_credential
from credgate.connectors.tokenstore import DatabaseTokenStore
from credgate.core.config import Settings
from credgate.core.db import Database
from credgate.core.destinations import DestinationPolicy, DestinationRefused
from credgate.core.errors import FieldError, InvalidInputError, NotFoundError
from credgate.security.vault import Vault, VaultError

__all__ = ["CONNECTIONS_PER_DESTINATION", "Connections", "ConsentFailed", "Verdict"]

log = logging.getLogger("credgate.connectors.outbound")

_REFUSED: Final = frozenset({401, 403})

_POOLED_LIMITS: Final = httpx.Limits(
    max_connections=CONNECTIONS_PER_DESTINATION,
    max_keepalive_connections=CONNECTIONS_PER_DESTINATION,
    keepalive_expiry=KEEPALIVE_SECONDS,
)


class _HttpOptions(TypedDict):
    """What every outbound HTTPS client of the connections is made with."""

    ca_bundle: Path | None
    timeout: httpx.Timeout
    destinations: DestinationPolicy


class ConsentFailed(Exception):
    """The consent callback cannot complete; the message is safe to show the administrator."""

    def __init__(self, message: str, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(eq=False)
class _Cached:
    """One credential as this process uses it: decrypted once, kept until it changes."""

    cred: ValidatedCredential = field(repr=False)
    auth: httpx.Auth | None
    updated_at: dt.datetime
    checked: bool = True
    # The pooled clients, one per event loop that sends (an asyncio client works in one loop).
    pooled: dict[asyncio.AbstractEventLoop, PooledClient] = field(default_factory=dict)


class Connections:
    """Outbound connections of one process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        vault: Vault,
        credentials: ConnectorCredentialService,
    ) -> None:
        """Subscribe :meth:`on_change` to the change feed, so edits elsewhere reach the cache."""
        self._credentials = credentials
        self._db = db
        self.ca_bundle: Path | None = settings.outbound_ca_bundle
        self.timeout = httpx.Timeout(
            connect=settings.outbound_connect_timeout_seconds,
            read=settings.outbound_read_timeout_seconds,
            write=settings.outbound_read_timeout_seconds,
            pool=settings.outbound_connect_timeout_seconds,
        )
        self.sftp_timeouts = Timeouts()  # SSH needs a key exchange and sign-in to connect
        self.destinations: DestinationPolicy = settings.outbound_destinations
        self.consents = ConsentStore(db, vault)
        self._cache: dict[str, _Cached] = {}
        self._retired: list[_Cached] = []
        self._building: dict[str, threading.Lock] = {}
        self._changes: dict[str, int] = {}  # changes announced per credential
        self._keepers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    # The cache --------------------------------------------------------------------------------

    def on_change(self, kind: str, key: str) -> None:
        if kind != CHANGE_KIND:
            return
        with self._lock:
            self._changes[key] = self._changes.get(key, 0) + 1
            cached = self._cache.get(key)
            if cached is not None:
                cached.checked = False  # looked at again on the next use

    def forget(self, credential_id: str) -> None:
        """Drop the cached auth of a credential (the next use builds it from storage)."""
        with self._lock:
            gone = self._cache.pop(credential_id, None)
            if gone is not None:
                self._retired.append(gone)

    def _entry(self, credential_id: str) -> _Cached:
        """The cached credential, read (one decrypt) only when it is new or changed. Blocking.

        Raises ``NotFoundError`` for an unknown credential.
        """
        with self._lock:
            cached = self._cache.get(credential_id)
            if cached is not None and cached.checked:
                return cached
            building = self._building.setdefault(credential_id, threading.Lock())
        # One reader per credential: the senders that arrive meanwhile share what it read.
        with building:
            with self._lock:
                cached = self._cache.get(credential_id)
                if cached is not None and cached.checked:
                    return cached
            with self._lock:
                seen = self._changes.get(credential_id, 0)
            try:
                updated_at = self._credentials.get(credential_id).updated_at
            except NotFoundError:
                self.forget(credential_id)
                raise
            with self._lock:
                cached = self._cache.get(credential_id)
                if cached is not None and cached.updated_at == updated_at:
                    # A change announced while reading is looked at again on the next use.
                    cached.checked = self._changes.get(credential_id, 0) == seen
                    return cached
            cred = self._credentials.load(credential_id)
            auth = self._build(credential_id, cred) if cred.protocol is Protocol.HTTPS else None
            entry = _Cached(cred, auth, updated_at)
            with self._lock:
                entry.checked = self._changes.get(credential_id, 0) == seen
                current = self._cache.get(credential_id)
                if current is not None:
                    self._retired.append(current)
                self._cache[credential_id] = entry
            return entry

    def auth_for(self, credential_id: str) -> httpx.Auth:
        """The ``httpx.Auth`` of an HTTPS credential, shared by every sender of this process.

        Raises ``NotFoundError`` for an unknown credential and ``InvalidInputError`` for an
        SFTP one.
        """
        auth = self._entry(credential_id).auth
        if auth is None:
            raise InvalidInputError(
                [FieldError("protocol", "an SFTP credential has no HTTPS authorization")]
            )
        return auth

    # What outbound uses (connectors.interfaces.CredentialClients) -----------------------------

    async def _usable(self, credential_id: str) -> _Cached:
        with self._lock:
            cached = self._cache.get(credential_id)
        if cached is not None and cached.checked:
            return cached
        try:
            return await anyio.to_thread.run_sync(self._entry, credential_id)
        except NotFoundError:
            raise CredentialMissing(credential_id) from None
        except (ConnectorAuthError, InvalidInputError, VaultError) as exc:
            raise CredentialUnusable(str(exc)) from None

    async def pooled_http(self, credential_id: str) -> PooledClient:
        """The credential's client, kept open across requests, with at most
        :data:`CONNECTIONS_PER_DESTINATION` connections (see :class:`PooledClient`)."""
        entry = await self._usable(credential_id)
        loop = asyncio.get_running_loop()
        self._close_retired(loop)
        if entry.auth is None:
            raise CredentialUnusable(f"credential {entry.cred.name!r} is not an HTTPS credential")
        pooled = entry.pooled.get(loop)
        if pooled is None:
            if loop not in self._keepers:
                self._keepers[loop] = loop.create_task(self._close_when_loop_ends(loop))
            client = make_async_client(entry.auth, limits=_POOLED_LIMITS, **self._http_options())
            secrets = tuple(v for v in entry.cred.secrets.values() if v)
            pooled = PooledClient(client, entry.cred.url, secrets, CONNECTIONS_PER_DESTINATION)
            entry.pooled[loop] = pooled
        return pooled

    async def open_sftp(self, credential_id: str) -> SftpClient:
        entry = await self._usable(credential_id)
        if entry.cred.protocol is not Protocol.SFTP:
            raise CredentialUnusable(f"credential {entry.cred.name!r} is not an SFTP credential")
        return await sftp_connect_credential(entry.cred, **self._sftp_options())

    def _close_retired(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pooled clients of credentials that changed, once the requests in flight on
        them had time to finish."""
        with self._lock:
            retired = [e for e in self._retired if loop in e.pooled]
        for entry in retired:
            task = loop.create_task(self._close_later(entry.pooled.pop(loop).client))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        with self._lock:
            self._retired = [e for e in self._retired if e.pooled]

    async def _close_later(self, client: httpx.AsyncClient) -> None:
        try:
            await asyncio.sleep(self.timeout.read or 30.0)
        finally:  # early when the loop ends: its tasks are cancelled, and this one closes
            await client.aclose()

    async def _close_when_loop_ends(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the end of ``loop``, then close the pooled clients it used.

        An asyncio client can only be closed in its own loop, and a loop that ends cancels its
        remaining tasks first (``asyncio.run``, ``asyncio.Runner``, anyio): this one.
        """
        try:
            await asyncio.Event().wait()
        finally:
            del self._keepers[loop]
            with self._lock:
                entries = [*self._cache.values(), *self._retired]
            for entry in entries:
                pooled = entry.pooled.pop(loop, None)
                if pooled is not None:
                    await pooled.client.aclose()

    def _build(self, credential_id: str, cred: ValidatedCredential) -> httpx.Auth:
        if cred.protocol is not Protocol.HTTPS:
            raise InvalidInputError(
                [FieldError("protocol", "an SFTP credential has no HTTPS authorization")]
            )
        fields, secrets = cred.authorization, cred.secrets
        match cred.auth_type:
            case AuthType.NONE:
                return NoAuth()
            case AuthType.BASIC:
                return BasicAuth(fields["username"], secrets["password"])
            case AuthType.BEARER:
                return BearerAuth(secrets["token"], fields.get("header_prefix"))
            case AuthType.OAUTH2_CLIENT_CREDENTIALS:
                return OAuth2ClientCredentialsAuth(
                    fields["client_id"],
                    secrets["client_secret"],
                    fields["access_token_url"],
                    fields.get("scope"),
                    store=self._store(credential_id, cred),
                    on_status=self._status_recorder(credential_id),
                )
            case AuthType.OAUTH2_AUTHORIZATION_CODE:
                return OAuth2AuthorizationCodeAuth(
                    fields["client_id"],
                    secrets["client_secret"],
                    fields["access_token_url"],
                    store=self._store(credential_id, cred),
                    on_status=self._status_recorder(credential_id),
                )
        raise InvalidInputError(  # pragma: no cover - every type is matched above
            [FieldError("authorization.type", f"unsupported type {cred.auth_type}")]
        )

    def _store(self, credential_id: str, cred: ValidatedCredential) -> DatabaseTokenStore:
        """The token store of the credential as ``cred`` reads: tokens for another destination
        are neither read nor saved through it."""
        return DatabaseTokenStore(
            self._db,
            self._credentials,
            credential_id,
            destination=destination_digest(cred.destination),
        )

    def _status_recorder(self, credential_id: str) -> Callable[[str], None]:
        def record(status: str) -> None:
            # "ok", "renewal failing: <RFC 6749 error code>" or "reconnect needed": no secret.
            self._credentials.set_status(credential_id, status)

        return record

    # Clients ----------------------------------------------------------------------------------

    def _http_options(self) -> _HttpOptions:
        return {
            "ca_bundle": self.ca_bundle,
            "timeout": self.timeout,
            "destinations": self.destinations,
        }

    def _sftp_options(self) -> SessionOptions:
        return {"timeouts": self.sftp_timeouts, "destinations": self.destinations}

    def http_client(self, credential_id: str) -> httpx.AsyncClient:
        """An asyncio HTTPS client that authenticates as the credential."""
        return make_async_client(self.auth_for(credential_id), **self._http_options())

    def sync_http_client(self, credential_id: str) -> httpx.Client:
        """The threaded twin of :meth:`http_client`."""
        return make_client(self.auth_for(credential_id), **self._http_options())

    async def sftp_connect(self, credential_id: str) -> SftpClient:
        """An SFTP session as the credential, after the pinned host key was verified."""
        cred = self._credentials.load(credential_id)
        return await sftp_connect_credential(cred, **self._sftp_options())

    # Test connection --------------------------------------------------------------------------

    async def test(self, credential_id: str) -> Verdict:
        """Reach the tool and authenticate; record and return the verdict (never raises for a
        failed connection; ``NotFoundError`` for an unknown credential)."""
        cred = self._credentials.load(credential_id)
        if cred.protocol is Protocol.SFTP:
            verdict = await check_credential(cred, **self._sftp_options())
        else:
            verdict = await self._test_https(credential_id, cred)
        self._credentials.record_test_result(credential_id, ok=verdict.ok, detail=verdict.detail)
        log.info("connection test of connector credential %s: %s", credential_id, verdict.code)
        return verdict

    async def _test_https(self, credential_id: str, cred: ValidatedCredential) -> Verdict:
        host = urlsplit(cred.url).netloc
        oauth = cred.auth_type in (
            AuthType.OAUTH2_CLIENT_CREDENTIALS,
            AuthType.OAUTH2_AUTHORIZATION_CODE,
        )
        try:
            async with self.http_client(credential_id) as client:
                response = await client.get(cred.url)
        except RenewalError as exc:
            return Verdict(False, "authentication_failed", f"no token: {exc.status}")
        except InsecureTransportError as exc:
            return Verdict(False, "insecure_transport", str(exc))
        except DestinationRefused as exc:
            # Decided before any packet is sent: the same verdict for open and closed ports.
            return Verdict(False, "destination_refused", str(exc))
        except httpx.TimeoutException:
            return Verdict(False, "connection_failed", f"{host} did not answer in time")
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            return Verdict(False, "connection_failed", f"could not reach {host}: {reason[:300]}")
        status = response.status_code
        if cred.auth_type is not AuthType.NONE and status in _REFUSED:
            what = "a token was obtained, but " if oauth else ""
            return Verdict(
                False,
                "authentication_failed",
                f"{what}{host} refused the credentials (HTTP {status})",
            )
        got = "obtained a token and " if oauth else ""
        return Verdict(True, "ok", f"{got}reached {host} (HTTP {status})")

    # Consent (OAuth 2.0 authorization code) ---------------------------------------------------

    def start_consent(self, credential_id: str) -> str:
        """Begin the consent round-trip; returns the authorization URL to send the browser to."""
        cred = self._credentials.load(credential_id)
        if cred.auth_type is not AuthType.OAUTH2_AUTHORIZATION_CODE:
            raise InvalidInputError(
                [
                    FieldError(
                        "authorization.type",
                        "only OAUTH2_AUTHORIZATION_CODE credentials are connected by consent",
                    )
                ]
            )
        fields = cred.authorization
        request = make_consent_request(
            fields["client_id"],
            fields["authorization_url"],
            self._credentials.redirect_url(credential_id),
            fields.get("scope"),
        )
        self.consents.put(credential_id, state=request.state, code_verifier=request.code_verifier)
        return request.url

    async def finish_consent(self, credential_id: str, params: Mapping[str, str]) -> None:
        """Complete the consent from the callback's query parameters; raise
        :class:`ConsentFailed` with a message for the administrator otherwise."""
        try:
            pending = self.consents.take(credential_id, params.get("state") or "")
        except StateMismatch:
            # Anyone can call the redirect URL: without the right state it changes nothing.
            raise ConsentFailed(
                "The state parameter does not match the consent that was started. "
                "Start the connection again."
            ) from None
        if pending is None:
            raise ConsentFailed(
                "No consent is waiting for this credential: it was already used or never "
                "started. Start the connection again."
            )
        if pending.expired:
            raise ConsentFailed("The consent took too long and expired. Start it again.")
        try:
            cred = self._credentials.load(credential_id)
        except NotFoundError as exc:  # deleted meanwhile
            raise ConsentFailed("The connector credential no longer exists.") from exc
        if cred.auth_type is not AuthType.OAUTH2_AUTHORIZATION_CODE:
            raise ConsentFailed("The credential is no longer of type OAUTH2_AUTHORIZATION_CODE.")
        fields = cred.authorization
        try:
            async with make_async_client(**self._http_options()) as client:
                token = await afinish_consent(
                    client,
                    client_id=fields["client_id"],
                    client_secret=cred.secrets["client_secret"],
                    token_url=fields["access_token_url"],
                    redirect_uri=self._credentials.redirect_url(credential_id),
                    expected_state=pending.state,
                    code_verifier=pending.code_verifier,
                    callback_params=params,
                )
        except ConsentError as exc:
            if exc.error == "state_mismatch":
                raise ConsentFailed(
                    "The state parameter does not match the consent that was started. "
                    "Start the connection again."
                ) from exc
            raise ConsentFailed(f"The provider did not grant access: {exc.error}.") from exc
        except RenewalError as exc:
            raise ConsentFailed(f"The provider refused to exchange the code: {exc.error}.") from exc
        except DestinationRefused as exc:
            raise ConsentFailed(f"The token endpoint cannot be used: {exc}") from exc
        except httpx.TransportError as exc:
            raise ConsentFailed(
                "The provider's token endpoint could not be reached.", status_code=502
            ) from exc
        self._store(credential_id, cred).save(token)
        self.forget(credential_id)  # a cached auth may still hold the old token and status
        self._credentials.set_status(credential_id, STATUS_OK)
        log.info("connector credential %s connected by consent", credential_id)
