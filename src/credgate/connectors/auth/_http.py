"""Safe outbound HTTP clients for connector credentials.

* TLS verification is always on. ``ca_bundle`` names a PEM file of CA
  certificates to trust *instead of* the system store (a private CA).
* Timeouts are always set: 5 s to connect or wait for a pooled connection,
  30 s to read or write.
* Redirects are not followed: a 3xx comes back to the caller, so credentials
  never travel to a host the administrator did not configure.
* The environment is not trusted (no ``.netrc`` credentials, no proxy variables);
  a proxy is used only when passed explicitly.
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

import httpx

from ._errors import InsecureTransportError

__all__ = [
    "DEFAULT_TIMEOUT",
    "POOL_LIMITS",
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


def make_client(
    auth: httpx.Auth | None = None,
    *,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    proxy: str | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` for one connector credential (see module docstring)."""
    return httpx.Client(
        auth=auth,
        verify=ssl_context(ca_bundle),
        timeout=timeout,
        limits=POOL_LIMITS,
        follow_redirects=False,
        trust_env=False,
        proxy=proxy,
    )


def make_async_client(
    auth: httpx.Auth | None = None,
    *,
    ca_bundle: str | os.PathLike[str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    proxy: str | None = None,
) -> httpx.AsyncClient:
    """The asyncio twin of :func:`make_client`."""
    return httpx.AsyncClient(
        auth=auth,
        verify=ssl_context(ca_bundle),
        timeout=timeout,
        limits=POOL_LIMITS,
        follow_redirects=False,
        trust_env=False,
        proxy=proxy,
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
