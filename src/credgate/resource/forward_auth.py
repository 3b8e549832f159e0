"""Forward authentication for gateways (nginx ``auth_request``, Traefik ``ForwardAuth``,
Envoy ``ext_authz`` in HTTP mode).

The gateway sends each request's ``Authorization`` header to ``/forward-auth`` and lets the
request through only on a 2xx. The permission needed is named explicitly with
``?permission=<id>`` (configured per route in the gateway), or else derived from the original
path the gateway forwards (``X-Forwarded-Uri`` or ``X-Original-URI``) with the same path table as
credgate's own routes. With neither, any valid token passes.

Answers: 200 with ``X-Credgate-Client-Id`` and ``X-Credgate-Scope`` for the upstream to read;
401 or 403 with the RFC 6750 challenge, which the gateway can pass back to the client.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from credgate.asgi import PlainResponse, Receive, Scope, Send, header
from credgate.oauth.errors import OAuth2Error
from credgate.platform.permissions import BY_ID
from credgate.resource.bearer import BearerGuard

__all__ = ["PATH_PERMISSIONS", "ForwardAuth", "permission_for_path"]

#: Path prefixes of the protected APIs and the permission each needs, longest first.
PATH_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("/api/v1/data-management/", "data-management"),
    ("/api/v1/enrichment/", "enrichment"),
    ("/api/v1/euf/campaign/", "campaigns"),
    ("/api/v1/act/", "remote-actions"),
    ("/api/v1/spark/", "spark"),
    ("/api/v1/workflows", "workflows"),
    ("/api/v2/workflows", "workflows"),
    ("/api/v1/nql/", "nql"),
    ("/api/v2/nql/", "nql"),
)


def permission_for_path(path: str) -> str | None:
    for prefix, permission in PATH_PERMISSIONS:
        if path.startswith(prefix):
            return permission
    return None


class ForwardAuth:
    def __init__(self, guard: BearerGuard) -> None:
        self._guard = guard

    @staticmethod
    def _permission(scope: Scope) -> str | PlainResponse | None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = query.get("permission", [None])[0]
        if asked is not None:
            if asked not in BY_ID:
                allowed = ", ".join(BY_ID)
                body = f'{{"error":"invalid_request","error_description":"unknown permission; allowed: {allowed}"}}'
                return PlainResponse(400, body.encode(), [(b"content-type", b"application/json")])
            return str(asked)
        original = header(scope, b"x-forwarded-uri") or header(scope, b"x-original-uri")
        if original:
            return permission_for_path(urlsplit(original.decode("latin-1")).path)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        permission = self._permission(scope)
        if isinstance(permission, PlainResponse):
            await permission(scope, receive, send)
            return
        try:
            token = await self._guard.authorize(header(scope, b"authorization"), permission)
        except OAuth2Error as error:
            await error.response()(scope, receive, send)
            return
        headers = [
            (b"x-credgate-client-id", token.client_id.encode()),
            (b"x-credgate-scope", " ".join(sorted(token.scopes)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await PlainResponse(200, b"", headers)(scope, receive, send)
