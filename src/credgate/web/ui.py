"""The administration pages: sign-in, API credentials, signing keys and the audit log.

Thin views: read the form, call the service, render a template. Connector credentials have
their own module (:mod:`credgate.web.ui_connectors`). ``install_admin_ui`` adds everything to
the application.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import select

from credgate.apicredentials.services import CreatedSecret, CredentialView
from credgate.container import Container
from credgate.core.audit.models import AuditEvent
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.core.permissions import BY_ID, CATALOGUE
from credgate.security.lockout import TooManyAttempts
from credgate.web.api import SESSION_COOKIE, client_address
from credgate.web.pages import (
    CSRF_COOKIE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    check_login_csrf,
    container_of,
    field_errors,
    form_list,
    form_text,
    install_page_handlers,
    new_login_csrf,
    read_form,
    redirect,
    render,
    require_post,
    require_session,
    secure_cookies,
    ui_actor,
)
from credgate.web.ui_admins import router as admins_router
from credgate.web.ui_connectors import router as connectors_router
from credgate.web.ui_outbound import router as outbound_router

__all__ = ["OVERLAP_CHOICES", "install_admin_ui", "router"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: Overlap windows offered when a secret is regenerated: (seconds, label).
OVERLAP_CHOICES: tuple[tuple[int, str], ...] = (
    (0, "None: the old secret stops working now"),
    (3600, "1 hour"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
)
_NOTICES = {
    "updated": "API credential saved.",
    "deleted": "API credential deleted.",
    "rotated": "A new signing key is active; the previous one stays published.",
    "signed-out": "You are signed out.",
}
_AUDIT_LIMIT = 200


def install_admin_ui(framework: FastAPI) -> None:
    """Mount the administration pages, their static files and their error handlers."""
    install_page_handlers(framework)
    framework.include_router(router)
    framework.include_router(connectors_router)
    framework.include_router(outbound_router)
    framework.include_router(admins_router)


def _safe_next(value: str) -> str:
    """Only a path of these pages: never another site (an open redirect)."""
    if value.startswith(f"{PREFIX}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/api-credentials"


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("notice", ""), "")


# Sign-in ---------------------------------------------------------------------------------------


def _login_page(
    request: Request, *, username: str = "", error: str = "", status: int = 200
) -> Response:
    token = new_login_csrf()
    response = render(
        "login.html",
        {
            "login_csrf": token,
            "username": username,
            "login_error": error,
            "next": _safe_next(request.query_params.get("next", "")),
            "notice": _notice(request),
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(container_of(request)),
        path=f"{PREFIX}/login",
    )
    return response


@router.get("")
@router.get("/")
async def home() -> Response:
    return redirect(f"{PREFIX}/api-credentials")


@router.get("/login")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    container = container_of(request)
    form = await read_form(request)
    check_login_csrf(request, form)
    username = form_text(form, "username").strip()[:100]
    password = form_text(form, "password")[:1000]
    if not username or not password:
        return _login_page(
            request, username=username, error="Enter your username and password.", status=422
        )
    address = client_address(request, container.settings.trusted_proxies)
    try:
        identity = await container.admin_logins.sign_in(
            username,
            address,
            lambda: anyio.to_thread.run_sync(container.admins.check_password, username, password),
        )
    except TooManyAttempts as exc:
        return _too_many(request, username, exc.retry_after)
    if identity is None:
        return _login_page(
            request, username=username, error="Wrong username or password.", status=401
        )
    new = await anyio.to_thread.run_sync(container.admins.open_session, identity)
    response = redirect(_safe_next(form_text(form, "next")))
    secure = secure_cookies(container)
    for name, value in ((SESSION_COOKIE, new.session_id), (CSRF_COOKIE, new.csrf_token)):
        response.set_cookie(
            name, value, httponly=True, samesite="lax", secure=secure, max_age=12 * 3600, path="/"
        )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return response


def _too_many(request: Request, username: str, wait: int) -> Response:
    response = _login_page(
        request,
        username=username,
        error=f"Too many failed sign-ins. Try again in {wait} seconds.",
        status=429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await require_post(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    await anyio.to_thread.run_sync(container_of(request).admins.close_session, session_id)
    response = redirect(f"{PREFIX}/login?notice=signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# API credentials -------------------------------------------------------------------------------


def _list_page(request: Request, container: Container, created: CreatedSecret | None = None) -> Any:
    return {
        "nav": "api",
        "credentials": container.api_credentials.list(),
        "by_id": BY_ID,
        "created": created,
        "notice": _notice(request),
    }


@router.get("/api-credentials")
async def api_credentials(request: Request) -> Response:
    session = await require_session(request)
    context = await anyio.to_thread.run_sync(_list_page, request, container_of(request))
    return render("api_credentials.html", context, session=session)


def _form_context(
    values: dict[str, Any], errors: list[dict[str, str]], editing: CredentialView | None
) -> dict[str, Any]:
    return {
        "nav": "api",
        "catalogue": CATALOGUE,
        "values": values,
        "errors": errors,
        "editing": editing,
        "overlap_choices": OVERLAP_CHOICES,
    }


@router.get("/api-credentials/new")
async def new_api_credential(request: Request) -> Response:
    session = await require_session(request)
    values = {"name": "", "description": "", "permissions": [], "disabled": False}
    return render("api_credential_form.html", _form_context(values, [], None), session=session)


def _values(form: Any) -> dict[str, Any]:
    return {
        "name": form_text(form, "name"),
        "description": form_text(form, "description"),
        "permissions": form_list(form, "permissions"),
        "disabled": form_text(form, "disabled") == "on",
    }


def _length_errors(values: dict[str, Any]) -> list[FieldError]:
    # The service checks these too; checking first keeps a huge post from reaching it.
    errors = []
    if len(values["name"]) > 200:
        errors.append(FieldError("name", "must be at most 200 characters"))
    if len(values["description"]) > 2000:
        errors.append(FieldError("description", "must be at most 2000 characters"))
    if len(values["permissions"]) > 50:
        errors.append(FieldError("permissions", "too many permissions"))
    return errors


def _secret_page(
    request: Request, session: Any, created: CreatedSecret, container: Container
) -> Any:
    context = _list_page(request, container, created)
    return render("api_credentials.html", context, session=session)


@router.post("/api-credentials")
async def create_api_credential(request: Request) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    values = _values(form)
    try:
        if problems := _length_errors(values):
            raise InvalidInputError(problems)
        created = await anyio.to_thread.run_sync(
            lambda: container.api_credentials.create(
                name=values["name"],
                description=values["description"],
                permissions=values["permissions"],
                actor=ui_actor(request, session),
            )
        )
    except (InvalidInputError, ConflictError) as exc:
        context = _form_context(values, field_errors(exc.errors), None)
        return render("api_credential_form.html", context, session=session, status=422)
    # The secret is in this one response only: not in a URL, a cookie or a flash message.
    return await anyio.to_thread.run_sync(_secret_page, request, session, created, container)


async def _credential(container: Container, client_id: str) -> CredentialView | None:
    try:
        return await anyio.to_thread.run_sync(container.api_credentials.get, client_id)
    except NotFoundError:
        return None


def _not_found(session: Any, what: str) -> Response:
    return render(
        "error.html",
        {"title": "Not found", "message": f"There is no {what} with this id. It may be deleted."},
        session=session,
        status=404,
    )


@router.get("/api-credentials/{client_id}")
async def edit_api_credential(request: Request, client_id: str) -> Response:
    session = await require_session(request)
    view = await _credential(container_of(request), client_id)
    if view is None:
        return _not_found(session, "API credential")
    values = {
        "name": view.name,
        "description": view.description,
        "permissions": list(view.permissions),
        "disabled": view.disabled,
    }
    return render("api_credential_form.html", _form_context(values, [], view), session=session)


@router.post("/api-credentials/{client_id}")
async def update_api_credential(request: Request, client_id: str) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    view = await _credential(container, client_id)
    if view is None:
        return _not_found(session, "API credential")
    values = _values(form)
    try:
        if problems := _length_errors(values):
            raise InvalidInputError(problems)
        await anyio.to_thread.run_sync(
            lambda: container.api_credentials.update(
                client_id,
                actor=ui_actor(request, session),
                name=values["name"],
                description=values["description"],
                permissions=values["permissions"],
                disabled=values["disabled"],
            )
        )
    except (InvalidInputError, ConflictError) as exc:
        context = _form_context(values, field_errors(exc.errors), view)
        return render("api_credential_form.html", context, session=session, status=422)
    return redirect(f"{PREFIX}/api-credentials?notice=updated")


@router.post("/api-credentials/{client_id}/regenerate")
async def regenerate_api_credential(request: Request, client_id: str) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    view = await _credential(container, client_id)
    if view is None:
        return _not_found(session, "API credential")
    raw = form_text(form, "overlap_seconds") or "0"
    allowed = {str(seconds): seconds for seconds, _ in OVERLAP_CHOICES}
    if raw not in allowed:
        values = {
            "name": view.name,
            "description": view.description,
            "permissions": list(view.permissions),
            "disabled": view.disabled,
        }
        errors = field_errors([FieldError("overlap_seconds", "choose one of the overlap windows")])
        context = _form_context(values, errors, view)
        return render("api_credential_form.html", context, session=session, status=422)
    overlap = dt.timedelta(seconds=allowed[raw])
    created = await anyio.to_thread.run_sync(
        lambda: container.api_credentials.regenerate(
            client_id, actor=ui_actor(request, session), overlap=overlap
        )
    )
    return await anyio.to_thread.run_sync(_secret_page, request, session, created, container)


@router.post("/api-credentials/{client_id}/delete")
async def delete_api_credential(request: Request, client_id: str) -> Response:
    session, _form = await require_post(request)
    container = container_of(request)
    try:
        await anyio.to_thread.run_sync(
            lambda: container.api_credentials.delete(client_id, actor=ui_actor(request, session))
        )
    except NotFoundError:
        return _not_found(session, "API credential")
    return redirect(f"{PREFIX}/api-credentials?notice=deleted")


# Signing keys ----------------------------------------------------------------------------------


@router.get("/signing-keys")
async def signing_keys(request: Request) -> Response:
    session = await require_session(request)
    keys = container_of(request).keys()
    context = {
        "nav": "keys",
        "keys": sorted(keys.published, key=lambda k: k.generation, reverse=True),
        "active_kid": keys.active.kid,
        "notice": _notice(request),
        "rotation_days": container_of(request).settings.key_rotation_days,
    }
    return render("signing_keys.html", context, session=session)


@router.post("/signing-keys/rotate")
async def rotate_signing_key(request: Request) -> Response:
    session, _form = await require_post(request)
    container = container_of(request)

    def rotate() -> None:
        from credgate.core.audit.services import record

        kid = container.rotate_keys()
        with container.db.session() as db_session:
            record(db_session, ui_actor(request, session), "signing_key.rotate", "signing_key", kid)

    await anyio.to_thread.run_sync(rotate)
    return redirect(f"{PREFIX}/signing-keys?notice=rotated")


# Audit log -------------------------------------------------------------------------------------


def _audit_events(container: Container, filters: dict[str, str]) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(_AUDIT_LIMIT)
    if filters["action"]:
        query = query.where(AuditEvent.action.contains(filters["action"], autoescape=True))
    if filters["actor"]:
        query = query.where(AuditEvent.actor.contains(filters["actor"], autoescape=True))
    if filters["object"]:
        text = filters["object"]
        query = query.where(
            AuditEvent.object_id.contains(text, autoescape=True)
            | AuditEvent.object_type.contains(text, autoescape=True)
        )
    with container.db.session() as session:
        events = list(session.scalars(query).all())
        session.expunge_all()
        return events


@router.get("/audit")
async def audit_log(request: Request) -> Response:
    session = await require_session(request)
    filters = {
        name: request.query_params.get(name, "").strip()[:200]
        for name in ("action", "actor", "object")
    }
    events = await anyio.to_thread.run_sync(_audit_events, container_of(request), filters)
    context = {"nav": "audit", "events": events, "filters": filters, "limit": _AUDIT_LIMIT}
    return render("audit.html", context, session=session)
