"""The admin REST API's shared parts: error rendering, the administrator dependency, CSRF.

Every error answers JSON ``{"error": code, "message": text, "errors": [{"field", "message"}]}``
and names the field at fault; a request never gets a 500 for bad input.

Admin credentials are checked by whatever the container provides as
:class:`AdminAuthentication` (the administrators' service): this module knows no feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol, cast

import anyio.to_thread
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import URL
from starlette.exceptions import HTTPException as StarletteHTTPException

from credgate.core import proxies
from credgate.core.asgi import ASGIApp, Scope
from credgate.core.audit.services import Actor
from credgate.core.config import Settings
from credgate.core.errors import CredgateError
from credgate.core.ingress import Gate
from credgate.core.paging import MAX_LIMIT, Page, PageRequest
from credgate.core.services import provided

__all__ = [
    "AdminActor",
    "AdminAuthentication",
    "Administrator",
    "AppSettings",
    "CurrentAdmin",
    "Paging",
    "admin_gate",
    "client_address",
    "install_error_handlers",
    "page_answer",
]

SESSION_COOKIE = "credgate_session"
CSRF_HEADER = "x-csrf-token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_ADMIN_SCOPE_KEY = "credgate.admin"
"""Where :func:`admin_gate` leaves the administrator it authenticated, for :func:`require_admin`."""


class Administrator(Protocol):
    """Who an admin API request acts as."""

    @property
    def username(self) -> str: ...


class AdminAuthentication(Protocol):
    """How an admin API token, a session and its CSRF token are checked: what the
    administrators' service offers (:class:`credgate.admins.services.AdminService`)."""

    def check_token(self, token: str) -> Administrator | None: ...

    def check_session(self, session_id: str) -> Administrator | None: ...

    def check_csrf(self, identity: Any, csrf_token: str | None) -> bool:
        """Whether ``csrf_token`` was issued with the session of ``identity`` (an answer of
        :meth:`check_session`)."""
        ...


AppSettings = Annotated[Settings, Depends(provided(Settings))]
_authentication = provided(AdminAuthentication)  # type: ignore[type-abstract]
Authentication = Annotated[AdminAuthentication, Depends(_authentication)]


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def client_address(request: Request, trusted_proxies: Sequence[proxies.Network]) -> str:
    return proxies.client_address(request.scope, trusted_proxies)


def require_admin(request: Request, authentication: Authentication) -> Administrator:
    """An admin API token (``Authorization: Bearer cgat_…``) or a session cookie.

    A session also needs the ``X-CSRF-Token`` header on every state-changing request: a cookie
    is sent by the browser on its own, the header only by credgate's own pages.
    """
    checked = request.scope.get(_ADMIN_SCOPE_KEY)
    if checked is not None:
        return cast(Administrator, checked)  # the gate checked these very headers already
    return _authenticate_admin(request, authentication)


def admin_gate(authentication: AdminAuthentication) -> Gate:
    """The admin API's gate (:mod:`credgate.core.ingress`): the credentials, before any body."""

    async def gate(scope: Scope) -> ASGIApp | None:
        request = Request(scope)
        try:
            identity = await anyio.to_thread.run_sync(_authenticate_admin, request, authentication)
        except ApiError as exc:
            return _error(exc.status, exc.code, exc.message, headers=exc.headers)
        scope[_ADMIN_SCOPE_KEY] = identity
        return None

    return gate


def _authenticate_admin(request: Request, authentication: AdminAuthentication) -> Administrator:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value:
        identity = authentication.check_token(value.strip())
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
        identity = authentication.check_session(session_id)
        if identity is not None:
            if request.method not in _SAFE and not authentication.check_csrf(
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


CurrentAdmin = Annotated[Administrator, Depends(require_admin)]


async def _admin_actor(request: Request, admin: CurrentAdmin, settings: AppSettings) -> Actor:
    return Actor(name=admin.username, source=client_address(request, settings.trusted_proxies))


AdminActor = Annotated[Actor, Depends(_admin_actor)]
"""The signed-in administrator and the address they call from, as the audit trail names them."""


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


# Lists ------------------------------------------------------------------------------------------


def _page_request(
    limit: Annotated[str | None, Query(description=f"Rows per page, 1-{MAX_LIMIT}.")] = None,
    cursor: Annotated[
        str | None, Query(description="The `next_cursor` of the page before.")
    ] = None,
    q: Annotated[str | None, Query(description="Find this text in the name or id.")] = None,
) -> PageRequest:
    return PageRequest.parse(limit, cursor, q)


Paging = Annotated[PageRequest, Depends(_page_request)]
"""The ``limit``, ``cursor`` and ``q`` query parameters of a REST list."""


def page_answer(url: URL, page: Page[Any]) -> dict[str, Any]:
    """The REST shape of a page: ``items``, ``total``, ``limit`` and the ``next`` page's link."""
    following = None
    if page.next_cursor is not None:
        following = str(url.include_query_params(cursor=page.next_cursor, limit=page.limit))
    return {
        "total": page.total,
        "limit": page.limit,
        "next_cursor": page.next_cursor,
        "next": following,
        "items": page.items,
    }
