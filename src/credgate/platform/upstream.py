"""Upstream delegation: forward an accepted platform request to the service that does the work.

credgate has already parsed the request (so the upstream only ever sees valid input) and checked
the bearer token and permission. The token itself is not forwarded: the upstream trusts credgate,
not the caller, and learns who called from two headers instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import httpx

from credgate.oauth.rfc9068 import VerifiedToken

__all__ = [
    "CLIENT_HEADER",
    "PERMISSIONS_HEADER",
    "UpstreamAnswer",
    "UpstreamError",
    "forward",
]

CLIENT_HEADER: Final = "X-Credgate-Client-Id"
PERMISSIONS_HEADER: Final = "X-Credgate-Permissions"

_REQUEST_HEADERS: Final = (
    "content-type",
    "accept",
    "x-request-id",
    "x-utc-times",
    "user-principal-name",
    "timezone",
)
_RESPONSE_HEADERS: Final = ("content-type", "x-request-id", "retry-after", "content-disposition")


class UpstreamError(Exception):
    """The upstream could not be reached or did not answer in time (never names secrets)."""


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


async def forward(
    base_url: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    token: VerifiedToken,
    timeout_seconds: float,
) -> UpstreamAnswer:
    """Send the request to ``base_url + path`` and return the upstream's answer as is.

    Only the headers the families document are passed on; ``Authorization`` never is.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    out: dict[str, str] = {name: lowered[name] for name in _REQUEST_HEADERS if name in lowered}
    out[CLIENT_HEADER] = token.client_id
    out[PERMISSIONS_HEADER] = " ".join(sorted(token.scopes))
    url = base_url + path + (f"?{query}" if query else "")
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
            response = await client.request(method, url, headers=out, content=body or None)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"the upstream did not answer ({type(exc).__name__})") from None
    relayed = {n: response.headers[n] for n in _RESPONSE_HEADERS if n in response.headers}
    return UpstreamAnswer(response.status_code, response.content, relayed)
