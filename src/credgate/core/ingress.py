"""What every request passes before credgate reads its body: a size limit, and a gate.

Each path belongs to one route family (:data:`FAMILIES`, the one table of body limits). A family
names the setting that holds its limit and whether its caller is authenticated from the headers
alone before anything else runs. The admin REST API needs that gate: the framework reads and
parses a JSON body *before* it resolves the dependencies that authenticate, so without it an
anonymous caller could make credgate buffer and parse as much as it cares to send.

Limits hold while the body streams, and the routes answer 413 in their own error format:

- a ``Content-Length`` over the limit: the first ``receive`` raises
  :class:`~credgate.core.asgi.BodyTooLarge` before a byte of the body is read;
- a chunked body: bytes are counted as they arrive, and the ``receive`` that passes the limit
  raises;
- an answer given while such a body is still unread (a 413, or a 401 that needed no body)
  carries ``Connection: close``: the server then drops the connection rather than read the rest
  of the body to get to a next request.

A body within a declared ``Content-Length`` is passed through untouched: the server never hands
over more than was declared, so the hot paths (token endpoint, bearer-protected APIs) pay only for
the look-up of the family and one pass over the headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from credgate.core.asgi import ASGIApp, BodyTooLarge, Message, Receive, Scope, Send, json_response
from credgate.core.config import Settings

__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Gate", "Ingress", "RouteFamily"]

Gate = Callable[[Scope], Awaitable[ASGIApp | None]]
"""Authenticates a request from its scope: ``None`` to let it through, or the answer to send."""


@dataclass(frozen=True, slots=True)
class RouteFamily:
    name: str
    limit_setting: str
    """The :class:`~credgate.core.config.Settings` field that holds this family's body limit."""
    paths: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    gated: bool = False
    """Authenticate before the application sees the request (a gate must be given)."""


#: Exact paths first, then the first matching prefix; anything else is :data:`DEFAULT_FAMILY`.
FAMILIES: tuple[RouteFamily, ...] = (
    # The body is the credential (client_secret in the form, a password): keep it small.
    RouteFamily(
        "credential-forms",
        "max_form_bytes",
        paths=(
            "/oauth2/default/v1/token",
            "/oauth2/token",
            "/api/v1/token",
            "/oauth2/default/v1/introspect",
            "/oauth2/default/v1/revoke",
            "/admin/api/v1/session",
            "/admin/login",
        ),
    ),
    RouteFamily("admin-api", "max_admin_api_bytes", prefixes=("/admin/api/",), gated=True),
    # The pages check the session before they read a form (credgate.web.pages.require_post).
    RouteFamily("admin-pages", "max_admin_form_bytes", prefixes=("/admin/",)),
    # Bearer-protected: the token is checked before the route reads the body.
    RouteFamily("platform-apis", "max_platform_api_bytes", prefixes=("/api/v1/", "/api/v2/")),
)
DEFAULT_FAMILY = RouteFamily("other", "max_body_bytes")


class Ingress:
    """ASGI middleware applying :data:`FAMILIES` to every HTTP request of ``app``."""

    def __init__(
        self, app: ASGIApp, settings: Settings, gates: Mapping[str, Gate] | None = None
    ) -> None:
        self.app = app
        gates = gates or {}
        missing = [f.name for f in (*FAMILIES, DEFAULT_FAMILY) if f.gated and f.name not in gates]
        if missing:
            raise ValueError(f"no gate given for the route families {missing}")

        def entry(family: RouteFamily) -> tuple[int, Gate | None]:
            return int(getattr(settings, family.limit_setting)), gates.get(family.name)

        self._exact = {path: entry(f) for f in FAMILIES for path in f.paths}
        self._prefixes = [(prefix, entry(f)) for f in FAMILIES for prefix in f.prefixes]
        self._default = entry(DEFAULT_FAMILY)

    def _family(self, path: str) -> tuple[int, Gate | None]:
        found = self._exact.get(path)
        if found is not None:
            return found
        for prefix, entry in self._prefixes:
            if path.startswith(prefix):
                return entry
        return self._default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, gate = self._family(scope["path"])
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    chunked = True  # the server normally refuses it; count what arrives
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and (declared is None or declared <= limit):
            # No body, or one the server bounds to what was declared.
            if gate is not None and (refusal := await gate(scope)) is not None:
                await refusal(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        guard = _Guard(receive, send, limit, refuse_at_once=not chunked)
        if gate is not None and (refusal := await gate(scope)) is not None:
            await refusal(scope, guard.receive, guard.send)
            return
        try:
            await self.app(scope, guard.receive, guard.send)
        except BodyTooLarge as exc:
            # A route that let the error escape: answer for it, unless it had begun to answer.
            if not guard.started:
                answer = json_response(413, {"error": "payload_too_large", "message": exc.detail})
                await answer(scope, guard.receive, guard.send)


class _Guard:
    """The ``receive`` and ``send`` of one request whose body must be counted."""

    __slots__ = ("_receive", "_send", "complete", "limit", "received", "refuse_at_once", "started")

    def __init__(self, receive: Receive, send: Send, limit: int, *, refuse_at_once: bool) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.refuse_at_once = refuse_at_once
        self.received = 0
        self.complete = False
        self.started = False

    async def receive(self) -> Message:
        if self.refuse_at_once:
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.refuse_at_once = True
                raise BodyTooLarge(self.limit)
            self.complete = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if not self.complete:
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
        await self._send(message)
