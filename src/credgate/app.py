"""The ASGI application: a dispatcher in front of the framework.

Every request first passes :class:`~credgate.core.ingress.Ingress` (its route family's body limit,
and the admin API's authentication before any body is read), then, on the protected APIs, its
credential's rate limit (:class:`~credgate.core.ratelimits.RateLimitMiddleware`). Exact-path lean routes (token
endpoints, JWKS, metadata, health, metrics, the platform reads) are then answered straight from
the ASGI scope; everything else goes to the FastAPI application, which serves the admin REST API
and its OpenAPI document.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from credgate import __version__
from credgate.admins import pages as admins_pages
from credgate.admins.api import router as admin_router
from credgate.apicredentials import pages as apicredentials_pages
from credgate.apicredentials.api import router as api_credentials_router
from credgate.classic import pages as classic_pages
from credgate.connectors import pages as connectors_pages
from credgate.connectors.api import router as connectors_router
from credgate.container import Container
from credgate.core.asgi import ASGIApp, ExactPaths, PlainResponse, Receive, Scope, Send
from credgate.core.config import Settings
from credgate.core.heap import settle
from credgate.core.ingress import Ingress
from credgate.core.paths import PROTECTED
from credgate.core.ratelimits import RateLimitMiddleware
from credgate.core.services import APP_STATE_SERVICES
from credgate.health.routes import health_routes
from credgate.oauth.forward_auth import ForwardAuth
from credgate.oauth.rfc6750 import APP_STATE_GUARD
from credgate.oauth.routes import OAuthRoutes
from credgate.outbound import pages as outbound_pages
from credgate.web.api import admin_gate, install_error_handlers
from credgate.web.docs import install_api_docs
from credgate.web.pages import install_page_handlers

log = logging.getLogger(__name__)

__all__ = ["CredgateApp", "create_app", "create_served_app", "install_admin_ui"]


async def _to_console(scope: Scope, receive: Receive, send: Send) -> None:
    """``/`` leads a person who opens the service's address to the administration console."""
    await PlainResponse(302, b"", [(b"location", b"/admin/")])(scope, receive, send)


class CredgateApp:
    def __init__(self, container: Container, framework: FastAPI) -> None:
        self.container = container
        self.framework = framework
        self.routes: dict[str, ASGIApp] = {}
        self.routes.update(
            OAuthRoutes(
                token_endpoint=container.token_endpoint,
                introspection=container.introspection,
                revocation=container.revocation,
                keys=container.keys,
                settings=container.settings,
            ).routes
        )
        self.routes.update(
            health_routes(ping=container.db.ping, keys=container.keys, metrics=container.metrics)
        )
        self.routes["/forward-auth"] = ForwardAuth(container.bearer_guard)
        self.routes["/"] = _to_console
        from credgate.platform.reads import PlatformReads

        self.platform_reads = PlatformReads(
            guard=container.bearer_guard,
            definitions=container.definitions,
            settings=container.settings,
            fallback=framework,
        )
        self.routes.update(self.platform_reads.routes)
        self._limited = RateLimitMiddleware(
            ExactPaths(self.routes, framework),
            container.rate_limiter,
            family_of=PROTECTED.resolve,
            caller=container.rate_limited_caller,
            on_limited=lambda family: container.metrics.rate_limited.labels(family=family).inc(),
        )
        # Whether each exact path has a rate-limited family, learnt on its first request (routes
        # may be added after construction); only paths in ``routes`` are kept, so it stays small.
        self._has_family: dict[str, bool] = {}
        self._ingress = Ingress(
            self._route, container.settings, gates={"admin-api": admin_gate(container.admins)}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._ingress(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An exact-path route that no rate limit covers (the token endpoint, JWKS, health) is
        called at once: the rate limit would only hand it on to the exact paths unchanged."""
        if scope["type"] == "http":
            path = scope["path"]
            route = self.routes.get(path)
            if route is not None:
                limited = self._has_family.get(path)
                if limited is None:
                    limited = self._has_family[path] = PROTECTED.resolve(path) is not None
                if not limited:
                    await route(scope, receive, send)
                    return
        await self._limited(scope, receive, send)


def _document_lean_routes(framework: FastAPI) -> None:
    """Add the lean OAuth routes to the framework's OpenAPI document."""
    from fastapi.openapi.utils import get_openapi

    from credgate.oauth.openapi import oauth_paths

    def openapi() -> dict[str, Any]:
        if framework.openapi_schema is None:
            document = get_openapi(
                title=framework.title,
                version=framework.version,
                summary=framework.summary,
                routes=framework.routes,
            )
            from credgate.platform.openapi import document_platform

            document_platform(document)
            paths, schemes = oauth_paths()
            document["paths"] = {**paths, **document.get("paths", {})}
            document.setdefault("components", {}).setdefault("securitySchemes", {}).update(schemes)
            framework.openapi_schema = document
        return framework.openapi_schema

    framework.openapi = openapi  # type: ignore[method-assign]


def install_admin_ui(framework: FastAPI) -> None:
    """The administration pages: every feature's page router, the templates they render, and
    the shared error handlers and static files."""
    features = (
        admins_pages,
        apicredentials_pages,
        connectors_pages,
        outbound_pages,
        classic_pages,
    )
    install_page_handlers(framework, templates=[feature.TEMPLATES for feature in features])
    for feature in features:
        framework.include_router(feature.router)


def create_served_app() -> CredgateApp:
    """The application as ``credgate serve`` runs it in each worker process."""
    return create_app(serving=True)


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    bootstrap: bool = False,
    serving: bool = False,
) -> CredgateApp:
    """The application. ``serving``: this process serves it for its whole life (``credgate
    serve``), so what start-up built is frozen out of the garbage collector's way once the caches
    are warm (credgate.core.heap)."""
    if container is None:
        from credgate.core.config import load_settings

        container = Container.open(settings or load_settings(), bootstrap=bootstrap)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(container.run_sync_loop(stop), name="credgate-sync")
        # Queued NQL exports (also those a stopped node left) and expired results files.
        exports = asyncio.create_task(container.platform.exports.run(stop), name="credgate-exports")
        # The newest clients and the platform definitions, so first requests need not load them.
        warm = asyncio.create_task(container.warm(), name="credgate-warm")
        if serving:
            warm.add_done_callback(lambda _: log.info("heap settled", extra={"frozen": settle()}))
        tasks = [task, exports, warm]
        if container.settings.worker_in_serve:  # the outbound worker: webhooks and exporters
            worker = container.outbound.worker.run(stop)
            tasks.append(asyncio.create_task(worker, name="credgate-outbound"))
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    framework = FastAPI(
        title="credgate",
        version=__version__,
        summary="Integration credentials: OAuth 2.0 API credentials inbound, connector credentials outbound.",
        lifespan=lifespan,
        # credgate serves /docs itself (credgate.web.docs): no CDN, no inline script.
        docs_url=None,
        redoc_url=None,
    )
    framework.state.container = container
    setattr(framework.state, APP_STATE_SERVICES, container.services)
    setattr(framework.state, APP_STATE_GUARD, container.bearer_guard)
    _document_lean_routes(framework)
    install_error_handlers(framework)
    framework.include_router(admin_router)
    framework.include_router(api_credentials_router)
    framework.include_router(connectors_router)

    from credgate.platform.api import router as platform_admin_router
    from credgate.platform.routes import install_platform

    framework.include_router(platform_admin_router)
    from credgate.outbound.api import router as outbound_router

    framework.include_router(outbound_router)
    install_platform(framework)

    from credgate.classic import routes as classic_routes
    from credgate.classic.api import router as engines_router
    from credgate.users.api import router as users_router

    framework.include_router(users_router)
    framework.include_router(engines_router)
    classic_routes.check_paths()
    framework.include_router(classic_routes.router)

    install_admin_ui(framework)
    install_api_docs(framework)
    return CredgateApp(container, framework)
