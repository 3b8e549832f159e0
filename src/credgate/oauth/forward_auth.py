"""Forward authentication for gateways (nginx ``auth_request``, Traefik ``ForwardAuth``,
Envoy ``ext_authz`` in HTTP mode).

The gateway sends each request's ``Authorization`` header to ``/forward-auth`` and lets the
request through only on a 2xx. What the token must hold:

- the permission of the original path, which the gateway forwards in ``X-Forwarded-Uri`` or
  ``X-Original-URI``. The path is first normalised the way a gateway routes it
  (:func:`normalise_path`), then looked up in :data:`credgate.core.paths.PROTECTED`, the
  table credgate's own routes use;
- and the permission named with ``?permission=<id>``, when the gateway's route names one.

Deny by default: a path that maps to no permission is refused, and so is a request with neither
``?permission=`` nor a forwarded URI. ``?permission=any`` lets any valid token through where the
path maps to no permission (a path that maps to one still needs it).

Answers: 200 with ``X-Credgate-Client-Id`` and ``X-Credgate-Scope`` for the upstream to read;
401 or 403 with the RFC 6750 challenge, which the gateway can pass back to the client. A request
refused whatever its token gets 403 as well, never 400: nginx passes only 401 and 403 back to
the client and turns any other answer into a 500 of its own. Only an unknown ``?permission=``
(a mistake in the gateway's configuration, not in the request) is a 400.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import parse_qs

from credgate.core.asgi import PlainResponse, Receive, Scope, Send, header
from credgate.core.paths import PROTECTED, PathTable
from credgate.core.permissions import BY_ID
from credgate.oauth.errors import OAuth2Error
from credgate.oauth.rfc6750 import BearerGuard

__all__ = ["ANY", "ForwardAuth", "ForwardRefused", "PathRefusedError", "normalise_path"]

ANY: Final = "any"
"""``?permission=any``: any valid token, where the path itself needs no permission."""

MAX_PATH: Final = 8192
_FORWARDED_URI: Final = (b"x-forwarded-uri", b"x-original-uri")
_ABSOLUTE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 pchar and "/", less ";": gateways and servers disagree on ";" (nginx keeps it,
# Tomcat, Jetty and Spring cut path parameters off, before or after removing dot segments), so no
# single reading of it is safe. credgate's own routes never need one.
_ALLOWED: Final = _UNRESERVED | frozenset("!$&'()*+,=:@/%")
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class PathRefusedError(ValueError):
    """A forwarded path that cannot be read one way only; the message says why."""


def normalise_path(uri: str) -> str:
    """The path of ``uri`` (origin-form or absolute-form) as a gateway routes it.

    - percent-encoded unreserved characters are decoded (``%6e`` is ``n``, RFC 3986 §6.2.2.2),
      other escapes are kept, in upper case;
    - empty segments are merged (``//``, as nginx's ``merge_slashes``), then dot segments are
      removed (RFC 3986 §5.2.4; ``..`` above the root stays at the root);
    - the query and the fragment are dropped; a trailing slash is kept.

    Raises :class:`PathRefusedError` for what gateways and servers read in different ways: an
    encoded ``/`` or ``\\``, an encoded dot segment (``%2e%2e``), ``//`` together with a dot
    segment (nginx merges before it resolves dots, others do not), a ``;``, a backslash, a
    control character or NUL (raw or encoded), a raw non-ASCII character, bad percent-encoding,
    or a path longer than :data:`MAX_PATH`.

    Written by hand: no maintained library refuses these; :func:`posixpath.normpath` does not
    follow RFC 3986 (it keeps a leading ``//`` and knows nothing of escapes).
    """
    target = uri.split("#", 1)[0].split("?", 1)[0]
    absolute = _ABSOLUTE.match(target)
    if absolute is not None:
        target = target[absolute.end() :] or "/"
    if not target.startswith("/"):
        raise PathRefusedError("the forwarded URI is not a path (it must start with /)")
    if len(target) > MAX_PATH:
        raise PathRefusedError(f"the forwarded path is longer than {MAX_PATH} characters")
    for char in target:
        if char not in _ALLOWED:
            raise PathRefusedError(f"the forwarded path holds {_describe(char)}")
    raw_segments = target.split("/")[1:]
    segments: list[str] = []
    merged = dotted = False
    for index, raw in enumerate(raw_segments):
        if raw == "" and index < len(raw_segments) - 1:
            merged = True
            continue
        segment = _decode(raw)
        if segment in (".", ".."):
            if segment != raw:
                raise PathRefusedError("the forwarded path holds an encoded dot segment")
            dotted = True
        segments.append(segment)
    if merged and dotted:
        raise PathRefusedError(
            "the forwarded path holds both // and a dot segment, which gateways resolve differently"
        )
    out: list[str] = []
    for index, segment in enumerate(segments):
        final = index == len(segments) - 1
        if segment == "..":
            if out:
                out.pop()
            if final:
                out.append("")
        elif segment == ".":
            if final:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _decode(segment: str) -> str:
    if "%" not in segment:
        return segment
    out: list[str] = []
    parts = segment.split("%")
    out.append(parts[0])
    for part in parts[1:]:
        code = part[:2]
        if len(code) < 2 or not set(code) <= _HEX:
            raise PathRefusedError("the forwarded path holds a bad percent-encoding")
        char = chr(int(code, 16))
        if char in "/\\":
            raise PathRefusedError("the forwarded path holds an encoded slash")
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise PathRefusedError("the forwarded path holds an encoded control character")
        out.append(char if char in _UNRESERVED else f"%{code.upper()}")
        out.append(part[2:])
    return "".join(out)


def _describe(char: str) -> str:
    if char == "\x00" or ord(char) < 0x20 or ord(char) == 0x7F:
        return "a control character"
    if ord(char) > 0x7E:
        return "a character that is not ASCII (send it percent-encoded)"
    if char == ";":
        return "a ';' (send it percent-encoded as %3B)"
    if char == "\\":
        return "a backslash"
    return f"{char!r}, which is not allowed in a path"


class ForwardRefused(OAuth2Error):
    """403 whatever the token: the gateway can relay it (nginx turns any other status into 500)."""

    status = 403

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error

    def headers(self) -> list[tuple[bytes, bytes]]:
        text = self.description.replace("\\", "\\\\").replace('"', '\\"')
        challenge = f'Bearer realm="credgate", error="{self.error}", error_description="{text}"'
        return [(b"www-authenticate", challenge.encode())]


class ForwardAuth:
    def __init__(self, guard: BearerGuard, table: PathTable = PROTECTED) -> None:
        self._guard = guard
        self._table = table

    def required(self, scope: Scope) -> tuple[str, ...]:
        """The permissions a token must hold for this request; raises :class:`OAuth2Error`."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = query.get("permission", [])
        if len(asked) > 1:
            raise OAuth2Error("name one permission")
        named = asked[0] if asked else None
        if named is not None and named != ANY and named not in BY_ID:
            allowed = ", ".join([*BY_ID, ANY])
            raise OAuth2Error(f"unknown permission; allowed: {allowed}")
        uris = {v for k, v in scope["headers"] if k in _FORWARDED_URI}
        if len(uris) > 1:
            # A client can send X-Forwarded-Uri itself when the gateway sets X-Original-URI:
            # the two must agree.
            raise ForwardRefused("invalid_request", "the forwarded URI headers disagree")
        path_permission: str | None = None
        if uris:
            try:
                path = normalise_path(uris.pop().decode("latin-1"))
            except PathRefusedError as exc:
                raise ForwardRefused("invalid_request", str(exc)) from None
            path_permission = self._table.resolve(path)
            if path_permission is None and named is None:
                raise ForwardRefused(
                    "insufficient_scope",
                    "no permission opens this path; name one with ?permission=<id>, or allow "
                    "any valid token with ?permission=any",
                )
        elif named is None:
            raise ForwardRefused(
                "invalid_request",
                "forward authentication needs the original URI (X-Forwarded-Uri or "
                "X-Original-URI) or ?permission=<id>|any",
            )
        needed = [p for p in (named, path_permission) if p is not None and p != ANY]
        return tuple(dict.fromkeys(needed))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            permissions = self.required(scope)
            authorization = header(scope, b"authorization")
            token = await self._guard.authorize(
                authorization, permissions[0] if permissions else None
            )
            for permission in permissions[1:]:
                token = await self._guard.authorize(authorization, permission)
        except OAuth2Error as error:
            await error.response()(scope, receive, send)
            return
        headers = [
            (b"x-credgate-client-id", token.client_id.encode()),
            (b"x-credgate-scope", " ".join(sorted(token.scopes)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await PlainResponse(200, b"", headers)(scope, receive, send)
