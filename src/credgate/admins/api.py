"""Admin REST API: sign in and out, administrators and their API tokens, signing keys, the audit
log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import Field

from credgate.admins.guard import PasswordAttemptsExceeded, password_checked
from credgate.admins.interfaces import AdminLogins, SigningKeys
from credgate.admins.services import AdminIdentity, AdminService, AdminTokenView, AdminView
from credgate.core.audit.services import page_events
from credgate.core.db import Database
from credgate.core.paging import Page, PageRequest
from credgate.core.services import provided
from credgate.core.strict import StrictModel
from credgate.security.lockout import TooManyAttempts
from credgate.security.throttle import AuthThrottle
from credgate.web.api import (
    SESSION_COOKIE,
    AdminActor,
    ApiError,
    AppSettings,
    CurrentAdmin,
    Paging,
    client_address,
    page_answer,
    require_admin,
)
from credgate.web.api_lists import page_route

__all__ = ["router"]

router = APIRouter(prefix="/admin/api/v1", tags=["Administration"])

Admins = Annotated[AdminService, Depends(provided(AdminService))]
Logins = Annotated[AdminLogins, Depends(provided(AdminLogins))]
Throttle = Annotated[AuthThrottle, Depends(provided(AuthThrottle))]
Keys = Annotated[SigningKeys, Depends(provided(SigningKeys))]
Db = Annotated[Database, Depends(provided(Database))]
T = TypeVar("T")

Me = Annotated[AdminIdentity, Depends(require_admin)]
"""The signed-in administrator as this feature knows them: the admin API authentication the
container provides is :class:`AdminService`, whose checks answer an :class:`AdminIdentity`."""


class LoginIn(StrictModel):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


_ConfirmingPassword = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=1000,
        repr=False,
        description="Your password: required when signed in with a session cookie.",
    ),
]
_Password = Annotated[str, Field(min_length=1, max_length=1000, repr=False)]


class TokenIn(StrictModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    expires_in: Annotated[
        int | None,
        Field(
            ge=60,
            le=3650 * 86400,
            description="Lifetime in seconds; default and maximum are set by "
            "CREDGATE_ADMIN_TOKEN_DEFAULT_DAYS and CREDGATE_ADMIN_TOKEN_MAX_DAYS. With an admin "
            "API token, no later than that token expires.",
        ),
    ] = None
    password: _ConfirmingPassword = None


class AdminPatch(StrictModel):
    disabled: bool


class ResetIn(StrictModel):
    password: _ConfirmingPassword = None


class PasswordChangeIn(StrictModel):
    current_password: _Password
    new_password: _Password


@router.post("/session", summary="Sign in; sets the session cookie and returns the CSRF token")
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    admins: Admins,
    logins: Logins,
    settings: AppSettings,
) -> dict[str, Any]:
    import anyio.to_thread

    address = client_address(request, settings.trusted_proxies)
    try:
        identity = await logins.guard.sign_in(
            body.username,
            address,
            lambda: anyio.to_thread.run_sync(admins.check_password, body.username, body.password),
        )
    except TooManyAttempts as exc:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed sign-ins; retry after {exc.retry_after} s",
            {"Retry-After": str(exc.retry_after)},
        ) from None
    if identity is None:
        raise ApiError(401, "unauthenticated", "wrong username or password")
    new = await anyio.to_thread.run_sync(admins.open_session, identity)
    response.set_cookie(
        SESSION_COOKIE,
        new.session_id,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=12 * 3600,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return {"username": identity.username, "csrf_token": new.csrf_token}


@router.delete("/session", status_code=204, summary="Sign out")
def logout(request: Request, admins: Admins) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        admins.close_session(session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# Admin API tokens and accounts ------------------------------------------------------------------


def _too_many(exc: PasswordAttemptsExceeded) -> ApiError:
    return ApiError(429, "too_many_attempts", str(exc), {"Retry-After": str(exc.retry_after)})


@dataclass(frozen=True, slots=True)
class _PasswordGuard:
    """The signed-in administrator, and the throttle that counts their wrong passwords."""

    throttle: AuthThrottle
    admin: AdminIdentity

    async def __call__(self, call: Callable[[], T]) -> T:
        """``call`` (a service call that checks the administrator's password), throttled; too
        many wrong passwords answer 429."""
        try:
            return await password_checked(self.throttle, self.admin.username, call)
        except PasswordAttemptsExceeded as exc:
            raise _too_many(exc) from None


async def _password_guard(throttle: Throttle, admin: Me) -> _PasswordGuard:
    return _PasswordGuard(throttle, admin)


PasswordGuard = Annotated[_PasswordGuard, Depends(_password_guard)]


@router.get("/admin-tokens", summary="List admin API tokens, newest first (never their secrets)")
def list_admin_tokens(
    request: Request,
    paging: Paging,
    admins: Admins,
    admin: CurrentAdmin,
    owner: Annotated[
        str | None,
        Query(
            alias="admin",
            min_length=1,
            max_length=100,
            description="Whose tokens; default: your own. `*` lists every administrator's.",
        ),
    ] = None,
) -> dict[str, Any]:
    username = None if owner == "*" else (owner or admin.username)
    return page_answer(
        request.url, admins.tokens_page(paging, username).map(AdminTokenView.as_dict)
    )


@router.post(
    "/tokens",
    status_code=201,
    summary="Create a personal admin API token (old path of POST /admin-tokens)",
    deprecated=True,
)
@router.post(
    "/admin-tokens",
    status_code=201,
    summary="Create a personal admin API token (shown once)",
    description="Signed in with a session, `password` is required. With an admin API token, "
    "the new token cannot outlive the one making the request.",
)
async def create_admin_token(
    body: TokenIn, response: Response, admins: Admins, guard: PasswordGuard, actor: AdminActor
) -> dict[str, Any]:
    ttl = dt.timedelta(seconds=body.expires_in) if body.expires_in is not None else None
    issued = await guard(
        lambda: admins.mint_token(
            guard.admin, body.name, actor=actor, ttl=ttl, password=body.password
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return issued.as_dict()


@router.delete(
    "/admin-tokens/{token_id}",
    status_code=204,
    summary="Revoke an admin API token: refused from the next request on",
)
def revoke_admin_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], admins: Admins, actor: AdminActor
) -> Response:
    admins.revoke_token(token_id, actor=actor)
    return Response(status_code=204)


@page_route(router, "/admins", AdminService, summary="List administrators")
def list_admins(admins: AdminService, paging: PageRequest) -> Page[dict[str, Any]]:
    return admins.admins_page(paging).map(AdminView.as_dict)


@router.patch(
    "/admins/{username}",
    summary="Disable or enable an administrator",
    description="A disabled administrator cannot sign in, and their sessions and admin API "
    "tokens are refused. The last active administrator cannot be disabled (409).",
)
def update_admin(
    username: Annotated[str, Path(min_length=1, max_length=100)],
    body: AdminPatch,
    admins: Admins,
    actor: AdminActor,
) -> dict[str, Any]:
    return admins.set_disabled(username, body.disabled, actor=actor).as_dict()


@router.post(
    "/admins/{username}/reset-password",
    summary="Give another administrator a new generated password (shown once)",
    description="Ends every session of theirs. Signed in with a session, `password` (yours) "
    "is required.",
)
async def reset_admin_password(
    username: Annotated[str, Path(min_length=1, max_length=100)],
    body: ResetIn,
    response: Response,
    admins: Admins,
    guard: PasswordGuard,
    actor: AdminActor,
) -> dict[str, Any]:
    password = await guard(
        lambda: admins.reset_password(
            username, actor=actor, caller=guard.admin, caller_password=body.password
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return {"username": username, "password": password}


@router.put(
    "/me/password",
    status_code=204,
    summary="Change your own password",
    description="Needs the current password. Ends your other sessions; the one making the "
    "request stays signed in.",
)
async def change_own_password(
    body: PasswordChangeIn, admins: Admins, guard: PasswordGuard, actor: AdminActor
) -> Response:
    await guard(
        lambda: admins.change_password(
            guard.admin.username,
            body.current_password,
            body.new_password,
            actor=actor,
            keep_session=guard.admin.session_hash,
        )
    )
    return Response(status_code=204)


@router.get("/signing-keys", summary="Signing keys and their ages")
def list_keys(signing_keys: Keys, _admin: CurrentAdmin) -> list[dict[str, Any]]:
    keys = signing_keys.current()
    return [
        {
            "kid": k.kid,
            "generation": k.generation,
            "active": k.kid == keys.active.kid,
            "created_at": k.created_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "published_until": k.publish_until.isoformat() if k.publish_until else None,
        }
        for k in keys.published
    ]


@router.post("/signing-keys/rotate", summary="Add a new signing key; the old one stays published")
def rotate_keys(signing_keys: Keys, db: Db, actor: AdminActor) -> dict[str, str]:
    from credgate.core.audit.services import record

    kid = signing_keys.rotate()
    with db.session() as session:
        record(session, actor, "signing_key.rotate", "signing_key", kid)
    return {"kid": kid}


@router.get(
    "/audit-events",
    summary="The audit log, newest first; the next page is in the Link header (rel=next)",
)
def audit_events(
    request: Request,
    response: Response,
    db: Db,
    _admin: CurrentAdmin,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="From the Link header of a page.")] = None,
    q: Annotated[str | None, Query(description="Find this in the action, actor or id.")] = None,
) -> list[dict[str, Any]]:
    # The body stays a plain list, as it always was; paging travels in headers.
    wanted = replace(PageRequest.parse(None, cursor, q), limit=limit)
    with db.session() as session:
        page = page_events(session, wanted)
        response.headers["X-Total-Count"] = str(page.total)
        following = page_answer(request.url, page)["next"]
        if following:
            response.headers["Link"] = f'<{following}>; rel="next"'
        return [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "source": e.source,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "fields": e.fields,
            }
            for e in page.items
        ]
