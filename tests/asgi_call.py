"""Drive credgate's ASGI application directly, seeing exactly what it asks for and sends."""

from __future__ import annotations

import asyncio
from typing import Any

from credgate.app import CredgateApp


def call(
    app: CredgateApp,
    method: str,
    path: str,
    headers: dict[str, str] | list[tuple[str, str]],
    body: bytes = b"",
    *,
    peer: str = "127.0.0.1",
) -> Any:
    """Send one request; answer its status, headers, body and how often it called ``receive``.

    The body arrives in 1000-byte pieces; ``headers`` may repeat a name when given as pairs.
    """
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    received: list[int] = []
    sent: list[dict[str, Any]] = []
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]

    async def receive() -> dict[str, Any]:
        received.append(1)
        if len(received) <= len(chunks):
            index = len(received) - 1
            return {
                "type": "http.request",
                "body": chunks[index],
                "more_body": index < len(chunks) - 1,
            }
        await asyncio.sleep(3600)  # a client that is still there
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in pairs],
        "client": (peer, 50000),
        "server": ("127.0.0.1", 8080),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content, len(received)
