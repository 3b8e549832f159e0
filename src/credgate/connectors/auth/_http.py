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
* Every pooled connection may be kept alive (:data:`POOL_LIMITS`), so many
  concurrent senders do not churn connections.
* A connection handed to a request is never closed under it by another thread
  (:class:`_InFlightSafePool`).
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
    "StaticHeaderAuth",
    "check_transport",
    "make_async_client",
    "make_client",
    "ssl_context",
]

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

#: How long an idle connection is kept for reuse: under the 5 s after which uvicorn, Node and
#: Apache close an idle connection by default. At 5 s (httpx's default) a request could be sent
#: on a connection just as the server closes it, and fail with "server disconnected".
KEEPALIVE_SECONDS = 4.0

#: At most 100 connections per client, and all of them may be kept alive.
POOL_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_SECONDS
)


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


class _InFlightSafePool(httpcore.ConnectionPool):
    """httpcore's thread-safe pool, except that its clean-up pass leaves alone the connections
    already handed to a request.

    httpcore (1.0.9) hands a thread an idle connection under the pool's lock, but the thread
    marks it busy only later, outside the lock. Meanwhile another thread's clean-up may find
    it "expired": idle, with a readable socket, which it is once the first thread has sent its
    request and the answer is arriving. The clean-up closes it, and the first thread reads from
    a closed socket (``ReadError: [Errno 9] Bad file descriptor``). This is httpcore's method
    with that one exception added.
    """

    def _assign_requests_to_connections(self) -> list[httpcore.ConnectionInterface]:
        handed = {id(r.connection) for r in self._requests if r.connection is not None}
        closing: list[httpcore.ConnectionInterface] = []
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif id(connection) in handed:
                continue  # its request owns it now; it comes back when the response closes
            elif connection.has_expired() or (
                connection.is_idle() and len(self._connections) > self._max_keepalive_connections
            ):
                self._connections.remove(connection)
                closing.append(connection)
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            available = [
                c for c in self._connections if c.can_handle_request(origin) and c.is_available()
            ]
            idle = [c for c in self._connections if c.is_idle() and id(c) not in handed]
            if available:
                pool_request.assign_to_connection(available[0])
                handed.add(id(available[0]))
                continue
            if len(self._connections) >= self._max_connections:
                if not idle:
                    continue  # waits for a connection to come back
                self._connections.remove(idle[0])
                closing.append(idle[0])
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            handed.add(id(connection))
        return closing


# httpx (0.28) takes no network backend, so each transport rebuilds its pool with the same
# settings and the guarded backend; a test sends through it, so an httpx upgrade that changes
# this shows at once.
class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, destinations: DestinationPolicy, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=POOL_LIMITS)
        self._pool = _InFlightSafePool(
            ssl_context=ssl_context,
            max_connections=POOL_LIMITS.max_connections,
            max_keepalive_connections=POOL_LIMITS.max_keepalive_connections,
            keepalive_expiry=POOL_LIMITS.keepalive_expiry,
            network_backend=_GuardedBackend(destinations),
        )


class _AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(
        self, destinations: DestinationPolicy, ssl_context: ssl.SSLContext, limits: httpx.Limits
    ) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
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
    limits: httpx.Limits = POOL_LIMITS,
) -> httpx.AsyncClient:
    """The asyncio twin of :func:`make_client`; ``limits`` bounds its pool (keep every
    connection alive: ``max_keepalive_connections`` equal to ``max_connections``)."""
    return httpx.AsyncClient(
        auth=auth,
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        transport=_AsyncGuardedTransport(destinations, ssl_context(ca_bundle), limits),
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


class StaticHeaderAuth(httpx.Auth):
    """Sends one fixed ``Authorization`` header, built by the subclass into ``_header``, and
    only over a transport :func:`check_transport` allows (the header is a secret)."""

    _header: str

    def auth_flow(
        self, request: httpx.Request
    ) -> typing.Generator[httpx.Request, httpx.Response, None]:
        check_transport(request.url)
        request.headers["Authorization"] = self._header
        yield request
