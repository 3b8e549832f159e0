"""The composition root: the one module that knows every feature.

:class:`Container` builds, once per process, the services of every feature over one database,
vault and change feed, binds what features offer to what others need, and runs the background
loops (change-log sync, housekeeping). The ASGI app, the CLI and the tests are given it. The
protocol layers (``core``, ``security``, ``oauth``) never see it; the features' REST routes ask
for the services it provides by type (:meth:`_provide`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass, field

import anyio.to_thread

from credgate.admins.interfaces import AdminLogins, SigningKeys
from credgate.admins.services import AdminService
from credgate.apicredentials.services import (
    ApiCredentialService,
    client_records,
    client_store,
    recent_client_records,
)
from credgate.bootstrap import initialise
from credgate.classic.auth import ClassicAuthenticator
from credgate.classic.engines import EngineService
from credgate.classic.inventory import InventorySource
from credgate.connectors.connections import Connections
from credgate.connectors.credentials.services import ConnectorCredentialService
from credgate.connectors.interfaces import CredentialDirectory
from credgate.connectors.services import ConnectorService
from credgate.core.asgi import Scope, header
from credgate.core.changes import ChangeFeed, publish
from credgate.core.config import Settings
from credgate.core.db import Database, utcnow
from credgate.core.metrics import Metrics
from credgate.core.ratelimits import RateLimiter
from credgate.core.services import Services, protocol
from credgate.oauth.clients import ClientRegistry
from credgate.oauth.revocation import RevocationList
from credgate.oauth.rfc6749 import ClientAuthenticator, TokenEndpoint
from credgate.oauth.rfc6750 import ACCEPTED, BearerGuard
from credgate.oauth.rfc7009 import RevocationEndpoint
from credgate.oauth.rfc7662 import IntrospectionEndpoint
from credgate.oauth.rfc9068 import AccessTokenVerifier
from credgate.outbound.exporters import ExporterService
from credgate.outbound.setup import open_outbound
from credgate.outbound.webhooks import WebhookService
from credgate.outbound.worker import OutboundWorker
from credgate.platform.definitions import DefinitionService
from credgate.platform.interfaces import SavedQueries
from credgate.platform.saved_queries import StoredQueries
from credgate.platform.services import PlatformService
from credgate.security.keyfiles import check_file_modes, check_keys, open_keys
from credgate.security.keys import KeySet, load_key_set, rotate_signing_key
from credgate.security.lockout import FamiliarNetworks, LoginGuard
from credgate.security.secrets import SecretHasher
from credgate.security.throttle import AuthThrottle, DatabaseFailureStore, Policy
from credgate.security.vault import Vault
from credgate.users.services import UserService
from credgate.web.api import AdminAuthentication
from credgate.web.sessions import AdminSessions

__all__ = ["Container"]

log = logging.getLogger("credgate.container")
KEY_CHANGE = "signing_key"


@dataclass(eq=False)
class Container:
    settings: Settings
    db: Database
    vault: Vault = field(repr=False)
    hasher: SecretHasher = field(repr=False)
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        s = self.settings
        self.feed = ChangeFeed(self.db)
        self.registry = ClientRegistry(client_store(self.db), batch_loader=client_records(self.db))
        self.revoked = RevocationList()
        self.revoked.load(self.db)
        self._keys = self._load_keys()
        self.feed.subscribe(self.registry.on_change)
        self.feed.subscribe(self.revoked.on_change)
        self.feed.subscribe(self._on_key_change)
        self.failure_store = DatabaseFailureStore(self.db)
        self.throttle = AuthThrottle(
            self.failure_store,
            limit=s.auth_failure_limit,
            slowdown_after=s.auth_failure_slowdown_after,
            window=s.auth_failure_window_seconds,
            lockout=s.auth_lockout_seconds,
        )
        self.authenticator = ClientAuthenticator(self.registry, self.hasher, self.throttle)
        # Password sign-ins (admins, classic users): smart lock-out, see security/lockout.py.
        self.familiar_networks = FamiliarNetworks(self.db, keep_days=s.auth_familiar_days)
        account_policy = Policy(
            limit=s.auth_account_failure_limit,
            slowdown_after=s.auth_failure_slowdown_after,
            window=s.auth_account_window_seconds,
            lockout=s.auth_account_window_seconds,
        )
        self.admin_logins = LoginGuard(
            self.throttle, self.familiar_networks, scope="login", account_policy=account_policy
        )
        self.classic_logins = LoginGuard(
            self.throttle, self.familiar_networks, scope="classic", account_policy=account_policy
        )
        issued = self.metrics.tokens_issued
        self.token_endpoint = TokenEndpoint(
            authenticator=self.authenticator,
            keys=self.keys,
            issuer=s.issuer,
            audience=s.audience,
            ttl=s.token_ttl_seconds,
            on_issued=lambda _client: issued.inc(),
            on_error=self.metrics.token_error,
        )
        self.verifier = AccessTokenVerifier(
            self.keys, issuer=s.issuer, audience=s.audience, leeway=s.token_leeway_seconds
        )
        bearer_rejections = self.metrics.bearer_rejections
        self.bearer_guard = BearerGuard(
            self.verifier,
            self.registry.aget,
            self.revoked,
            leeway=s.token_leeway_seconds,
            on_reject=lambda error: bearer_rejections.labels(error=error).inc(),
        )
        self.feed.subscribe(self.bearer_guard.on_change)
        self.rate_limiter = RateLimiter(
            s.rate_limits,
            default=s.rate_limit_default,
            redis_url=s.redis_url.get_secret_value() if s.redis_url else None,
            key_prefix=s.rate_limit_key_prefix,
        )
        self.introspection = IntrospectionEndpoint(
            authenticator=self.authenticator,
            verifier=self.verifier,
            registry=self.registry,
            revoked=self.revoked,
        )
        self.revocation = RevocationEndpoint(
            db=self.db,
            authenticator=self.authenticator,
            verifier=self.verifier,
            revoked=self.revoked,
            on_change=self.feed.notify_local,
        )
        self.api_credentials = ApiCredentialService(self.db, self.hasher, self.feed.notify_local)
        self.admins = AdminService(
            self.db,
            self.hasher,
            token_default=dt.timedelta(days=s.admin_token_default_days),
            token_max=dt.timedelta(days=s.admin_token_max_days),
        )
        # Outbound: connector credentials (secrets sealed by the vault) and connector records.
        self.connector_credentials = ConnectorCredentialService(
            self.db,
            self.vault,
            base_url=s.base_url,
            on_change=self.feed.notify_local,
            destinations=s.outbound_destinations,
        )
        self.connectors = ConnectorService(self.db)
        # Outbound container: auths, clients, SFTP, connection tests and consent per credential.

        self.connections = Connections(s, self.db, self.vault, self.connector_credentials)
        self.feed.subscribe(self.connections.on_change)

        # Protected platform APIs: definitions, requests, inventory and exports.

        self.definitions = DefinitionService(self.db)
        self.feed.subscribe(self.definitions.on_change)
        self.platform = PlatformService(
            self.db, self.definitions, self.hasher, s.data_dir / "exports"
        )
        self.saved_queries = StoredQueries(self.definitions, self.platform)

        # Classic integration methods (SPEC section 6): users, engines, Basic or classic tokens.

        self.users = UserService(self.db)
        self.engines = EngineService(self.db)
        # NXQL answers from the same inventory as the built-in NQL (enrichment fills it).
        self.classic_inventory: InventorySource = self.platform
        self.classic_auth = ClassicAuthenticator(
            check_password=lambda u, p: anyio.to_thread.run_sync(self.users.check_password, u, p),
            logins=self.classic_logins,
            guard=self.bearer_guard,
            basic_enabled=s.classic_basic_auth,
        )

        # Outbound connectors: webhooks (queued with the platform request that causes them),
        # data exporters and the worker that delivers and runs them.

        self.outbound = open_outbound(
            s,
            self.db,
            self.vault,
            credentials=self.connector_credentials,
            transport=self.connections,
            queries=self.saved_queries,
        )
        self.platform.on_record = self.outbound.webhooks.on_platform_request
        self.services = self._provide()

    def _provide(self) -> Services:
        """What routes, pages and commands may ask for by type (:mod:`credgate.core.services`)."""
        services = Services()
        for kind, instance in (
            (Settings, self.settings),
            (ApiCredentialService, self.api_credentials),
            (AdminService, self.admins),
            (ConnectorCredentialService, self.connector_credentials),
            (ConnectorService, self.connectors),
            (Connections, self.connections),
            (DefinitionService, self.definitions),
            (PlatformService, self.platform),
            (UserService, self.users),
            (EngineService, self.engines),
            (ClassicAuthenticator, self.classic_auth),
            (WebhookService, self.outbound.webhooks),
            (ExporterService, self.outbound.exporters),
            (OutboundWorker, self.outbound.worker),
            (BearerGuard, self.bearer_guard),
            (Database, self.db),
            (AdminAuthentication, self.admins),
            (protocol(AdminSessions), self.admins),
            (AdminLogins, AdminLogins(self.admin_logins)),
            (AuthThrottle, self.throttle),
            (SigningKeys, SigningKeys(current=self.keys, rotate=self.rotate_keys)),
            (InventorySource, self.classic_inventory),
            (protocol(CredentialDirectory), self.connector_credentials),
            (protocol(SavedQueries), self.saved_queries),
        ):
            services.provide(kind, instance)
        return services

    async def rate_limited_caller(self, scope: Scope, family: str) -> tuple[str, str | None] | None:
        """The credential a request to ``family`` comes from, with its own rate limit, when its
        token would be accepted (:class:`~credgate.core.ratelimits.RateLimitMiddleware`). Both
        come from this node's caches, kept current by the change log: no database round-trip
        but the one load of a record after a change to its credential."""
        verified = await self.bearer_guard.accepts(header(scope, b"authorization"), family)
        if verified is None:
            return None
        scope[ACCEPTED] = (family, verified)
        # The record the guard has just read; loaded again if the sync loop evicted it since.
        record = self.registry.cached(verified.client_id) or await self.registry.aget(
            verified.client_id
        )
        return verified.client_id, record.rate_limit if record is not None else None

    # Construction -----------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, bootstrap: bool = False) -> Container:
        """Open an installation; with ``bootstrap``, run init's idempotent steps first."""
        db = Database(settings.resolved_database_url)
        try:
            if bootstrap:
                vault, pepper, report = initialise(settings, db)
                warnings = report.warnings
                if report.admin_password:
                    # Printed once, to the console of whoever started the service, never logged.
                    print(
                        f"credgate: created administrator {report.admin_username!r} with password "
                        f"{report.admin_password}  (shown once; change it or set CREDGATE_ADMIN_PASSWORD)",
                        flush=True,
                    )
            else:
                vault, pepper = open_keys(settings)
                check_keys(db, vault, pepper)
                warnings = check_file_modes(settings)
            for warning in warnings:
                log.warning(warning)
            return cls(settings=settings, db=db, vault=vault, hasher=SecretHasher(pepper))
        except BaseException:
            db.dispose()
            raise

    # Signing keys -----------------------------------------------------------------------------

    def _load_keys(self) -> KeySet:
        with self.db.session() as session:
            return load_key_set(session, self.vault)

    def keys(self) -> KeySet:
        return self._keys

    def reload_keys(self) -> None:
        self._keys = self._load_keys()

    def _on_key_change(self, kind: str, _key: str) -> None:
        if kind == KEY_CHANGE:
            self.reload_keys()

    def rotate_keys(self) -> str:

        publish_for = dt.timedelta(
            seconds=self.settings.token_ttl_seconds + self.settings.token_leeway_seconds
        )
        with self.db.session() as session:
            row = rotate_signing_key(session, self.vault, publish_for=publish_for)
            publish(session, KEY_CHANGE, row.kid)
            kid = row.kid
        self.reload_keys()
        return kid

    def _rotation_due(self) -> bool:
        days = self.settings.key_rotation_days
        return bool(days) and utcnow() - self._keys.active.created_at >= dt.timedelta(days=days)

    # Background work --------------------------------------------------------------------------

    def sync_once(self) -> None:
        """Apply the change log; drop expired keys and revocations; rotate a key when due."""
        applied = self.feed.poll()
        if applied:
            self.metrics.changes_applied.inc(applied)
        self.metrics.client_cache_loads.set(self.registry.loads)
        keys = self._keys
        now = utcnow()
        if any(k.publish_until is not None and k.publish_until <= now for k in keys.published):
            self.reload_keys()
        if self._rotation_due():
            with contextlib.suppress(Exception):  # another node rotated first (unique generation)
                self.rotate_keys()
                log.info("signing key rotated on schedule", extra={"kid": self._keys.active.kid})

    def housekeeping(self) -> None:
        self.revoked.prune()
        self.feed.prune()
        s = self.settings
        self.failure_store.prune(
            older_than=max(3600, s.auth_lockout_seconds * 2, s.auth_account_window_seconds * 2)
        )
        self.familiar_networks.prune()

    async def warm(self) -> None:
        """Load what a serving node's first requests would otherwise wait for: the newest API
        credentials' client records and the definitions the platform reads answer from.

        Best effort: a failure leaves the caches to fill on demand, as they always can.
        """
        try:
            clients = await self.registry.warm(recent_client_records(self.db))
            for kind in ("workflow", "remote_action"):
                await anyio.to_thread.run_sync(self.definitions.list, kind)
        except Exception:  # the caches fill on demand instead
            log.exception("warming the caches failed; they fill on demand")
            return
        log.info("caches warmed", extra={"clients": clients})

    async def run_sync_loop(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set. Stopping waits for a poll in flight, never cuts it off."""
        interval = self.settings.sync_interval_seconds
        last_housekeeping = time.monotonic()
        while not stop.is_set():
            try:
                await anyio.to_thread.run_sync(self.sync_once)
                if time.monotonic() - last_housekeeping > 300:
                    last_housekeeping = time.monotonic()
                    await anyio.to_thread.run_sync(self.housekeeping)
            except Exception:  # keep syncing through a database hiccup
                log.exception("change-log sync failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    def close(self) -> None:
        self.db.dispose()
