"""Who is calling: the peer address, or the client a trusted proxy says it forwarded.

``CREDGATE_TRUSTED_PROXIES`` lists the proxies (addresses or CIDR networks) whose
``X-Forwarded-For`` is believed. Each proxy appends the address it received the request from, so
the header is read from the right: trusted hops are skipped, and the first address that is not a
trusted proxy is the client. Anything to its left was written by the client itself and is ignored.

A request may carry the header on several lines (RFC 9110 §5.3: they form one list, in order);
every line is read, so a client cannot hide behind a second line that only the first is read of.
This is the one resolver: the lean routes, the admin API, the pages and the classic APIs use it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any

from credgate.core.asgi import Scope

__all__ = ["Network", "client_address", "is_trusted", "parse_trusted_proxies"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_FORWARDED_FOR = b"x-forwarded-for"


def parse_trusted_proxies(value: Any) -> list[Network]:
    """The networks of a setting given as a list, a JSON list or comma-separated text.

    Raises ``ValueError`` naming the entry that is neither an address nor a network.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError("not a valid JSON list of addresses") from None
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple):
        raise ValueError("give addresses or CIDR networks, comma-separated")
    networks: list[Network] = []
    for entry in value:
        if isinstance(entry, ipaddress.IPv4Network | ipaddress.IPv6Network):
            networks.append(entry)
            continue
        text = str(entry).strip()
        if not text:
            continue
        try:
            # strict=False: "10.0.0.1/8" means the network 10.0.0.0/8, as operators expect.
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text[:60]!r} is not an IP address or CIDR network") from None
    return networks


def is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in network for network in trusted)


def client_address(scope: Scope, trusted: Sequence[Network]) -> str:
    """The caller's address: the peer, or the right-most untrusted ``X-Forwarded-For`` hop."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    lines = [value for name, value in scope["headers"] if name == _FORWARDED_FOR]
    hops = [hop.strip() for hop in b",".join(lines).decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop and not is_trusted(hop, trusted):
            return hop
    # Every hop is a trusted proxy: the left-most one is as close to the client as is known.
    return next((hop for hop in hops if hop), peer)
