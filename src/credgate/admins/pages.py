"""Administration → sign-in, your account (admin API tokens, password), administrators, signing
keys and the audit log.

Thin views over :class:`AdminService`. A new token, or another administrator's new password, is
shown once, in the answer to the form (the pages are ``no-store``), never in a URL or a cookie.
Creating a token and resetting a password ask for the signed-in administrator's password: the
session cookie alone is not enough to mint a credential that outlives it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import String, select

from credgate.admins.guard import PasswordAttemptsExceeded, password_checked
from credgate.admins.interfaces import AdminLogins, SigningKeys
from credgate.admins.services import AdminIdentity, AdminService, IssuedAdminToken
from credgate.core.audit.models import AuditEvent
from credgate.core.audit.services import Actor, record
from credgate.core.config import Settings
from credgate.core.db import Base, Database
from credgate.core.errors import ConflictError, FieldError, InvalidInputError, NotFoundError
from credgate.core.services import provided
from credgate.security.lockout import TooManyAttempts
from credgate.security.throttle import AuthThrottle
from credgate.web.api import SESSION_COOKIE
from credgate.web.pages import (
    CSRF_COOKIE,
    LOGIN_CSRF_COOKIE,
    PREFIX,
    LoginRequired,
    UiSession,
    act_posted,
    check_login_csrf,
    client_address,
    field_errors,
    form_text,
    list_view,
    missing,
    new_login_csrf,
    read_form,
    redirect,
    render,
    require_post,
    require_session,
    ui_actor,
)

__all__ = ["TEMPLATES", "router", "token_lifetimes"]

TEMPLATES = "credgate.admins"
"""The package whose ``templates/`` folder holds these pages' templates."""

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Admins = Annotated[AdminService, Depends(provided(AdminService))]
Config = Annotated[Settings, Depends(provided(Settings))]
Logins = Annotated[AdminLogins, Depends(provided(AdminLogins))]
Throttle = Annotated[AuthThrottle, Depends(provided(AuthThrottle))]
Keys = Annotated[SigningKeys, Depends(provided(SigningKeys))]
Db = Annotated[Database, Depends(provided(Database))]

_NOTICES = {
    "rotated": "A new signing key is active; the previous one stays published.",
    "signed-out": "You are signed out.",
    "token-revoked": "Admin API token revoked.",
    "password-changed": "Password changed. Your other sessions have ended.",
    "disabled": "Administrator disabled. Their sessions have ended; their tokens are refused.",
    "enabled": "Administrator enabled.",
}
_LIFETIMES = (1, 7, 30, 90, 180, 365)
_T = TypeVar("_T")


def _notice(request: Request) -> str:
    return _NOTICES.get(request.query_params.get("notice", ""), "")


def _admin(session: UiSession) -> AdminIdentity:
    """The signed-in administrator as the admins' service knows them."""
    if not isinstance(session.admin, AdminIdentity):  # pragma: no cover - sessions are ours
        raise LoginRequired
    return session.admin


async def _as_me(
    request: Request,
    session: UiSession,
    throttle: AuthThrottle,
    call: Callable[[AdminIdentity, Actor], _T],
) -> _T:
    """``call`` as the signed-in administrator, whose password it checks: throttled."""
    admin, actor = _admin(session), ui_actor(request, session)
    return await password_checked(throttle, admin.username, lambda: call(admin, actor))


# Sign-in ---------------------------------------------------------------------------------------


def _safe_next(value: str) -> str:
    """Only a path of these pages: never another site (an open redirect)."""
    if value.startswith(f"{PREFIX}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{PREFIX}/api-credentials"


def _login_page(
    request: Request, settings: Settings, *, username: str = "", error: str = "", status: int = 200
) -> Response:
    token = new_login_csrf()
    response = render(
        "admins/login.html",
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
        secure=settings.secure_cookies,
        path=f"{PREFIX}/login",
    )
    return response


@router.get("")
@router.get("/")
async def home() -> Response:
    return redirect(f"{PREFIX}/api-credentials")


@router.get("/login")
async def login_form(request: Request, settings: Config) -> Response:
    return _login_page(request, settings)


@router.post("/login")
async def login(request: Request, admins: Admins, logins: Logins, settings: Config) -> Response:
    form = await read_form(request)
    check_login_csrf(request, form)
    username = form_text(form, "username").strip()[:100]
    password = form_text(form, "password")[:1000]
    if not username or not password:
        return _login_page(
            request,
            settings,
            username=username,
            error="Enter your username and password.",
            status=422,
        )
    try:
        identity = await logins.guard.sign_in(
            username,
            client_address(request),
            lambda: anyio.to_thread.run_sync(admins.check_password, username, password),
        )
    except TooManyAttempts as exc:
        response = _login_page(
            request,
            settings,
            username=username,
            error=f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
            status=429,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if identity is None:
        return _login_page(
            request, settings, username=username, error="Wrong username or password.", status=401
        )
    new = await anyio.to_thread.run_sync(admins.open_session, identity)
    response = redirect(_safe_next(form_text(form, "next")))
    for name, value in ((SESSION_COOKIE, new.session_id), (CSRF_COOKIE, new.csrf_token)):
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            max_age=12 * 3600,
            path="/",
        )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout")
async def logout(request: Request, admins: Admins) -> Response:
    await require_post(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    await anyio.to_thread.run_sync(admins.close_session, session_id)
    response = redirect(f"{PREFIX}/login?notice=signed-out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


# Your account ----------------------------------------------------------------------------------


def token_lifetimes(settings: Settings) -> list[int]:
    """The lifetimes (days) offered: the usual ones up to the maximum, plus default and max."""
    days = {d for d in _LIFETIMES if d <= settings.admin_token_max_days}
    days |= {settings.admin_token_default_days, settings.admin_token_max_days}
    return sorted(days)


def _too_many(exc: PasswordAttemptsExceeded) -> list[dict[str, str]]:
    message = f"too many wrong passwords; try again in {exc.retry_after} seconds"
    return field_errors([FieldError("password", message)])


async def _account_page(
    request: Request,
    session: UiSession,
    admins: AdminService,
    settings: Settings,
    *,
    status: int = 200,
    created: IssuedAdminToken | None = None,
    token_errors: list[dict[str, str]] | None = None,
    password_errors: list[dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    username = session.admin.username
    listing, paging_errors = await list_view(
        request, "/account", lambda wanted: admins.tokens_page(wanted, username)
    )
    if paging_errors and status == 200:
        status = 422
    context = {
        "nav": "account",
        "listing": listing,
        "list_errors": paging_errors,
        "tokens": listing.page.items,
        "lifetimes": token_lifetimes(settings),
        "default_days": settings.admin_token_default_days,
        "created": created,
        "token_errors": token_errors or [],
        "password_errors": password_errors or [],
        "values": values or {"name": "", "expires_days": ""},
        "notice": _notice(request),
    }
    return render("admins/account.html", context, session=session, status=status)


@router.get("/account")
async def account(request: Request, admins: Admins, settings: Config) -> Response:
    session = await require_session(request)
    return await _account_page(request, session, admins, settings)


@router.post("/account/tokens")
async def create_token(
    request: Request, admins: Admins, settings: Config, throttle: Throttle
) -> Response:
    session, form = await require_post(request)
    values = {
        "name": form_text(form, "name")[:200],
        "expires_days": form_text(form, "expires_days"),
    }
    password = form_text(form, "password")[:1000]
    days = values["expires_days"] or str(settings.admin_token_default_days)
    if not days.isdigit() or int(days) not in token_lifetimes(settings):
        errors = field_errors([FieldError("expires_in", "choose one of the lifetimes offered")])
        return await _account_page(
            request, session, admins, settings, status=422, token_errors=errors, values=values
        )
    ttl = dt.timedelta(days=int(days))
    try:
        issued = await _as_me(
            request,
            session,
            throttle,
            lambda admin, actor: admins.mint_token(
                admin, values["name"], actor=actor, ttl=ttl, password=password
            ),
        )
    except (InvalidInputError, ConflictError) as exc:
        errors = field_errors(exc.errors)
        return await _account_page(
            request, session, admins, settings, status=422, token_errors=errors, values=values
        )
    except PasswordAttemptsExceeded as exc:
        response = await _account_page(
            request,
            session,
            admins,
            settings,
            status=429,
            token_errors=_too_many(exc),
            values=values,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await _account_page(request, session, admins, settings, created=issued)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: int, admins: Admins) -> Response:
    return await act_posted(
        request,
        lambda actor: admins.revoke_token(token_id, actor=actor),
        f"{PREFIX}/account?notice=token-revoked",
        "admin API token",
        "revoked",
    )


@router.post("/account/password")
async def change_password(
    request: Request, admins: Admins, settings: Config, throttle: Throttle
) -> Response:
    session, form = await require_post(request)
    current = form_text(form, "current_password")[:1000]
    new = form_text(form, "new_password")[:1000]
    if new != form_text(form, "new_password_confirm")[:1000]:
        errors = field_errors([FieldError("new_password_confirm", "does not match the new one")])
        return await _account_page(
            request, session, admins, settings, status=422, password_errors=errors
        )
    try:
        await _as_me(
            request,
            session,
            throttle,
            lambda admin, actor: admins.change_password(
                admin.username, current, new, actor=actor, keep_session=admin.session_hash
            ),
        )
    except InvalidInputError as exc:
        errors = field_errors(exc.errors)
        return await _account_page(
            request, session, admins, settings, status=422, password_errors=errors
        )
    except PasswordAttemptsExceeded as exc:
        response = await _account_page(
            request, session, admins, settings, status=429, password_errors=_too_many(exc)
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return redirect(f"{PREFIX}/account?notice=password-changed")


# Administrators --------------------------------------------------------------------------------


async def _admins_page(
    request: Request,
    session: UiSession,
    admins: AdminService,
    *,
    status: int = 200,
    errors: list[dict[str, str]] | None = None,
    reset: tuple[str, str] | None = None,
) -> Response:
    listing, paging_errors = await list_view(request, "/administrators", admins.admins_page)
    context = {
        "nav": "admins",
        "listing": listing,
        "admins": listing.page.items,
        "errors": (errors or []) + paging_errors,
        "reset": reset,
        "notice": _notice(request),
    }
    if paging_errors and status == 200:
        status = 422
    return render("admins/administrators.html", context, session=session, status=status)


@router.get("/administrators")
async def administrators(request: Request, admins: Admins) -> Response:
    session = await require_session(request)
    return await _admins_page(request, session, admins)


async def _set_disabled(
    request: Request, admins: AdminService, username: str, disabled: bool
) -> Response:
    session, _form = await require_post(request)
    actor = ui_actor(request, session)
    try:
        with missing("administrator", "revoked"):
            await anyio.to_thread.run_sync(
                lambda: admins.set_disabled(username, disabled, actor=actor)
            )
    except ConflictError as exc:
        return await _admins_page(
            request, session, admins, status=409, errors=field_errors(exc.errors)
        )
    return redirect(f"{PREFIX}/administrators?notice={'disabled' if disabled else 'enabled'}")


@router.post("/administrators/{username}/disable")
async def disable_admin(request: Request, username: str, admins: Admins) -> Response:
    return await _set_disabled(request, admins, username, True)


@router.post("/administrators/{username}/enable")
async def enable_admin(request: Request, username: str, admins: Admins) -> Response:
    return await _set_disabled(request, admins, username, False)


@router.post("/administrators/reset-password")
async def reset_password(request: Request, admins: Admins, throttle: Throttle) -> Response:
    session, form = await require_post(request)
    username = form_text(form, "username")[:100]
    password = form_text(form, "password")[:1000]
    try:
        new = await _as_me(
            request,
            session,
            throttle,
            lambda admin, actor: admins.reset_password(
                username, actor=actor, caller=admin, caller_password=password
            ),
        )
    except NotFoundError:
        problem = (
            f"no administrator is called {username!r}" if username else "name an administrator"
        )
        errors = field_errors([FieldError("username", problem)])
        return await _admins_page(request, session, admins, status=422, errors=errors)
    except InvalidInputError as exc:
        return await _admins_page(
            request, session, admins, status=422, errors=field_errors(exc.errors)
        )
    except PasswordAttemptsExceeded as exc:
        response = await _admins_page(request, session, admins, status=429, errors=_too_many(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return await _admins_page(request, session, admins, reset=(username, new))


# Signing keys ----------------------------------------------------------------------------------


@router.get("/signing-keys")
async def signing_keys(request: Request, keys: Keys, settings: Config) -> Response:
    session = await require_session(request)
    current = keys.current()
    context = {
        "nav": "keys",
        "keys": sorted(current.published, key=lambda k: k.generation, reverse=True),
        "active_kid": current.active.kid,
        "notice": _notice(request),
        "rotation_days": settings.key_rotation_days,
    }
    return render("admins/signing_keys.html", context, session=session)


@router.post("/signing-keys/rotate")
async def rotate_signing_key(request: Request, keys: Keys, db: Db) -> Response:
    session, _form = await require_post(request)
    actor = ui_actor(request, session)

    def rotate() -> None:
        kid = keys.rotate()
        with db.session() as db_session:
            record(db_session, actor, "signing_key.rotate", "signing_key", kid)

    await anyio.to_thread.run_sync(rotate)
    return redirect(f"{PREFIX}/signing-keys?notice=rotated")


# Audit log -------------------------------------------------------------------------------------

_AUDIT_LIMIT = 200


def _audit_events(db: Database, filters: dict[str, str]) -> list[AuditEvent]:
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
    with db.session() as session:
        events = list(session.scalars(query).all())
        session.expunge_all()
        return events


def _object_names(db: Database, events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """The current name of each object the events name, by (type, id); a deleted object has
    none. Each type's table is ``<type>s``, keyed by a text ``client_id``, ``id`` or ``username``,
    with a ``name`` (or ``username``): found from the schema, so this page knows no feature."""
    wanted: dict[str, set[str]] = {}
    for event in events:
        wanted.setdefault(event.object_type, set()).add(event.object_id)
    names: dict[tuple[str, str], str] = {}
    with db.session() as session:
        for object_type, ids in wanted.items():
            table = Base.metadata.tables.get(f"{object_type}s")
            if table is None:
                continue
            # Audit entries name objects by a text id; an integer key is not that id.
            key = next(
                (
                    table.c[k]
                    for k in ("client_id", "id", "username")
                    if k in table.c and isinstance(table.c[k].type, String)
                ),
                None,
            )
            name = next((table.c[n] for n in ("name", "username") if n in table.c), None)
            if key is None or name is None:
                continue
            for found_id, found_name in session.execute(
                select(key, name).where(key.in_(sorted(ids)))
            ):
                names[(object_type, str(found_id))] = str(found_name)
    return names


@router.get("/audit")
async def audit_log(request: Request, db: Db) -> Response:
    session = await require_session(request)
    filters = {
        name: request.query_params.get(name, "").strip()[:200]
        for name in ("action", "actor", "object")
    }
    events = await anyio.to_thread.run_sync(_audit_events, db, filters)
    names = await anyio.to_thread.run_sync(_object_names, db, events)
    context = {
        "nav": "audit",
        "events": events,
        "names": names,
        "filters": filters,
        "limit": _AUDIT_LIMIT,
    }
    return render("admins/audit.html", context, session=session)
