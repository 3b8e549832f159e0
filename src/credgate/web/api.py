"""The admin REST API application: error rendering and the administrator dependency.

Every error answers JSON ``{"error": code, "message": text, "errors": [{"field", "message"}]}``
and names the field at fault; a request never gets a 500 for bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from credgate.admins.services import AdminIdentity
from credgate.container import Container
from credgate.core import proxies
from credgate.core.asgi import ASGIApp, Scope
from credgate.core.audit.services import Actor
from credgate.core.errors import CredgateError
from credgate.core.ingress import Gate

__all__ = [
    "ContainerDep",
    "CurrentAdmin",
    "admin_actor",
    "admin_gate",
    "client_address",
    "install_error_handlers",
]

SESSION_COOKIE = "credgate_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_ADMIN_SCOPE_KEY = "credgate.admin"
"""Where :func:`admin_gate` leaves the administrator it authenticated, for :func:`require_admin`."""


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def client_address(request: Request, trusted_proxies: Sequence[proxies.Network]) -> str:
    return proxies.client_address(request.scope, trusted_proxies)


def require_admin(request: Request, container: ContainerDep) -> AdminIdentity:
    """An admin API token (``Authorization: Bearer cgat_…``) or a session cookie.

    A session also needs the ``X-CSRF-Token`` header on every state-changing request: a cookie
    is sent by the browser on its own, the header only by credgate's own pages.
    """
    checked = request.scope.get(_ADMIN_SCOPE_KEY)
    if isinstance(checked, AdminIdentity):
        return checked  # the gate checked these very headers before the body was read
    return _authenticate_admin(request, container)


def admin_gate(container: Container) -> Gate:
    """The admin API's gate (:mod:`credgate.core.ingress`): the credentials, before any body."""

    async def gate(scope: Scope) -> ASGIApp | None:
        request = Request(scope)
        try:
            identity = await anyio.to_thread.run_sync(_authenticate_admin, request, container)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message, headers=exc.headers)
        scope[_ADMIN_SCOPE_KEY] = identity
        return None

    return gate


def _authenticate_admin(request: Request, container: Container) -> AdminIdentity:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        identity = container.admins.check_token(value.strip())
        if identity is None:
            raise ApiError(
                401,
                "unauthenticated",
                "the admin API token is invalid or expired",
                {"WWW-Authenticate": 'Bearer realm="credgate-admin"'},
            )
        return identity
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        identity = container.admins.check_session(session_id)
        if identity is not None:
            if request.method not in _SAFE and not container.admins.check_csrf(
                identity, request.headers.get(CSRF_HEADER)
            ):
                raise ApiError(403, "csrf_failed", "missing or wrong X-CSRF-Token header")
            return identity
    raise ApiError(
        401,
        "unauthenticated",
        "sign in, or send an admin API token as a Bearer token",
        {"WWW-Authenticate": 'Bearer realm="credgate-admin"'},
    )


CurrentAdmin = Annotated[AdminIdentity, Depends(require_admin)]


def admin_actor(request: Request, container: Container, admin: AdminIdentity) -> Actor:
    return Actor(
        name=admin.username, source=client_address(request, container.settings.trusted_proxies)
    )


def _error(
    status: int,
    code: str,
    message: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CredgateError)
    async def _credgate(_request: Request, exc: CredgateError) -> JSONResponse:
        errors = [e.as_dict() for e in getattr(exc, "errors", [])] or None
        return _error(exc.status, exc.code, str(exc), errors)

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for item in exc.errors():
            message = str(item.get("msg", "is not valid"))
            field = _field_name(tuple(item.get("loc", ())))
            if item.get("type") == "json_invalid":
                # its location holds a character offset, not a field: the body is at fault
                message, field = "the body is not valid JSON", "body"
            errors.append({"field": field, "message": message})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return _error(422, "invalid_input", summary, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        errors = [{"field": "body", "message": exc.detail}] if exc.status_code == 413 else None
        return _error(exc.status_code, code, str(exc.detail), errors, getattr(exc, "headers", None))
