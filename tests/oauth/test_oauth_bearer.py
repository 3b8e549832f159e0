"""The RFC 6750 guard on its own: the cache, the adapters for FastAPI and plain ASGI apps."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from credgate.app import create_app
from credgate.container import Container
from credgate.core.asgi import Receive, Scope, Send, json_response
from credgate.oauth.errors import InsufficientScope, InvalidToken
from credgate.oauth.rfc6750 import (
    BearerGuard,
    BearerMiddleware,
    app_guard,
    bearer_token,
    require,
    verified_token,
)
from credgate.oauth.rfc9068 import AccessTokenVerifier, VerifiedToken
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ACTOR
from support import fetch_token


def _guard(container: Container) -> BearerGuard:
    """A guard of its own, with an empty cache, over the container's keys and registries."""
    return BearerGuard(
        container.verifier,
        container.registry.aget,
        container.revoked,
        leeway=container.settings.token_leeway_seconds,
    )


@pytest.fixture
def issued(client: TestClient, container: Container) -> tuple[str, str, str]:
    created = container.api_credentials.create(
        name=f"guarded-{uuid.uuid4().hex[:8]}", permissions=["nql"], actor=ACTOR
    )
    cid, secret = created.credential.client_id, created.client_secret
    return cid, secret, fetch_token(client, cid, secret)


def test_header_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token(b"bearer   abc") == "abc"
    for bad in (None, "", "Basic abc", "Bearer", "Bearer a b", "Token abc"):
        with pytest.raises(InvalidToken):
            bearer_token(bad)


@pytest.mark.parametrize("raw", [False, True], ids=["token", "raw header"])
def test_cache_hits_still_check_revocation_and_the_client(
    container: Container, issued: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch, raw: bool
) -> None:
    cid, _secret, token = issued
    guard = _guard(container)
    calls: list[str] = []
    original = AccessTokenVerifier.verify

    # The verifier is a slotted dataclass: its methods are patched on the class.
    def counting(self: AccessTokenVerifier, token: str, *, now: int | None = None) -> VerifiedToken:
        calls.append(token)
        return original(self, token, now=now)

    monkeypatch.setattr(AccessTokenVerifier, "verify", counting)
    # The lean routes hand over the header's raw bytes, which the cache keys as they come.
    header: str | bytes = f"Bearer {token}".encode() if raw else f"Bearer {token}"
    first = asyncio.run(guard.authorize(header, "nql"))
    second = asyncio.run(guard.authorize(header, "nql"))
    assert first == second
    assert len(calls) == 1  # the signature was checked once
    assert len(guard) == 1
    with pytest.raises(InsufficientScope) as denied:
        asyncio.run(guard.authorize(header, "workflows"))
    assert denied.value.scope == "workflows"
    assert asyncio.run(guard.authorize(header, None)).client_id == cid
    container.revoked.add(first.jti, first.expires_at)
    with pytest.raises(InvalidToken, match="revoked"):
        asyncio.run(guard.authorize(header, "nql"))
    assert len(calls) == 1  # refused from the cache, without re-verifying


def test_a_raw_header_is_parsed_before_it_is_trusted(
    container: Container, issued: tuple[str, str, str]
) -> None:
    guard = _guard(container)
    token = issued[2]
    for bad in (f"Basic {token}".encode(), f"Bearer {token} x".encode(), b"Bearer"):
        with pytest.raises(InvalidToken):
            asyncio.run(guard.authorize(bad, "nql"))
    assert len(guard) == 0
    spelled = asyncio.run(guard.authorize(f"bearer  {token}".encode(), "nql"))
    assert spelled.client_id == issued[0]


def test_cache_is_bounded_and_expired_entries_go(
    container: Container, client: TestClient, issued: tuple[str, str, str]
) -> None:
    cid, secret, _token = issued
    guard = BearerGuard(
        container.verifier, container.registry.aget, container.revoked, max_entries=3
    )
    tokens = [fetch_token(client, cid, secret) for _ in range(5)]
    for token in tokens:
        asyncio.run(guard.authorize(f"Bearer {token}", "nql"))
        assert len(guard) <= 3
    guard.forget()
    assert len(guard) == 0


def test_every_route_shares_the_containers_one_guard(container: Container) -> None:
    app = create_app(container=container)
    assert app.routes["/forward-auth"]._guard is container.bearer_guard  # type: ignore[attr-defined]
    assert app_guard(SimpleNamespace(app=app.framework)) is container.bearer_guard


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    token = verified_token(scope)
    await json_response(200, {"client": token.client_id if token else None})(scope, receive, send)


def test_plain_asgi_middleware(container: Container, issued: tuple[str, str, str]) -> None:
    cid, _secret, token = issued
    guard = _guard(container)
    app = BearerMiddleware(_hello, guard, "nql")
    test_client = TestClient(app)  # no lifespan: the inner app is HTTP-only
    ok = test_client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json() == {"client": cid}
    missing = test_client.get("/")
    assert missing.status_code == 401
    assert 'error="invalid_token"' in missing.headers["www-authenticate"]
    assert missing.json()["error"] == "invalid_token"
    per_route = BearerMiddleware(
        _hello,
        guard,
        None,
        permission_for=lambda scope: "spark" if scope["path"] == "/s" else "nql",
    )
    test_client = TestClient(per_route)
    assert test_client.get("/n", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    denied = test_client.get("/s", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403
    assert 'scope="spark"' in denied.headers["www-authenticate"]


def test_fastapi_dependency_in_another_app(
    container: Container, issued: tuple[str, str, str]
) -> None:
    cid, _secret, token = issued
    other = FastAPI()
    guard = _guard(container)

    @other.get("/reports")
    async def reports(
        verified: VerifiedToken = Depends(require("nql", guard=guard)),
    ) -> dict[str, str]:
        return {"client": verified.client_id}

    @other.exception_handler(InvalidToken)
    async def _invalid(_request: object, exc: InvalidToken) -> object:
        from fastapi.responses import JSONResponse

        return JSONResponse(
            {"error": exc.error},
            status_code=exc.status,
            headers={k.decode(): v.decode() for k, v in exc.headers()},
        )

    with TestClient(other) as test_client:
        ok = test_client.get("/reports", headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"client": cid}
        refused = test_client.get("/reports", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer ")


def test_a_signing_key_change_drops_cached_verifications(
    container: Container, issued: tuple[str, str, str]
) -> None:
    _cid, _secret, token = issued
    guard = container.bearer_guard
    asyncio.run(guard.authorize(f"Bearer {token}", "nql"))
    assert len(guard) >= 1
    container.feed.notify_local("signing_key", "some-kid")
    assert len(guard) == 0
