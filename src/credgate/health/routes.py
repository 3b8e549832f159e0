"""``/healthz`` (the process answers), ``/readyz`` (the database answers and keys are loaded)
and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread

from credgate.core.asgi import ASGIApp, PlainResponse, Receive, Scope, Send, json_response
from credgate.core.metrics import Metrics

__all__ = ["health_routes"]


def health_routes(
    *, ping: Callable[[], object], keys: Callable[[], object], metrics: Metrics
) -> dict[str, ASGIApp]:
    """``ping`` answers when the database does (blocking: run in a thread); ``keys`` answers
    the loaded signing keys or raises."""

    async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
        await json_response(200, {"status": "ok"}, no_store=True)(scope, receive, send)

    async def readyz(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await anyio.to_thread.run_sync(ping)
            keys()
        except Exception:  # noqa: BLE001 - any failure means "not ready", and is reported as such
            await json_response(503, {"status": "unavailable", "database": "unreachable"})(
                scope, receive, send
            )
            return
        await json_response(200, {"status": "ready"})(scope, receive, send)

    async def metrics_text(scope: Scope, receive: Receive, send: Send) -> None:
        body = metrics.render()
        await PlainResponse(200, body, [(b"content-type", b"text/plain; version=0.0.4")])(
            scope, receive, send
        )

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_text}
