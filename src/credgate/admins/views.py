"""Admin REST API: sign in and out, personal API tokens, signing keys, the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from credgate.audit.services import recent
from credgate.security.lockout import TooManyAttempts
from credgate.web.api import (
    SESSION_COOKIE,
    ApiError,
    CurrentAdmin,
    RuntimeDep,
    admin_actor,
    client_address,
)

router = APIRouter(prefix="/admin/api/v1", tags=["Administration"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]


@router.post("/session", summary="Sign in; sets the session cookie and returns the CSRF token")
async def login(
    body: LoginIn, request: Request, response: Response, runtime: RuntimeDep
) -> dict[str, Any]:
    import anyio.to_thread

    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        identity = await runtime.admin_logins.sign_in(
            body.username,
            address,
            lambda: anyio.to_thread.run_sync(
                runtime.admins.check_password, body.username, body.password
            ),
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
    new = await anyio.to_thread.run_sync(runtime.admins.open_session, identity)
    response.set_cookie(
        SESSION_COOKIE,
        new.session_id,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.base_url.startswith("https://"),
        max_age=12 * 3600,
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return {"username": identity.username, "csrf_token": new.csrf_token}


@router.delete("/session", status_code=204, summary="Sign out")
def logout(request: Request, runtime: RuntimeDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        runtime.admins.close_session(session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/tokens", status_code=201, summary="Create a personal admin API token (shown once)")
def create_token(
    body: TokenIn, request: Request, response: Response, runtime: RuntimeDep, admin: CurrentAdmin
) -> dict[str, Any]:
    issued = runtime.admins.issue_token(
        admin.username, body.name, actor=admin_actor(request, runtime, admin)
    )
    response.headers["Cache-Control"] = "no-store"
    return {"id": issued.id, "name": issued.name, "token": issued.token}


@router.get("/signing-keys", summary="Signing keys and their ages")
def list_keys(runtime: RuntimeDep, _admin: CurrentAdmin) -> list[dict[str, Any]]:
    keys = runtime.keys()
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
def rotate_keys(request: Request, runtime: RuntimeDep, admin: CurrentAdmin) -> dict[str, str]:
    from credgate.audit.services import record

    kid = runtime.rotate_keys()
    with runtime.db.session() as session:
        record(
            session, admin_actor(request, runtime, admin), "signing_key.rotate", "signing_key", kid
        )
    return {"kid": kid}


@router.get("/audit-events", summary="The audit log, newest first")
def audit_events(
    runtime: RuntimeDep, _admin: CurrentAdmin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    with runtime.db.session() as session:
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
            for e in recent(session, limit)
        ]
