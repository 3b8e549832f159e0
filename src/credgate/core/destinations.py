"""Where credgate's outbound connections may go: public addresses, and what an operator allows.

Connector credentials name third-party tools by address. Without a limit, anyone who may edit a
credential could point it at credgate's own surroundings (a loopback admin port, the cloud
metadata service at 169.254.169.254, an intranet host) and read the answers, or the "Test"
verdicts, to map them.

The rule, applied to the address a connection actually goes to:

* **Refused**: every address that is not globally reachable (loopback, link-local, unspecified,
  private, shared ``100.64.0.0/10``, documentation, benchmarking and reserved ranges), multicast,
  IPv6 site-local, IETF protocol assignments (``192.0.0.0/24``) and local-use NAT64
  (``64:ff9b:1::/48``), in IPv4 and IPv6. An IPv6 address that carries an IPv4 one is judged by
  it: IPv4-mapped (``::ffff:a.b.c.d``, which the system connects to over IPv4), well-known NAT64
  (``64:ff9b::/96``) and 6to4 (``2002::/16``).
* **Allowed**: every other address, and whatever ``CREDGATE_OUTBOUND_ALLOWED_NETWORKS`` lists
  (networks in CIDR form, single addresses, host names) for tools on premises.

A host name is resolved once per connection; every address it resolved to is checked, and the
connection goes to a checked address (TLS still verifies the certificate, and SNI and ``Host``
still name the host). A DNS answer that changes between the check and the connection (DNS
rebinding) therefore reaches nothing new. Host names spelled as numbers (``2130706433``,
``0x7f.1``, ``017700000001``) are the IPv4 addresses a resolver makes of them
(:func:`literal_address`), so they are checked, and refused when saved, like any address.

A refusal happens before any packet is sent, so its message is the same whether a port is open,
closed or filtered, and it never names an address a host name resolved to.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import anyio.to_thread

__all__ = [
    "ALLOW_SETTING",
    "STRICT",
    "Address",
    "DestinationPolicy",
    "DestinationRefused",
    "Network",
    "Resolver",
    "forbidden_reason",
    "literal_address",
    "system_resolver",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``: what a connection to a host name may go to, in order.
Resolver = Callable[[str, int], Sequence[str]]

#: The setting an operator changes to allow more; named in every refusal.
ALLOW_SETTING: Final = "CREDGATE_OUTBOUND_ALLOWED_NETWORKS"

# Ranges Python's ipaddress (3.11) still calls global although nothing public lives there.
_ALSO_REFUSED: Final[tuple[Network, ...]] = (
    ipaddress.IPv4Network("192.0.0.0/24"),  # IETF protocol assignments (RFC 6890)
    ipaddress.IPv6Network("fec0::/10"),  # site-local, deprecated (RFC 3879)
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
# What inet_aton (and so getaddrinfo) reads as an IPv4 address: one to four parts, each decimal,
# octal (leading 0) or hexadecimal (0x); the WHATWG URL standard reads hosts the same way.
_NUMERIC_HOST: Final = re.compile(r"(?i)^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$")
_NUMERIC_LABEL: Final = re.compile(r"(?i)^(?:0x[0-9a-f]*|[0-9]+)$")
_LABEL: Final = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME: Final = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


class DestinationRefused(Exception):
    """credgate does not connect to this destination. The message names the host as configured
    and the kind of address, never an address a host name resolved to, nor the port."""


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells, in any form a resolver reads as one, else ``None``.

    ``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1`` and ``127.0.0.1.`` all are
    127.0.0.1. Raises ``ValueError`` for a host that ends in a number without being an address
    (``1.2.3.4.5``, ``999.1.1.1``): no resolver would look such a name up in DNS either.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    candidate = text[:-1] if text.endswith(".") else text
    if not _NUMERIC_LABEL.match(candidate.rsplit(".", 1)[-1]):
        return None  # a host name
    if not _NUMERIC_HOST.match(candidate):
        raise ValueError("not a valid IPv4 address")
    try:
        packed = socket.inet_aton(candidate)
    except OSError:
        raise ValueError("not a valid IPv4 address") from None
    return ipaddress.IPv4Address(packed)


def _effective(address: Address) -> Address:
    """The address a connection really reaches: an IPv4-mapped IPv6 address is its IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _kind(address: Address) -> str | None:
    """Why ``address`` (taken on its own) is refused, or ``None``."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if address.is_reserved or any(address in net for net in _ALSO_REFUSED):
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def forbidden_reason(address: Address) -> str | None:
    """Why credgate refuses to connect to ``address`` by default (``"loopback"``, ...), or
    ``None`` for a public address. IPv6 forms that carry an IPv4 address are judged by it."""
    address = _effective(address)
    if isinstance(address, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        if address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour is not None:
            embedded = address.sixtofour
        if embedded is not None:
            inner = _kind(embedded)
            if inner is not None:
                return f"{inner} (inside an IPv6 address)"
            if address in _NAT64:
                return None  # ::/8 is reserved as a whole, but NAT64 of a public IPv4 is public
    return _kind(address)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, without repeats."""
    found: list[str] = []
    for _family, _type, _proto, _name, sockaddr in socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM
    ):
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


def _parse_entry(entry: str) -> Network | str:
    text = entry.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = text.lower().removesuffix(".")
    with contextlib.suppress(ValueError):
        if "/" not in name and _HOST_NAME.match(name) and literal_address(name) is None:
            return name
    raise ValueError(f"{entry.strip()!r} is neither a network (CIDR), an address nor a host name")


@dataclass(frozen=True)
class DestinationPolicy:
    """Which destinations outbound connections may reach (see the module docstring).

    ``networks`` and ``hosts`` are what the operator allows beyond public addresses; ``resolver``
    turns host names into addresses (the system resolver unless a test or a deployment gives
    another).
    """

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=system_resolver, repr=False, compare=False)

    @classmethod
    def from_entries(
        cls, entries: Iterable[str], *, resolver: Resolver | None = None
    ) -> DestinationPolicy:
        """From ``CREDGATE_OUTBOUND_ALLOWED_NETWORKS`` entries: ``10.0.0.0/8``, ``192.168.1.5``,
        ``fd00::/8``, ``sftp.corp.example``. Raises ``ValueError`` naming a bad entry."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in entries:
            if not entry.strip():
                continue
            parsed = _parse_entry(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        return cls(tuple(networks), frozenset(hosts), resolver or system_resolver)

    def with_resolver(self, resolver: Resolver) -> DestinationPolicy:
        return DestinationPolicy(self.networks, self.hosts, resolver)

    # Checks -------------------------------------------------------------------------------

    def refusal(self, address: Address) -> str | None:
        """Why a connection to ``address`` is refused (its kind), or ``None`` if it may go."""
        reason = forbidden_reason(address)
        if reason is None:
            return None
        effective = _effective(address)
        for candidate in {address, effective}:
            if any(candidate.version == net.version and candidate in net for net in self.networks):
                return None
        return reason

    def _host_allowed(self, host: str) -> bool:
        return bool(self.hosts) and host.lower().removesuffix(".") in self.hosts

    def literal_refusal(self, host: str) -> str | None:
        """For a host as saved in a credential: the message if it is an address (in any
        spelling) that is refused, else ``None``. Host names are checked when connecting."""
        try:
            address = literal_address(host)
        except ValueError:
            return None  # not an address; the URL check reports it
        if address is None:
            return None
        reason = self.refusal(address)
        if reason is None:
            return None
        return (
            f"is {_a(reason)} address, which credgate does not connect to; an operator can allow "
            f"it with {ALLOW_SETTING}"
        )

    def addresses(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` once and keep the addresses a connection may go to, in order.

        Raises :class:`DestinationRefused` when none is left, and ``OSError`` when the host
        does not resolve (as connecting to it would).
        """
        literal = self._literal(host)
        if literal is not None:
            reason = self.refusal(literal)
            if reason is not None:
                raise DestinationRefused(_refused_address(host, reason))
            return [str(literal)]
        resolved = list(self.resolver(host, port))
        if not resolved:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
        if self._host_allowed(host):
            return resolved
        allowed: list[str] = []
        reasons: list[str] = []
        for text in resolved:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                reasons.append("unreadable")
                continue
            reason = self.refusal(address)
            if reason is None:
                allowed.append(text)
            else:
                reasons.append(reason)
        if not allowed:
            kinds = ", ".join(sorted(set(reasons)))
            raise DestinationRefused(
                f"credgate does not connect to {host}: it resolves only to addresses it does not "
                f"connect to ({kinds}); an operator can allow them with {ALLOW_SETTING}"
            )
        return allowed

    async def aaddresses(self, host: str, port: int) -> list[str]:
        """:meth:`addresses` for asyncio and trio: a host name is resolved in a worker thread."""
        if self._literal(host) is not None:
            return self.addresses(host, port)
        return await anyio.to_thread.run_sync(self.addresses, host, port)

    @staticmethod
    def _literal(host: str) -> Address | None:
        try:
            return literal_address(host)
        except ValueError:
            return None  # no address: the resolver finds nothing for such a name either

    # Connections --------------------------------------------------------------------------

    async def open_socket(self, host: str, port: int) -> socket.socket:
        """A connected, non-blocking TCP socket to the first checked address of ``host`` that
        answers. Raises :class:`DestinationRefused`, or the ``OSError`` of the last attempt."""
        loop = asyncio.get_running_loop()
        last: OSError | None = None
        for address in await self.aaddresses(host, port):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, (address, port))
            except OSError as exc:
                sock.close()
                last = exc
                continue
            except BaseException:
                sock.close()
                raise
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise last or OSError(f"{host} has no address to connect to")


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _refused_address(host: str, reason: str) -> str:
    return (
        f"credgate does not connect to {host}: it is {_a(reason)} address; an operator can allow "
        f"it with {ALLOW_SETTING}"
    )


#: The default: public destinations only.
STRICT: Final = DestinationPolicy()
