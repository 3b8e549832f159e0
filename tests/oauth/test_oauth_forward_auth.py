"""Forward authentication: a gateway asks credgate whether a request's token may pass."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from forward_auth_paths import REFUSED, TRICKS
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from credgate.app import CredgateApp
from credgate.classic import pages as classic_pages
from credgate.classic import routes as classic_routes
from credgate.container import Container
from credgate.core.audit.services import Actor
from credgate.core.paths import PROTECTED
from credgate.oauth.forward_auth import PathRefusedError, normalise_path
from credgate.platform import routes as platform_routes
from shared_installation import *  # noqa: F403 - its fixtures replace conftest.py's here
from shared_installation import ACTOR, ALL_PERMISSIONS
from support import fetch_token


@pytest.fixture
def token(client: TestClient, container: Container) -> tuple[str, str]:
    created = container.api_credentials.create(
        name=f"gw-{uuid.uuid4().hex[:8]}", permissions=["nql"], actor=Actor("tests", "pytest")
    )
    cred = (created.credential.client_id, created.client_secret)
    return created.credential.client_id, client.post("/api/v1/token", auth=cred).json()[
        "access_token"
    ]


def _bearer(client: TestClient, container: Container, *permissions: str) -> dict[str, str]:
    created = container.api_credentials.create(
        name=f"gw-{uuid.uuid4().hex[:8]}", permissions=list(permissions), actor=ACTOR
    )
    access = fetch_token(client, created.credential.client_id, created.client_secret)
    return {"Authorization": f"Bearer {access}"}


def test_allowed_by_explicit_permission(client: TestClient, token: tuple[str, str]) -> None:
    client_id, access = token
    response = client.get(
        "/forward-auth?permission=nql", headers={"Authorization": f"Bearer {access}"}
    )
    assert response.status_code == 200
    assert response.headers["x-credgate-client-id"] == client_id
    assert response.headers["x-credgate-scope"] == "nql"


def test_permission_from_the_forwarded_path(client: TestClient, token: tuple[str, str]) -> None:
    _, access = token
    auth = {"Authorization": f"Bearer {access}"}
    ok = client.get("/forward-auth", headers={**auth, "X-Forwarded-Uri": "/api/v1/nql/execute?x=1"})
    assert ok.status_code == 200
    denied = client.get("/forward-auth", headers={**auth, "X-Original-URI": "/api/v1/workflows"})
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    assert 'scope="workflows"' in denied.headers["www-authenticate"]


def test_missing_or_bad_token_and_unknown_permission(
    client: TestClient, token: tuple[str, str]
) -> None:
    missing = client.get("/forward-auth?permission=any")
    assert missing.status_code == 401
    assert 'error="invalid_token"' in missing.headers["www-authenticate"]
    assert 'credgate_bearer_rejections_total{error="invalid_token"}' in client.get("/metrics").text
    forged = client.get(
        "/forward-auth?permission=nql", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    )
    assert forged.status_code == 401
    unknown = client.get(
        "/forward-auth?permission=root", headers={"Authorization": f"Bearer {token[1]}"}
    )
    assert unknown.status_code == 400
    assert "unknown permission" in unknown.json()["error_description"]
    assert "any" in unknown.json()["error_description"]


def test_revoked_token_is_refused_at_once(
    client: TestClient, token: tuple[str, str], container: Container
) -> None:
    client_id, access = token
    headers = {"Authorization": f"Bearer {access}"}
    assert client.get("/forward-auth?permission=any", headers=headers).status_code == 200
    container.api_credentials.delete(client_id, actor=Actor("tests", "pytest"))
    assert client.get("/forward-auth?permission=any", headers=headers).status_code == 401


@pytest.mark.parametrize(("uri", "permission"), TRICKS.items())
def test_paths_are_judged_as_the_gateway_routes_them(
    client: TestClient, container: Container, uri: str, permission: str
) -> None:
    workflows = _bearer(client, container, "workflows")
    denied = client.get("/forward-auth", headers={**workflows, "X-Original-URI": uri})
    assert denied.status_code == 403, uri
    assert f'scope="{permission}"' in denied.headers["www-authenticate"]
    allowed = client.get(
        "/forward-auth", headers={**_bearer(client, container, permission), "X-Forwarded-Uri": uri}
    )
    assert allowed.status_code == 200, uri


@pytest.mark.parametrize(("uri", "reason"), REFUSED.items())
def test_paths_that_cannot_be_normalised_are_refused(
    client: TestClient, container: Container, uri: str, reason: str
) -> None:
    every = _bearer(client, container, *ALL_PERMISSIONS)
    for query in ("", "?permission=any", "?permission=nql"):
        answer = client.get(
            f"/forward-auth{query}", headers={**every, "X-Original-URI": uri.encode("latin-1")}
        )
        # 403, not 400: nginx turns an auth_request answer other than 2xx/401/403 into a 500.
        assert answer.status_code == 403, (uri, query)
        assert answer.json()["error"] == "invalid_request"
        assert reason in answer.json()["error_description"]
    with pytest.raises(PathRefusedError, match=re.escape(reason)):
        normalise_path(uri)


def test_deny_by_default_and_permission_any(client: TestClient, container: Container) -> None:
    every = _bearer(client, container, *ALL_PERMISSIONS)
    nql = _bearer(client, container, "nql")
    for path in ("/api/v1/workflows/unknown", "/admin/api/v1/api-credentials", "/", "/x/../y"):
        unmapped = client.get("/forward-auth", headers={**every, "X-Original-URI": path})
        assert unmapped.status_code == 403, path
        assert unmapped.json()["error"] == "insufficient_scope"
        assert "?permission=any" in unmapped.json()["error_description"]
        opened = client.get("/forward-auth?permission=any", headers={**nql, "X-Original-URI": path})
        assert opened.status_code == 200, path
        named = client.get("/forward-auth?permission=nql", headers={**nql, "X-Original-URI": path})
        assert named.status_code == 200, path
    # "any" opens unmapped paths only: a mapped path still needs its own permission.
    mapped = client.get(
        "/forward-auth?permission=any", headers={**nql, "X-Original-URI": "/api/v1/workflows"}
    )
    assert mapped.status_code == 403
    assert 'scope="workflows"' in mapped.headers["www-authenticate"]
    # A named permission does not widen a mapped path either: both are needed.
    both = client.get(
        "/forward-auth?permission=nql", headers={**nql, "X-Original-URI": "/api/v1/act/execute"}
    )
    assert both.status_code == 403
    assert 'scope="remote-actions"' in both.headers["www-authenticate"]
    # Neither a permission nor a forwarded URI: nothing says what to check, so nothing passes.
    bare = client.get("/forward-auth", headers=every)
    assert bare.status_code == 403
    assert bare.json()["error"] == "invalid_request"
    assert "X-Forwarded-Uri" in bare.json()["error_description"]
    assert client.get("/forward-auth?permission=any", headers=every).status_code == 200
    twice = client.get("/forward-auth?permission=nql&permission=any", headers=every)
    assert twice.status_code == 400


def test_forwarded_uri_headers_must_agree(client: TestClient, container: Container) -> None:
    """nginx sets X-Original-URI and passes the client's own headers on: a client-sent
    X-Forwarded-Uri naming another path must not decide."""
    workflows = _bearer(client, container, "workflows")

    def ask(original: str, forwarded: str) -> Any:
        headers = {**workflows, "X-Original-URI": original, "X-Forwarded-Uri": forwarded}
        return client.get("/forward-auth", headers=headers)

    answer = ask("/api/v1/nql/execute", "/api/v1/workflows")
    assert answer.status_code == 403
    assert "disagree" in answer.json()["error_description"]
    assert ask("/api/v1/workflows", "/api/v1/workflows").status_code == 200


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= _calls(sub)
    return found


def _api_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path, through included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def _protected_routes(app: CredgateApp) -> list[tuple[str, APIRoute]]:
    # The dependencies that protect a route: the bearer check of the platform routes and the
    # Basic-or-bearer check of the classic routes and of the NXQL editor.
    guards = {
        platform_routes._route_token,
        classic_routes._classic_caller,
        classic_pages._editor_user,
    }
    found = [(p, r) for p, r in _api_routes(app.framework.routes) if guards & _calls(r.dependant)]
    assert found, "no protected route found: has the framework changed how it keeps routes?"
    return found


def test_every_protected_route_resolves_through_the_table(
    app: CredgateApp, client: TestClient, container: Container
) -> None:
    """Each protected route of the application, reached by its concrete path, needs exactly the
    permission that forward authentication derives for that path, and no other."""
    routes = _protected_routes(app)
    assert {path for path, _ in routes} == set(PROTECTED.by_template)
    # Every API route is protected (the token endpoints are not framework routes).
    api = {p for p, _ in _api_routes(app.framework.routes)}
    assert {p for p in api if p.startswith(("/api/", "/2/", "/audit-trail/"))} <= set(
        PROTECTED.by_template
    )

    only = {p: _bearer(client, container, p) for p in ALL_PERMISSIONS}
    without = {
        p: _bearer(client, container, *(q for q in ALL_PERMISSIONS if q != p))
        for p in ALL_PERMISSIONS
    }
    checked = 0
    for template, route in routes:
        path = re.sub(r"\{[^}]+\}", "sample-1", template)
        permission = PROTECTED.resolve(normalise_path(path))
        assert permission == PROTECTED.permission_of(template)
        for method in sorted(route.methods):
            json_body = {"content-type": "application/json"}
            lacking = client.request(
                method, path, content=b"{}", headers={**without[permission], **json_body}
            )
            assert lacking.status_code == 403, (method, path, lacking.text)
            assert f'scope="{permission}"' in lacking.headers["www-authenticate"]
            holding = client.request(
                method, path, content=b"{}", headers={**only[permission], **json_body}
            )
            assert holding.status_code not in (401, 403), (method, path, holding.text)
            checked += 1
        gateway = {"X-Original-URI": path}
        assert (
            client.get("/forward-auth", headers={**without[permission], **gateway}).status_code
            == 403
        )
        assert (
            client.get("/forward-auth", headers={**only[permission], **gateway}).status_code == 200
        )
    assert checked >= len(PROTECTED.by_template)
