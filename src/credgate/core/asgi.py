"""The smallest ASGI plumbing for the lean routes (token endpoint, JWKS, bearer checks).

The framework's request parsing costs more than signing a token, so the hot paths are plain
ASGI callables that read the body with a size cap and answer with pre-encoded headers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException

__all__ = [
    "ASGIApp",
    "BodyTooLarge",
    "ExactPaths",
    "PlainResponse",
    "header",
    "json_response",
    "read_body",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))


class BodyTooLarge(HTTPException):
    """A request body over the limit of its route family (:mod:`credgate.core.ingress`): 413.

    An HTTP exception, so that the framework lets it through its own body parsing (which turns
    any other error raised while reading into a 400) to the JSON error handler.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes")
        self.limit = limit


@dataclass(slots=True)
class PlainResponse:
    """A framework-free answer: what the core returns and an adapter sends."""

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [*self.headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@dataclass(slots=True)
class ExactPaths:
    """HTTP requests for one of ``routes``' paths go to that route, everything else (other
    paths, the lifespan) to ``fallback``.

    ``routes`` is kept, not copied, so that routes added to it later are served too.
    """

    routes: dict[str, ASGIApp]
    fallback: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.routes.get(scope["path"])
            if route is not None:
                await route(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def json_response(
    status: int,
    payload: object,
    *,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
    no_store: bool = True,
) -> PlainResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [_JSON, *(_NO_STORE if no_store else ()), *extra_headers]
    return PlainResponse(status, body, headers)


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header (names are lowercase in ASGI)."""
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes without reading on."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if len(chunks) != 1 else chunks[0]
