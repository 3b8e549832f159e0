"""``python -m credgate.bench.serve``: ``credgate serve`` with the benchmarks' baselines added.

The baselines are mounted here, by the benchmark harness, not by a setting of the production
application: a wrapper answers the minimal route before credgate sees the request, adds the
other two to the application's exact-path routes, and hands everything else (and the lifespan)
to the application unchanged.

- ``/_bench/minimal``: a constant JSON answer, the least an HTTP route on this server can cost
  (answered before credgate's ingress);
- ``/_bench/echo``: reads the form body and answers it back (the token benchmark's baseline),
  among credgate's exact-path routes, as the token endpoint is;
- ``/_bench/workflows``: credgate's own workflow list handler with a bearer check that accepts
  anyone, among credgate's exact-path routes (the bearer benchmark's baseline: the protection's
  cost is the difference).
"""

from __future__ import annotations

from typing import Final

from credgate.app import CredgateApp, create_served_app
from credgate.core.asgi import ExactPaths, PlainResponse, Receive, Scope, Send, read_body
from credgate.oauth.rfc9068 import VerifiedToken
from credgate.platform.reads import PlatformReads

__all__ = ["ECHO", "MINIMAL", "OPEN_WORKFLOWS", "Baselines", "create_app", "main"]

ECHO: Final = "/_bench/echo"
MINIMAL: Final = "/_bench/minimal"
OPEN_WORKFLOWS: Final = "/_bench/workflows"

_MINIMAL = PlainResponse(
    200,
    b'{"status":"ok"}',
    [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
)


class _Anyone:
    """A bearer check that lets every request through as one fixed client."""

    def __init__(self) -> None:
        self._token = VerifiedToken(
            client_id="bench", scopes=frozenset(), jti="bench", expires_at=2**62, claims={}
        )

    async def authorize(
        self, _authorization: str | bytes | None, _permission: str | None
    ) -> VerifiedToken:
        return self._token


class Baselines:
    """The credgate application with the baselines added."""

    def __init__(self, app: CredgateApp) -> None:
        self.app = app
        container = app.container
        open_reads = PlatformReads(
            guard=_Anyone(),
            definitions=container.definitions,
            settings=container.settings,
            fallback=app.framework,
        )
        self._serve = ExactPaths({MINIMAL: _MINIMAL}, app)
        # Among credgate's own exact-path routes, behind the same ingress and rate limit as the
        # routes they are compared with (which let an unprotected path through untouched).
        app.routes[ECHO] = self._echo
        app.routes[OPEN_WORKFLOWS] = open_reads.routes["/api/v1/workflows"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send)

    @staticmethod
    async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, 1 << 16)
        await PlainResponse(200, body, [(b"content-type", b"application/x-www-form-urlencoded")])(
            scope, receive, send
        )


def create_app() -> Baselines:
    return Baselines(create_served_app())


def main() -> None:
    """Serve as ``credgate serve`` does (one process, the settings from the environment)."""
    import uvicorn

    from credgate.core.config import load_settings
    from credgate.core.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        "credgate.bench.serve:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=1,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
