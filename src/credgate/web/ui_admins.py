"""Administration → Your account (admin API tokens, password) and Administrators.

Thin views over ``container.admins``. A new token, or another administrator's new password, is
shown once, in the answer to the form (the pages are ``no-store``), never in a URL or a cookie.
Creating a token and resetting a password ask for the signed-in administrator's password: the
session cookie alone is not enough to mint a credential that outlives it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from credgate.admins.guard import PasswordAttemptsExceeded, password_checked
from credgate.admins.services import IssuedAdminToken
from credgate.container import Container
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.web.pages import (
    PREFIX,
    UiSession,
    container_of,
    field_errors,
    form_text,
    redirect,
    render,
    require_post,
    require_session,
    ui_actor,
)

__all__ = ["router", "token_lifetimes"]

router = APIRouter(prefix=PREFIX, include_in_schema=False)

_NOTICES = {
    "token-revoked": "Admin API token revoked.",
    "password-changed": "Password changed. Your other sessions have ended.",
    "disabled": "Administrator disabled. Their sessions have ended; their tokens are refused.",
    "enabled": "Administrator enabled.",
}
_LIFETIMES = (1, 7, 30, 90, 180, 365)


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("notice", ""), "")


def token_lifetimes(container: Container) -> list[int]:
    """The lifetimes (days) offered: the usual ones up to the maximum, plus default and max."""
    settings = container.settings
    days = {d for d in _LIFETIMES if d <= settings.admin_token_max_days}
    days |= {settings.admin_token_default_days, settings.admin_token_max_days}
    return sorted(days)


def _too_many(exc: PasswordAttemptsExceeded) -> list[dict[str, str]]:
    message = f"too many wrong passwords; try again in {exc.retry_after} seconds"
    return field_errors([FieldError("password", message)])


# Your account ----------------------------------------------------------------------------------


def _account_context(
    request: Request,
    container: Container,
    session: UiSession,
    *,
    created: IssuedAdminToken | None = None,
    token_errors: list[dict[str, str]] | None = None,
    password_errors: list[dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "nav": "account",
        "tokens": container.admins.list_tokens(session.admin.username),
        "lifetimes": token_lifetimes(container),
        "default_days": container.settings.admin_token_default_days,
        "created": created,
        "token_errors": token_errors or [],
        "password_errors": password_errors or [],
        "values": values or {"name": "", "expires_days": ""},
        "notice": _notice(request),
    }


async def _account_page(
    request: Request, session: UiSession, *, status: int = 200, **extra: Any
) -> Response:
    container = container_of(request)
    context = await anyio.to_thread.run_sync(
        lambda: _account_context(request, container, session, **extra)
    )
    return render("account.html", context, session=session, status=status)


@router.get("/account")
async def account(request: Request) -> Response:
    session = await require_session(request)
    return await _account_page(request, session)


@router.post("/account/tokens")
async def create_token(request: Request) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    values = {
        "name": form_text(form, "name")[:200],
        "expires_days": form_text(form, "expires_days"),
    }
    password = form_text(form, "password")[:1000]
    days = values["expires_days"] or str(container.settings.admin_token_default_days)
    if not days.isdigit() or int(days) not in token_lifetimes(container):
        errors = field_errors([FieldError("expires_in", "choose one of the lifetimes offered")])
        return await _account_page(request, session, status=422, token_errors=errors, values=values)
    actor = ui_actor(request, session)
    try:
        issued = await password_checked(
            container.throttle,
            session.admin.username,
            lambda: container.admins.mint_token(
                session.admin,
                values["name"],
                actor=actor,
                ttl=dt.timedelta(days=int(days)),
                password=password,
            ),
        )
    except (InvalidInputError, ConflictError) as exc:
        errors = field_errors(exc.errors)
        return await _account_page(request, session, status=422, token_errors=errors, values=values)
    except PasswordAttemptsExceeded as exc:
        response = await _account_page(
            request, session, status=429, token_errors=_too_many(exc), values=values
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await _account_page(request, session, created=issued)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int) -> Response:
    session, _form = await require_post(request)
    container = container_of(request)
    try:
        await anyio.to_thread.run_sync(
            lambda: container.admins.revoke_token(token_id, actor=ui_actor(request, session))
        )
    except NotFoundError:
        return _not_found(session, "admin API token")
    return redirect(f"{PREFIX}/account?notice=token-revoked")


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    current = form_text(form, "current_password")[:1000]
    new = form_text(form, "new_password")[:1000]
    if new != form_text(form, "new_password_confirm")[:1000]:
        errors = field_errors([FieldError("new_password_confirm", "does not match the new one")])
        return await _account_page(request, session, status=422, password_errors=errors)
    actor = ui_actor(request, session)
    try:
        await password_checked(
            container.throttle,
            session.admin.username,
            lambda: container.admins.change_password(
                session.admin.username,
                current,
                new,
                actor=actor,
                keep_session=session.admin.session_hash,
            ),
        )
    except InvalidInputError as exc:
        errors = field_errors(exc.errors)
        return await _account_page(request, session, status=422, password_errors=errors)
    except PasswordAttemptsExceeded as exc:
        response = await _account_page(request, session, status=429, password_errors=_too_many(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return redirect(f"{PREFIX}/account?notice=password-changed")


def _not_found(session: UiSession, what: str) -> Response:
    return render(
        "error.html",
        {"title": "Not found", "message": f"There is no {what} with this id. It may be revoked."},
        session=session,
        status=404,
    )


# Administrators --------------------------------------------------------------------------------


async def _admins_page(
    request: Request,
    session: UiSession,
    *,
    status: int = 200,
    errors: list[dict[str, str]] | None = None,
    reset: tuple[str, str] | None = None,
) -> Response:
    container = container_of(request)
    admins = await anyio.to_thread.run_sync(container.admins.list_admins)
    context = {
        "nav": "admins",
        "admins": admins,
        "errors": errors or [],
        "reset": reset,
        "notice": _notice(request),
    }
    return render("administrators.html", context, session=session, status=status)


@router.get("/administrators")
async def administrators(request: Request) -> Response:
    session = await require_session(request)
    return await _admins_page(request, session)


async def _set_disabled(request: Request, username: str, disabled: bool) -> Response:
    session, _form = await require_post(request)
    container = container_of(request)
    actor = ui_actor(request, session)
    try:
        await anyio.to_thread.run_sync(
            lambda: container.admins.set_disabled(username, disabled, actor=actor)
        )
    except NotFoundError:
        return _not_found(session, "administrator")
    except ConflictError as exc:
        return await _admins_page(request, session, status=409, errors=field_errors(exc.errors))
    return redirect(f"{PREFIX}/administrators?notice={'disabled' if disabled else 'enabled'}")


@router.post("/administrators/{username}/disable")
async def disable_admin(request: Request, username: str) -> Response:
    return await _set_disabled(request, username, True)


@router.post("/administrators/{username}/enable")
async def enable_admin(request: Request, username: str) -> Response:
    return await _set_disabled(request, username, False)


@router.post("/administrators/reset-password")
async def reset_password(request: Request) -> Response:
    session, form = await require_post(request)
    container = container_of(request)
    username = form_text(form, "username")[:100]
    password = form_text(form, "password")[:1000]
    actor = ui_actor(request, session)
    try:
        new = await password_checked(
            container.throttle,
            session.admin.username,
            lambda: container.admins.reset_password(
                username, actor=actor, caller=session.admin, caller_password=password
            ),
        )
    except NotFoundError:
        errors = field_errors([FieldError("username", "choose an administrator")])
        return await _admins_page(request, session, status=422, errors=errors)
    except InvalidInputError as exc:
        return await _admins_page(request, session, status=422, errors=field_errors(exc.errors))
    except PasswordAttemptsExceeded as exc:
        response = await _admins_page(request, session, status=429, errors=_too_many(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await _admins_page(request, session, reset=(username, new))
