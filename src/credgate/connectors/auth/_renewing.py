"""Shared machinery of the OAuth 2.0 auths: cache, renewal, single flight, lease.

The logic is a sans-IO generator, :meth:`RenewingAuth._core`, that yields
either an ``httpx.Request`` to send or a :class:`Renew` step. A ``Renew`` step
is carried out by :meth:`RenewingAuth._renew`, another generator that yields
requests to send and :class:`StoreCall` thunks to run. Three small drivers
interpret those steps:

* :meth:`auth_flow`: no locks; this is the one a test drives with ``next`` and
  ``send``.
* :meth:`sync_auth_flow`: a ``threading.Lock`` around each renewal.
* :meth:`async_auth_flow`: an ``asyncio.Lock`` around each renewal; store calls
  run in a worker thread.

All three hold the store's lease while renewing, so across processes only one
renews; after taking the lease they re-read the store, because another process
may already have renewed. The rules:

1. A token is renewed before it expires (see :func:`renewal_time`).
2. A 401 from the resource renews once and retries once, never more: a
   resource that always answers 401 sees exactly two requests.
3. Renewal is skipped when the token in memory or in the store is already a
   different, fresh one: concurrent senders share one renewal.
4. A renewed token is saved to the store before it is used.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

import httpx

from ._errors import RenewalError
from ._http import check_transport
from ._rfc6749 import DEFAULT_CLIENT_AUTH, ClientAuthMethod, ClientCredentials
from ._tokens import Token, TokenStore, ahold_lease, hold_lease, renewal_time

__all__ = ["STATUS_OK", "RenewingAuth"]

logger = logging.getLogger("credgate.connectors.auth")

STATUS_OK = "ok"

#: A renewal must finish within the lease (one token request under the
#: client's timeouts); waiting senders give up a little after it could expire.
DEFAULT_LEASE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class Renew:
    """Step: get a token that is not ``stale`` (``None``: no token yet)."""

    stale: Token | None


@dataclass(frozen=True, slots=True)
class StoreCall:
    """Step: call the store (a thunk, so drivers decide which thread runs it)."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()

    def __call__(self) -> Any:
        return self.fn(*self.args)


@dataclass(frozen=True, slots=True)
class _Cached:
    token: Token
    renew_at: float


class RenewingAuth(httpx.Auth):
    """Base class: bearer tokens that are obtained and renewed by a token request.

    Subclasses implement :meth:`_fetch` (the token request itself). ``status`` is
    ``"ok"`` after a successful renewal, ``"renewal failing: <error>"`` or
    ``"reconnect needed"`` after a failed one, and ``None`` before the first;
    ``on_status`` is called with each new value, for the storage layer to record
    on the credential.
    """

    # Read the body up front: a request retried after a 401 is sent twice.
    requires_request_body = True

    def __init__(
        self,
        token_url: str,
        store: TokenStore,
        *,
        clock: Callable[[], float] = time.time,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        lease_wait: float | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        if lease_ttl <= 0:
            raise ValueError("lease_ttl must be positive")
        check_transport(token_url, field="token_url")
        self.token_url = token_url
        self._store = store
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._lease_wait = lease_ttl + 5.0 if lease_wait is None else lease_wait
        self._on_status = on_status
        self._cached: _Cached | None = None
        self._thread_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._async_locks = weakref.WeakKeyDictionary()
        self.status: str | None = None

    # -- to be provided by subclasses -------------------------------------------------

    def _fetch(
        self, basis: Token | None, timeout: Any
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        """Yield the token request(s) and return the new token, or raise
        :class:`RenewalError`. ``basis`` is the newest known token (for its
        refresh token)."""
        raise NotImplementedError

    def _token_host(self) -> str:
        return httpx.URL(self.token_url).host

    # -- sans-IO core -----------------------------------------------------------------

    def _fresh(self) -> Token | None:
        cached = self._cached
        if cached is not None and self._clock() < cached.renew_at:
            return cached.token
        return None

    def _remember(self, token: Token) -> None:
        self._cached = _Cached(token, renewal_time(token))

    def _set_status(self, status: str) -> None:
        if status == self.status:
            return
        self.status = status
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # recording the status must not stop the send
                logger.exception("status callback failed")

    @staticmethod
    def _authorize(request: httpx.Request, token: Token) -> httpx.Request:
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        return request

    def _core(self, request: httpx.Request) -> Generator[httpx.Request | Renew, Any, None]:
        check_transport(request.url)  # before any token is fetched for it
        token = self._fresh()
        if token is None:
            cached = self._cached
            token = yield Renew(cached.token if cached else None)
        response = yield self._authorize(request, token)
        if response.status_code != 401:
            return
        # RFC 6750 §3.1 invalid_token (or any 401): renew once, retry once.
        logger.debug("resource answered 401 at %s; renewing once", request.url.host)
        token = yield Renew(token)
        yield self._authorize(request, token)

    def _renew(
        self, step: Renew, request: httpx.Request
    ) -> Generator[httpx.Request | StoreCall, Any, Token]:
        """Runs with the in-process lock and the store lease held."""
        fresh = self._fresh()
        if fresh is not None and not fresh.same_as(step.stale):
            return fresh  # another sender renewed while we waited for the lock
        stored: Token | None = yield StoreCall(self._store.load)
        if (
            stored is not None
            and not stored.same_as(step.stale)
            and self._clock() < renewal_time(stored, jitter=False)
        ):
            self._remember(stored)  # another process renewed while we waited
            return stored
        basis = stored if stored is not None else step.stale
        try:
            token = yield from self._fetch(basis, request.extensions.get("timeout"))
        except RenewalError as exc:
            logger.warning("token renewal at %s failed: %s", self._token_host(), exc.status)
            self._set_status(exc.status)
            raise
        # Saved before first use: a rotated refresh token must not be lost.
        yield StoreCall(self._store.save, (token,))
        self._remember(token)
        self._set_status(STATUS_OK)
        logger.debug(
            "token renewed at %s; expires in %s s", self._token_host(), _lifetime_text(token)
        )
        return token

    # -- drivers ----------------------------------------------------------------------

    def _drive(
        self, request: httpx.Request, guard: AbstractContextManager[Any]
    ) -> Generator[httpx.Request, httpx.Response, None]:
        core = self._core(request)
        step = next(core)
        while True:
            value: Any
            if isinstance(step, Renew):
                with guard, hold_lease(self._store, ttl=self._lease_ttl, wait=self._lease_wait):
                    value = yield from self._run_renewal(step, request)
            else:
                value = yield step
            try:
                step = core.send(value)
            except StopIteration:
                return

    def _run_renewal(
        self, step: Renew, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, Token]:
        renewal = self._renew(step, request)
        value: Any = None
        while True:
            try:
                item = renewal.send(value)
            except StopIteration as stop:
                token: Token = stop.value
                return token
            if isinstance(item, StoreCall):
                value = item()
            else:
                response = yield item
                response.read()
                value = response

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """The flow without in-process locking (the store lease is still taken)."""
        return self._drive(request, nullcontext())

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        return self._drive(request, self._thread_lock)

    def _async_lock(self) -> asyncio.Lock:
        # One lock per event loop: an asyncio.Lock must not cross loops.
        loop = asyncio.get_running_loop()
        lock = self._async_locks.get(loop)
        if lock is None:
            lock = self._async_locks[loop] = asyncio.Lock()
        return lock

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        core = self._core(request)
        step = next(core)
        while True:
            value: Any
            if isinstance(step, Renew):
                async with (
                    self._async_lock(),
                    ahold_lease(self._store, ttl=self._lease_ttl, wait=self._lease_wait),
                ):
                    renewal = self._renew(step, request)
                    value = None
                    while True:
                        try:
                            item = renewal.send(value)
                        except StopIteration as stop:
                            value = stop.value
                            break
                        if isinstance(item, StoreCall):
                            value = await asyncio.to_thread(item)
                        else:
                            response = yield item
                            await response.aread()
                            value = response
            else:
                value = yield step
            try:
                step = core.send(value)
            except StopIteration:
                return


def _lifetime_text(token: Token) -> str:
    lifetime = token.lifetime
    return "unknown" if lifetime is None else f"{lifetime:.0f}"


class ClientOptions(TypedDict):
    """The keyword arguments of :class:`ClientRenewingAuth` and its subclasses."""

    store: TokenStore
    token_endpoint_auth_method: NotRequired[ClientAuthMethod]
    clock: NotRequired[Callable[[], float]]
    lease_ttl: NotRequired[float]
    lease_wait: NotRequired[float | None]
    on_status: NotRequired[Callable[[str], None] | None]


class ClientRenewingAuth(RenewingAuth):
    """A :class:`RenewingAuth` whose token requests present a client id and secret
    (RFC 6749 §2.3.1, ``client_secret_basic`` by default or ``client_secret_post``)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(
            token_url,
            options["store"],
            clock=options.get("clock", time.time),
            lease_ttl=options.get("lease_ttl", DEFAULT_LEASE_TTL),
            lease_wait=options.get("lease_wait"),
            on_status=options.get("on_status"),
        )
        method = options.get("token_endpoint_auth_method", DEFAULT_CLIENT_AUTH)
        self._client = ClientCredentials(client_id, client_secret, method)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(client_id={self._client.client_id!r}, "
            f"client_secret='[secure]', token_url={self.token_url!r})"
        )
