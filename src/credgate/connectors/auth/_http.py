"""Safe outbound HTTP clients for connector credentials.

* TLS verification is always on. ``ca_bundle`` names a PEM file of CA
  certificates to trust *instead of* the system store (a private CA).
* Timeouts are always set: 5 s to connect or wait for a pooled connection,
  30 s to read or write.
* Redirects are not followed: a 3xx comes back to the caller, so credentials
  never travel to a host the administrator did not configure.
* Every connection goes only where ``destinations`` (a
  :class:`~credgate.core.destinations.DestinationPolicy`, public addresses
  by default) allows: the host is resolved once, each address is checked, and the
  socket is opened to a checked address while TLS (SNI, certificate) and ``Host``
  keep the name. This holds for token requests, for a redirect a caller chooses to
  follow, and for every retry, because it sits under the connection pool.
* The environment is not trusted (no ``.netrc`` credentials, no proxy variables),
  and there is no proxy: through one, the destination could not be checked.
* Every pooled connection may be kept alive (:data:`POOL_LIMITS`). With fewer
  keep-alive slots than connections, httpcore's pool closes an "idle" surplus
  connection outside its lock, and a thread that has just been handed that
  connection reads from a closed socket (``ReadError: [Errno 9] Bad file
  descriptor``). Keeping every connection alive never takes that branch, and
  many concurrent senders do not churn connections either.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import typing

import anyio
import httpcore
import httpx

from credgate.core.destinations import STRICT, DestinationPolicy, DestinationRefused

from ._errors import InsecureTransportError

__all__ = [
    "DEFAULT_TIMEOUT",
    "POOL_LIMITS",
    "RefusedDestination",
    "check_transport",
    "make_async_client",
    "make_client",
    "ssl_context",
]

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

#: At most 100 connections per client, and all of them may be kept alive.
POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


def ssl_context(ca_bundle: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """A verifying TLS context: system CAs, or only those of ``ca_bundle``."""
    if ca_bundle is None:
        return ssl.create_default_context()
    path = os.fspath(ca_bundle)
    if not os.path.isfile(path):
        raise ValueError(f"ca_bundle: no such file: {path}")
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError as exc:
        raise ValueError(f"ca_bundle: not a PEM bundle of CA certificates: {path}") from exc


class RefusedDestination(DestinationRefused, httpx.ConnectError):
    """A connection refused by the destination policy, as the ``httpx.ConnectError`` every
    caller already handles (the message is the policy's: host and kind of address only)."""


_SocketOptions = typing.Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
]


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's blocking backend, connecting only to addresses the policy allows."""

    def __init__(self, destinations: DestinationPolicy) -> None:
        self._destinations = destinations
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: _SocketOptions | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._destinations.addresses(host, port)
        except DestinationRefused as exc:
            raise RefusedDestination(str(exc)) from None
        except OSError as exc:  # the host does not resolve: what connecting would have said
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: _SocketOptions | None = None,
    ) -> httpcore.NetworkStream:
        raise RefusedDestination("credgate does not connect to local sockets")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """The asyncio (and trio) twin of :class:`_GuardedBackend`."""

    def __init__(self, destinations: DestinationPolicy) -> None:
        self._destinations = destinations
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: _SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._destinations.aaddresses(host, port)
        except DestinationRefused as exc:
            raise RefusedDestination(str(exc)) from None
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"{host} did not resolve in time") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: _SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedDestination("credgate does not connect to local sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


# httpx (0.28) takes no network backend, so each transport rebuilds its pool with the same
# settings and the guarded backend; a test sends through it, so an httpx upgrade that changes
# this shows at once.
class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, destinations: DestinationPolicy, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=POOL_LIMITS)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=POOL_LIMITS.max_connections,
            max_keepalive_connections=POOL_LIMITS.max_keepalive_connections,
            keepalive_expiry=POOL_LIMITS.keepalive_expiry,
            network_backend=_GuardedBackend(destinations),
        )


class _AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, destinations: DestinationPolicy, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=POOL_LIMITS)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=POOL_LIMITS.max_connections,
            max_keepalive_connections=POOL_LIMITS.max_keepalive_connections,
            keepalive_expiry=POOL_LIMITS.keepalive_expiry,
            network_backend=_AsyncGuardedBackend(destinations),
        )


def make_client(
    auth: httpx.Auth | None = None,
    *,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    destinations: DestinationPolicy = STRICT,
) -> httpx.Client:
    """An ``httpx.Client`` for one connector credential (see module docstring)."""
    return httpx.Client(
        auth=auth,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=_GuardedTransport(destinations, ssl_context(ca_bundle)),
    )


def make_async_client(
    auth: httpx.Auth | None = None,
    *,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    destinations: DestinationPolicy = STRICT,
) -> httpx.AsyncClient:
    """The asyncio twin of :func:`make_client`."""
    return httpx.AsyncClient(
        auth=auth,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=_AsyncGuardedTransport(destinations, ssl_context(ca_bundle)),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: httpx.URL | str, *, field: str = "url") -> None:
    """Refuse to send credentials over plain http, except to a loopback address.

    Raises :class:`InsecureTransportError` naming ``field`` and the host.
    """
    url = httpx.URL(url)
    if url.scheme == "https":
        return
    if url.scheme == "http" and _is_loopback(url.host):
        return
    raise InsecureTransportError(
        f"{field}: refusing to send credentials to {url.scheme}://{url.host} (https required)"
    )
